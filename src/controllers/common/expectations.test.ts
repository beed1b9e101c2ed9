import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ControllerExpectations, EXPECTATIONS_TTL_MS, UIDTrackingControllerExpectations } from './expectations.js';

test('Expectations are satisfied only once every expected creation and deletion has been observed.', () => {
  type Step = ['expectCreations' | 'expectDeletions', number] | ['creationObserved' | 'deletionObserved'] | ['raise' | 'lower', number, number] | ['set', number, number];
  const table: { name: string; steps: Step[]; want: boolean }[] = [
    { name: 'nothing recorded', steps: [], want: true },
    { name: 'creations pending', steps: [['expectCreations', 2], ['creationObserved']], want: false },
    { name: 'creations all seen', steps: [['expectCreations', 2], ['creationObserved'], ['creationObserved']], want: true },
    { name: 'more seen than expected', steps: [['expectCreations', 1], ['creationObserved'], ['creationObserved']], want: true },
    { name: 'deletions pending', steps: [['expectDeletions', 1]], want: false },
    { name: 'deletions seen', steps: [['expectDeletions', 1], ['deletionObserved']], want: true },
    { name: 'zero expected', steps: [['expectCreations', 0]], want: true },
    { name: 'both kinds pending one', steps: [['set', 1, 1], ['creationObserved']], want: false },
    { name: 'raised after setting', steps: [['expectCreations', 1], ['raise', 1, 0], ['creationObserved']], want: false },
    { name: 'lowered in bulk', steps: [['set', 3, 2], ['lower', 3, 2]], want: true },
    { name: 'raise without expectations is a no-op', steps: [['raise', 5, 5]], want: true },
  ];
  for (const c of table) {
    const e = new ControllerExpectations();
    for (const s of c.steps) {
      switch (s[0]) {
        case 'expectCreations':
          e.expectCreations('ns/rs', s[1]);
          break;
        case 'expectDeletions':
          e.expectDeletions('ns/rs', s[1]);
          break;
        case 'creationObserved':
          e.creationObserved('ns/rs');
          break;
        case 'deletionObserved':
          e.deletionObserved('ns/rs');
          break;
        case 'raise':
          e.raiseExpectations('ns/rs', s[1], s[2]);
          break;
        case 'lower':
          e.lowerExpectations('ns/rs', s[1], s[2]);
          break;
        case 'set':
          e.setExpectations('ns/rs', s[1], s[2]);
          break;
      }
    }
    assert.equal(e.satisfied('ns/rs'), c.want, c.name);
    assert.equal(e.satisfiedExpectations('ns/rs'), c.want, c.name);
    assert.equal(e.satisfied('ns/other'), true, `${c.name}: other keys are unaffected`);
  }
});

test('Unmet expectations count as satisfied once they are older than the five-minute TTL.', () => {
  let now = 1_000_000;
  const e = new ControllerExpectations({ now: () => now });
  e.expectCreations('k', 3);
  now += EXPECTATIONS_TTL_MS;
  assert.equal(e.satisfied('k'), false, 'exactly at the TTL they still hold');
  now += 1;
  assert.equal(e.satisfied('k'), true);
  e.expectCreations('k', 1);
  assert.equal(e.satisfied('k'), false, 'setting again restamps them');
  assert.equal(EXPECTATIONS_TTL_MS, 300_000);
});

test('Deleting a key’s expectations makes it satisfied and getExpectations returns a copy.', () => {
  const e = new ControllerExpectations();
  e.setExpectations('k', 2, 1);
  const got = e.getExpectations('k')!;
  assert.deepEqual({ add: got.add, del: got.del, key: got.key }, { add: 2, del: 1, key: 'k' });
  got.add = 0;
  assert.equal(e.getExpectations('k')!.add, 2);
  e.deleteExpectations('k');
  assert.equal(e.getExpectations('k'), undefined);
  assert.equal(e.satisfied('k'), true);
});

test('UID-tracking expectations count each expected deletion once and ignore unexpected ones.', () => {
  const e = new UIDTrackingControllerExpectations();
  e.expectDeletionsOf('ns/rs', ['ns/p1', 'ns/p2']);
  assert.equal(e.satisfied('ns/rs'), false);
  e.deletionObservedOf('ns/rs', 'ns/p1');
  e.deletionObservedOf('ns/rs', 'ns/p1'); // the same pod seen deleted twice
  e.deletionObservedOf('ns/rs', 'ns/zzz'); // a pod nobody expected
  assert.equal(e.getExpectations('ns/rs')!.del, 1);
  assert.deepEqual([...e.getUIDs('ns/rs')!], ['ns/p2']);
  assert.equal(e.satisfied('ns/rs'), false);
  e.deletionObservedOf('ns/rs', 'ns/p2');
  assert.equal(e.satisfied('ns/rs'), true);
  e.deleteExpectations('ns/rs');
  assert.equal(e.getUIDs('ns/rs'), undefined);
});
