/**
 * The address policy for outbound calls to a party someone else named (a requester's identity
 * callback, a peer's API server from a ForeignCluster, an mDNS announcement or a DNS answer): the
 * hosts and addresses kubepeer never calls, whatever a PeeringRequest, a ForeignCluster or a
 * discovery answer says. The admission webhook checks URLs with it before they are stored,
 * discovery before it writes a ForeignCluster, and the callback checks every address a name
 * resolves to before it connects. It knows nothing of Kubernetes objects, so any outbound client
 * can use it.
 *
 * Every address is first normalised: an IPv6 address that carries an IPv4 one (mapped
 * `::ffff:a.b.c.d`, SIIT `::ffff:0:a.b.c.d`, compatible `::a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4
 * `2002:AABB:CCDD::/48`) is judged as that IPv4 address, since that is what it reaches.
 */
import { isIP } from 'node:net';

export interface AddressPolicy {
  /** CIDRs outbound calls may go to (ClusterConfig peeringConfig.allowedPeerCIDRs); never overrides the fixed refusals. */
  allowedCIDRs?: readonly string[];
  /** Loopback is allowed only when our own API server is on loopback (local clusters). */
  allowLoopback?: boolean;
}

/** Everything, minus what is always refused below. */
export const DEFAULT_ALLOWED_CIDRS = ['0.0.0.0/0', '::/0'] as const;

/** Parses an IPv6 address (no brackets, no zone) into 16 bytes, or undefined. */
function parseIPv6(ip: string): number[] | undefined {
  if (isIP(ip) !== 6) return undefined;
  let s = ip;
  const tail: number[] = [];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    tail.push(...v4[1]!.split('.').map(Number));
    s = s.slice(0, -v4[1]!.length) + '0:0';
  }
  const [head, rest] = s.includes('::') ? (s.split('::') as [string, string]) : [s, undefined];
  const h = head ? head.split(':') : [];
  const r = rest ? rest.split(':') : [];
  const groups = rest === undefined ? h : [...h, ...Array(8 - h.length - r.length).fill('0'), ...r];
  if (groups.length !== 8) return undefined;
  const bytes = groups.flatMap((g) => {
    const n = parseInt(g, 16);
    return [n >> 8, n & 255];
  });
  if (tail.length) bytes.splice(12, 4, ...tail);
  return bytes;
}

const v4 = (b: number[], at: number) => `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
const zero = (b: number[], from: number, to: number) => b.slice(from, to).every((x) => x === 0);

/**
 * The address a host stands for, normalised: lower case, no brackets or trailing dot, and an IPv4
 * address for every IPv6 form that carries one. Names are returned as they are.
 */
export function normaliseAddress(host: string): string {
  let h = host.toLowerCase().replace(/\.$/, '');
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  const b = parseIPv6(h);
  if (!b) return h;
  if (zero(b, 0, 10) && b[10] === 0xff && b[11] === 0xff) return v4(b, 12); // ::ffff:a.b.c.d (mapped)
  if (zero(b, 0, 8) && b[8] === 0xff && b[9] === 0xff && zero(b, 10, 12)) return v4(b, 12); // ::ffff:0:a.b.c.d (SIIT)
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zero(b, 4, 12)) return v4(b, 12); // 64:ff9b::/96 (NAT64)
  if (zero(b, 0, 12) && !zero(b, 12, 15)) return v4(b, 12); // ::a.b.c.d (compatible; not :: or ::1)
  if (b[0] === 0x20 && b[1] === 0x02) return v4(b, 2); // 2002:AABB:CCDD::/48 (6to4)
  return h;
}

function toBytes(ip: string): number[] | undefined {
  if (isIP(ip) === 4) return ip.split('.').map(Number);
  return parseIPv6(ip);
}

/** Whether `ip` (normalised) is inside `cidr`. Malformed CIDRs match nothing. */
export function inCIDR(ip: string, cidr: string): boolean {
  const [net, lenText] = cidr.split('/');
  const a = toBytes(ip);
  const n = net ? toBytes(net) : undefined;
  if (!a || !n || a.length !== n.length) return false;
  const len = lenText === undefined ? a.length * 8 : Number(lenText);
  if (!Number.isInteger(len) || len < 0 || len > a.length * 8) return false;
  for (let bit = 0; bit < len; bit++) {
    const byte = bit >> 3;
    const mask = 0x80 >> (bit & 7);
    if ((a[byte]! & mask) !== (n[byte]! & mask)) return false;
  }
  return true;
}

/** Whether a host (name or address, any form) is loopback. */
export function isLoopbackHost(host: string): boolean {
  const h = normaliseAddress(host);
  return h === 'localhost' || h.endsWith('.localhost') || h === '::1' || (isIP(h) === 4 && h.startsWith('127.'));
}

/**
 * Why a host (name or address) must never be called, or undefined. Shared with the callback's
 * resolved addresses. Without a policy, loopback is allowed (the caller did not say where our own
 * API server is); every caller that knows it passes it.
 */
export function forbiddenHost(host: string, policy: AddressPolicy = { allowLoopback: true }): string | undefined {
  const raw = host.toLowerCase().replace(/\.$/, '');
  if (raw === 'kubernetes' || raw.startsWith('kubernetes.default') || raw.endsWith('.svc') || raw.endsWith('.svc.cluster.local') || raw.endsWith('.cluster.local')) {
    return 'a Service name inside this cluster';
  }
  const ip = normaliseAddress(host);
  if (!policy.allowLoopback && isLoopbackHost(ip)) return 'a loopback address (allowed only when this cluster\'s own API server is on loopback)';
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
    if (inCIDR(ip, 'fd00:ec2::/32')) return 'a cloud metadata address';
  } else {
    return undefined; // a name: its addresses are checked where it is resolved
  }
  const allowed = policy.allowedCIDRs ?? DEFAULT_ALLOWED_CIDRS;
  if (!(isLoopbackHost(ip) && policy.allowLoopback) && !allowed.some((c) => inCIDR(ip, c))) {
    return `an address outside the allowed CIDRs (peeringConfig.allowedPeerCIDRs: ${allowed.join(', ')})`;
  }
  return undefined;
}

/** The policy for a cluster whose own API server is at `ownApiUrl`. */
export function policyFor(ownApiUrl: string | undefined, allowedCIDRs?: readonly string[]): AddressPolicy {
  let loop = false;
  try {
    loop = !!ownApiUrl && isLoopbackHost(new URL(ownApiUrl).hostname);
  } catch {
    loop = false;
  }
  return { allowLoopback: loop, ...(allowedCIDRs ? { allowedCIDRs } : {}) };
}
