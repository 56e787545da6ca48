/**
 * API server URLs as DNS-SD publishes them: built from an SRV target and port, and compared to
 * answer "is this the same API server" (our own, or the one a ForeignCluster already uses).
 */
import { stripTrailingDot } from './names.js';

/**
 * `https://<host>:<port>`, IPv6 addresses in brackets, the trailing dot of a name dropped. Built by
 * hand because URL.toString() would drop an explicit :443, and the published form keeps the port.
 */
export function apiUrlFor(host: string, port: number): string {
  const h = stripTrailingDot(host);
  return `https://${h.includes(':') ? `[${h}]` : h}:${port}`;
}

/**
 * The same API server: same scheme, host (case-insensitive, IPv6 in canonical form) and port (443
 * when absent); the path and a trailing slash do not matter. Unparsable URLs are never the same.
 */
export function sameApiServer(a: string, b: string): boolean {
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
}
