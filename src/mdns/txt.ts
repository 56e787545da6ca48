/**
 * The DNS-SD TXT record of a cluster instance (RFC 6763 §6), one reader for LAN and DNS discovery:
 * `key=value` strings, keys case-insensitive, the first occurrence of a key wins, a key without `=`
 * is a boolean flag, strings starting with `=` are ignored, a key that is not printable ASCII makes
 * the record invalid. kubepeer reads `id` (required), `namespace` (default liqo), `name`, `ca`, and
 * `txtvers` and `url` (both optional; our own LAN TXT carries them, the seeds' layout does not, and
 * then the URL comes from the SRV record).
 *
 * Deliberately not read: Liqo's `untrusted-ca=true`. DNS answers are unauthenticated hints; whether
 * to trust a CA is local policy (docs/design.md §5), so a TXT flag must never downgrade it.
 */
import { LanDefaults, MAX_TXT_BYTES, MAX_TXT_STRING_BYTES } from './constants.js';

/**
 * The ForeignCluster CRD's patterns (CLUSTER_ID_PATTERN and CA_FINGERPRINT_PATTERN of
 * src/api/crds.ts), copied because this library imports nothing of the Kubernetes side. They are
 * needed deep in the browser, for every TXT record, and never vary, so a copy is simpler than a
 * validator passed through LanDiscovery, the engine, the browser and every DNS browse;
 * test/unit/mdns/txt.test.ts fails when a copy and the CRD differ. A TXT whose ID the CRD would
 * refuse is refused here, before it can become a ForeignCluster.
 */
export const CLUSTER_ID_PATTERN = '^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)$';
export const CA_FINGERPRINT_PATTERN = '^sha256:[0-9a-f]{64}$';
export const DEFAULT_NAMESPACE = LanDefaults.namespace;

export const TxtKeys = { txtvers: 'txtvers', clusterID: 'id', namespace: 'namespace', clusterName: 'name', ca: 'ca', url: 'url' } as const;

/** A value's bytes, or `true` for a key given without `=` (RFC 6763 §6.4). */
export type TxtValue = Buffer | true;

export type TxtParseResult = { ok: true; entries: Map<string, TxtValue> } | { ok: false; problem: string };

const PRINTABLE_KEY = /^[\x20-\x3c\x3e-\x7e]+$/;

/** Bytes of a TXT record's rdata: each string and its length byte. */
export function txtWireSize(strings: readonly Uint8Array[]): number {
  return strings.reduce((n, s) => n + s.length + 1, 0);
}

/** One TXT record (its strings in order) to key/value entries. */
export function parseTxtStrings(strings: readonly Uint8Array[]): TxtParseResult {
  const entries = new Map<string, TxtValue>();
  let total = 0;
  for (const bytes of strings) {
    const s = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    total += s.length + 1;
    if (s.length > MAX_TXT_STRING_BYTES) return { ok: false, problem: `a TXT string is ${s.length} bytes, more than ${MAX_TXT_STRING_BYTES}` };
    if (s.length === 0) continue; // the empty TXT record is a single empty string (RFC 6763 6.1)
    const eq = s.indexOf(0x3d);
    if (eq === 0) continue; // RFC 6763 6.4: strings beginning with '=' are ignored
    const keyBytes = eq === -1 ? s : s.subarray(0, eq);
    const key = keyBytes.toString('latin1');
    if (!PRINTABLE_KEY.test(key)) return { ok: false, problem: `TXT key ${JSON.stringify(key)} is not printable ASCII` };
    const lower = key.toLowerCase();
    if (entries.has(lower)) continue; // first occurrence wins (RFC 6763 6.4)
    entries.set(lower, eq === -1 ? true : Buffer.from(s.subarray(eq + 1)));
  }
  if (total > MAX_TXT_BYTES) return { ok: false, problem: `the TXT record is ${total} bytes, more than ${MAX_TXT_BYTES}` };
  return { ok: true, entries };
}

/**
 * Several TXT records at one instance name. RFC 6763 wants one, but a zone written from the seed
 * (a second quoted string on its own line) yields two. Their order on the wire is arbitrary, so
 * "first wins" across records would be random: they are merged, and a key with different values
 * in different records makes the whole TXT invalid instead of picking one by chance.
 */
export function mergeTxtRecords(records: readonly (readonly Uint8Array[])[]): TxtParseResult {
  const merged = new Map<string, TxtValue>();
  let total = 0;
  for (const strings of records) {
    const parsed = parseTxtStrings(strings);
    if (!parsed.ok) return parsed;
    total += txtWireSize(strings);
    for (const [key, value] of parsed.entries) {
      const seen = merged.get(key);
      if (seen === undefined) merged.set(key, value);
      else if (!sameValue(seen, value)) return { ok: false, problem: `key "${key}" has different values in different TXT records` };
    }
  }
  if (total > MAX_TXT_BYTES) return { ok: false, problem: `the TXT records are ${total} bytes together, more than ${MAX_TXT_BYTES}` };
  return { ok: true, entries: merged };
}

function sameValue(a: TxtValue, b: TxtValue): boolean {
  return a === true || b === true ? a === b : a.equals(b);
}

export interface ClusterTxt {
  clusterID: string;
  namespace: string;
  clusterName?: string;
  caFingerprint?: string;
  /** `url=`: the API server, when the publisher says it (our LAN TXT does; the seeds' layout does not). */
  url?: string;
}

export type ClusterTxtReason = 'MissingClusterID' | 'InvalidClusterID' | 'InvalidTXT' | 'InvalidCAPin';
export type ClusterTxtResult = { ok: true; value: ClusterTxt } | { ok: false; reason: ClusterTxtReason; problem: string };

const clusterIDRe = new RegExp(CLUSTER_ID_PATTERN);
const caRe = new RegExp(CA_FINGERPRINT_PATTERN);
const namespaceRe = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const MAX_URL_LENGTH = 512;
const utf8 = new TextDecoder('utf-8', { fatal: true });

export function clusterIDProblem(id: string): string | undefined {
  return clusterIDRe.test(id) ? undefined : `"${id}" is neither a UUID nor a DNS label`;
}
export function namespaceProblem(ns: string): string | undefined {
  return namespaceRe.test(ns) ? undefined : `"${ns}" is not a DNS label (lowercase letters, digits, "-", at most 63)`;
}
export function clusterNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'it is empty';
  if (name.length > 253) return 'it is longer than 253 characters';
  if (/[\x00-\x1f\x7f]/.test(name)) return 'it contains control characters';
  return undefined;
}
/** Accepts upper-case hex and returns the canonical lower-case pin, or a problem. */
export function normalizeCAPin(pin: string): { ok: true; value: string } | { ok: false; problem: string } {
  const lower = pin.trim().toLowerCase();
  return caRe.test(lower) ? { ok: true, value: lower } : { ok: false, problem: `"${pin}" is not sha256:<64 hex digits>` };
}

function text(key: string, value: TxtValue): { ok: true; value: string } | { ok: false; problem: string } {
  if (value === true) return { ok: false, problem: `"${key}" has no value (write ${key}=...)` };
  try {
    return { ok: true, value: utf8.decode(value) };
  } catch {
    return { ok: false, problem: `the value of "${key}" is not UTF-8` };
  }
}

function urlProblem(url: string): string | undefined {
  if (url.length > MAX_URL_LENGTH) return `is longer than ${MAX_URL_LENGTH} characters`;
  try {
    const u = new URL(url);
    return u.protocol === 'https:' && u.hostname.length > 0 ? undefined : `"${url}" is not an https URL with a host`;
  } catch {
    return `"${url}" is not a URL`;
  }
}

/** The TXT records at one instance name, read and interpreted: the one entry point of both browsers. */
export function readClusterTxt(records: readonly (readonly Uint8Array[])[]): ClusterTxtResult {
  const entries = mergeTxtRecords(records);
  if (!entries.ok) return { ok: false, reason: 'InvalidTXT', problem: entries.problem };
  return interpretClusterTxt(entries.entries);
}

/** The kubepeer meaning of parsed TXT entries. */
export function interpretClusterTxt(entries: ReadonlyMap<string, TxtValue>): ClusterTxtResult {
  const rawVersion = entries.get(TxtKeys.txtvers);
  if (rawVersion !== undefined) {
    const version = text(TxtKeys.txtvers, rawVersion);
    if (!version.ok || version.value !== '1') return { ok: false, reason: 'InvalidTXT', problem: `txtvers ${version.ok ? `"${version.value}"` : 'without a value'} is not supported (only txtvers=1)` };
  }
  const rawID = entries.get(TxtKeys.clusterID);
  if (rawID === undefined) return { ok: false, reason: 'MissingClusterID', problem: 'the TXT record has no "id=<cluster ID>" entry' };
  const id = text(TxtKeys.clusterID, rawID);
  if (!id.ok) return { ok: false, reason: 'InvalidClusterID', problem: id.problem };
  if (id.value === '') return { ok: false, reason: 'MissingClusterID', problem: 'the TXT entry "id=" is empty' };
  const idProblem = clusterIDProblem(id.value);
  if (idProblem) return { ok: false, reason: 'InvalidClusterID', problem: `id ${idProblem}` };
  const result: ClusterTxt = { clusterID: id.value, namespace: DEFAULT_NAMESPACE };

  const rawNs = entries.get(TxtKeys.namespace);
  if (rawNs !== undefined) {
    const ns = text(TxtKeys.namespace, rawNs);
    if (!ns.ok) return { ok: false, reason: 'InvalidTXT', problem: ns.problem };
    const problem = namespaceProblem(ns.value);
    if (problem) return { ok: false, reason: 'InvalidTXT', problem: `namespace ${problem}` };
    result.namespace = ns.value;
  }

  const rawName = entries.get(TxtKeys.clusterName);
  if (rawName !== undefined) {
    const name = text(TxtKeys.clusterName, rawName);
    if (!name.ok) return { ok: false, reason: 'InvalidTXT', problem: name.problem };
    const problem = clusterNameProblem(name.value);
    if (problem) return { ok: false, reason: 'InvalidTXT', problem: `name is not usable: ${problem}` };
    result.clusterName = name.value;
  }

  const rawCA = entries.get(TxtKeys.ca);
  if (rawCA !== undefined) {
    const ca = text(TxtKeys.ca, rawCA);
    if (!ca.ok) return { ok: false, reason: 'InvalidCAPin', problem: ca.problem };
    const pin = normalizeCAPin(ca.value);
    // A pin that cannot be read must not be dropped silently: peering without it would be weaker
    // than the publisher asked for.
    if (!pin.ok) return { ok: false, reason: 'InvalidCAPin', problem: `ca ${pin.problem}` };
    result.caFingerprint = pin.value;
  }

  const rawUrl = entries.get(TxtKeys.url);
  if (rawUrl !== undefined) {
    const url = text(TxtKeys.url, rawUrl);
    if (!url.ok) return { ok: false, reason: 'InvalidTXT', problem: url.problem };
    const problem = urlProblem(url.value);
    if (problem) return { ok: false, reason: 'InvalidTXT', problem: `url ${problem}` };
    result.url = url.value;
  }
  return { ok: true, value: result };
}

/** Our own LAN TXT: `txtvers=1` first (RFC 6763 §6.7), then `id`, `namespace`, `url`, and `name` when set. */
export function buildClusterTxt(t: { clusterID: string; namespace: string; url: string; clusterName?: string }): Uint8Array[] {
  const entries: Array<[string, string]> = [
    [TxtKeys.txtvers, '1'],
    [TxtKeys.clusterID, t.clusterID],
    [TxtKeys.namespace, t.namespace],
    [TxtKeys.url, t.url],
  ];
  if (t.clusterName) entries.push([TxtKeys.clusterName, t.clusterName]);
  return entries.map(([k, v]) => {
    const bytes = Buffer.from(`${k}=${v}`, 'utf8');
    if (bytes.length > MAX_TXT_STRING_BYTES) throw new Error(`TXT entry ${k} is longer than ${MAX_TXT_STRING_BYTES} bytes`);
    return new Uint8Array(bytes);
  });
}
