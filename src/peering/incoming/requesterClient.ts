/**
 * Calls back a requester's API server with the credential it handed us. Refuses addresses that
 * would turn the callback against ourselves (our own API server) or the link-local range (cloud
 * metadata services): a PeeringRequest must not make us probe our own internals. A host name is
 * resolved and every address it gives is checked; the connection then goes to the checked address
 * (pinned), so a DNS answer that changes between the check and the call (rebinding) cannot redirect it.
 */
import { isIP } from 'node:net';
import { forbiddenHost, policyFor, type AddressPolicy } from '../../net/addressPolicy.js';
import { ApiError, BadResponseReasons, Core, KubeClient, resourcePath } from '../../k8s/rest.js';
import { Names } from '../../api/constants.js';
import { PeeringError } from '../errors.js';
import type { TokenKubeconfig } from '../kubeconfig.js';
import { urlHost } from '../../net/hosts.js';
import { sameApiServer } from '../../mdns/index.js';
import { systemLookup, type LookupAll } from '../../net/peerAddress.js';

function checkCallbackURL(apiUrl: string, ownApiUrl: string, policy: AddressPolicy): URL {
  let u: URL;
  try {
    u = new URL(apiUrl);
  } catch {
    throw new PeeringError('InvalidApiUrl', `apiUrl "${apiUrl}" is not a URL`);
  }
  if (u.protocol !== 'https:') throw new PeeringError('InvalidApiUrl', `apiUrl ${apiUrl} is not https`);
  // scheme, host and port only: a requester must not choose the path or query we call with its credential
  if (u.username || u.password || u.pathname !== '/' || u.search || u.hash) {
    throw new PeeringError('InvalidApiUrl', `apiUrl ${apiUrl} must be scheme, host and port only (no user info, path, query or fragment)`);
  }
  if (sameApiServer(apiUrl, ownApiUrl)) {
    throw new PeeringError('SelfReferentialApiUrl', `apiUrl ${apiUrl} is this cluster's own API server: a requester must give its own address`);
  }
  // the same rule as the admission webhook's, for a URL a person put in a ForeignCluster too
  const bad = forbiddenHost(u.hostname, policy);
  if (bad) throw new PeeringError('ForbiddenApiUrl', `apiUrl ${apiUrl} points at ${bad}; refusing to call it`);
  return u;
}

export type { LookupAll } from '../../net/peerAddress.js';

/**
 * The URL's own checks (https, not our API server, no forbidden host), then for a host name: the
 * address to connect to, after checking every address the name resolves to (undefined for a
 * literal address: nothing to resolve).
 */
export async function resolveCallbackAddress(apiUrl: string, ownApiUrl: string, lookupAll: LookupAll = systemLookup, allowedCIDRs?: readonly string[]): Promise<string | undefined> {
  const policy = policyFor(ownApiUrl, allowedCIDRs);
  const u = checkCallbackURL(apiUrl, ownApiUrl, policy);
  const host = urlHost(u);
  if (isIP(host)) return undefined;
  let addresses: string[];
  try {
    addresses = await lookupAll(host);
  } catch (e) {
    throw new PeeringError('RequesterUnresolvable', `cannot resolve ${host} of apiUrl ${apiUrl}: ${(e as { code?: string }).code ?? (e as Error).message}`);
  }
  if (addresses.length === 0) throw new PeeringError('RequesterUnresolvable', `${host} of apiUrl ${apiUrl} resolves to no address`);
  for (const a of addresses) {
    const bad = forbiddenHost(a, policy);
    if (bad) throw new PeeringError('ForbiddenApiUrl', `apiUrl ${apiUrl}: ${host} resolves to ${a}, ${bad}; refusing to call it`);
  }
  const own = new URL(ownApiUrl);
  const ownHost = urlHost(own);
  if ((u.port || '443') === (own.port || '443')) {
    const ownAddresses = isIP(ownHost) ? [ownHost] : await lookupAll(ownHost).catch(() => [] as string[]);
    const same = addresses.find((a) => ownAddresses.includes(a));
    if (same) throw new PeeringError('SelfReferentialApiUrl', `apiUrl ${apiUrl} resolves to ${same}, this cluster's own API server: a requester must give its own address`);
  }
  return addresses[0];
}

/** A client for the requester's API server; `pinnedAddress` (from resolveCallbackAddress) is where it connects. */
export function requesterClient(apiUrl: string, kc: TokenKubeconfig, pinnedAddress?: string): KubeClient {
  // A requester is a party we do not control: its answers are read under RemotePartyLimits.
  return KubeClient.remoteParty(apiUrl, kc.token, kc.caPem, pinnedAddress);
}

/** Reads the requester's cluster ID with its own credential; the identity proof of step 5. */
export async function readRequesterClusterID(client: KubeClient, namespace: string): Promise<string | undefined> {
  try {
    const cm = await client.get<{ data?: Record<string, string> }>(resourcePath(Core.configMaps, { namespace, name: Names.clusterIDConfigMap }), { timeoutMs: 8000 });
    return cm.data?.[Names.clusterIDKey];
  } catch (e) {
    if (e instanceof ApiError && (e.code === 401 || e.code === 403)) {
      throw new PeeringError('CredentialRejected', `the requester's API server rejected the credential it sent us (${e.code} ${e.reason}): ${e.message}`);
    }
    if (e instanceof ApiError && e.code === 0 && (BadResponseReasons as readonly string[]).includes(e.reason)) {
      throw new PeeringError('RequesterUnreachable', `the requester at ${client.server} gave an answer kubepeer does not read (${e.reason}): ${e.message}`);
    }
    if (e instanceof ApiError && e.code === 0) {
      throw new PeeringError('RequesterUnreachable', `cannot reach the requester at ${client.server}: ${e.message}`);
    }
    throw e;
  }
}
