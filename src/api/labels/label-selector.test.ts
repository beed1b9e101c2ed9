import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatLabelSelector,
  formatLabels,
  labelSelectorAsString,
  labelSelectorObjectMatches,
  parseLabelSelector,
  selectorMatches,
  selectorString,
} from './label-selector.js';

describe('parseLabelSelector', () => {
  const labels = { app: 'web', tier: 'front', env: 'prod' };
  const cases: Array<{ sel: string; matches: boolean; str: string }> = [
    { sel: 'app=web', matches: true, str: 'app=web' },
    { sel: 'app==web', matches: true, str: 'app==web' },
    { sel: 'app!=web', matches: false, str: 'app!=web' },
    { sel: 'app!=db', matches: true, str: 'app!=db' },
    { sel: 'env in (prod,staging)', matches: true, str: 'env in (prod,staging)' },
    { sel: 'env notin (prod)', matches: false, str: 'env notin (prod)' },
    { sel: 'missing notin (x)', matches: true, str: 'missing notin (x)' },
    { sel: 'tier', matches: true, str: 'tier' },
    { sel: '!tier', matches: false, str: '!tier' },
    { sel: '!missing', matches: true, str: '!missing' },
    { sel: 'tier=front,app=web', matches: true, str: 'app=web,tier=front' },
    { sel: 'tier=front, app=db', matches: false, str: 'app=db,tier=front' },
    { sel: '', matches: true, str: '' },
    { sel: 'app=', matches: false, str: 'app=' },
    { sel: 'x in (in,notin)', matches: false, str: 'x in (in,notin)' },
  ];
  for (const c of cases) {
    it(`"${c.sel}" ${c.matches ? 'matches' : 'does not match'} and prints as "${c.str}"`, () => {
      const sel = parseLabelSelector(c.sel);
      assert.equal(selectorMatches(sel, labels), c.matches);
      assert.equal(selectorString(sel), c.str);
    });
  }

  const bad: Array<{ sel: string; msg: string }> = [
    {
      sel: 'app:monolith',
      msg: `unable to parse requirement: <nil>: Invalid value: "app:monolith": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
    },
    { sel: 'a in b', msg: "unable to parse requirement: found 'b' expected: '('" },
    { sel: 'a,', msg: "found '', expected: identifier after ','" },
    { sel: '=a', msg: "found '=', expected: !, identifier, or 'end of string'" },
    { sel: 'a b', msg: "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt" },
    { sel: 'a=b c', msg: "found 'c', expected: ',' or 'end of string'" },
    { sel: 'a in (b c)', msg: "unable to parse requirement: found 'c', expected: ',' or ')'" },
    {
      sel: 'a=b b',
      msg: "found 'b', expected: ',' or 'end of string'",
    },
    {
      sel: 'a=$x',
      msg: `unable to parse requirement: values[0][a]: Invalid value: "$x": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`,
    },
  ];
  for (const b of bad) it(`"${b.sel}" is refused`, () => assert.throws(() => parseLabelSelector(b.sel), (e: unknown) => (e as Error).message === b.msg));
});

describe('metav1.LabelSelector', () => {
  const sel = { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['front', 'api'] }, { key: 'canary', operator: 'DoesNotExist' }] };
  it('matchLabels and matchExpressions are ANDed', () => {
    assert.equal(labelSelectorObjectMatches(sel, { app: 'web', tier: 'api' }), true);
    assert.equal(labelSelectorObjectMatches(sel, { app: 'web', tier: 'api', canary: 'y' }), false);
    assert.equal(labelSelectorObjectMatches(sel, { app: 'web', tier: 'db' }), false);
  });
  it('prints as a selector string sorted by key', () => assert.equal(labelSelectorAsString(sel), 'app=web,!canary,tier in (api,front)'));
  it('an empty selector matches everything', () => assert.equal(labelSelectorObjectMatches({}, { any: 'thing' }), true));
  it('a null selector matches nothing', () => assert.equal(labelSelectorObjectMatches(null, {}), false));
  it('an unknown operator is an error', () => assert.throws(() => labelSelectorAsString({ matchExpressions: [{ key: 'a', operator: 'Like' }] }), /"Like" is not a valid label selector operator/));
  it('formatLabelSelector prints <none> for an empty selector', () => assert.equal(formatLabelSelector({}), '<none>'));
  it('formatLabels sorts and prints <none> when empty', () => {
    assert.equal(formatLabels({ b: '2', a: '1' }), 'a=1,b=2');
    assert.equal(formatLabels({}), '<none>');
  });
});
