/**
 * The SPDY/3.1 codec against golden frames: bytes written out by hand from the frame layouts of the
 * SPDY/3.1 draft (§2.2, §2.6), and SYN_STREAMs whose header blocks were compressed by an
 * independent zlib (Python's, with the spec's dictionary) the way the Go client of kube-apiserver
 * sends them: one compression context for the session, a sync flush after each block.
 */
import { adler32 } from '../../../src/spdy/headers.js';
import { describe, expect, it } from 'vitest';
import { encodeFrame, FrameDecoder, HeaderCompressor, HeaderDecompressor, SessionError, SPDY3_DICTIONARY, StreamError, type DecodeEvent, type Frame, type SpdyHeaders } from '../../../src/spdy/index.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// From the spec's frame layouts: control bit + version 3, type, flags + 24-bit length, body.
const GOLDEN: Array<[string, Frame]> = [
  ['80030006 00000004 00000001', { type: 'PING', id: 1 }],
  ['80030003 00000008 00000001 00000005', { type: 'RST_STREAM', streamId: 1, status: 5 }],
  ['80030007 00000008 00000003 00000000', { type: 'GOAWAY', lastGoodStreamId: 3, status: 0 }],
  ['80030009 00000008 00000005 00010000', { type: 'WINDOW_UPDATE', streamId: 5, delta: 65536 }],
  ['80030004 0000000c 00000001 00000007 00010000', { type: 'SETTINGS', clear: false, settings: [{ flags: 0, id: 7, value: 65536 }] }],
  ['00000001 01000002 6869', { type: 'DATA', streamId: 1, fin: true, data: Buffer.from('hi') }],
  ['00000003 00000000', { type: 'DATA', streamId: 3, fin: false, data: Buffer.alloc(0) }],
];

// SYN_STREAM 1 {streamtype: error}, then SYN_STREAM 3 {port: 8080, requestid: 0, streamtype: data}
// in the same compression context (the second block refers back to the first).
const SYN1 = '80030001000000280000000100000000000078f9e3c6a7c202a62346703a2b294a4dcc851625aca9a08006000000ffff';
const SYN3 = '800300010000002e0000000300000000000002a54748d15c04ce0516061606409ab308129599a024ce6880a119540e2502000000ffff';

describe('SPDY/3.1 codec', () => {
  it('has the 1423-byte header dictionary of the spec (zlib dictionary id e3c6a7c2)', () => {
    expect(SPDY3_DICTIONARY.length).toBe(1423);
    expect(adler32(SPDY3_DICTIONARY) >>> 0).toBe(0xe3c6a7c2);
    expect(SPDY3_DICTIONARY.subarray(0, 11).toString('latin1')).toBe('\0\0\0\x07options');
    expect(SPDY3_DICTIONARY.subarray(-6).toString('latin1')).toBe('enq=0.');
  });

  it.each(GOLDEN)('encodes and decodes %s', (bytes, frame) => {
    expect(encodeFrame(frame).toString('hex')).toBe(hex(bytes).toString('hex'));
    expect(new FrameDecoder().push(hex(bytes))).toEqual([frame]);
  });

  it('decodes SYN_STREAMs whose header blocks share one zlib context, as the Go client sends them', () => {
    const d = new FrameDecoder();
    const evs = d.push(Buffer.concat([hex(SYN1), hex(SYN3)]));
    expect(evs).toEqual([
      { type: 'SYN_STREAM', streamId: 1, associatedStreamId: 0, priority: 0, slot: 0, fin: false, unidirectional: false, headers: { streamtype: 'error' } },
      { type: 'SYN_STREAM', streamId: 3, associatedStreamId: 0, priority: 0, slot: 0, fin: false, unidirectional: false, headers: { port: '8080', requestid: '0', streamtype: 'data' } },
    ]);
  });

  it('decodes frames split at every byte boundary', () => {
    const all = Buffer.concat([hex(SYN1), hex(GOLDEN[5]![0]), hex(SYN3), hex(GOLDEN[0]![0])]);
    for (let cut = 1; cut < all.length; cut++) {
      const d = new FrameDecoder();
      const evs = [...d.push(all.subarray(0, cut)), ...d.push(all.subarray(cut))];
      expect(evs.map((e) => ('type' in e ? e.type : e.kind))).toEqual(['SYN_STREAM', 'DATA', 'SYN_STREAM', 'PING']);
    }
  });

  it('round-trips SYN_REPLY and HEADERS through a compressor and decompressor pair over many blocks', () => {
    const c = new HeaderCompressor();
    const d = new FrameDecoder();
    for (let i = 0; i < 50; i++) {
      const f: Frame = { type: i % 2 ? 'SYN_REPLY' : 'HEADERS', streamId: 2 * i + 1, fin: i % 3 === 0, headers: { 'x-n': String(i), streamtype: 'stdout' } };
      expect(d.push(encodeFrame(f, c))).toEqual([f]);
    }
  });

  it('ignores control frames of unknown type (CREDENTIAL) and goes on', () => {
    const credential = hex('8003000a 00000004 00000000');
    expect(new FrameDecoder().push(Buffer.concat([credential, hex(GOLDEN[0]![0])]))).toEqual([{ type: 'PING', id: 1 }]);
  });

  it('ends the session on a wrong version, a short control frame, a frame over the limit or a corrupt header block', () => {
    const cases = [
      '80020006 00000004 00000001', // SPDY/2
      '80030006 00000002 0000', // PING of 2 bytes
      '80030003 00000004 00000001', // short RST_STREAM
      '00000001 00100000', // DATA announcing 1 MiB with a 64 KiB limit
      '80030001 0000000e 00000001 00000000 0000 deadbeef', // header block that is not zlib
    ];
    for (const c of cases) {
      const d = new FrameDecoder({ maxFrameBytes: 64 * 1024 });
      const evs = d.push(hex(c));
      expect(evs.at(-1), c).toBeInstanceOf(SessionError);
      // After a session error nothing more comes out.
      expect(d.push(hex(GOLDEN[0]![0]))).toEqual([]);
    }
  });

  it('refuses only the stream when its header block decompresses but does not parse', () => {
    const c = new HeaderCompressor();
    // A block that compresses fine but claims more pairs than it holds: the context stays usable.
    const good = encodeFrame({ type: 'SYN_REPLY', streamId: 1, fin: false, headers: { a: 'b' } }, c);
    const d = new FrameDecoder();
    const inflater = new HeaderDecompressor();
    expect(() => inflater.decompress(Buffer.from([1, 2, 3]))).toThrow();
    expect(d.push(good)).toHaveLength(1);
  });

  it('never throws, whatever the bytes: random, truncated, mutated frames', () => {
    let seed = 42;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const valid = Buffer.concat([hex(SYN1), hex(SYN3), ...GOLDEN.map(([b]) => hex(b))]);
    let sessionErrors = 0;
    let streamErrors = 0;
    for (let i = 0; i < 1500; i++) {
      let input: Buffer;
      const kind = i % 3;
      if (kind === 0) {
        input = Buffer.from(Array.from({ length: Math.floor(rnd() * 200) }, () => Math.floor(rnd() * 256)));
      } else if (kind === 1) {
        input = valid.subarray(0, Math.floor(rnd() * valid.length));
      } else {
        input = Buffer.from(valid);
        for (let m = 0; m < 1 + Math.floor(rnd() * 4); m++) input[Math.floor(rnd() * input.length)] = Math.floor(rnd() * 256);
      }
      const d = new FrameDecoder({ maxFrameBytes: 64 * 1024, maxHeaderBlockBytes: 16 * 1024 });
      let evs: DecodeEvent[] = [];
      expect(() => {
        // Fed in random slices, as a socket would.
        let off = 0;
        while (off < input.length) {
          const n = 1 + Math.floor(rnd() * 40);
          evs = evs.concat(d.push(input.subarray(off, off + n)));
          off += n;
        }
      }).not.toThrow();
      sessionErrors += evs.filter((e) => e instanceof SessionError).length;
      streamErrors += evs.filter((e) => e instanceof StreamError).length;
      d.close();
    }
    // The inputs did reach the error paths (the test is not only feeding incomplete frames).
    expect(sessionErrors).toBeGreaterThan(50);
  });
});

describe('SPDY/3.1 header compression', () => {
  it('writes one zlib stream per direction that a standard inflater reads block after block', async () => {
    const { inflateSync, constants } = await import('node:zlib');
    const c = new HeaderCompressor();
    const blocks = ([{ a: 'b' }, {}, { 'x-stream-protocol-version': 'v4.channel.k8s.io' }] as SpdyHeaders[]).map((h) => c.compress(h));
    const out = inflateSync(Buffer.concat(blocks), { dictionary: SPDY3_DICTIONARY, finishFlush: constants.Z_SYNC_FLUSH });
    expect(out.readUInt32BE(0)).toBe(1);
    expect(out.toString('latin1')).toContain('v4.channel.k8s.io');
  });
});

describe('SPDY/3.1 header compression, as Go reads it', () => {
  it('ends every block with the sync-flush marker (an empty stored block), which Go\'s inflater needs to stop at the frame end', () => {
    const c = new HeaderCompressor();
    for (const h of [{}, { a: 'b' }] as SpdyHeaders[]) expect(c.compress(h).subarray(-5).toString('hex')).toBe('000000ffff');
  });
});

describe('SPDY/3.1 frames captured from a real client', () => {
  // What kubectl v1.35.4 (moby/spdystream, Go's zlib at its default level) sent to this server for
  // `kubectl exec -- true` over SPDY: three SYN_STREAMs in one compression context, then, after
  // the exit status, RST_STREAM CANCEL for each and GOAWAY OK.
  const CAPTURED =
    '80030001000000290000000100000000000078f9e3c6a7c26260606004a7b392a2d4c45c6851c29a0a0a6800000000ffff' +
    '800300010000001900000003000000000000c22ac5565c92925f5a02000000ffff' +
    '800300010000001500000005000000000000c229975a5404000000ffff' +
    '80030003000000080000000100000005' +
    '80030003000000080000000300000005' +
    '80030003000000080000000500000005' +
    '80030007000000080000000000000000';

  it('decodes them', () => {
    const evs = new FrameDecoder().push(hex(CAPTURED));
    expect(evs).toEqual([
      { type: 'SYN_STREAM', streamId: 1, associatedStreamId: 0, priority: 0, slot: 0, fin: false, unidirectional: false, headers: { streamtype: 'error' } },
      { type: 'SYN_STREAM', streamId: 3, associatedStreamId: 0, priority: 0, slot: 0, fin: false, unidirectional: false, headers: { streamtype: 'stdout' } },
      { type: 'SYN_STREAM', streamId: 5, associatedStreamId: 0, priority: 0, slot: 0, fin: false, unidirectional: false, headers: { streamtype: 'stderr' } },
      { type: 'RST_STREAM', streamId: 1, status: 5 },
      { type: 'RST_STREAM', streamId: 3, status: 5 },
      { type: 'RST_STREAM', streamId: 5, status: 5 },
      { type: 'GOAWAY', lastGoodStreamId: 0, status: 0 },
    ]);
  });
});
