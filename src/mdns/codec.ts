/**
 * The one DNS message codec of kubepeer, for multicast (the mDNS engine) and unicast DNS-SD
 * (`src/discovery/dns`): A, AAAA, PTR, SRV, TXT, and for unicast CNAME, NS and SOA; everything else
 * is kept as opaque rdata. Pure and defensive: decoding never reads past the buffer, refuses
 * forward or self-referencing compression pointers (so loops are impossible), checks every rdata
 * against its RDLENGTH, bounds record counts, and reports failures as a reason instead of throwing.
 *
 * We do not use dns-packet's decoder here: it reads A/AAAA rdata without checking RDLENGTH, loses
 * the QU bit of questions, and cannot represent a label containing a dot (RFC 6763 §4.3).
 */
import { Flags, RRType } from './constants.js';
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from './ip.js';
import { joinLabels, nameKey, splitName } from './names.js';

export interface Question {
  name: string;
  type: number;
  qclass: number;
  /** The QU bit (RFC 6762 §5.4): the querier asks for a unicast reply. */
  unicastResponse: boolean;
}

interface RRBase {
  name: string;
  rrclass: number;
  /** The cache-flush bit (RFC 6762 §10.2), the top bit of the class in responses. */
  cacheFlush: boolean;
  /** Seconds. */
  ttl: number;
}

export type ResourceRecord =
  | (RRBase & { type: 'A'; address: string })
  | (RRBase & { type: 'AAAA'; address: string })
  | (RRBase & { type: 'PTR'; target: string })
  | (RRBase & { type: 'CNAME'; target: string })
  | (RRBase & { type: 'NS'; target: string })
  | (RRBase & { type: 'SOA'; mname: string; rname: string; serial: number; refresh: number; retry: number; expire: number; minimum: number })
  | (RRBase & { type: 'SRV'; priority: number; weight: number; port: number; target: string })
  | (RRBase & { type: 'TXT'; strings: Uint8Array[] })
  | (RRBase & { type: 'OTHER'; typeCode: number; rdata: Uint8Array });

export type RecordKind = ResourceRecord['type'];

export interface DnsPacket {
  id: number;
  /** The 16 flag bits of the header (QR, opcode, AA, TC, RD, RA, Z, AD, CD, RCODE). */
  flags: number;
  questions: Question[];
  answers: ResourceRecord[];
  authorities: ResourceRecord[];
  additionals: ResourceRecord[];
}

export type DecodeFailure =
  | 'truncated'
  | 'compression-loop'
  | 'bad-label'
  | 'name-too-long'
  | 'bad-rdata'
  | 'too-many-records'
  | 'malformed';

export type DecodeResult = { ok: true; packet: DnsPacket } | { ok: false; reason: DecodeFailure };

/**
 * At most this many records (of all four sections) per mDNS message; a 9000-byte message fits ~800.
 * Unicast DNS over TCP carries up to 64 KiB (a domain listing 1000 clusters), so its decoder is
 * bounded by the message size alone (each record takes at least 11 bytes, checked before decoding).
 */
export const MAX_RECORDS_PER_PACKET = 512;

export interface DecodeOptions {
  /** Records (all sections) accepted in one message (default MAX_RECORDS_PER_PACKET). */
  maxRecords?: number;
}

export function typeCodeOf(rr: ResourceRecord): number {
  switch (rr.type) {
    case 'A':
      return RRType.A;
    case 'AAAA':
      return RRType.AAAA;
    case 'PTR':
      return RRType.PTR;
    case 'CNAME':
      return RRType.CNAME;
    case 'NS':
      return RRType.NS;
    case 'SOA':
      return RRType.SOA;
    case 'SRV':
      return RRType.SRV;
    case 'TXT':
      return RRType.TXT;
    case 'OTHER':
      return rr.typeCode;
  }
}

export function isResponse(p: DnsPacket): boolean {
  return (p.flags & Flags.response) !== 0;
}
export function opcodeOf(p: DnsPacket): number {
  return (p.flags >> 11) & 0xf;
}
export function rcodeOf(p: DnsPacket): number {
  return p.flags & 0xf;
}
export function isTruncated(p: DnsPacket): boolean {
  return (p.flags & Flags.truncated) !== 0;
}

/** Thrown inside the decoder only (not an Error: no stack to capture on hostile input). */
class DecodeError {
  constructor(readonly reason: DecodeFailure) {}
}

// ---------------------------------------------------------------------------------------------
// decoding

function toBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** Reads a (possibly compressed) name at `offset`; returns the name and the offset after it in place. */
function readName(buf: Buffer, offset: number): { name: string; next: number } {
  const labels: string[] = [];
  let pos = offset;
  let segmentStart = offset;
  let next = -1;
  let wireLength = 0;
  for (;;) {
    if (pos >= buf.length) throw new DecodeError('truncated');
    const len = buf[pos]!;
    if (len === 0) {
      pos += 1;
      break;
    }
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (pos + 1 >= buf.length) throw new DecodeError('truncated');
      const pointer = ((len & 0x3f) << 8) | buf[pos + 1]!;
      // only strictly backwards jumps, each before the previous segment: loops cannot exist
      if (pointer >= segmentStart) throw new DecodeError('compression-loop');
      if (next < 0) next = pos + 2;
      pos = pointer;
      segmentStart = pointer;
      continue;
    }
    if (kind !== 0) throw new DecodeError('bad-label');
    if (pos + 1 + len > buf.length) throw new DecodeError('truncated');
    wireLength += len + 1;
    if (wireLength > 255) throw new DecodeError('name-too-long');
    labels.push(buf.toString('utf8', pos + 1, pos + 1 + len));
    pos += 1 + len;
  }
  return { name: joinLabels(labels), next: next < 0 ? pos : next };
}

function readQuestion(buf: Buffer, offset: number): { q: Question; next: number } {
  const { name, next } = readName(buf, offset);
  if (next + 4 > buf.length) throw new DecodeError('truncated');
  const type = buf.readUInt16BE(next);
  const rawClass = buf.readUInt16BE(next + 2);
  return {
    q: { name, type, qclass: rawClass & 0x7fff, unicastResponse: (rawClass & 0x8000) !== 0 },
    next: next + 4,
  };
}

function readRecord(buf: Buffer, offset: number): { rr: ResourceRecord; next: number } {
  const { name, next: afterName } = readName(buf, offset);
  if (afterName + 10 > buf.length) throw new DecodeError('truncated');
  const type = buf.readUInt16BE(afterName);
  const rawClass = buf.readUInt16BE(afterName + 2);
  const ttl = buf.readUInt32BE(afterName + 4);
  const rdlength = buf.readUInt16BE(afterName + 8);
  const start = afterName + 10;
  const end = start + rdlength;
  if (end > buf.length) throw new DecodeError('truncated');
  const base = { name, rrclass: rawClass & 0x7fff, cacheFlush: (rawClass & 0x8000) !== 0, ttl };
  let rr: ResourceRecord;
  switch (type) {
    case RRType.A:
      if (rdlength !== 4) throw new DecodeError('bad-rdata');
      rr = { ...base, type: 'A', address: formatIPv4(buf.subarray(start, end)) };
      break;
    case RRType.AAAA:
      if (rdlength !== 16) throw new DecodeError('bad-rdata');
      rr = { ...base, type: 'AAAA', address: formatIPv6(buf.subarray(start, end)) };
      break;
    case RRType.PTR:
    case RRType.CNAME:
    case RRType.NS: {
      const target = readName(buf, start);
      if (target.next !== end) throw new DecodeError('bad-rdata');
      rr = { ...base, type: type === RRType.PTR ? 'PTR' : type === RRType.CNAME ? 'CNAME' : 'NS', target: target.name };
      break;
    }
    case RRType.SOA: {
      const mname = readName(buf, start);
      const rname = readName(buf, mname.next);
      if (rname.next + 20 !== end) throw new DecodeError('bad-rdata');
      const at = rname.next;
      rr = {
        ...base,
        type: 'SOA',
        mname: mname.name,
        rname: rname.name,
        serial: buf.readUInt32BE(at),
        refresh: buf.readUInt32BE(at + 4),
        retry: buf.readUInt32BE(at + 8),
        expire: buf.readUInt32BE(at + 12),
        minimum: buf.readUInt32BE(at + 16),
      };
      break;
    }
    case RRType.SRV: {
      if (rdlength < 7) throw new DecodeError('bad-rdata');
      const target = readName(buf, start + 6);
      if (target.next !== end) throw new DecodeError('bad-rdata');
      rr = {
        ...base,
        type: 'SRV',
        priority: buf.readUInt16BE(start),
        weight: buf.readUInt16BE(start + 2),
        port: buf.readUInt16BE(start + 4),
        target: target.name,
      };
      break;
    }
    case RRType.TXT: {
      const strings: Uint8Array[] = [];
      let p = start;
      while (p < end) {
        const len = buf[p]!;
        if (p + 1 + len > end) throw new DecodeError('bad-rdata');
        strings.push(new Uint8Array(buf.subarray(p + 1, p + 1 + len)));
        p += 1 + len;
      }
      rr = { ...base, type: 'TXT', strings };
      break;
    }
    default:
      rr = { ...base, type: 'OTHER', typeCode: type, rdata: new Uint8Array(buf.subarray(start, end)) };
  }
  return { rr, next: end };
}

/** Decodes a DNS message. Never throws: a broken message yields `{ ok: false, reason }`. */
export function decodePacket(data: Uint8Array, options: DecodeOptions = {}): DecodeResult {
  try {
    const buf = toBuffer(data);
    if (buf.length < 12) return { ok: false, reason: 'truncated' };
    const id = buf.readUInt16BE(0);
    const flags = buf.readUInt16BE(2);
    const qd = buf.readUInt16BE(4);
    const an = buf.readUInt16BE(6);
    const ns = buf.readUInt16BE(8);
    const ar = buf.readUInt16BE(10);
    if (qd + an + ns + ar > (options.maxRecords ?? MAX_RECORDS_PER_PACKET)) return { ok: false, reason: 'too-many-records' };
    // cheapest possible encodings: question 5 bytes, record 11 bytes; more claimed than fits = truncated
    if (12 + qd * 5 + (an + ns + ar) * 11 > buf.length) return { ok: false, reason: 'truncated' };
    let offset = 12;
    const questions: Question[] = [];
    for (let i = 0; i < qd; i++) {
      const r = readQuestion(buf, offset);
      questions.push(r.q);
      offset = r.next;
    }
    const sections: ResourceRecord[][] = [[], [], []];
    const counts = [an, ns, ar];
    for (let s = 0; s < 3; s++) {
      for (let i = 0; i < counts[s]!; i++) {
        const r = readRecord(buf, offset);
        sections[s]!.push(r.rr);
        offset = r.next;
      }
    }
    // trailing bytes after the last record are tolerated (some stacks pad); they are not parsed
    return {
      ok: true,
      packet: { id, flags, questions, answers: sections[0]!, authorities: sections[1]!, additionals: sections[2]! },
    };
  } catch (err) {
    if (err instanceof DecodeError) return { ok: false, reason: err.reason };
    return { ok: false, reason: 'malformed' };
  }
}

// ---------------------------------------------------------------------------------------------
// encoding

export class EncodeError extends Error {
  override name = 'EncodeError';
}

class Writer {
  private buf = Buffer.alloc(512);
  pos = 0;
  /** Exact (case-sensitive) label sequences already written, for RFC 1035 §4.1.4 compression. */
  private readonly names = new Map<string, number>();

  constructor(private readonly compress: boolean) {}

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.alloc(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
  u8(v: number): void {
    this.ensure(1);
    this.buf.writeUInt8(v, this.pos);
    this.pos += 1;
  }
  u16(v: number): void {
    this.ensure(2);
    this.buf.writeUInt16BE(v, this.pos);
    this.pos += 2;
  }
  u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32BE(v >>> 0, this.pos);
    this.pos += 4;
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  patchU16(at: number, v: number): void {
    this.buf.writeUInt16BE(v, at);
  }
  name(name: string): void {
    const labels = splitName(name);
    const encoded = labels.map((l) => Buffer.from(l, 'utf8'));
    let wire = 1;
    for (const e of encoded) {
      if (e.length === 0 || e.length > 63) throw new EncodeError(`label of ${e.length} bytes in ${JSON.stringify(name)}`);
      wire += e.length + 1;
    }
    if (wire > 255) throw new EncodeError(`name longer than 255 bytes: ${JSON.stringify(name)}`);
    for (let i = 0; i < labels.length; i++) {
      if (this.compress) {
        const key = JSON.stringify(labels.slice(i));
        const at = this.names.get(key);
        if (at !== undefined) {
          this.u16(0xc000 | at);
          return;
        }
        if (this.pos < 0x3fff) this.names.set(key, this.pos);
      }
      this.u8(encoded[i]!.length);
      this.bytes(encoded[i]!);
    }
    this.u8(0);
  }
  result(): Uint8Array {
    return new Uint8Array(this.buf.subarray(0, this.pos));
  }
}

function writeRdata(w: Writer, rr: ResourceRecord): void {
  switch (rr.type) {
    case 'A': {
      const b = parseIPv4(rr.address);
      if (!b) throw new EncodeError(`not an IPv4 address: ${rr.address}`);
      w.bytes(b);
      return;
    }
    case 'AAAA': {
      const b = parseIPv6(rr.address);
      if (!b) throw new EncodeError(`not an IPv6 address: ${rr.address}`);
      w.bytes(b);
      return;
    }
    case 'PTR':
    case 'CNAME':
    case 'NS':
      w.name(rr.target);
      return;
    case 'SOA':
      w.name(rr.mname);
      w.name(rr.rname);
      for (const v of [rr.serial, rr.refresh, rr.retry, rr.expire, rr.minimum]) w.u32(v);
      return;
    case 'SRV':
      w.u16(rr.priority);
      w.u16(rr.weight);
      w.u16(rr.port);
      w.name(rr.target);
      return;
    case 'TXT': {
      // RFC 6763 §6.1: a TXT record always has at least one (possibly empty) string
      const strings = rr.strings.length === 0 ? [new Uint8Array(0)] : rr.strings;
      for (const s of strings) {
        if (s.length > 255) throw new EncodeError('TXT string longer than 255 bytes');
        w.u8(s.length);
        w.bytes(s);
      }
      return;
    }
    case 'OTHER':
      w.bytes(rr.rdata);
      return;
  }
}

function writeRecord(w: Writer, rr: ResourceRecord): void {
  w.name(rr.name);
  w.u16(typeCodeOf(rr));
  w.u16((rr.rrclass & 0x7fff) | (rr.cacheFlush ? 0x8000 : 0));
  w.u32(Math.max(0, Math.min(0x7fffffff, Math.floor(rr.ttl))));
  const lengthAt = w.pos;
  w.u16(0);
  const start = w.pos;
  writeRdata(w, rr);
  const len = w.pos - start;
  if (len > 0xffff) throw new EncodeError('rdata longer than 65535 bytes');
  w.patchU16(lengthAt, len);
}

/** Encodes a message, compressing names (RFC 6762 §18.14 allows it in PTR and SRV rdata too). */
export function encodePacket(p: DnsPacket): Uint8Array {
  const w = new Writer(true);
  w.u16(p.id & 0xffff);
  w.u16(p.flags & 0xffff);
  w.u16(p.questions.length);
  w.u16(p.answers.length);
  w.u16(p.authorities.length);
  w.u16(p.additionals.length);
  for (const q of p.questions) {
    w.name(q.name);
    w.u16(q.type);
    w.u16((q.qclass & 0x7fff) | (q.unicastResponse ? 0x8000 : 0));
  }
  for (const rr of [...p.answers, ...p.authorities, ...p.additionals]) writeRecord(w, rr);
  return w.result();
}

/** Uncompressed rdata bytes, as RFC 6762 §8.2 compares them in a probe tie-break. */
export function rdataBytes(rr: ResourceRecord): Uint8Array {
  const w = new Writer(false);
  writeRdata(w, rr);
  return w.result();
}

/** A stable key of a record's identity (name, type, class, rdata), case-insensitive for names. */
export function recordKey(rr: ResourceRecord): string {
  return `${nameKey(rr.name)}|${typeCodeOf(rr)}|${rr.rrclass}|${rdataKey(rr)}`;
}

/** Rdata identity for equality tests: names compared case-insensitively (RFC 6762 §16). */
export function rdataKey(rr: ResourceRecord): string {
  switch (rr.type) {
    case 'A':
    case 'AAAA':
      return rr.address;
    case 'PTR':
    case 'CNAME':
    case 'NS':
      return nameKey(rr.target);
    case 'SOA':
      return `${nameKey(rr.mname)} ${nameKey(rr.rname)} ${rr.serial} ${rr.refresh} ${rr.retry} ${rr.expire} ${rr.minimum}`;
    case 'SRV':
      return `${rr.priority} ${rr.weight} ${rr.port} ${nameKey(rr.target)}`;
    case 'TXT':
      return rr.strings.map((s) => Buffer.from(s).toString('hex')).join(',');
    case 'OTHER':
      return Buffer.from(rr.rdata).toString('hex');
  }
}

export function sameRdata(a: ResourceRecord, b: ResourceRecord): boolean {
  return typeCodeOf(a) === typeCodeOf(b) && rdataKey(a) === rdataKey(b);
}

export function encodedSize(p: DnsPacket): number {
  return encodePacket(p).length;
}

export const RESPONSE_FLAGS = Flags.response | Flags.authoritative;
export const QUERY_FLAGS = 0;

/** Header counts of a message without decoding it, for cheap checks before a full decode. */
export function headerOf(data: Uint8Array): { id: number; flags: number } | undefined {
  if (data.length < 12) return undefined;
  const buf = toBuffer(data);
  return { id: buf.readUInt16BE(0), flags: buf.readUInt16BE(2) };
}
