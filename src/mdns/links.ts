/**
 * Which interfaces ("links") mDNS runs on, their addresses, and the RFC 6762 §11 on-link check:
 * a datagram is accepted only if its source address belongs to a prefix of one of our links (or
 * is an IPv6 link-local address scoped to one of them). The enumeration reads the OS; the
 * decisions are pure.
 */
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { isIPv6LinkLocal, parseIPv4, parseIPv6, prefixContains, splitZone } from './ip.js';

export interface LinkAddress {
  address: string;
  prefixLength: number;
}

export interface Link {
  name: string;
  /** Kernel interface index (IPv6 scope id), when known. */
  index?: number;
  ipv4: LinkAddress[];
  ipv6: LinkAddress[];
}

const IFF_UP = 0x1;
const IFF_LOOPBACK = 0x8;
const IFF_MULTICAST = 0x1000;

function readSysFlags(name: string): number | undefined {
  try {
    return parseInt(readFileSync(`/sys/class/net/${name}/flags`, 'utf8').trim(), 16);
  } catch {
    return undefined;
  }
}

/**
 * Interfaces usable for mDNS: up (libuv only reports interfaces that are up and running), not
 * loopback, multicast-capable (from /sys when available), restricted to `names` when non-empty.
 */
export function listLinks(opts: { names: readonly string[]; ipv6: boolean }): Link[] {
  const wanted = new Set(opts.names);
  const links: Link[] = [];
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    if (!addrs || (wanted.size > 0 && !wanted.has(name))) continue;
    if (addrs.some((a) => a.internal)) continue;
    const flags = readSysFlags(name);
    if (flags !== undefined && ((flags & IFF_UP) === 0 || (flags & IFF_LOOPBACK) !== 0 || (flags & IFF_MULTICAST) === 0)) continue;
    const link: Link = { name, ipv4: [], ipv6: [] };
    for (const a of addrs) {
      const prefixLength = Number(a.cidr?.split('/')[1] ?? (a.family === 'IPv4' ? 32 : 128));
      if (a.family === 'IPv4') link.ipv4.push({ address: a.address, prefixLength });
      else if (opts.ipv6) {
        link.ipv6.push({ address: a.address, prefixLength });
        if (a.scopeid) link.index = a.scopeid;
      }
    }
    if (link.ipv4.length > 0 || link.ipv6.length > 0) links.push(link);
  }
  return links.sort((a, b) => a.name.localeCompare(b.name));
}

/** A stable text form of a link list, to detect changes between polls. */
export function linksSignature(links: readonly Link[]): string {
  return JSON.stringify(
    links.map((l) => [l.name, l.ipv4.map((a) => `${a.address}/${a.prefixLength}`).sort(), l.ipv6.map((a) => `${a.address}/${a.prefixLength}`).sort()]),
  );
}

/** The link an on-link source address belongs to, or undefined (§11: drop it). */
export function linkForSource(source: string, links: readonly Link[]): string | undefined {
  const { address, zone } = splitZone(source);
  const v4 = parseIPv4(address);
  if (v4) {
    for (const l of links) {
      for (const a of l.ipv4) {
        const net = parseIPv4(a.address);
        if (net && prefixContains(net, a.prefixLength, v4)) return l.name;
      }
    }
    return undefined;
  }
  const v6 = parseIPv6(address);
  if (!v6) return undefined;
  if (isIPv6LinkLocal(v6)) {
    const withV6 = links.filter((l) => l.ipv6.length > 0);
    if (zone !== undefined) {
      const byName = withV6.find((l) => l.name === zone || (l.index !== undefined && String(l.index) === zone));
      return byName?.name;
    }
    return withV6.length === 1 ? withV6[0]!.name : undefined;
  }
  for (const l of links) {
    for (const a of l.ipv6) {
      const net = parseIPv6(a.address);
      if (net && !isIPv6LinkLocal(net) && prefixContains(net, a.prefixLength, v6)) return l.name;
    }
  }
  return undefined;
}

/** Is `source` one of our own addresses (our multicast looped back)? */
export function isOwnAddress(source: string, links: readonly Link[]): boolean {
  const { address } = splitZone(source);
  const v4 = parseIPv4(address);
  const v6 = v4 ? undefined : parseIPv6(address);
  for (const l of links) {
    for (const a of [...l.ipv4, ...l.ipv6]) {
      const { address: own } = splitZone(a.address);
      if (v4) {
        const o = parseIPv4(own);
        if (o && o.every((b, i) => b === v4[i])) return true;
      } else if (v6) {
        const o = parseIPv6(own);
        if (o && o.every((b, i) => b === v6[i])) return true;
      }
    }
  }
  return false;
}
