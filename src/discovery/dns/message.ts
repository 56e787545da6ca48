/**
 * DNS messages as plain data: encodeQuery builds the bytes of one question, decodeResponse turns any
 * bytes into either the records we understand or a reason to drop them. No sockets here, so the
 * decoder can be fuzzed; it must never throw whatever the network sends. The wire format is the mDNS
 * library's codec (one codec for LAN and DNS discovery); this module adds what a stub resolver
 * checks: the ID, the question, the rcode, TC, and absolute names.
 *
 * Why not Node's `dns.Resolver` (c-ares): it returns SRV, TXT, PTR and CNAME answers without TTLs
 * (only A/AAAA have `{ ttl: true }`), and a discovered cluster's TTL says how long the answer may be
 * relied on; it hides the additional section, so every SRV target would cost two more queries
 * although bind9 sends its addresses along; it hides the authority section, so NXDOMAIN, NODATA and
 * a referral from a non-recursive server (NotAuthoritative) look alike; it follows CNAMEs itself and
 * reports a loop as a bare SERVFAIL/ENODATA, so a failure cannot name the query and the alias that
 * broke; and it cannot count the datagrams and TCP queries a browse sent.
 */
import { CLASS_IN, Flags, RRType, absoluteNameKey, decodePacket, encodePacket, toFqdn, type ResourceRecord } from '../../mdns/index.js';

export type QueryType = 'A' | 'AAAA' | 'CNAME' | 'PTR' | 'SRV' | 'TXT' | 'SOA';

export interface Question {
  name: string;
  type: QueryType;
}

type WithoutClass<T> = T extends unknown ? Omit<T, 'rrclass' | 'cacheFlush'> : never;
/** A record of a unicast answer: the codec's record, class IN implied, names absolute. */
export type Rr = WithoutClass<Extract<ResourceRecord, { type: QueryType | 'NS' }>>;
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
  const wire = encodePacket({
    id,
    // RD: the configured server is usually a recursive resolver (8.8.8.8 by default); an
    // authoritative server ignores the bit.
    flags: Flags.recursionDesired,
    questions: [{ name: toFqdn(question.name), type: RRType[question.type], qclass: CLASS_IN, unicastResponse: false }],
    answers: [],
    authorities: [],
    // RFC 6891: the OPT pseudo-record's class is the UDP payload size, its TTL the extended RCODE
    additionals:
      options.edns === false
        ? []
        : [{ name: '', type: 'OTHER', typeCode: RRType.OPT, rrclass: EDNS_UDP_PAYLOAD, cacheFlush: false, ttl: 0, rdata: new Uint8Array(0) }],
  });
  return Buffer.from(wire.buffer, wire.byteOffset, wire.byteLength);
}

const HEADER_BYTES = 12;
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
  if ((rawFlags & Flags.response) === 0) return { ok: false, kind: 'malformed', error: 'a query, not a response' };
  if (buf.readUInt16BE(0) !== id) return { ok: false, kind: 'mismatch', error: `response ID ${buf.readUInt16BE(0)} does not match query ID ${id}` };
  const opcode = (rawFlags >> 11) & 0xf;
  if (opcode !== 0) return { ok: false, kind: 'mismatch', error: `opcode ${opcode} is not QUERY` };
  const truncated = (rawFlags & Flags.truncated) !== 0;

  // a TCP answer may list thousands of records; the codec's size checks bound them
  const decoded = decodePacket(buf, { maxRecords: Number.MAX_SAFE_INTEGER });
  if (!decoded.ok) {
    // A truncated UDP answer may be cut anywhere; the TC bit alone is enough to retry over TCP,
    // which checks everything again.
    if (truncated) return { ok: true, response: emptyResponse(rcodeName(rawFlags & 0xf), rawFlags) };
    return { ok: false, kind: 'malformed', error: `undecodable response (${decoded.reason})` };
  }
  const packet = decoded.packet;

  const opt = packet.additionals.find((a) => a.type === 'OTHER' && a.typeCode === RRType.OPT);
  // RFC 6891 6.1.3: the upper 8 bits of the extended 12-bit RCODE are the top byte of the OPT TTL
  const rcode = rcodeName(((opt ? opt.ttl >>> 24 : 0) << 4) | (rawFlags & 0xf));

  const questions = packet.questions;
  if (questions.length === 0) {
    // Servers may omit the question in error answers (FORMERR, NOTIMP); the ID already matched.
    if (rcode === 'NOERROR' || rcode === 'NXDOMAIN') return { ok: false, kind: 'mismatch', error: 'response carries no question' };
  } else {
    const q = questions[0]!;
    if (questions.length !== 1 || q.type !== RRType[expected.type] || q.qclass !== CLASS_IN || absoluteNameKey(q.name) !== absoluteNameKey(expected.name)) {
      const typeName = Object.entries(RRType).find(([, code]) => code === q.type)?.[0] ?? `TYPE${q.type}`;
      return { ok: false, kind: 'mismatch', error: `response is for ${typeName} ${toFqdn(q.name)}, not ${expected.type} ${absoluteNameKey(expected.name)}` };
    }
  }

  return {
    ok: true,
    response: {
      rcode,
      truncated,
      authoritative: (rawFlags & Flags.authoritative) !== 0,
      answers: convertSection(packet.answers),
      authorities: convertSection(packet.authorities),
      additionals: convertSection(packet.additionals),
    },
  };
}

function emptyResponse(rcode: string, rawFlags: number): DnsResponse {
  return { rcode, truncated: true, authoritative: (rawFlags & Flags.authoritative) !== 0, answers: [], authorities: [], additionals: [] };
}

/**
 * Records of the types we use, class IN, names made absolute. Other types and classes are left out,
 * and so is the mDNS cache-flush bit, which has no meaning in unicast DNS.
 */
function convertSection(section: readonly ResourceRecord[]): Rr[] {
  const out: Rr[] = [];
  for (const rr of section) {
    if (rr.rrclass !== CLASS_IN || rr.cacheFlush) continue;
    const { rrclass: _class, cacheFlush: _flush, ...rest } = rr;
    const name = toFqdn(rest.name);
    switch (rest.type) {
      case 'A':
      case 'AAAA':
      case 'TXT':
        out.push({ ...rest, name });
        break;
      case 'CNAME':
      case 'PTR':
      case 'NS':
      case 'SRV':
        out.push({ ...rest, name, target: toFqdn(rest.target) });
        break;
      case 'SOA':
        out.push({ ...rest, name, mname: toFqdn(rest.mname), rname: toFqdn(rest.rname) });
        break;
      default:
        break;
    }
  }
  return out;
}
