/**
 * The TXT record of a cluster instance (RFC 6763 6): `key=value` strings, keys case-insensitive,
 * the first occurrence of a key wins, a key without `=` is a boolean flag, strings starting with `=`
 * are ignored. kubepeer reads `id` (required), `namespace` (default liqo), `name` and `ca`.
 *
 * Deliberately not read: Liqo's `untrusted-ca=true`. DNS answers are unauthenticated hints; whether
 * to trust a CA is local policy (DESIGN.md 5), so a TXT flag must never downgrade it.
 */
import { CA_FINGERPRINT_PATTERN, CLUSTER_ID_PATTERN } from '../../api/crds.js';
import { LIQO_NAMESPACE } from '../../api/constants.js';

/** RFC 1035: a character-string is at most 255 bytes. */
export const TXT_MAX_STRING_BYTES = 255;
/** RFC 6763 6.2 discourages more than 1300 bytes; a cluster needs about 150, so more is refused. */
export const TXT_MAX_TOTAL_BYTES = 1300;

export const TxtKeys = { clusterID: 'id', namespace: 'namespace', clusterName: 'name', ca: 'ca' } as const;

/** A value's bytes, or `true` for a key given without `=` (RFC 6763 6.4). */
export type TxtValue = Buffer | true;

export type TxtParseResult = { ok: true; entries: Map<string, TxtValue> } | { ok: false; problem: string };

const PRINTABLE_KEY = /^[\x20-\x3c\x3e-\x7e]+$/;

/** One TXT record (its strings in order) to key/value entries. */
export function parseTxtStrings(strings: readonly Buffer[]): TxtParseResult {
  const entries = new Map<string, TxtValue>();
  let total = 0;
  for (const s of strings) {
    total += s.length + 1;
    if (s.length > TXT_MAX_STRING_BYTES) return { ok: false, problem: `a TXT string is ${s.length} bytes, more than ${TXT_MAX_STRING_BYTES}` };
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
  if (total > TXT_MAX_TOTAL_BYTES) return { ok: false, problem: `the TXT record is ${total} bytes, more than ${TXT_MAX_TOTAL_BYTES}` };
  return { ok: true, entries };
}

/**
 * Several TXT records at one instance name. RFC 6763 wants one, but a zone written from the seed
 * (a second quoted string on its own line) yields two. Their order on the wire is arbitrary, so
 * "first wins" across records would be random: they are merged, and a key with different values
 * in different records makes the whole TXT invalid instead of picking one by chance.
 */
export function mergeTxtRecords(records: readonly (readonly Buffer[])[]): TxtParseResult {
  const merged = new Map<string, TxtValue>();
  let total = 0;
  for (const strings of records) {
    const parsed = parseTxtStrings(strings);
    if (!parsed.ok) return parsed;
    total += strings.reduce((n, s) => n + s.length + 1, 0);
    for (const [key, value] of parsed.entries) {
      const seen = merged.get(key);
      if (seen === undefined) merged.set(key, value);
      else if (!sameValue(seen, value)) return { ok: false, problem: `key "${key}" has different values in different TXT records` };
    }
  }
  if (total > TXT_MAX_TOTAL_BYTES) return { ok: false, problem: `the TXT records are ${total} bytes together, more than ${TXT_MAX_TOTAL_BYTES}` };
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
}

export type ClusterTxtReason = 'MissingClusterID' | 'InvalidClusterID' | 'InvalidTXT' | 'InvalidCAPin';
export type ClusterTxtResult = { ok: true; value: ClusterTxt } | { ok: false; reason: ClusterTxtReason; problem: string };

const clusterIDRe = new RegExp(CLUSTER_ID_PATTERN);
const caRe = new RegExp(CA_FINGERPRINT_PATTERN);
const namespaceRe = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
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

/** The kubepeer meaning of parsed TXT entries. */
export function interpretClusterTxt(entries: ReadonlyMap<string, TxtValue>): ClusterTxtResult {
  const rawID = entries.get(TxtKeys.clusterID);
  if (rawID === undefined) return { ok: false, reason: 'MissingClusterID', problem: 'the TXT record has no "id=<cluster ID>" entry' };
  const id = text(TxtKeys.clusterID, rawID);
  if (!id.ok) return { ok: false, reason: 'InvalidClusterID', problem: id.problem };
  if (id.value === '') return { ok: false, reason: 'MissingClusterID', problem: 'the TXT entry "id=" is empty' };
  const idProblem = clusterIDProblem(id.value);
  if (idProblem) return { ok: false, reason: 'InvalidClusterID', problem: `id ${idProblem}` };
  const result: ClusterTxt = { clusterID: id.value, namespace: LIQO_NAMESPACE };

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
  return { ok: true, value: result };
}
