import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { humanDuration, shortHumanDuration, translateTimestampSince } from './duration.js';

describe('humanDuration', () => {
  const s = 1000;
  const m = 60 * s;
  const h = 60 * m;
  const d = 24 * h;
  const cases: Array<[number, string]> = [
    [-3 * s, '<invalid>'],
    [-1 * s, '0s'],
    [5 * s, '5s'],
    [119 * s, '119s'],
    [2 * m + 3 * s, '2m3s'],
    [5 * m, '5m'],
    [15 * m + 30 * s, '15m'],
    [179 * m, '179m'],
    [3 * h, '3h'],
    [5 * h + 10 * m, '5h10m'],
    [30 * h, '30h'],
    [3 * d, '3d'],
    [3 * d + 4 * h, '3d4h'],
    [30 * d, '30d'],
    [(2 * 365 + 10) * d, '2y10d'],
    [9 * 365 * d, '9y'],
  ];
  for (const [ms, want] of cases) it(`${ms} ms reads ${want}`, () => assert.equal(humanDuration(ms), want));
  it('shortHumanDuration keeps one unit', () => assert.equal(shortHumanDuration(3 * d + 4 * h), '3d'));
  it('a missing timestamp reads <unknown>', () => assert.equal(translateTimestampSince(undefined, new Date()), '<unknown>'));
  it('a timestamp 90 seconds ago reads 90s', () => assert.equal(translateTimestampSince('2024-01-01T00:00:00Z', new Date('2024-01-01T00:01:30Z')), '90s'));
});
