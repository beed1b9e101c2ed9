import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import {
  adler32,
  controlFrame,
  dataFrame,
  decodeHeaderBlock,
  encodeHeaderBlock,
  FrameParser,
  FrameType,
  HeaderCompressor,
  HeaderDecompressor,
  SPDY_DICTIONARY,
  SpdySession,
  type SpdyHeaders,
  type SpdyStream,
} from './spdy.js';

/** Two sessions wired back to back, optionally re-chunking every write into small pieces. */
function pair(chunk = 0): { client: SpdySession; server: SpdySession } {
  let client!: SpdySession;
  let server!: SpdySession;
  const deliver = (to: () => SpdySession) => (b: Buffer) => {
    const copy = Buffer.from(b);
    setImmediate(() => {
      if (!chunk) return to().feed(copy);
      for (let i = 0; i < copy.length; i += chunk) to().feed(copy.subarray(i, i + chunk));
    });
  };
  client = new SpdySession({ role: 'client', transport: { write: deliver(() => server), end: () => setImmediate(() => server.transportClosed()) } });
  server = new SpdySession({ role: 'server', transport: { write: deliver(() => client), end: () => setImmediate(() => client.transportClosed()) } });
  return { client, server };
}

function collect(s: SpdyStream): Promise<Buffer> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    s.on('data', (d: Buffer) => parts.push(d));
    s.on('end', () => resolve(Buffer.concat(parts)));
  });
}

describe('the SPDY/3 header dictionary and compression', () => {
  it('is 1423 bytes with the Adler-32 that Go and Chromium peers expect in the zlib header', () => {
    assert.equal(SPDY_DICTIONARY.length, 1423);
    assert.equal(adler32(SPDY_DICTIONARY), 0xe3c6a7c2);
    assert.equal(adler32(Buffer.from('Wikipedia')), 0x11e60398);
  });

  it('writes header blocks that a standard zlib inflater with the dictionary reads, block after block', () => {
    const c = new HeaderCompressor();
    const a = c.compress(encodeHeaderBlock({ streamtype: ['error'], port: ['80'] }));
    const b = c.compress(encodeHeaderBlock({ streamtype: ['data'], requestid: ['0'] }));
    const out = zlib.inflateSync(Buffer.concat([a, b]), { dictionary: SPDY_DICTIONARY, finishFlush: zlib.constants.Z_SYNC_FLUSH });
    const first = encodeHeaderBlock({ streamtype: ['error'], port: ['80'] });
    assert.deepEqual(decodeHeaderBlock(out.subarray(0, first.length)), { streamtype: ['error'], port: ['80'] });
    assert.deepEqual(decodeHeaderBlock(out.subarray(first.length)), { streamtype: ['data'], requestid: ['0'] });
  });

  it('reads header blocks compressed by a real deflater whose state continues across frames', async () => {
    const deflater = zlib.createDeflate({ dictionary: SPDY_DICTIONARY });
    const blocks: Buffer[] = [];
    const headerBlocks: SpdyHeaders[] = [{ streamtype: ['stdout'] }, { streamtype: ['stdout', 'x'], other: ['stdout'] }];
    for (const h of headerBlocks) {
      blocks.push(
        await new Promise<Buffer>((resolve) => {
          const parts: Buffer[] = [];
          const on = (d: Buffer) => parts.push(d);
          deflater.on('data', on);
          deflater.write(encodeHeaderBlock(h));
          deflater.flush(zlib.constants.Z_SYNC_FLUSH, () => {
            deflater.off('data', on);
            resolve(Buffer.concat(parts));
          });
        }),
      );
    }
    deflater.destroy();
    const d = new HeaderDecompressor();
    assert.deepEqual(decodeHeaderBlock(await d.decompress(blocks[0]!)), { streamtype: ['stdout'] });
    // The second block refers back to the first one's bytes: it only inflates with shared state.
    assert.deepEqual(decodeHeaderBlock(await d.decompress(blocks[1]!)), { streamtype: ['stdout', 'x'], other: ['stdout'] });
    d.close();
  });
});

describe('SPDY frames', () => {
  it('parses frames split across chunks at every byte boundary', () => {
    const wire = Buffer.concat([dataFrame(3, 1, Buffer.from('hello')), controlFrame(FrameType.PING, 0, Buffer.from([0, 0, 0, 7]))]);
    for (let cut = 1; cut < wire.length; cut++) {
      const p = new FrameParser();
      const frames = [...p.push(wire.subarray(0, cut)), ...p.push(wire.subarray(cut))];
      assert.equal(frames.length, 2, `cut at ${cut}`);
      const [d, c] = frames;
      assert.ok(d && !d.control && d.streamId === 3 && d.flags === 1 && d.data.toString() === 'hello');
      assert.ok(c && c.control && c.type === FrameType.PING && c.payload.readUInt32BE(0) === 7);
    }
  });

  it('rejects a control frame of another SPDY version', () => {
    const f = controlFrame(FrameType.PING, 0, Buffer.alloc(4));
    f.writeUInt16BE(0x8002, 0);
    assert.throws(() => new FrameParser().push(f), /unsupported SPDY version 2/);
  });
});

describe('SPDY sessions back to back', () => {
  for (const chunk of [0, 1, 3]) {
    it(`opens streams, replies, carries data and half-closes each direction (writes re-chunked to ${chunk || 'whole'} bytes)`, async () => {
      const { client, server } = pair(chunk);
      const got: SpdyStream[] = [];
      server.on('stream', (s: SpdyStream) => {
        got.push(s);
        s.reply();
        // Echo, upper-cased, until the client half-closes; then FIN our side.
        const parts: Buffer[] = [];
        s.on('data', (d: Buffer) => parts.push(d));
        s.on('end', () => s.end(Buffer.from(Buffer.concat(parts).toString().toUpperCase())));
      });
      const a = client.open({ streamtype: ['data'], port: ['80'] });
      const b = client.open({ streamtype: ['error'] });
      const replied = new Promise((r) => a.once('reply', r));
      const aOut = collect(a);
      const bOut = collect(b);
      a.write(Buffer.from('hello '));
      a.end(Buffer.from('world'));
      b.end();
      await replied;
      assert.equal((await aOut).toString(), 'HELLO WORLD');
      assert.equal((await bOut).toString(), '');
      assert.deepEqual(got.map((s) => [s.id, s.header('streamtype'), s.header('port')]), [
        [1, 'data', '80'],
        [3, 'error', undefined],
      ]);
      client.destroy();
      await new Promise((r) => setTimeout(r, 10));
      assert.ok(server.destroyed);
    });
  }

  it('delivers a reset to the other side and answers pings the peer started', async () => {
    const { client, server } = pair();
    const reset = new Promise<number>((resolve) => server.on('stream', (s: SpdyStream) => s.on('reset', resolve)));
    const s = client.open({ streamtype: ['x'] });
    await new Promise((r) => setTimeout(r, 10));
    s.reset(5);
    assert.equal(await reset, 5);
    // A ping from the client (odd id) comes back; the server never echoes its own.
    const seen: Buffer[] = [];
    const orig = client.feed.bind(client);
    client.feed = (b: Buffer) => {
      seen.push(b);
      orig(b);
    };
    client.sendControl(FrameType.PING, 0, Buffer.from([0, 0, 0, 1]));
    await new Promise((r) => setTimeout(r, 20));
    assert.ok(Buffer.concat(seen).equals(controlFrame(FrameType.PING, 0, Buffer.from([0, 0, 0, 1]))));
    client.destroy();
  });
});
