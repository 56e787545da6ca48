/**
 * Search-domain rules of unicast DNS-SD. Names here are absolute ("example.com.") and compared with
 * `absoluteNameKey` (RFC 4343: ASCII case-insensitive); the name helpers themselves are the mDNS
 * library's, one set for LAN and DNS discovery.
 */
import { absoluteNameKey, stripTrailingDot, toFqdn } from '../../mdns/index.js';

export { stripTrailingDot, toFqdn };

/**
 * True when `name` is `domain` or below it. Used as the bailiwick check: records a server volunteers
 * in the additional section are only believed for names inside the domain being browsed.
 */
export function isAtOrBelow(name: string, domain: string): boolean {
  const n = absoluteNameKey(name);
  const d = absoluteNameKey(domain);
  if (d === '.') return true;
  return n === d || n.endsWith(`.${d}`);
}

/**
 * Why a name cannot be sent in a query, or undefined when it can: at most 253 bytes, labels of 1 to
 * 63 bytes (RFC 1035 2.3.4). Instance labels may hold spaces and UTF-8 (RFC 6763 4.1.1), so the
 * characters themselves are not restricted here.
 */
export function queryNameProblem(name: string): string | undefined {
  const bare = stripTrailingDot(toFqdn(name));
  if (bare === '.') return 'the root name cannot be browsed';
  if (Buffer.byteLength(bare) > 253) return 'longer than 253 bytes';
  for (const label of bare.split('.')) {
    if (label.length === 0) return 'has an empty label (two dots in a row?)';
    if (Buffer.byteLength(label) > 63) return `label "${label.slice(0, 20)}..." is longer than 63 bytes`;
  }
  return undefined;
}

const HOST_LABEL = /^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;

/**
 * Why a string is not a usable search domain, or undefined when it is. Stricter than
 * queryNameProblem: a domain a person types is letters, digits, '-' and '_' (IDNs in punycode).
 */
export function domainProblem(domain: string): string | undefined {
  const trimmed = domain.trim();
  if (trimmed !== domain) return 'has leading or trailing spaces';
  const general = queryNameProblem(domain);
  if (general) return general;
  for (const label of stripTrailingDot(toFqdn(domain)).split('.')) {
    if (!HOST_LABEL.test(label)) {
      return `label "${label}" may contain only letters, digits, "-" and "_" (use punycode for international names)`;
    }
  }
  return undefined;
}
