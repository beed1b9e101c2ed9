import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CriLogParser, renderLog, streamLog, timeKey } from './cri-logs.js';

const LOG = [
  '2026-01-01T00:00:01.000000001Z stdout F one',
  '2026-01-01T00:00:02.5Z stderr F two',
  '2026-01-01T00:00:03.000000000Z stdout P thr',
  '2026-01-01T00:00:03.100000000Z stdout P e',
  '2026-01-01T00:00:03.200000000Z stdout F e',
  '2026-01-01T00:00:04.000000000Z stdout F ',
  '2026-01-01T00:00:05.000000000Z stdout F five has spaces  ',
  '',
].join('\n');

describe('reading CRI log files', () => {
  it('joins partial lines into one, keeping the first part’s time and empty and space-filled lines as they are', () => {
    const e = new CriLogParser().push(LOG);
    assert.deepEqual(
      e.map((x) => [x.time, x.stream, x.text]),
      [
        ['2026-01-01T00:00:01.000000001Z', 'stdout', 'one\n'],
        ['2026-01-01T00:00:02.5Z', 'stderr', 'two\n'],
        ['2026-01-01T00:00:03.000000000Z', 'stdout', 'three\n'],
        ['2026-01-01T00:00:04.000000000Z', 'stdout', '\n'],
        ['2026-01-01T00:00:05.000000000Z', 'stdout', 'five has spaces  \n'],
      ],
    );
  });

  it('parses the same entries when the file text arrives one byte at a time', () => {
    const p = new CriLogParser();
    const got = [...LOG].flatMap((ch) => p.push(ch));
    assert.deepEqual(got, new CriLogParser().push(LOG));
  });

  const cases: { name: string; o: Parameters<typeof renderLog>[1]; want: string }[] = [
    { name: 'prints every line with no options', o: {}, want: 'one\ntwo\nthree\n\nfive has spaces  \n' },
    { name: 'keeps only the last lines with tailLines', o: { tailLines: 2 }, want: '\nfive has spaces  \n' },
    { name: 'prints nothing with tailLines 0', o: { tailLines: 0 }, want: '' },
    { name: 'prefixes the runtime timestamp with timestamps', o: { tailLines: 1, timestamps: true }, want: '2026-01-01T00:00:05.000000000Z five has spaces  \n' },
    { name: 'drops lines before sinceTime, to the nanosecond', o: { sinceTime: '2026-01-01T00:00:03Z' }, want: 'three\n\nfive has spaces  \n' },
    { name: 'drops lines older than sinceSeconds', o: { sinceSeconds: 2 }, want: '\nfive has spaces  \n' },
    { name: 'cuts the output at limitBytes', o: { limitBytes: 6 }, want: 'one\ntw' },
  ];
  for (const c of cases) {
    it(`${c.name}`, () => {
      assert.equal(renderLog(LOG, c.o, Date.parse('2026-01-01T00:00:06Z')), c.want);
    });
  }

  it('orders times with fractions of any length and with offsets', () => {
    assert.ok(timeKey('2026-01-01T00:00:01.000000001Z') > timeKey('2026-01-01T00:00:01Z'));
    assert.equal(timeKey('2026-01-01T01:00:00+01:00'), timeKey('2026-01-01T00:00:00.000Z'));
  });

  it('follows a file: prints the tail, then lines appended later, until aborted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'k8ts-logs-'));
    try {
      const path = join(dir, '0.log');
      writeFileSync(path, LOG + '2026-01-01T00:00:06.000000000Z stdout P par');
      let out = '';
      const ac = new AbortController();
      const done = streamLog(path, { follow: true, tailLines: 1 }, { write: (s) => ((out += s), true), drained: async () => {} }, ac.signal, async () => true);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(out, 'five has spaces  \n');
      appendFileSync(path, '\n2026-01-01T00:00:06.500000000Z stdout F tial\n2026-01-01T00:00:07.000000000Z stderr F next\n');
      const end = Date.now() + 3000;
      while (!out.includes('next') && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      assert.equal(out, 'five has spaces  \npartial\nnext\n');
      ac.abort();
      await done;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stops following once the container has exited and the file no longer grows', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'k8ts-logs-'));
    try {
      const path = join(dir, '0.log');
      writeFileSync(path, LOG);
      let out = '';
      const t0 = Date.now();
      await streamLog(path, { follow: true, tailLines: 1 }, { write: (s) => ((out += s), true), drained: async () => {} }, new AbortController().signal, async () => false);
      assert.equal(out, 'five has spaces  \n');
      assert.ok(Date.now() - t0 < 3000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
