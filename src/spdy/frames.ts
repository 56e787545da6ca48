/**
 * SPDY/3.1 frames (draft 3.1, §2.2 and §2.6): their in-memory form, an encoder, and an incremental
 * decoder that is a pure function of the bytes pushed into it (and of the header decompression
 * context it owns). The decoder never throws: malformed input becomes a `SessionError` (the session
 * must send GOAWAY and close) or a `StreamError` (RST_STREAM for that stream, the session goes on).
 */
import { HeaderBlockError, HeaderCompressor, HeaderDecompressor, type SpdyHeaders } from './headers.js';

export const SPDY_VERSION = 3;

export const FrameType = {
  SYN_STREAM: 1,
  SYN_REPLY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  PING: 6,
  GOAWAY: 7,
  HEADERS: 8,
  WINDOW_UPDATE: 9,
} as const;

/** RST_STREAM status codes (§2.6.3). */
export const RstStatus = {
  PROTOCOL_ERROR: 1,
  INVALID_STREAM: 2,
  REFUSED_STREAM: 3,
  UNSUPPORTED_VERSION: 4,
  CANCEL: 5,
  INTERNAL_ERROR: 6,
  FLOW_CONTROL_ERROR: 7,
  STREAM_IN_USE: 8,
  STREAM_ALREADY_CLOSED: 9,
  FRAME_TOO_LARGE: 11,
} as const;

/** GOAWAY status codes (§2.6.6). */
export const GoAwayStatus = { OK: 0, PROTOCOL_ERROR: 1, INTERNAL_ERROR: 2 } as const;

/** SETTINGS ids (§2.6.4) the session reads. */
export const SettingsId = { MAX_CONCURRENT_STREAMS: 4, INITIAL_WINDOW_SIZE: 7 } as const;

export const FLAG_FIN = 0x01;
export const FLAG_UNIDIRECTIONAL = 0x02;
export const FLAG_SETTINGS_CLEAR = 0x01;
/** The largest length field (24 bits). */
export const MAX_FRAME_LENGTH = 0xffffff;
const MAX_ID = 0x7fffffff;

export type Frame =
  | { type: 'DATA'; streamId: number; fin: boolean; data: Buffer }
  | { type: 'SYN_STREAM'; streamId: number; associatedStreamId: number; priority: number; slot: number; fin: boolean; unidirectional: boolean; headers: SpdyHeaders }
  | { type: 'SYN_REPLY'; streamId: number; fin: boolean; headers: SpdyHeaders }
  | { type: 'RST_STREAM'; streamId: number; status: number }
  | { type: 'SETTINGS'; clear: boolean; settings: Array<{ flags: number; id: number; value: number }> }
  | { type: 'PING'; id: number }
  | { type: 'GOAWAY'; lastGoodStreamId: number; status: number }
  | { type: 'HEADERS'; streamId: number; fin: boolean; headers: SpdyHeaders }
  | { type: 'WINDOW_UPDATE'; streamId: number; delta: number };

export class SessionError {
  readonly kind = 'session';
  constructor(
    readonly status: number,
    readonly message: string,
  ) {}
}

export class StreamError {
  readonly kind = 'stream';
  constructor(
    readonly streamId: number,
    readonly status: number,
    readonly message: string,
  ) {}
}

function controlHeader(type: number, flags: number, length: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt16BE(0x8000 | SPDY_VERSION, 0);
  b.writeUInt16BE(type, 2);
  b.writeUInt32BE(((flags & 0xff) << 24) | length, 4);
  return b;
}

function control(type: number, flags: number, body: Buffer): Buffer {
  if (body.length > MAX_FRAME_LENGTH) throw new RangeError(`frame body of ${body.length} bytes exceeds the 24-bit length`);
  return Buffer.concat([controlHeader(type, flags, body.length), body]);
}

function words(...values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => b.writeUInt32BE(v >>> 0, i * 4));
  return b;
}

/** The bytes of `frame`; header blocks go through `compressor` (the session's one for this direction). */
export function encodeFrame(frame: Frame, compressor?: HeaderCompressor): Buffer {
  const block = (h: SpdyHeaders) => {
    if (!compressor) throw new Error(`${frame.type} needs the session's header compressor`);
    return compressor.compress(h);
  };
  switch (frame.type) {
    case 'DATA': {
      if (frame.data.length > MAX_FRAME_LENGTH) throw new RangeError(`DATA of ${frame.data.length} bytes exceeds the 24-bit length`);
      const h = Buffer.alloc(8);
      h.writeUInt32BE(frame.streamId & MAX_ID, 0);
      h.writeUInt32BE(((frame.fin ? FLAG_FIN : 0) << 24) | frame.data.length, 4);
      return Buffer.concat([h, frame.data]);
    }
    case 'SYN_STREAM': {
      const head = Buffer.alloc(10);
      head.writeUInt32BE(frame.streamId & MAX_ID, 0);
      head.writeUInt32BE(frame.associatedStreamId & MAX_ID, 4);
      head.writeUInt8((frame.priority & 0x7) << 5, 8);
      head.writeUInt8(frame.slot & 0xff, 9);
      const flags = (frame.fin ? FLAG_FIN : 0) | (frame.unidirectional ? FLAG_UNIDIRECTIONAL : 0);
      return control(FrameType.SYN_STREAM, flags, Buffer.concat([head, block(frame.headers)]));
    }
    case 'SYN_REPLY':
      return control(FrameType.SYN_REPLY, frame.fin ? FLAG_FIN : 0, Buffer.concat([words(frame.streamId & MAX_ID), block(frame.headers)]));
    case 'HEADERS':
      return control(FrameType.HEADERS, frame.fin ? FLAG_FIN : 0, Buffer.concat([words(frame.streamId & MAX_ID), block(frame.headers)]));
    case 'RST_STREAM':
      return control(FrameType.RST_STREAM, 0, words(frame.streamId & MAX_ID, frame.status));
    case 'SETTINGS': {
      const body = Buffer.alloc(4 + frame.settings.length * 8);
      body.writeUInt32BE(frame.settings.length, 0);
      frame.settings.forEach((s, i) => {
        body.writeUInt32BE(((s.flags & 0xff) << 24) | (s.id & 0xffffff), 4 + i * 8);
        body.writeUInt32BE(s.value >>> 0, 8 + i * 8);
      });
      return control(FrameType.SETTINGS, frame.clear ? FLAG_SETTINGS_CLEAR : 0, body);
    }
    case 'PING':
      return control(FrameType.PING, 0, words(frame.id));
    case 'GOAWAY':
      return control(FrameType.GOAWAY, 0, words(frame.lastGoodStreamId & MAX_ID, frame.status));
    case 'WINDOW_UPDATE':
      return control(FrameType.WINDOW_UPDATE, 0, words(frame.streamId & MAX_ID, frame.delta & MAX_ID));
  }
}

export type DecodeEvent = Frame | SessionError | StreamError;

export interface DecoderLimits {
  /** Largest frame body accepted (DATA or control); larger ends the session (FRAME_TOO_LARGE is per stream in the spec, but the bytes would have to be skipped; we do not wait for them). */
  maxFrameBytes?: number;
  /** Largest decompressed header block. */
  maxHeaderBlockBytes?: number;
}

/**
 * Bytes in, frames out. `push` returns the events of every complete frame in the bytes so far;
 * after a SessionError it returns nothing more (the session is over).
 */
export class FrameDecoder {
  private buf: Buffer = Buffer.alloc(0);
  private dead = false;
  private readonly maxFrame: number;
  private readonly inflater: HeaderDecompressor;

  constructor(limits: DecoderLimits = {}) {
    this.maxFrame = Math.min(limits.maxFrameBytes ?? MAX_FRAME_LENGTH, MAX_FRAME_LENGTH);
    this.inflater = new HeaderDecompressor(limits.maxHeaderBlockBytes ?? 256 * 1024);
  }

  /** Bytes received but not yet a whole frame. */
  get pending(): number {
    return this.buf.length;
  }

  push(chunk: Buffer): DecodeEvent[] {
    if (this.dead) return [];
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: DecodeEvent[] = [];
    while (this.buf.length >= 8) {
      const length = this.buf.readUInt32BE(4) & 0xffffff;
      if (length > this.maxFrame) return this.fail(out, new SessionError(GoAwayStatus.PROTOCOL_ERROR, `frame of ${length} bytes exceeds the limit of ${this.maxFrame}`));
      if (this.buf.length < 8 + length) break;
      const frame = this.buf.subarray(0, 8 + length);
      this.buf = this.buf.subarray(8 + length);
      const ev = this.decodeOne(frame);
      if (ev === undefined) continue;
      out.push(ev);
      if (ev instanceof SessionError) return this.fail(out, ev);
    }
    // Keep no reference to a large buffer already consumed.
    if (this.buf.length === 0) this.buf = Buffer.alloc(0);
    return out;
  }

  close(): void {
    this.dead = true;
    this.inflater.close();
  }

  private fail(out: DecodeEvent[], err: SessionError): DecodeEvent[] {
    if (out[out.length - 1] !== err) out.push(err);
    this.dead = true;
    this.buf = Buffer.alloc(0);
    return out;
  }

  /** One whole frame (8-byte header + body); undefined for a frame the spec says to ignore. */
  private decodeOne(f: Buffer): DecodeEvent | undefined {
    const flags = f[4]!;
    const body = f.subarray(8);
    if ((f[0]! & 0x80) === 0) {
      const streamId = f.readUInt32BE(0) & MAX_ID;
      if (streamId === 0) return new SessionError(GoAwayStatus.PROTOCOL_ERROR, 'DATA frame on stream 0');
      return { type: 'DATA', streamId, fin: (flags & FLAG_FIN) !== 0, data: Buffer.from(body) };
    }
    const version = f.readUInt16BE(0) & 0x7fff;
    const type = f.readUInt16BE(2);
    if (version !== SPDY_VERSION) {
      // §2.2.1: a SYN_STREAM of another version is refused with UNSUPPORTED_VERSION, but its header
      // block still went through the sender's compressor; we cannot follow it, so end the session.
      return new SessionError(GoAwayStatus.PROTOCOL_ERROR, `control frame of SPDY version ${version}, expected ${SPDY_VERSION}`);
    }
    const need = (n: number, what: string) => (body.length < n ? new SessionError(GoAwayStatus.PROTOCOL_ERROR, `${what} frame of ${body.length} bytes is too short`) : undefined);
    const id31 = (o: number) => body.readUInt32BE(o) & MAX_ID;
    const headersOf = (o: number, streamId: number): SpdyHeaders | SessionError | StreamError => {
      try {
        return this.inflater.decompress(body.subarray(o));
      } catch (e) {
        const msg = (e as Error).message;
        // A block that decompressed but does not parse leaves the zlib context intact: only the stream fails.
        if (e instanceof HeaderBlockError && !e.fatal) return new StreamError(streamId, RstStatus.PROTOCOL_ERROR, msg);
        return new SessionError(GoAwayStatus.PROTOCOL_ERROR, msg);
      }
    };
    switch (type) {
      case FrameType.SYN_STREAM: {
        const bad = need(10, 'SYN_STREAM');
        if (bad) return bad;
        const streamId = id31(0);
        const headers = headersOf(10, streamId);
        if (headers instanceof SessionError || headers instanceof StreamError) return headers;
        if (streamId === 0) return new SessionError(GoAwayStatus.PROTOCOL_ERROR, 'SYN_STREAM for stream 0');
        return {
          type: 'SYN_STREAM',
          streamId,
          associatedStreamId: id31(4),
          priority: body[8]! >> 5,
          slot: body[9]!,
          fin: (flags & FLAG_FIN) !== 0,
          unidirectional: (flags & FLAG_UNIDIRECTIONAL) !== 0,
          headers,
        };
      }
      case FrameType.SYN_REPLY:
      case FrameType.HEADERS: {
        const name = type === FrameType.SYN_REPLY ? 'SYN_REPLY' : 'HEADERS';
        const bad = need(4, name);
        if (bad) return bad;
        const streamId = id31(0);
        const headers = headersOf(4, streamId);
        if (headers instanceof SessionError || headers instanceof StreamError) return headers;
        return { type: name, streamId, fin: (flags & FLAG_FIN) !== 0, headers };
      }
      case FrameType.RST_STREAM: {
        if (body.length !== 8) return new SessionError(GoAwayStatus.PROTOCOL_ERROR, `RST_STREAM of ${body.length} bytes, expected 8`);
        return { type: 'RST_STREAM', streamId: id31(0), status: body.readUInt32BE(4) };
      }
      case FrameType.SETTINGS: {
        const bad = need(4, 'SETTINGS');
        if (bad) return bad;
        const n = body.readUInt32BE(0);
        if (body.length !== 4 + n * 8) return new SessionError(GoAwayStatus.PROTOCOL_ERROR, `SETTINGS claims ${n} entries in ${body.length} bytes`);
        const settings: Array<{ flags: number; id: number; value: number }> = [];
        for (let i = 0; i < n; i++) {
          const w = body.readUInt32BE(4 + i * 8);
          settings.push({ flags: w >>> 24, id: w & 0xffffff, value: body.readUInt32BE(8 + i * 8) });
        }
        return { type: 'SETTINGS', clear: (flags & FLAG_SETTINGS_CLEAR) !== 0, settings };
      }
      case FrameType.PING:
        if (body.length !== 4) return new SessionError(GoAwayStatus.PROTOCOL_ERROR, `PING of ${body.length} bytes, expected 4`);
        return { type: 'PING', id: body.readUInt32BE(0) };
      case FrameType.GOAWAY:
        if (body.length !== 8) return new SessionError(GoAwayStatus.PROTOCOL_ERROR, `GOAWAY of ${body.length} bytes, expected 8`);
        return { type: 'GOAWAY', lastGoodStreamId: id31(0), status: body.readUInt32BE(4) };
      case FrameType.WINDOW_UPDATE:
        if (body.length !== 8) return new SessionError(GoAwayStatus.PROTOCOL_ERROR, `WINDOW_UPDATE of ${body.length} bytes, expected 8`);
        return { type: 'WINDOW_UPDATE', streamId: id31(0), delta: body.readUInt32BE(4) & MAX_ID };
      default:
        // §2.2.1: unknown control frame types are ignored (CREDENTIAL, type 10, among them).
        return undefined;
    }
  }
}

export { HeaderCompressor, HeaderDecompressor };
