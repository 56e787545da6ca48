/**
 * The server side of one SPDY/3.1 session over a byte stream (after the HTTP upgrade): the peer
 * opens streams (SYN_STREAM), we accept them (SYN_REPLY) or refuse them (RST_STREAM), and each
 * stream is a Node Duplex whose writes become DATA frames and whose reads are the peer's DATA.
 * PING is answered, GOAWAY ends the session once its streams are done, SETTINGS and WINDOW_UPDATE
 * drive the send windows. The socket is the only I/O: frames are decoded by FrameDecoder and
 * encoded by encodeFrame (frames.ts), both pure.
 *
 * Flow control (§2.6.8 and 3.1's session window): windows are kept both ways, and WINDOW_UPDATE is
 * sent as the application reads. The send windows are ENFORCED only once the peer shows it does
 * flow control (sends a WINDOW_UPDATE or SETTINGS_INITIAL_WINDOW_SIZE): the Go library every
 * Kubernetes component uses (moby/spdystream) never sends either and ignores ours, so waiting on a
 * window with it would stall a stream at 64 KiB forever. Against such a peer, memory stays bounded
 * by backpressure instead: when a stream holds more than `maxBufferedPerStream` unread bytes, the
 * session stops reading the socket until the application reads.
 */
import { EventEmitter } from 'node:events';
import { Duplex } from 'node:stream';
import { encodeFrame, FrameDecoder, GoAwayStatus, HeaderCompressor, RstStatus, SessionError, SettingsId, StreamError, type Frame } from './frames.js';
import type { SpdyHeaders } from './headers.js';

const DEFAULT_WINDOW = 64 * 1024;
const MAX_WINDOW = 0x7fffffff;

export interface SessionOptions {
  /** GOAWAY and close when no stream frame (SYN, DATA, RST) has moved either way for this long; 0: never. PINGs do not count. */
  idleTimeoutMs?: number;
  /** Streams open at once; more are refused (RST_STREAM REFUSED_STREAM). */
  maxConcurrentStreams?: number;
  /** Unread inbound bytes a stream may hold before the session stops reading the socket. */
  maxBufferedPerStream?: number;
  /** Largest frame accepted (longer: GOAWAY PROTOCOL_ERROR). */
  maxFrameBytes?: number;
  /** Largest decompressed header block. */
  maxHeaderBlockBytes?: number;
  /** Payload of the DATA frames we write. */
  dataFrameBytes?: number;
}

export interface SessionEvents {
  stream: [SpdyStream];
  /** The session ended; `reason` says why (peer closed, GOAWAY, protocol error, idle). */
  close: [string];
}

export class SpdySession extends EventEmitter<SessionEvents> {
  private readonly decoder: FrameDecoder;
  private readonly compressor = new HeaderCompressor();
  private readonly streams = new Map<number, SpdyStream>();
  private lastPeerStreamId = 0;
  private goneAway = false;
  private closed = false;
  private peerFlowControl = false;
  private peerInitialWindow = DEFAULT_WINDOW;
  private sessionSendWindow = DEFAULT_WINDOW;
  private sessionRecvWindow = DEFAULT_WINDOW;
  private sessionRecvUnacked = 0;
  private idleTimer?: NodeJS.Timeout;
  private readPaused = false;
  private windowWaiters: Array<() => void> = [];
  readonly opts: Required<SessionOptions>;

  constructor(
    private readonly socket: Duplex,
    opts: SessionOptions = {},
    head?: Buffer,
  ) {
    super();
    this.opts = {
      idleTimeoutMs: opts.idleTimeoutMs ?? 0,
      maxConcurrentStreams: opts.maxConcurrentStreams ?? 100,
      maxBufferedPerStream: opts.maxBufferedPerStream ?? 1024 * 1024,
      maxFrameBytes: opts.maxFrameBytes ?? 4 * 1024 * 1024,
      maxHeaderBlockBytes: opts.maxHeaderBlockBytes ?? 64 * 1024,
      dataFrameBytes: opts.dataFrameBytes ?? 32 * 1024,
    };
    this.decoder = new FrameDecoder({ maxFrameBytes: this.opts.maxFrameBytes, maxHeaderBlockBytes: this.opts.maxHeaderBlockBytes });
    socket.on('data', (chunk: Buffer) => this.onBytes(chunk));
    socket.on('end', () => this.destroy('the peer closed the connection'));
    socket.on('close', () => this.destroy('the connection closed'));
    socket.on('error', (err) => this.destroy(`connection error: ${err.message}`));
    this.touch();
    if (head?.length) queueMicrotask(() => this.onBytes(head));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get openStreams(): number {
    return this.streams.size;
  }

  /** Stop accepting streams (GOAWAY OK); the connection closes when the open ones are done. */
  goAway(status: number = GoAwayStatus.OK): void {
    if (this.closed || this.goneAway) return;
    this.goneAway = true;
    this.send({ type: 'GOAWAY', lastGoodStreamId: this.lastPeerStreamId, status });
    this.maybeFinish();
  }

  /** Ends the session now: every open stream is destroyed, the socket closed. */
  destroy(reason = 'closed'): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.idleTimer);
    this.decoder.close();
    for (const s of [...this.streams.values()]) s.destroy();
    this.streams.clear();
    for (const w of this.windowWaiters.splice(0)) w();
    this.socket.end();
    // A peer that does not close its side would keep the socket; give it a moment, then cut.
    setTimeout(() => this.socket.destroy(), 1000).unref();
    this.compressor.close();
    this.emit('close', reason);
  }

  // ---- inbound ----

  private onBytes(chunk: Buffer): void {
    if (this.closed) return;
    for (const ev of this.decoder.push(chunk)) {
      if (this.closed) return;
      if (ev instanceof SessionError) {
        this.send({ type: 'GOAWAY', lastGoodStreamId: this.lastPeerStreamId, status: ev.status });
        return this.destroy(`protocol error: ${ev.message}`);
      }
      if (ev instanceof StreamError) {
        this.rst(ev.streamId, ev.status);
        this.streams.get(ev.streamId)?.destroy();
        continue;
      }
      this.onFrame(ev);
    }
  }

  private onFrame(f: Frame): void {
    switch (f.type) {
      case 'SYN_STREAM':
        return this.onSynStream(f);
      case 'DATA':
        return this.onData(f.streamId, f.data, f.fin);
      case 'RST_STREAM': {
        this.touch();
        const s = this.streams.get(f.streamId);
        if (s) s.onReset(f.status);
        return;
      }
      case 'HEADERS': {
        const s = this.streams.get(f.streamId);
        if (!s) return this.rst(f.streamId, RstStatus.INVALID_STREAM);
        if (f.fin) s.onRemoteFin();
        return;
      }
      case 'SYN_REPLY':
        // We open no streams: a reply to one is a stream error (§2.6.2: invalid stream).
        return this.rst(f.streamId, RstStatus.INVALID_STREAM);
      case 'SETTINGS':
        for (const s of f.settings) {
          if (s.id === SettingsId.INITIAL_WINDOW_SIZE && s.value <= MAX_WINDOW) {
            const delta = s.value - this.peerInitialWindow;
            this.peerInitialWindow = s.value;
            this.peerFlowControl = true;
            for (const st of this.streams.values()) st.sendWindow += delta;
            this.wakeWindowWaiters();
          }
        }
        return;
      case 'PING':
        // Our own pings would be even (we are the server); we send none, so only odd ones are echoed.
        if (f.id % 2 === 1) this.send({ type: 'PING', id: f.id });
        return;
      case 'GOAWAY':
        this.goneAway = true;
        this.maybeFinish();
        return;
      case 'WINDOW_UPDATE': {
        this.peerFlowControl = true;
        if (f.streamId === 0) {
          this.sessionSendWindow = Math.min(MAX_WINDOW, this.sessionSendWindow + f.delta);
        } else {
          const s = this.streams.get(f.streamId);
          if (s) {
            if (s.sendWindow + f.delta > MAX_WINDOW) {
              s.onReset(RstStatus.FLOW_CONTROL_ERROR);
              return this.rst(f.streamId, RstStatus.FLOW_CONTROL_ERROR);
            }
            s.sendWindow += f.delta;
          }
        }
        this.wakeWindowWaiters();
        return;
      }
    }
  }

  private onSynStream(f: Extract<Frame, { type: 'SYN_STREAM' }>): void {
    this.touch();
    if (f.streamId % 2 === 0) return this.rst(f.streamId, RstStatus.PROTOCOL_ERROR);
    if (f.streamId <= this.lastPeerStreamId) {
      this.send({ type: 'GOAWAY', lastGoodStreamId: this.lastPeerStreamId, status: GoAwayStatus.PROTOCOL_ERROR });
      return this.destroy(`stream ${f.streamId} opened after stream ${this.lastPeerStreamId}`);
    }
    this.lastPeerStreamId = f.streamId;
    if (this.goneAway) return this.rst(f.streamId, RstStatus.REFUSED_STREAM);
    if (this.streams.size >= this.opts.maxConcurrentStreams) return this.rst(f.streamId, RstStatus.REFUSED_STREAM);
    const s = new SpdyStream(this, f.streamId, f.headers, this.peerInitialWindow, f.unidirectional);
    this.streams.set(f.streamId, s);
    if (f.fin) s.onRemoteFin();
    this.emit('stream', s);
  }

  private onData(streamId: number, data: Buffer, fin: boolean): void {
    this.touch();
    const s = this.streams.get(streamId);
    if (!s) return this.rst(streamId, RstStatus.INVALID_STREAM);
    if (s.remoteEnded) {
      s.onReset(RstStatus.STREAM_ALREADY_CLOSED);
      return this.rst(streamId, RstStatus.STREAM_ALREADY_CLOSED);
    }
    this.sessionRecvWindow -= data.length;
    s.recvWindow -= data.length;
    if (this.peerFlowControl && (s.recvWindow < 0 || this.sessionRecvWindow < 0)) {
      s.onReset(RstStatus.FLOW_CONTROL_ERROR);
      return this.rst(streamId, RstStatus.FLOW_CONTROL_ERROR);
    }
    if (data.length) s.onData(data);
    if (fin) s.onRemoteFin();
    if (s.readableLength > this.opts.maxBufferedPerStream && !this.readPaused) {
      this.readPaused = true;
      this.socket.pause();
    }
  }

  /** A stream's reader took `n` bytes: give the windows back, resume the socket. */
  consumed(s: SpdyStream, n: number): void {
    if (this.closed) return;
    s.recvUnacked += n;
    this.sessionRecvUnacked += n;
    if (s.recvUnacked >= DEFAULT_WINDOW / 2 && !s.remoteEnded) {
      this.send({ type: 'WINDOW_UPDATE', streamId: s.id, delta: s.recvUnacked });
      s.recvWindow += s.recvUnacked;
      s.recvUnacked = 0;
    }
    if (this.sessionRecvUnacked >= DEFAULT_WINDOW / 2) {
      this.send({ type: 'WINDOW_UPDATE', streamId: 0, delta: this.sessionRecvUnacked });
      this.sessionRecvWindow += this.sessionRecvUnacked;
      this.sessionRecvUnacked = 0;
    }
    this.maybeResume();
  }

  private maybeResume(): void {
    if (this.readPaused && !this.closed && [...this.streams.values()].every((x) => x.readableLength <= this.opts.maxBufferedPerStream)) {
      this.readPaused = false;
      this.socket.resume();
    }
  }

  // ---- outbound ----

  /** Writes one frame; false when the socket buffer is full (wait for drain). */
  send(f: Frame): boolean {
    if (this.closed || this.socket.destroyed || this.socket.writableEnded) return true;
    if (f.type === 'DATA' || f.type === 'SYN_REPLY' || f.type === 'RST_STREAM') this.touch();
    return this.socket.write(encodeFrame(f, this.compressor));
  }

  rst(streamId: number, status: number): void {
    this.send({ type: 'RST_STREAM', streamId, status });
  }

  /** DATA frames for `data` on stream `s` (FIN on the last when `fin`), within windows and socket backpressure. */
  async sendData(s: SpdyStream, data: Buffer, fin: boolean): Promise<void> {
    let off = 0;
    do {
      if (this.closed || s.resetStatus !== undefined) throw new Error(`stream ${s.id} is closed`);
      let n = Math.min(data.length - off, this.opts.dataFrameBytes);
      if (this.peerFlowControl && n > 0) {
        while (!this.closed && s.resetStatus === undefined && (s.sendWindow <= 0 || this.sessionSendWindow <= 0)) {
          await new Promise<void>((r) => this.windowWaiters.push(r));
        }
        if (this.closed || s.resetStatus !== undefined) throw new Error(`stream ${s.id} is closed`);
        n = Math.min(n, s.sendWindow, this.sessionSendWindow);
        s.sendWindow -= n;
        this.sessionSendWindow -= n;
      }
      const last = off + n >= data.length;
      const ok = this.send({ type: 'DATA', streamId: s.id, fin: fin && last, data: data.subarray(off, off + n) });
      off += n;
      if (!ok) await this.drained();
    } while (off < data.length);
  }

  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }

  private wakeWindowWaiters(): void {
    for (const w of this.windowWaiters.splice(0)) w();
  }

  /** A stream is done both ways (or reset): forget it. */
  forget(s: SpdyStream): void {
    if (this.streams.get(s.id) === s) this.streams.delete(s.id);
    this.wakeWindowWaiters();
    this.maybeResume();
    this.maybeFinish();
  }

  private maybeFinish(): void {
    if (this.goneAway && this.streams.size === 0) this.destroy('GOAWAY and no stream left');
  }

  private touch(): void {
    if (!this.opts.idleTimeoutMs || this.closed) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      this.send({ type: 'GOAWAY', lastGoodStreamId: this.lastPeerStreamId, status: GoAwayStatus.OK });
      this.destroy(`idle for ${this.opts.idleTimeoutMs} ms`);
    }, this.opts.idleTimeoutMs);
    this.idleTimer.unref?.();
  }
}

/**
 * One stream the peer opened. Reply (or reset) before writing. Writing ends with a DATA frame
 * with FIN (`end()`); the readable side ends at the peer's FIN. `destroy()` before both sides are
 * done resets the stream (CANCEL).
 */
export class SpdyStream extends Duplex {
  sendWindow: number;
  recvWindow = DEFAULT_WINDOW;
  recvUnacked = 0;
  remoteEnded = false;
  localEnded = false;
  replied = false;
  resetStatus?: number;
  private pushedBytes = 0;
  private takenBytes = 0;

  constructor(
    private readonly session: SpdySession,
    readonly id: number,
    readonly headers: SpdyHeaders,
    initialWindow: number,
    /** The peer said it will only send (we may not). */
    readonly unidirectional: boolean,
  ) {
    // 256 KiB each way: with Node's 16 KiB default a relay pauses its other side on nearly every write.
    super({ allowHalfOpen: true, highWaterMark: 256 * 1024 });
    this.sendWindow = initialWindow;
    if (unidirectional) this.localEnded = true;
  }

  /** Accepts the stream (SYN_REPLY); `fin` also ends our side. */
  reply(headers: SpdyHeaders = {}, fin = false): void {
    if (this.replied || this.resetStatus !== undefined || this.unidirectional) return;
    this.replied = true;
    this.session.send({ type: 'SYN_REPLY', streamId: this.id, fin, headers });
    if (fin) {
      this.localEnded = true;
      this.maybeDone();
    }
  }

  /** Refuses or aborts the stream with RST_STREAM `status`. */
  reset(status: number = RstStatus.CANCEL): void {
    if (this.resetStatus !== undefined) return;
    this.resetStatus = status;
    this.session.rst(this.id, status);
    this.session.forget(this);
    this.destroy();
  }

  // -- called by the session --
  onData(data: Buffer): void {
    this.pushedBytes += data.length;
    this.push(data);
  }

  onRemoteFin(): void {
    if (this.remoteEnded) return;
    this.remoteEnded = true;
    this.push(null);
    this.maybeDone();
  }

  onReset(status: number): void {
    if (this.resetStatus !== undefined) return;
    this.resetStatus = status;
    this.session.forget(this);
    this.destroy();
  }

  private maybeDone(): void {
    if (this.remoteEnded && this.localEnded) this.session.forget(this);
  }

  // -- Duplex --
  override _read(): void {
    // Whatever was buffered has been taken: the windows and the socket can open again.
    const taken = this.pushedBytes - this.readableLength;
    const n = taken - this.takenBytes;
    this.takenBytes = taken;
    this.session.consumed(this, n);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (!this.replied) this.reply();
    this.session.sendData(this, chunk, false).then(() => cb(), (e: Error) => cb(e));
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.localEnded || this.resetStatus !== undefined) return cb();
    if (!this.replied) {
      this.reply({}, true);
      return cb();
    }
    this.localEnded = true;
    this.session.sendData(this, Buffer.alloc(0), true).then(
      () => {
        this.maybeDone();
        cb();
      },
      (e: Error) => cb(e),
    );
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (this.resetStatus === undefined && !(this.remoteEnded && this.localEnded) && !this.session.isClosed) {
      this.resetStatus = RstStatus.CANCEL;
      this.session.rst(this.id, RstStatus.CANCEL);
    }
    this.session.forget(this);
    cb(err);
  }
}
