/**
 * What a peer's API server URL may be (the `apiUrl` of a PeeringRequest and the server of its
 * kubeconfig): https, a host and an optional port, no user info, no address the outbound policy
 * forbids, not this cluster's own API server.
 */
import { API_URL_PATTERN } from '../api/crds.js';
import { forbiddenHost, policyFor } from '../net/addressPolicy.js';
import { show } from './untrustedInput.js';
import { sameApiServer } from '../mdns/index.js';

const apiUrlRe = new RegExp(API_URL_PATTERN);

/** Why `value` is not acceptable as a peer's API server URL, or undefined. */
export function apiUrlProblem(value: unknown, field: string, ownApiUrl?: string, allowedCIDRs?: readonly string[]): string | undefined {
  const example = 'e.g. https://203.0.113.10:6443 (plain http is not allowed)';
  if (typeof value !== 'string' || value === '') return `${field} is required: the https URL of the requester's API server, ${example}`;
  if (value.length > 2048 || !apiUrlRe.test(value)) return `${field} ${show(value)} must be an https:// URL with a host and an optional port only (no path, query, fragment or user info), ${example}`;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `${field} ${show(value)} is not a valid URL, ${example}`;
  }
  if (url.protocol !== 'https:') return `${field} ${show(value)} must use https, ${example}`;
  if (url.port && Number(url.port) > 65535) return `${field} ${show(value)} has an invalid port`;
  if (url.username || url.password) return `${field} ${show(value)} must not carry a user name or password`;
  if (url.pathname !== '/' || url.search || url.hash) return `${field} ${show(value)} must have no path, query or fragment (scheme, host and port only)`;
  // Without ownApiUrl (a kubeconfig's server, which must equal an apiUrl checked with it) loopback
  // is left to that check.
  const bad = forbiddenHost(url.hostname, ownApiUrl ? policyFor(ownApiUrl, allowedCIDRs) : { allowLoopback: true, ...(allowedCIDRs ? { allowedCIDRs } : {}) });
  if (bad) return `${field} ${show(value)} points at ${bad}; it must be the requester's API server as this cluster can reach it`;
  if (ownApiUrl && sameApiServer(value, ownApiUrl)) return `${field} ${show(value)} is this cluster's own API server; it must be the requester's`;
  return undefined;
}

/**
 * The same https origin and path, ignoring case of the host, a default port and a trailing slash:
 * whether a kubeconfig's server is exactly the apiUrl it came with. (Whether a URL is our own API
 * server is `sameApiServer`, the one check discovery and peering share.)
 */
export function sameUrl(a: string, b: string): boolean {
  try {
    const ua = new URL(a);
    const ub = new URL(b);
    return ua.origin === ub.origin && ua.pathname.replace(/\/+$/, '') === ub.pathname.replace(/\/+$/, '');
  } catch {
    return false;
  }
}
