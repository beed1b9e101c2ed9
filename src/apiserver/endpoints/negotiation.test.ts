import { strict as assert } from 'node:assert';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import type { IncomingMessage } from 'node:http';
import { StatusError } from '../../api/errors.js';
import { findDuplicateKeys, findDuplicateKeysOf, readBody } from './negotiation.js';

test('duplicate keys are found with their paths, and none are reported where there are none', () => {
  const cases: [string, string, string[]][] = [
    ['no duplicates', '{"a":1,"b":{"c":[1,2,{"d":true}]}}', []],
    ['a duplicate at the top', '{"a":1,"a":2}', ['a']],
    ['a duplicate inside a list element', '{"spec":{"containers":[{"name":"x"},{"name":"y","name":"z"}]}}', ['spec.containers[1].name']],
    ['the same key in sibling objects is not a duplicate', '{"a":{"x":1},"b":{"x":2}}', []],
    ['an escaped key equal to another key', '{"a\\u0062":1,"ab":2}', ['ab']],
    ['keys with escaped quotes and whitespace everywhere', ' { "q\\"" : "v\\"}" ,\n "q\\"" : [ ] , "e":{ } }', ['q"']],
    ['numbers and literals up to their delimiter', '{"n":-1.5e3,"t":true,"f":false,"z":null,"n":0}', ['n']],
    ['three equal keys report twice', '{"k":1,"k":2,"k":3}', ['k', 'k']],
    ['a top-level list', '[{"a":1,"a":1}]', ['[0].a']],
  ];
  for (const [name, text, want] of cases) {
    JSON.parse(text); // each case is valid JSON, as the caller guarantees
    assert.deepEqual(findDuplicateKeys(text), want, name);
  }
});

test('duplicate keys found from the parsed body agree with the scan of its text, compact or not', () => {
  const cases: [string, string, string[]][] = [
    ['compact JSON as clients send it', '{"a":1,"b":{"c":[1,2,{"d":true}]}}', []],
    ['compact JSON with a duplicate', '{"a":1,"b":{"c":1,"c":2}}', ['b.c']],
    ['a duplicate with the same value', '{"a":1,"a":1}', ['a']],
    ['whitespace and a duplicate', '{ "a": 1, "a": 2 }', ['a']],
    ['integer-like keys, which JSON.parse reorders', '{"b":1,"1":2,"1":3}', ['1']],
    ['a number written differently from its serialisation', '{"n":1.0,"m":1e2,"n":2}', ['n']],
    ['escaped characters', '{"a\\u0062":1,"ab":2}', ['ab']],
    ['a top-level list', '[{"a":1,"a":1}]', ['[0].a']],
  ];
  for (const [name, text, want] of cases) {
    assert.deepEqual(findDuplicateKeysOf(text, JSON.parse(text)), want, name);
  }
});

function fakeRequest(chunks: string[], headers: Record<string, string> = {}, end = true): IncomingMessage {
  const s = new PassThrough() as unknown as IncomingMessage & PassThrough;
  (s as any).headers = headers;
  queueMicrotask(() => {
    for (const c of chunks) s.write(Buffer.from(c));
    if (end) {
      (s as any).complete = true;
      s.end();
    } else s.destroy();
  });
  return s;
}

test('a body is read whole from its chunks, and refused with 413 over the limit', async () => {
  assert.equal((await readBody(fakeRequest(['{"a"', ':1}']))).toString(), '{"a":1}');
  assert.equal((await readBody(fakeRequest(['x']))).toString(), 'x');
  await assert.rejects(readBody(fakeRequest(['12345', '678']), 6), (e) => e instanceof StatusError && e.status.code === 413);
  await assert.rejects(readBody(fakeRequest([], { 'content-length': '100' }), 10), (e) => e instanceof StatusError && e.status.code === 413);
  await assert.rejects(readBody(fakeRequest(['partial'], {}, false)), /aborted/);
});
