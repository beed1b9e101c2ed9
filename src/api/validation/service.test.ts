import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fieldErrorString } from '../errors.js';
import { defaultService, defaultServiceIPFamilies } from '../defaulting/service.js';
import { validateService, validateServiceName, validateServiceStatusUpdate, validateServiceUpdate } from './service.js';

function svc(spec: Record<string, any>): Record<string, any> {
  const s = defaultService({ metadata: { name: 'web', namespace: 'default' }, spec: structuredClone(spec) });
  return defaultServiceIPFamilies(s, 'IPv4');
}
const errs = (s: Record<string, any>) => validateService(s).map(fieldErrorString);

describe('validateService', () => {
  const cases: Array<{ name: string; spec: Record<string, any>; want: string[] }> = [
    { name: 'a ClusterIP service with one port is valid', spec: { selector: { app: 'web' }, ports: [{ port: 80 }] }, want: [] },
    {
      name: 'a port above 65535 is refused with the upstream message',
      spec: { ports: [{ port: 70000, targetPort: 80 }] },
      want: ['spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive'],
    },
    { name: 'ports are required for a normal service', spec: { ports: [] }, want: ['spec.ports: Required value'] },
    { name: 'a headless service needs no ports', spec: { clusterIP: 'None', clusterIPs: ['None'] }, want: [] },
    { name: 'an ExternalName service needs no ports', spec: { type: 'ExternalName', externalName: 'db.example.com' }, want: [] },
    { name: 'an ExternalName service needs an externalName', spec: { type: 'ExternalName' }, want: ['spec.externalName: Required value'] },
    {
      name: 'several ports need names',
      spec: { ports: [{ port: 80 }, { port: 443 }] },
      want: ['spec.ports[0].name: Required value', 'spec.ports[1].name: Required value'],
    },
    {
      name: 'port names must be unique',
      spec: { ports: [{ name: 'http', port: 80 }, { name: 'http', port: 81 }] },
      want: ['spec.ports[1].name: Duplicate value: "http"'],
    },
    {
      name: 'the type must be one of the four',
      spec: { type: 'Magic', ports: [{ port: 80 }] },
      want: ['spec.type: Unsupported value: "Magic": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"'],
    },
    {
      name: 'a ClusterIP service may not set a nodePort',
      spec: { ports: [{ port: 80, nodePort: 30080 }] },
      want: ["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"],
    },
    { name: 'a named targetPort must be a valid port name', spec: { ports: [{ port: 80, targetPort: 'HTTP' }] }, want: [
        'spec.ports[0].targetPort: Invalid value: "HTTP": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)',
        'spec.ports[0].targetPort: Invalid value: "HTTP": must contain at least one letter (a-z)',
      ],
    },
    {
      name: 'selector values must be label values',
      spec: { ports: [{ port: 80 }], selector: { app: 'a b' } },
      want: [
        `spec.selector: Invalid value: "a b": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`,
      ],
    },
    {
      name: 'a headless NodePort service is refused',
      spec: { type: 'NodePort', clusterIP: 'None', clusterIPs: ['None'], ports: [{ port: 80 }] },
      want: ["spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for NodePort services"],
    },
    {
      name: 'clusterIPs must start with clusterIP',
      spec: { clusterIP: '10.43.0.10', clusterIPs: ['10.43.0.11'], ports: [{ port: 80 }] },
      want: ['spec.clusterIPs: Invalid value: ["10.43.0.11"]: first value must match `clusterIP`'],
    },
    {
      name: 'duplicate protocol and port pairs are refused',
      spec: { ports: [{ name: 'a', port: 80 }, { name: 'b', port: 80 }] },
      want: ['spec.ports[1]: Duplicate value: {"protocol":"TCP","port":80}'],
    },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(errs(svc(c.spec)), c.want));

  it('service names must be RFC 1035 labels', () => {
    assert.deepEqual(validateServiceName('1web').map(fieldErrorString), [
      `metadata.name: Invalid value: "1web": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')`,
    ]);
  });
});

describe('validateServiceUpdate', () => {
  const old = svc({ clusterIP: '10.43.0.10', clusterIPs: ['10.43.0.10'], ports: [{ port: 80 }] });
  it('the cluster IP may not change', () => {
    const next = structuredClone(old);
    next.spec.clusterIP = '10.43.0.11';
    next.spec.clusterIPs = ['10.43.0.11'];
    assert.deepEqual(validateServiceUpdate(next, old).map(fieldErrorString), ['spec.clusterIPs[0]: Invalid value: ["10.43.0.11"]: may not change once set']);
  });
  it('changing ports keeps the cluster IP valid', () => {
    const next = structuredClone(old);
    next.spec.ports[0].port = 8080;
    assert.deepEqual(validateServiceUpdate(next, old).map(fieldErrorString), []);
  });
});

describe('validateServiceStatusUpdate', () => {
  it('load balancer ingress is only for LoadBalancer services', () => {
    const s = svc({ ports: [{ port: 80 }] });
    s.status = { loadBalancer: { ingress: [{ ip: '1.2.3.4' }] } };
    assert.deepEqual(validateServiceStatusUpdate(s, s).map(fieldErrorString), ["status.loadBalancer.ingress: Forbidden: may only be used when `spec.type` is 'LoadBalancer'"]);
  });
});
