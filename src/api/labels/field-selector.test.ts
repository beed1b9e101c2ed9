import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { escapeFieldValue, fieldSelectorMatches, fieldSelectorString, parseFieldSelector, unsupportedFields } from './field-selector.js';

describe('field selectors', () => {
  const fields = { 'metadata.name': 'web', 'spec.nodeName': 'node-1', 'status.phase': 'Running', 'involvedObject.name': 'a,b' };
  const cases: Array<{ sel: string; matches: boolean }> = [
    { sel: 'metadata.name=web', matches: true },
    { sel: 'metadata.name==web', matches: true },
    { sel: 'metadata.name!=web', matches: false },
    { sel: 'spec.nodeName=node-1,status.phase!=Failed', matches: true },
    { sel: 'spec.nodeName=', matches: false },
    { sel: 'involvedObject.name=a\\,b', matches: true },
    { sel: 'status.podIP=', matches: true },
    { sel: '', matches: true },
  ];
  for (const c of cases) it(`"${c.sel}" ${c.matches ? 'matches' : 'does not match'}`, () => assert.equal(fieldSelectorMatches(parseFieldSelector(c.sel), fields), c.matches));

  it('a term without an operator is refused with the upstream message', () => {
    assert.throws(() => parseFieldSelector('metadata.name'), (e: unknown) => (e as Error).message === "invalid selector: 'metadata.name'; can't understand 'metadata.name'");
  });
  it('an unknown escape is refused', () => {
    assert.throws(() => parseFieldSelector('a=b\\c'), (e: unknown) => (e as Error).message === 'invalid field selector: invalid escape sequence: \\c');
  });
  it('escaping round-trips', () => {
    const s = parseFieldSelector(`a=${escapeFieldValue('x=y,z\\')}`);
    assert.equal(s.requirements[0].value, 'x=y,z\\');
    assert.equal(fieldSelectorString(s), 'a=x\\=y\\,z\\\\');
  });
  it('reports fields a kind does not support', () => {
    assert.deepEqual(unsupportedFields(parseFieldSelector('spec.nodeName=a,spec.bogus=b'), ['spec.nodeName']), ['spec.bogus']);
  });
});
