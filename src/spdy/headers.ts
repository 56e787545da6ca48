/**
 * SPDY/3 header blocks (draft 3, §2.6.10): a count of name/value pairs, then each name and value
 * with a 32-bit big-endian length; several values of one name are joined by NUL. The block travels
 * zlib-compressed with the SPDY dictionary, and each direction of a session keeps ONE zlib stream
 * for all its blocks (each block ends with a sync flush), so a decompressor must see every block of
 * its direction, in order.
 *
 * Node's zlib streams are asynchronous and its synchronous calls are one-shot; the frame decoder
 * must be synchronous (a pure function of the bytes so far, fuzzable without a network). So:
 * - decompression inflates each block on its own as raw deflate, with the last 32 KiB of the
 *   session's output so far (starting with the dictionary) as the preset window: a sync flush ends
 *   every block on a byte boundary with no deflate block open, so the window is the only state one
 *   block carries over to the next.
 * - compression writes stored (uncompressed) deflate blocks behind the zlib header with the
 *   dictionary id: valid zlib that every inflater reads; our header blocks are a few bytes (a
 *   SYN_REPLY carries none), so there is nothing worth compressing.
 */
import { constants, inflateRawSync } from 'node:zlib';
import { SPDY3_DICTIONARY } from './dictionary.js';

/** Header names are lowercase; a value with several parts is NUL-joined (as on the wire). */
export type SpdyHeaders = Record<string, string>;

/** A malformed header block; `fatal` when the session's decompression context is lost with it. */
export class HeaderBlockError extends Error {
  constructor(
    message: string,
    readonly fatal = false,
  ) {
    super(message);
  }
}

/** The uncompressed header block of `headers` (names lowercased). */
export function encodeHeaderBlock(headers: SpdyHeaders): Buffer {
  const entries = Object.entries(headers);
  const parts: Buffer[] = [u32(entries.length)];
  for (const [name, value] of entries) {
    const n = Buffer.from(name.toLowerCase(), 'utf8');
    const v = Buffer.from(value, 'utf8');
    parts.push(u32(n.length), n, u32(v.length), v);
  }
  return Buffer.concat(parts);
}

/** The headers of an uncompressed block; throws HeaderBlockError on a malformed one. */
export function decodeHeaderBlock(block: Buffer): SpdyHeaders {
  if (block.length < 4) throw new HeaderBlockError('header block shorter than its pair count');
  const count = block.readUInt32BE(0);
  // Each pair takes at least 8 bytes: a larger count is a lie, refused before looping on it.
  if (count > (block.length - 4) / 8) throw new HeaderBlockError(`header block claims ${count} pairs in ${block.length} bytes`);
  const out: SpdyHeaders = Object.create(null) as SpdyHeaders;
  let off = 4;
  const take = (what: string): string => {
    if (off + 4 > block.length) throw new HeaderBlockError(`header block truncated in a ${what} length`);
    const len = block.readUInt32BE(off);
    off += 4;
    if (len > block.length - off) throw new HeaderBlockError(`header ${what} of ${len} bytes runs past the block`);
    const s = block.toString('utf8', off, off + len);
    off += len;
    return s;
  };
  for (let i = 0; i < count; i++) {
    const name = take('name');
    const value = take('value');
    if (name.length === 0) throw new HeaderBlockError('empty header name');
    if (name !== name.toLowerCase()) throw new HeaderBlockError(`header name "${name.slice(0, 40)}" is not lowercase`);
    if (name in out) throw new HeaderBlockError(`header "${name.slice(0, 40)}" appears twice`);
    out[name] = value;
  }
  if (off !== block.length) throw new HeaderBlockError(`${block.length - off} bytes after the last header pair`);
  return out;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/** zlib's Adler-32 (RFC 1950 §8.2), the dictionary id of a zlib header. */
export function adler32(buf: Buffer): number {
  let a = 1;
  let b = 0;
  for (let i = 0; i < buf.length; i += 5552) {
    const end = Math.min(buf.length, i + 5552);
    for (let j = i; j < end; j++) {
      a += buf[j]!;
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

const DICT_ID = adler32(SPDY3_DICTIONARY);
const WINDOW = 32 * 1024;
const SYNC_MARKER = Buffer.from([0x00, 0x00, 0x00, 0xff, 0xff]);

/** One direction's compressor: every block of the session goes through the same one. */
export class HeaderCompressor {
  private started = false;

  compress(headers: SpdyHeaders): Buffer {
    const raw = encodeHeaderBlock(headers);
    const parts: Buffer[] = [];
    if (!this.started) {
      this.started = true;
      // CMF 0x78 (deflate, 32 KiB window), FLG 0xbb (FDICT, default level, check bits), dictionary id.
      const h = Buffer.from([0x78, 0xbb, 0, 0, 0, 0]);
      h.writeUInt32BE(DICT_ID, 2);
      parts.push(h);
    }
    for (let off = 0; off < raw.length || off === 0; off += 0xffff) {
      const chunk = raw.subarray(off, off + 0xffff);
      const h = Buffer.alloc(5);
      // BFINAL 0, BTYPE 00 (stored), then LEN and its one's complement, little-endian.
      h.writeUInt16LE(chunk.length, 1);
      h.writeUInt16LE(~chunk.length & 0xffff, 3);
      parts.push(h, chunk);
      if (raw.length === 0) break;
    }
    // End with an empty stored block, as zlib's Z_SYNC_FLUSH does. Go's inflater (kube-apiserver,
    // kubectl) hands out a stored block's bytes only when it reaches the next block header: without
    // this marker it reads past the frame, fails, and the session's decompressor stays broken.
    parts.push(SYNC_MARKER);
    return Buffer.concat(parts);
  }

  close(): void {}
}

/** One direction's decompressor. After an error the context is lost: the session must end. */
export class HeaderDecompressor {
  private window: Buffer = SPDY3_DICTIONARY;
  private started = false;
  private broken = false;

  constructor(private readonly maxBlockBytes = 256 * 1024) {}

  decompress(compressed: Buffer): SpdyHeaders {
    if (this.broken) throw new HeaderBlockError('header compression context lost by an earlier error', true);
    let data = compressed;
    if (!this.started) {
      if (data.length < 2) return this.fail('header block too short for a zlib header');
      const cmf = data[0]!;
      const flg = data[1]!;
      if ((cmf & 0x0f) !== 8 || ((cmf << 8) | flg) % 31 !== 0) return this.fail('header block does not start with a zlib header');
      data = data.subarray(2);
      if (flg & 0x20) {
        if (data.length < 4) return this.fail('header block too short for the dictionary id');
        const id = data.readUInt32BE(0);
        if (id !== DICT_ID) return this.fail(`header block compressed with dictionary ${id.toString(16)}, not SPDY/3's ${DICT_ID.toString(16)}`);
        data = data.subarray(4);
      }
      this.started = true;
    }
    let block: Buffer;
    try {
      block = inflateRawSync(data, { dictionary: this.window, finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: this.maxBlockBytes });
    } catch (e) {
      return this.fail(`header block does not decompress: ${(e as Error).message}`);
    }
    const joined = Buffer.concat([this.window, block]);
    this.window = joined.length > WINDOW ? Buffer.from(joined.subarray(joined.length - WINDOW)) : joined;
    return decodeHeaderBlock(block);
  }

  private fail(message: string): never {
    this.broken = true;
    throw new HeaderBlockError(message, true);
  }

  close(): void {}
}
