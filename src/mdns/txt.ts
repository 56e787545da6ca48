/**
 * TXT record content for `_liqo._tcp` (RFC 6763 §6): building our own and reading a peer's.
 * Keys are case-insensitive and the first occurrence wins; strings starting with `=` are ignored;
 * `txtvers=1` comes first. The TXT is a hint, never an identity proof (DESIGN.md section 4).
 */
import { MAX_TXT_BYTES } from './constants.js';

export interface PeerTxt {
  txtvers: number;
  clusterID: string;
  namespace: string;
  url: string;
  name?: string;
}

export type TxtFailure = 'oversized-txt' | 'invalid-txt' | 'unsupported-txtvers';

export const DEFAULT_NAMESPACE = 'liqo';

const CLUSTER_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const NAMESPACE_RE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const MAX_URL_LENGTH = 512;
const MAX_NAME_LENGTH = 253;

export function isValidClusterID(id: string): boolean {
  return CLUSTER_ID_RE.test(id);
}

/** Encodes ordered key/value pairs as TXT strings (`key=value`, each at most 255 bytes). */
export function encodeTxt(entries: ReadonlyArray<readonly [string, string]>): Uint8Array[] {
  return entries.map(([k, v]) => {
    if (!/^[\x20-\x3c\x3e-\x7e]+$/.test(k)) throw new Error(`invalid TXT key ${JSON.stringify(k)}`);
    const bytes = Buffer.from(`${k}=${v}`, 'utf8');
    if (bytes.length > 255) throw new Error(`TXT entry ${k} is longer than 255 bytes`);
    return new Uint8Array(bytes);
  });
}

/** Our own TXT: `txtvers=1` first, then `id`, `namespace`, `url`, and `name` when known. */
export function buildPeerTxt(t: Omit<PeerTxt, 'txtvers'>): Uint8Array[] {
  const entries: Array<[string, string]> = [
    ['txtvers', '1'],
    ['id', t.clusterID],
    ['namespace', t.namespace],
    ['url', t.url],
  ];
  if (t.name) entries.push(['name', t.name]);
  return encodeTxt(entries);
}

/**
 * RFC 6763 §6.3–6.5 key/value parsing: keys lower-cased, first occurrence wins, a key alone is a
 * boolean `true`, `key=` is the empty string, strings starting with `=` or with a non-printable key
 * are skipped.
 */
export function parseTxtPairs(strings: readonly Uint8Array[]): Map<string, string | true> {
  const out = new Map<string, string | true>();
  for (const s of strings) {
    if (s.length === 0) continue;
    const eq = s.indexOf(0x3d);
    const keyBytes = eq < 0 ? s : s.subarray(0, eq);
    if (keyBytes.length === 0) continue;
    let printable = true;
    for (const b of keyBytes) {
      if (b < 0x20 || b > 0x7e) {
        printable = false;
        break;
      }
    }
    if (!printable) continue;
    const key = Buffer.from(keyBytes).toString('latin1').toLowerCase();
    if (out.has(key)) continue;
    out.set(key, eq < 0 ? true : Buffer.from(s.subarray(eq + 1)).toString('utf8'));
  }
  return out;
}

export function txtSize(strings: readonly Uint8Array[]): number {
  return strings.reduce((n, s) => n + 1 + s.length, 0);
}

/** Reads a peer's TXT; the reason says why it is unusable. */
export function parsePeerTxt(
  strings: readonly Uint8Array[],
): { ok: true; txt: PeerTxt } | { ok: false; reason: TxtFailure; detail: string } {
  if (txtSize(strings) > MAX_TXT_BYTES) {
    return { ok: false, reason: 'oversized-txt', detail: `TXT of ${txtSize(strings)} bytes exceeds ${MAX_TXT_BYTES}` };
  }
  const pairs = parseTxtPairs(strings);
  const str = (k: string): string | undefined => {
    const v = pairs.get(k);
    return typeof v === 'string' ? v : undefined;
  };
  const txtversText = str('txtvers');
  const txtvers = txtversText === undefined ? 1 : Number(txtversText);
  if (txtvers !== 1) return { ok: false, reason: 'unsupported-txtvers', detail: `txtvers=${txtversText}` };
  const clusterID = str('id');
  if (!clusterID || !isValidClusterID(clusterID)) {
    return { ok: false, reason: 'invalid-txt', detail: 'missing or malformed id' };
  }
  const namespace = str('namespace') || DEFAULT_NAMESPACE;
  if (!NAMESPACE_RE.test(namespace)) return { ok: false, reason: 'invalid-txt', detail: 'malformed namespace' };
  const url = str('url');
  if (!url || url.length > MAX_URL_LENGTH || !isHttpsUrl(url)) {
    return { ok: false, reason: 'invalid-txt', detail: 'missing or non-https url' };
  }
  const name = str('name');
  const txt: PeerTxt = { txtvers, clusterID, namespace, url };
  if (name && name.length <= MAX_NAME_LENGTH) txt.name = name;
  return { ok: true, txt };
}

function isHttpsUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return u.protocol === 'https:' && u.hostname.length > 0;
  } catch {
    return false;
  }
}
