/**
 * Where an outbound call to a peer's API server connects (docs/design.md §9). The apiUrl names a
 * host; the connection goes to one address of that host that passed the address policy, while the
 * host name stays in the URL for TLS verification and SNI.
 *
 * The address comes from the resolver that knows the name: the SearchDomain's DNS server when
 * discovery recorded what it resolved (a private zone that the system resolver may not know),
 * otherwise the system resolver. Every address the name resolves to is checked, and the call goes
 * to the checked address, never to a second resolution, so a DNS answer that changes between the
 * check and the call (rebinding) cannot redirect it.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { forbiddenHost, type AddressPolicy } from './addressPolicy.js';
import { urlHost } from './hosts.js';

export type LookupAll = (host: string) => Promise<string[]>;

export const systemLookup: LookupAll = async (host) => (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

/** What a DNS server said about a host (ForeignCluster status.dnsAddresses, written by DNS discovery). */
export interface KnownAddresses {
  host: string;
  addresses: readonly string[];
  /** The server that answered, `host:port`. */
  server: string;
}

/** The first address a name resolved to, when every one passes the policy; else the first refused. Pure. */
export function chooseAddress(addresses: readonly string[], policy: AddressPolicy): { ok: true; address: string } | { ok: false; address: string; problem: string } | undefined {
  for (const address of addresses) {
    const problem = forbiddenHost(address, policy);
    if (problem) return { ok: false, address, problem };
  }
  return addresses[0] === undefined ? undefined : { ok: true, address: addresses[0] };
}

/** A lookup that answers `known`'s addresses for its host, and asks `fallback` for any other name. */
export function lookupWith(known: KnownAddresses | undefined, fallback: LookupAll = systemLookup): LookupAll {
  if (!known || known.addresses.length === 0) return fallback;
  return async (host) => (sameName(known.host, host) ? [...known.addresses] : fallback(host));
}

export type PeerTarget =
  /**
   * `address` is absent when the URL's host is an address itself. `alternatives`: the host's
   * other addresses, checked too, in the resolver's order, for a caller to try when `address`
   * does not answer (an HA control plane behind several A records); absent when there are none.
   */
  | { ok: true; address?: string; via?: string; alternatives?: string[] }
  | { ok: false; reason: 'ForbiddenAddress' | 'Unresolvable'; message: string };

const sameName = (a: string, b: string) => a.toLowerCase().replace(/\.$/, '') === b.toLowerCase().replace(/\.$/, '');

/**
 * The address to connect to for `apiUrl` (whose scheme, host and port the caller has checked):
 * none for an address in the URL (checked here too), else from `known` when it is about the URL's
 * host, otherwise from `lookupAll` (the system resolver).
 */
export async function resolvePeerTarget(apiUrl: string, policy: AddressPolicy, opts: { known?: KnownAddresses | undefined; lookupAll?: LookupAll } = {}): Promise<PeerTarget> {
  const host = urlHost(apiUrl);
  if (isIP(host)) {
    // the caller checked the URL already; checked again so that no caller can skip it
    const problem = forbiddenHost(host, policy);
    return problem ? { ok: false, reason: 'ForbiddenAddress', message: `${apiUrl} points at ${problem}; refusing to connect to it` } : { ok: true };
  }
  const known = opts.known && sameName(opts.known.host, host) && opts.known.addresses.length > 0 ? opts.known : undefined;
  const via = known ? `DNS server ${known.server}` : 'the system resolver';
  let addresses: readonly string[];
  if (known) addresses = known.addresses;
  else {
    try {
      addresses = await (opts.lookupAll ?? systemLookup)(host);
    } catch (e) {
      const code = (e as { code?: string }).code ?? (e as Error).message;
      return {
        ok: false,
        reason: 'Unresolvable',
        message: `cannot resolve ${host} of ${apiUrl} with ${via} (${code}); if only a DNS server of yours knows this name, list the cluster in a SearchDomain it serves (ClusterConfig discoveryConfig.dnsServer), or use an address in apiUrl`,
      };
    }
  }
  const choice = chooseAddress(addresses, policy);
  if (!choice) return { ok: false, reason: 'Unresolvable', message: `${host} of ${apiUrl} resolves to no address (${via})` };
  if (!choice.ok) {
    return { ok: false, reason: 'ForbiddenAddress', message: `${host} of ${apiUrl} resolves (${via}) to ${choice.address}, ${choice.problem}; refusing to connect to it` };
  }
  const alternatives = [...new Set(addresses)].filter((a) => a !== choice.address);
  return { ok: true, address: choice.address, via, ...(alternatives.length ? { alternatives } : {}) };
}
