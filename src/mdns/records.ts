/**
 * The records a responder publishes for one advertisement (RFC 6763 §4–6, §9, §12), with RFC 6762
 * TTLs and cache-flush bits, and the §8.2 probe tie-break. Pure: the responder decides when to send.
 */
import { CLASS_ANY, CLASS_IN, RRType, SERVICE_RECORD_TTL_SECONDS, SERVICES_ENUMERATION } from './constants.js';
import { rdataBytes, typeCodeOf, type Question, type ResourceRecord } from './codec.js';
import { hostFqdn, instanceFqdn, nameKey, serviceFqdn } from './names.js';

export interface AdvertisementSpec {
  /** The instance label actually used (after conflict renames), e.g. `MyLiqo-1234abcd`. */
  instanceLabel: string;
  /** The host label actually used, e.g. `MyLiqo-1234abcd` (host name `MyLiqo-1234abcd.local`). */
  hostLabel: string;
  /** `_liqo._tcp` */
  service: string;
  /** `local` */
  domain: string;
  /** The API server port, published in SRV. */
  port: number;
  txt: Uint8Array[];
  /**
   * Seconds, for the records that carry a host name (SRV, A, AAAA): the configured `ttl`, 120 s by
   * RFC 6762 §10. PTR, TXT and the enumeration PTR always live SERVICE_RECORD_TTL_SECONDS (4500 s).
   */
  ttl: number;
}

export interface LinkAddresses {
  ipv4: readonly string[];
  ipv6: readonly string[];
}

export interface RecordSet {
  serviceName: string;
  instanceName: string;
  hostName: string;
  /** `_liqo._tcp.local PTR <instance>`: shared, no cache-flush. */
  ptr: ResourceRecord;
  /** `_services._dns-sd._udp.local PTR _liqo._tcp.local`: shared, no cache-flush. */
  enumerationPtr: ResourceRecord;
  /** Unique records, with cache-flush. */
  srv: ResourceRecord;
  txt: ResourceRecord;
  addresses: ResourceRecord[];
}

export function recordsOf(set: RecordSet): ResourceRecord[] {
  return [set.ptr, set.enumerationPtr, set.srv, set.txt, ...set.addresses];
}

/** Builds what we publish on one link (its addresses only, RFC 6762 §14). */
export function buildRecordSet(spec: AdvertisementSpec, addresses: LinkAddresses): RecordSet {
  const serviceName = serviceFqdn(spec.service, spec.domain);
  const instanceName = instanceFqdn(spec.instanceLabel, spec.service, spec.domain);
  const hostName = hostFqdn(spec.hostLabel, spec.domain);
  const shared = { rrclass: CLASS_IN, cacheFlush: false, ttl: SERVICE_RECORD_TTL_SECONDS };
  const unique = { rrclass: CLASS_IN, cacheFlush: true };
  return {
    serviceName,
    instanceName,
    hostName,
    ptr: { ...shared, name: serviceName, type: 'PTR', target: instanceName },
    enumerationPtr: {
      ...shared,
      name: serviceFqdn(SERVICES_ENUMERATION, spec.domain),
      type: 'PTR',
      target: serviceName,
    },
    srv: {
      ...unique,
      ttl: spec.ttl,
      name: instanceName,
      type: 'SRV',
      priority: 0,
      weight: 0,
      port: spec.port,
      target: hostName,
    },
    txt: { ...unique, ttl: SERVICE_RECORD_TTL_SECONDS, name: instanceName, type: 'TXT', strings: spec.txt },
    addresses: [
      ...addresses.ipv4.map((address): ResourceRecord => ({ ...unique, ttl: spec.ttl, name: hostName, type: 'A', address })),
      ...addresses.ipv6.map((address): ResourceRecord => ({ ...unique, ttl: spec.ttl, name: hostName, type: 'AAAA', address })),
    ],
  };
}

export function withTtl<T extends ResourceRecord>(rr: T, ttl: number): T {
  return { ...rr, ttl };
}

/** Does `rr` answer question `q` (name, type or ANY, class IN or ANY)? */
export function answersQuestion(rr: ResourceRecord, q: Question): boolean {
  if (q.qclass !== CLASS_IN && q.qclass !== CLASS_ANY) return false;
  if (q.type !== RRType.ANY && q.type !== typeCodeOf(rr)) return false;
  return nameKey(q.name) === nameKey(rr.name);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i]! - b[i]!;
  }
  return a.length - b.length;
}

function compareRecords(a: ResourceRecord, b: ResourceRecord): number {
  return a.rrclass - b.rrclass || typeCodeOf(a) - typeCodeOf(b) || compareBytes(rdataBytes(a), rdataBytes(b));
}

/**
 * RFC 6762 §8.2 simultaneous-probe tie-break over the records each side proposes for one name:
 * sort both by class, type, then raw uncompressed rdata; compare pairwise; the first difference
 * decides (the lexicographically later record wins); a list with records left over wins.
 * Returns > 0 when we win, < 0 when they win, 0 when identical (our own probe looped back).
 */
export function tieBreak(ours: readonly ResourceRecord[], theirs: readonly ResourceRecord[]): number {
  const a = [...ours].sort(compareRecords);
  const b = [...theirs].sort(compareRecords);
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = compareRecords(a[i]!, b[i]!);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}
