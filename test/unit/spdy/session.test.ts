/**
 * The SPDY session's behaviour, driven frame by frame through an in-memory socket pair: what the
 * server answers and when it closes, as a kube-apiserver (moby/spdystream client) would see it.
 */
import { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { encodeFrame, FrameDecoder, GoAwayStatus, HeaderCompressor, RstStatus, SpdySession, type Frame, type SpdyStream } from '../../../src/spdy/index.js';

/** Two connected Duplexes, as a socket's two ends. */
function socketPair(): [Duplex, Duplex] {
  let a!: Duplex;
  let b!: Duplex;
  const make = (other: () => Duplex) =>
    new Duplex({
      read() {},
      write(chunk, _enc, cb) {
        other().push(chunk);
        cb();
      },
      final(cb) {
        other().push(null);
        cb();
      },
    });
  a = make(() => b);
  b = make(() => a);
  return [a, b];
}

/** The peer's side: frames in, frames out, and a wait for a frame matching a predicate. */
function client(sock: Duplex) {
  const c = new HeaderCompressor();
  const d = new FrameDecoder();
  const got: Frame[] = [];
  let waiters: Array<() => void> = [];
  let ended = false;
  sock.on('data', (b: Buffer) => {
    for (const ev of d.push(b)) if ('type' in ev) got.push(ev);
    waiters.splice(0).forEach((w) => w());
  });
  sock.on('end', () => {
    ended = true;
    waiters.splice(0).forEach((w) => w());
  });
  return {
    got,
    send: (f: Frame) => sock.write(encodeFrame(f, c)),
    async next(pred: (f: Frame) => boolean, what: string): Promise<Frame> {
      const deadline = Date.now() + 2000;
      for (;;) {
        const i = got.findIndex(pred);
        if (i >= 0) return got.splice(i, 1)[0]!;
        if (ended || Date.now() > deadline) throw new Error(`no ${what}; frames seen: ${JSON.stringify(got.map((f) => f.type))}`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 50);
        });
      }
    },
    get ended() {
      return ended;
    },
  };
}

/** Polls a condition on the server side (its events are synchronous with the bytes written). */
async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 2000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

function setup(opts = {}) {
  const [srv, cli] = socketPair();
  const session = new SpdySession(srv, opts);
  const streams: SpdyStream[] = [];
  session.on('stream', (s) => streams.push(s));
  const closed = new Promise<string>((r) => session.on('close', r));
  return { session, streams, closed, peer: client(cli), cli };
}

const syn = (streamId: number, headers: Record<string, string>, fin = false): Frame => ({ type: 'SYN_STREAM', streamId, associatedStreamId: 0, priority: 0, slot: 0, fin, unidirectional: false, headers });

describe('SPDY session (server side)', () => {
  it('accepts a stream, carries data both ways, and forgets it after FIN both ways', async () => {
    const { session, streams, peer } = setup();
    peer.send(syn(1, { streamtype: 'stdin' }));
    peer.send({ type: 'DATA', streamId: 1, fin: true, data: Buffer.from('ping') });
    await until(() => streams.length > 0, 'a stream');
    const s = streams[0]!;
    expect(s.headers).toEqual({ streamtype: 'stdin' });
    s.reply();
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    await new Promise((r) => s.once('end', r));
    expect(Buffer.concat(chunks).toString()).toBe('ping');
    s.end('pong');
    expect(await peer.next((f) => f.type === 'SYN_REPLY', 'SYN_REPLY')).toMatchObject({ streamId: 1 });
    const data = await peer.next((f) => f.type === 'DATA' && f.fin, 'DATA with FIN');
    expect(data).toMatchObject({ streamId: 1 });
    expect(session.openStreams).toBe(0);
  });

  it('echoes PINGs the client started (odd ids)', async () => {
    const { peer } = setup();
    peer.send({ type: 'PING', id: 7 });
    expect(await peer.next((f) => f.type === 'PING', 'PING')).toEqual({ type: 'PING', id: 7 });
  });

  it('refuses streams beyond the concurrency limit with REFUSED_STREAM', async () => {
    const { peer, streams } = setup({ maxConcurrentStreams: 1 });
    peer.send(syn(1, {}));
    peer.send(syn(3, {}));
    expect(await peer.next((f) => f.type === 'RST_STREAM', 'RST_STREAM')).toEqual({ type: 'RST_STREAM', streamId: 3, status: RstStatus.REFUSED_STREAM });
    expect(streams.map((s) => s.id)).toEqual([1]);
  });

  it('answers DATA on an unknown stream with INVALID_STREAM and goes on', async () => {
    const { peer } = setup();
    peer.send({ type: 'DATA', streamId: 9, fin: false, data: Buffer.from('x') });
    expect(await peer.next((f) => f.type === 'RST_STREAM', 'RST_STREAM')).toMatchObject({ streamId: 9, status: RstStatus.INVALID_STREAM });
    peer.send({ type: 'PING', id: 1 });
    await peer.next((f) => f.type === 'PING', 'PING');
  });

  it('ends with GOAWAY PROTOCOL_ERROR on garbage, without throwing', async () => {
    const { cli, peer, closed } = setup();
    // A control frame of SPDY/2.
    cli.write(Buffer.from('8002000100000000', 'hex'));
    expect(await peer.next((f) => f.type === 'GOAWAY', 'GOAWAY')).toMatchObject({ status: GoAwayStatus.PROTOCOL_ERROR });
    expect(await closed).toMatch(/protocol error/);
  });

  it('closes after the peer\'s GOAWAY once its streams are done, refusing new ones', async () => {
    const { peer, streams, closed, session } = setup();
    peer.send(syn(1, {}, true));
    peer.send({ type: 'GOAWAY', lastGoodStreamId: 0, status: 0 });
    peer.send(syn(3, {}));
    expect(await peer.next((f) => f.type === 'RST_STREAM', 'RST_STREAM')).toMatchObject({ streamId: 3, status: RstStatus.REFUSED_STREAM });
    expect(session.isClosed).toBe(false);
    streams[0]!.end();
    expect(await closed).toMatch(/GOAWAY/);
  });

  it('ends an idle session with GOAWAY', async () => {
    const { peer, closed } = setup({ idleTimeoutMs: 100 });
    expect(await closed).toMatch(/idle/);
    expect(await peer.next((f) => f.type === 'GOAWAY', 'GOAWAY')).toMatchObject({ status: GoAwayStatus.OK });
  });

  it('resets a stream the application destroys half-way (CANCEL)', async () => {
    const { peer, streams } = setup();
    peer.send(syn(1, {}));
    await until(() => streams.length > 0, 'a stream');
    streams[0]!.destroy();
    expect(await peer.next((f) => f.type === 'RST_STREAM', 'RST_STREAM')).toMatchObject({ streamId: 1, status: RstStatus.CANCEL });
  });

  it('sends past 64 KiB to a peer that never updates windows (spdystream), and within the window of one that does', async () => {
    const big = Buffer.alloc(200 * 1024, 1);
    {
      const { peer, streams } = setup();
      peer.send(syn(1, {}));
      await until(() => streams.length > 0, 'a stream');
      streams[0]!.end(big);
      await peer.next((f) => f.type === 'DATA' && f.fin, 'DATA with FIN');
    }
    {
      const { peer, streams } = setup();
      peer.send({ type: 'SETTINGS', clear: false, settings: [{ flags: 0, id: 7, value: 1000 }] });
      peer.send(syn(1, {}));
      await until(() => streams.length > 0, 'a stream');
      streams[0]!.end(Buffer.alloc(2500, 1));
      const sent = async (n: number) => {
        let total = 0;
        while (total < n) total += ((await peer.next((f) => f.type === 'DATA', 'DATA')) as { data: Buffer }).data.length;
        return total;
      };
      expect(await sent(1000)).toBe(1000);
      // Nothing more until the window opens.
      await expect(peer.next((f) => f.type === 'DATA' && f.data.length > 0, 'DATA beyond the window')).rejects.toThrow(/no DATA/);
      peer.send({ type: 'WINDOW_UPDATE', streamId: 1, delta: 5000 });
      expect(await sent(1500)).toBe(1500);
    }
  });
});
