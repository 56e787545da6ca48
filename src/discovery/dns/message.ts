/**
 * DNS messages as plain data: encodeQuery builds the bytes of one question, decodeResponse turns any
 * bytes into either the records we understand or a reason to drop them. No sockets here, so the
 * decoder can be fuzzed; it must never throw whatever the network sends.
 */
import { isIPv4, isIPv6 } from 'node:net';
import dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, Packet } from 'dns-packet';
import { nameKey, toFqdn } from './names.js';

export type QueryType = 'A' | 'AAAA' | 'CNAME' | 'PTR' | 'SRV' | 'TXT' | 'SOA';

export interface Question {
  name: string;
  type: QueryType;
}

interface RrBase {
  /** Absolute owner name as received (case preserved). */
  name: string;
  ttl: number;
}
export type Rr =
  | (RrBase & { type: 'A'; address: string })
  | (RrBase & { type: 'AAAA'; address: string })
  | (RrBase & { type: 'CNAME'; target: string })
  | (RrBase & { type: 'PTR'; target: string })
  | (RrBase & { type: 'NS'; target: string })
  | (RrBase & { type: 'SRV'; priority: number; weight: number; port: number; target: string })
  | (RrBase & { type: 'TXT'; strings: Buffer[] })
  | (RrBase & { type: 'SOA'; serial: number; minimum: number });
export type RrOf<T extends Rr['type']> = Extract<Rr, { type: T }>;

export interface DnsResponse {
  /** NOERROR, NXDOMAIN, SERVFAIL, REFUSED, ... (extended RCODE from EDNS folded in). */
  rcode: string;
  truncated: boolean;
  authoritative: boolean;
  answers: Rr[];
  authorities: Rr[];
  additionals: Rr[];
}

export type DecodeResult =
  | { ok: true; response: DnsResponse }
  /** `mismatch`: a well-formed answer to some other query (wrong ID or question): drop, keep waiting. */
  | { ok: false; kind: 'malformed' | 'mismatch'; error: string };

/** RFC 8020/DNS Flag Day 2020 advice: a UDP payload that avoids IP fragmentation. */
export const EDNS_UDP_PAYLOAD = 1232;

export interface EncodeOptions {
  /** Add an EDNS0 OPT record advertising EDNS_UDP_PAYLOAD (default true). */
  edns?: boolean;
}

export function encodeQuery(question: Question, id: number, options: EncodeOptions = {}): Buffer {
  const packet: Packet = {
    type: 'query',
    id,
    // RD: the configured server is usually a recursive resolver (8.8.8.8 by default); an
    // authoritative server ignores the bit.
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type: question.type, name: dnsName(question.name), class: 'IN' }],
    additionals:
      options.edns === false
        ? []
        : [{ type: 'OPT', name: '.', udpPayloadSize: EDNS_UDP_PAYLOAD, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }],
  };
  return dnsPacket.encode(packet);
}

/** dns-packet wants names without the trailing dot; the root is ''. */
function dnsName(name: string): string {
  const fq = toFqdn(name);
  return fq === '.' ? '' : fq.slice(0, -1);
}

const HEADER_BYTES = 12;
const FLAG_QR = 0x8000;
const FLAG_TC = 0x0200;
const RCODES: Record<number, string> = { 0: 'NOERROR', 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED', 16: 'BADVERS' };

export function rcodeName(code: number): string {
  return RCODES[code] ?? `RCODE${code}`;
}

/**
 * Decodes `buf` as the answer to `expected` sent with `id`. Never throws: anything that is not a
 * well-formed response to exactly that question comes back as { ok: false }.
 */
export function decodeResponse(buf: Buffer, expected: Question, id: number): DecodeResult {
  try {
    return decodeUnsafe(buf, expected, id);
  } catch (err) {
    return { ok: false, kind: 'malformed', error: `undecodable response: ${err instanceof Error ? err.message : String(err)}` };
  }
}

function decodeUnsafe(buf: Buffer, expected: Question, id: number): DecodeResult {
  if (!Buffer.isBuffer(buf) || buf.length < HEADER_BYTES) return { ok: false, kind: 'malformed', error: 'shorter than a DNS header' };
  const rawFlags = buf.readUInt16BE(2);
  if ((rawFlags & FLAG_QR) === 0) return { ok: false, kind: 'malformed', error: 'a query, not a response' };
  if (buf.readUInt16BE(0) !== id) return { ok: false, kind: 'mismatch', error: `response ID ${buf.readUInt16BE(0)} does not match query ID ${id}` };
  const opcode = (rawFlags >> 11) & 0xf;
  if (opcode !== 0) return { ok: false, kind: 'mismatch', error: `opcode ${opcode} is not QUERY` };

  // Each question takes at least 5 bytes and each record 11 (root name, type, class, TTL, length):
  // counts the packet cannot hold are refused before dns-packet allocates arrays for them.
  const claimed = buf.readUInt16BE(4) * 5 + (buf.readUInt16BE(6) + buf.readUInt16BE(8) + buf.readUInt16BE(10)) * 11;
  if (claimed > buf.length - HEADER_BYTES) {
    if (rawFlags & FLAG_TC) return { ok: true, response: emptyResponse(rcodeName(rawFlags & 0xf), rawFlags) };
    return { ok: false, kind: 'malformed', error: 'the header counts more records than the packet holds' };
  }

  let packet: DecodedPacket;
  try {
    packet = dnsPacket.decode(buf);
  } catch (err) {
    // A truncated UDP answer may be cut anywhere; the TC bit alone is enough to retry over TCP,
    // which checks everything again.
    if (rawFlags & FLAG_TC) return { ok: true, response: emptyResponse(rcodeName(rawFlags & 0xf), rawFlags) };
    throw err;
  }
  // dns-packet does not check every read against the end of the buffer (an A record cut short
  // decodes as "1.undefined.undefined.undefined"), so a packet that claims more than it holds is
  // rejected here.
  if (dnsPacket.decode.bytes > buf.length) {
    if (rawFlags & FLAG_TC) return { ok: true, response: emptyResponse(rcodeName(rawFlags & 0xf), rawFlags) };
    return { ok: false, kind: 'malformed', error: 'the response ends in the middle of a record' };
  }

  const opt = (packet.additionals ?? []).find((a) => a.type === 'OPT') as { extendedRcode?: number } | undefined;
  const rcode = rcodeName(((opt?.extendedRcode ?? 0) << 4) | (rawFlags & 0xf));

  const questions = packet.questions ?? [];
  if (questions.length === 0) {
    // Servers may omit the question in error answers (FORMERR, NOTIMP); the ID already matched.
    if (rcode === 'NOERROR' || rcode === 'NXDOMAIN') return { ok: false, kind: 'mismatch', error: 'response carries no question' };
  } else {
    const q = questions[0]!;
    if (questions.length !== 1 || q.type !== expected.type || (q.class ?? 'IN') !== 'IN' || nameKey(q.name) !== nameKey(expected.name)) {
      return { ok: false, kind: 'mismatch', error: `response is for ${q.type} ${toFqdn(q.name)}, not ${expected.type} ${nameKey(expected.name)}` };
    }
  }

  return {
    ok: true,
    response: {
      rcode,
      truncated: packet.flag_tc,
      authoritative: packet.flag_aa,
      answers: convertSection(packet.answers),
      authorities: convertSection(packet.authorities),
      additionals: convertSection(packet.additionals),
    },
  };
}

function emptyResponse(rcode: string, rawFlags: number): DnsResponse {
  return { rcode, truncated: true, authoritative: (rawFlags & 0x0400) !== 0, answers: [], authorities: [], additionals: [] };
}

function convertSection(section: Answer[] | undefined): Rr[] {
  const out: Rr[] = [];
  for (const a of section ?? []) {
    const rr = convertRecord(a);
    if (rr) out.push(rr);
  }
  return out;
}

const isName = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
const isUint16 = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffff;

/**
 * One dns-packet record to our shape, or undefined for records we do not use (other types, other
 * classes, mDNS cache-flush bit, which has no meaning in unicast DNS). A record of a type we use with
 * unusable data throws, so the whole response is treated as malformed rather than half-believed.
 */
function convertRecord(a: Answer): Rr | undefined {
  if (a.type === 'OPT') return undefined;
  if ((a.class ?? 'IN') !== 'IN' || a.flush) return undefined;
  const name = toFqdn(a.name);
  const ttl = typeof a.ttl === 'number' && a.ttl >= 0 ? a.ttl : 0;
  switch (a.type) {
    case 'A':
    case 'AAAA':
      if (typeof a.data !== 'string' || !(a.type === 'A' ? isIPv4(a.data) : isIPv6(a.data))) throw new Error(`${a.type} ${name} has no valid address`);
      return { name, ttl, type: a.type, address: a.data };
    case 'CNAME':
    case 'PTR':
    case 'NS':
      if (!isName(a.data)) throw new Error(`${a.type} ${name} has no target`);
      return { name, ttl, type: a.type, target: toFqdn(a.data) };
    case 'SRV': {
      const d = a.data as { priority?: unknown; weight?: unknown; port?: unknown; target?: unknown } | undefined;
      if (!d || !isUint16(d.priority) || !isUint16(d.weight) || !isUint16(d.port) || !isName(d.target)) {
        throw new Error(`SRV ${name} has malformed data`);
      }
      return { name, ttl, type: 'SRV', priority: d.priority, weight: d.weight, port: d.port, target: toFqdn(d.target) };
    }
    case 'TXT': {
      const d: unknown = a.data;
      const list = Array.isArray(d) ? d : [d];
      const strings = list.map((s: unknown) => (Buffer.isBuffer(s) ? s : typeof s === 'string' ? Buffer.from(s) : undefined));
      if (strings.some((s) => s === undefined)) throw new Error(`TXT ${name} has malformed data`);
      return { name, ttl, type: 'TXT', strings: strings as Buffer[] };
    }
    case 'SOA': {
      const d = a.data as { serial?: unknown; minimum?: unknown } | undefined;
      const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
      return { name, ttl, type: 'SOA', serial: num(d?.serial), minimum: num(d?.minimum) };
    }
    default:
      return undefined;
  }
}
