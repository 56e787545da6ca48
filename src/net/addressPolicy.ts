/**
 * The address policy for outbound calls to a party someone else named (a requester's identity
 * callback, a peer's API server): the hosts and addresses kubepeer never calls, whatever a
 * PeeringRequest, a ForeignCluster or a DNS answer says. The admission webhook checks URLs with it
 * before they are stored, and the callback checks every address a name resolves to before it
 * connects. It knows nothing of Kubernetes objects, so any outbound client can use it.
 */
import { isIP } from 'node:net';

/** Why a host (name or address) must never be called back, or undefined. Shared with the callback's resolved addresses. */
export function forbiddenHost(host: string): string | undefined {
  const h = host.toLowerCase().replace(/\.$/, '');
  if (h === 'kubernetes' || h.startsWith('kubernetes.default') || h.endsWith('.svc') || h.endsWith('.svc.cluster.local') || h.endsWith('.cluster.local')) {
    return 'a Service name inside this cluster';
  }
  let ip = h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
  // An IPv4-mapped IPv6 address reaches the IPv4 one (the URL parser writes it as ::ffff:a9fe:a9fe).
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(ip);
  if (mapped) {
    const [hi, lo] = [parseInt(mapped[1]!, 16), parseInt(mapped[2]!, 16)];
    ip = `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  } else if (/^::ffff:\d+\.\d+\.\d+\.\d+$/.test(ip)) {
    ip = ip.slice(7);
  }
  const v = isIP(ip);
  if (v === 4) {
    const [a, b] = ip.split('.').map(Number) as [number, number];
    if (a === 0) return 'an unspecified address';
    if (a === 169 && b === 254) return 'a link-local address (where cloud metadata services live)';
    if (a >= 224) return 'a multicast or reserved address';
  } else if (v === 6) {
    if (ip === '::') return 'an unspecified address';
    if (/^fe[89ab]/.test(ip)) return 'a link-local address';
    if (/^ff/.test(ip)) return 'a multicast address';
  }
  return undefined;
}
