/**
 * Which DNS server to ask. ClusterConfig.spec.discoveryConfig.dnsServer is `host:port`, `[v6]:port`,
 * a bare host (port 53) or '' for the system resolver. Parsing is pure; finding the system resolver
 * and resolving a host name to an address are the only I/O, in resolveDnsServer.
 */
import { promises as dnsPromises, getServers } from 'node:dns';
import { readFile } from 'node:fs/promises';
import { isIP, isIPv4, isIPv6 } from 'node:net';
import { DnsDiscoveryError } from './errors.js';

export const DEFAULT_DNS_PORT = 53;

export type DnsServerSpec = { kind: 'system' } | { kind: 'explicit'; host: string; port: number };

/** A server ready to be queried: `host` is always an IP literal. */
export interface DnsServerAddress {
  host: string;
  port: number;
  family: 4 | 6;
}

const HOSTNAME = /^(?=.{1,253}\.?$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

function invalid(spec: string, why: string): DnsDiscoveryError {
  return new DnsDiscoveryError(
    'InvalidServer',
    `DNS server "${spec}" is not valid: ${why}; expected host:port, [ipv6]:port, a bare host (port 53) or "" for the system resolver`,
  );
}

function parsePort(spec: string, text: string): number {
  if (!/^[0-9]{1,5}$/.test(text)) throw invalid(spec, `port "${text}" is not a number`);
  const port = Number(text);
  if (port < 1 || port > 65535) throw invalid(spec, `port ${port} is outside 1-65535`);
  return port;
}

function checkHost(spec: string, host: string): string {
  if (isIP(host)) return host;
  if (HOSTNAME.test(host) && !/^[0-9.]+$/.test(host)) return host;
  throw invalid(spec, `"${host}" is neither an IP address nor a host name`);
}

/** Parses the ClusterConfig form. Throws DnsDiscoveryError('InvalidServer') with the reason. */
export function parseDnsServer(spec: string): DnsServerSpec {
  const s = spec.trim();
  if (s === '') return { kind: 'system' };
  if (s.startsWith('[')) {
    const m = /^\[([^\]]+)\](?::([^:]*))?$/.exec(s);
    if (!m) throw invalid(spec, 'a bracketed IPv6 address must look like [2001:2::1]:53');
    const host = m[1]!;
    if (!isIPv6(host)) throw invalid(spec, `"${host}" is not an IPv6 address`);
    return { kind: 'explicit', host, port: m[2] === undefined ? DEFAULT_DNS_PORT : parsePort(spec, m[2]) };
  }
  // Two or more colons without brackets can only be a bare IPv6 address (no port possible).
  if ((s.match(/:/g) ?? []).length >= 2) {
    if (!isIPv6(s)) throw invalid(spec, 'an IPv6 address with a port needs brackets: [2001:2::1]:53');
    return { kind: 'explicit', host: s, port: DEFAULT_DNS_PORT };
  }
  const colon = s.indexOf(':');
  if (colon === -1) return { kind: 'explicit', host: checkHost(spec, s), port: DEFAULT_DNS_PORT };
  const host = s.slice(0, colon);
  if (host === '') throw invalid(spec, 'the host is missing');
  return { kind: 'explicit', host: checkHost(spec, host), port: parsePort(spec, s.slice(colon + 1)) };
}

/** The first `nameserver` of a resolv.conf text, or undefined. */
export function firstNameserver(resolvConf: string): string | undefined {
  for (const line of resolvConf.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (m) return m[1];
  }
  return undefined;
}

/** `127.0.0.1:53`, `[::1]:53`: how servers appear in messages. */
export function formatServer(server: { host: string; port: number }): string {
  return isIPv6(server.host) ? `[${server.host}]:${server.port}` : `${server.host}:${server.port}`;
}

export interface ResolveServerOptions {
  resolvConfPath?: string;
}

/**
 * Turns a spec into an address to send to. '' means the first nameserver of /etc/resolv.conf, else
 * the first of Node's dns.getServers(); a host name is looked up once with the system resolver.
 */
export async function resolveDnsServer(spec: string, options: ResolveServerOptions = {}): Promise<DnsServerAddress> {
  const parsed = parseDnsServer(spec);
  let host: string;
  let port: number;
  if (parsed.kind === 'system') {
    const fromFile = await readFile(options.resolvConfPath ?? '/etc/resolv.conf', 'utf8').then(firstNameserver, () => undefined);
    const chosen = fromFile ?? getServers()[0];
    if (!chosen) {
      throw new DnsDiscoveryError('InvalidServer', 'no DNS server configured: /etc/resolv.conf has no nameserver; set ClusterConfig dnsServer');
    }
    // resolv.conf holds bare addresses (possibly with a %zone); getServers() may add [..]:port.
    const sys = isIP(chosen.split('%')[0]!) ? { kind: 'explicit' as const, host: chosen, port: DEFAULT_DNS_PORT } : parseDnsServer(chosen);
    if (sys.kind !== 'explicit') throw invalid(chosen, 'the system resolver entry is empty');
    host = sys.host;
    port = sys.port;
  } else {
    host = parsed.host;
    port = parsed.port;
  }
  if (!isIP(host.split('%')[0]!)) {
    try {
      const found = await dnsPromises.lookup(host);
      host = found.address;
    } catch (err) {
      throw new DnsDiscoveryError('InvalidServer', `DNS server host "${host}" could not be resolved: ${(err as Error).message}`);
    }
  }
  return { host, port, family: isIPv4(host) ? 4 : 6 };
}
