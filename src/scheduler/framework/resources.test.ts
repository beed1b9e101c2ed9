import assert from 'node:assert/strict';
import { test } from 'node:test';
import { makePod } from '../testing/builders.js';
import { computePodRequests, DefaultMemoryRequest, isScalarResourceName, quantityMilliValue, quantityValue, resourceFromList } from './resources.js';

const Mi = 1024 * 1024;
const cases = [
  {
    name: 'App containers are summed.',
    pod: makePod('p', { containers: [{ name: 'a', resources: { requests: { cpu: '250m', memory: '64Mi' } } }, { name: 'b', resources: { requests: { cpu: '1', memory: '1Gi' } } }] }),
    want: { milliCPU: 1250, memory: 1088 * Mi },
    wantNonZero: { milliCPU: 1250, memory: 1088 * Mi },
  },
  {
    name: 'The largest init container wins over a smaller sum of app containers.',
    pod: makePod('p', { containers: [{ name: 'a', resources: { requests: { cpu: '100m' } } }], initContainers: [{ name: 'i', resources: { requests: { cpu: '2', memory: '10Mi' } } }] }),
    want: { milliCPU: 2000, memory: 10 * Mi },
    wantNonZero: { milliCPU: 2000, memory: DefaultMemoryRequest },
  },
  {
    name: 'A sidecar (restartable init container) adds to the app containers and to later init steps.',
    pod: makePod('p', {
      containers: [{ name: 'a', resources: { requests: { cpu: '1' } } }],
      initContainers: [
        { name: 'side', restartPolicy: 'Always', resources: { requests: { cpu: '500m' } } },
        { name: 'init', resources: { requests: { cpu: '1200m' } } },
      ],
    }),
    want: { milliCPU: 1700, memory: 0 },
    wantNonZero: { milliCPU: 1700, memory: 2 * DefaultMemoryRequest },
  },
  {
    name: 'Overhead is added on top.',
    pod: makePod('p', { cpu: '1', overhead: { cpu: '250m', memory: '120Mi' } }),
    want: { milliCPU: 1250, memory: 120 * Mi },
    wantNonZero: { milliCPU: 1250, memory: DefaultMemoryRequest + 120 * Mi },
  },
  {
    name: 'A container without requests counts as zero, or as 100m and 200Mi when scoring.',
    pod: makePod('p'),
    want: { milliCPU: 0, memory: 0 },
    wantNonZero: { milliCPU: 100, memory: DefaultMemoryRequest },
  },
];
for (const tc of cases) {
  test(tc.name, () => {
    const r = computePodRequests(tc.pod);
    const nz = computePodRequests(tc.pod, true);
    assert.deepEqual({ milliCPU: r.milliCPU, memory: r.memory }, tc.want);
    assert.deepEqual({ milliCPU: nz.milliCPU, memory: nz.memory }, tc.wantNonZero);
  });
}

const quantityCases = [
  { name: 'cpu in cores becomes millicores.', got: quantityMilliValue('1.5'), want: 1500 },
  { name: 'Fractional millicores round up.', got: quantityMilliValue('0.0001'), want: 1 },
  { name: 'Binary suffixes are powers of 1024.', got: quantityValue('2Gi'), want: 2 * 1024 * Mi },
  { name: 'Decimal suffixes are powers of 1000.', got: quantityValue('5G'), want: 5e9 },
  { name: 'A numeric quantity is accepted.', got: quantityValue(3), want: 3 },
  { name: 'An unparsable quantity counts as zero.', got: quantityValue('lots'), want: 0 },
];
for (const tc of quantityCases) test(tc.name, () => assert.equal(tc.got, tc.want));

test('Allocatable scalar resources are kept; unknown unprefixed names are ignored.', () => {
  const r = resourceFromList({ cpu: '2', pods: '110', 'example.com/gpu': '4', 'hugepages-2Mi': '1Gi', storage: '1Ti' });
  assert.equal(r.allowedPodNumber, 110);
  assert.deepEqual([...(r.scalar ?? new Map())], [['example.com/gpu', 4], ['hugepages-2Mi', 1024 * Mi]]);
});

const scalarCases = [
  { name: 'An extended resource is scalar.', res: 'example.com/gpu', want: true },
  { name: 'hugepages are scalar.', res: 'hugepages-1Gi', want: true },
  { name: 'cpu is not scalar.', res: 'cpu', want: false },
  { name: 'A quota-style requests. name is not scalar.', res: 'requests.example.com/gpu', want: false },
];
for (const tc of scalarCases) test(tc.name, () => assert.equal(isScalarResourceName(tc.res), tc.want));
