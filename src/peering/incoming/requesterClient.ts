/**
 * Calls back a requester's API server with the credential it handed us. Refuses addresses that
 * would turn the callback against ourselves (our own API server) or the link-local range (cloud
 * metadata services): a PeeringRequest must not make us probe our own internals.
 */
import { isIP } from 'node:net';
import { ApiError, Core, KubeClient, resourcePath } from '../../k8s/rest.js';
import { Names } from '../../api/constants.js';
import { PeeringError } from '../errors.js';
import type { TokenKubeconfig } from '../kubeconfig.js';

function sameEndpoint(a: string, b: string): boolean {
  try {
    const x = new URL(a);
    const y = new URL(b);
    return x.hostname === y.hostname && (x.port || '443') === (y.port || '443');
  } catch {
    return false;
  }
}

export function checkCallbackURL(apiUrl: string, ownApiUrl: string): void {
  let u: URL;
  try {
    u = new URL(apiUrl);
  } catch {
    throw new PeeringError('InvalidApiUrl', `apiUrl "${apiUrl}" is not a URL`, 'IdentityVerified');
  }
  if (u.protocol !== 'https:') throw new PeeringError('InvalidApiUrl', `apiUrl ${apiUrl} is not https`, 'IdentityVerified');
  if (sameEndpoint(apiUrl, ownApiUrl)) {
    throw new PeeringError('SelfReferentialApiUrl', `apiUrl ${apiUrl} is this cluster's own API server: a requester must give its own address`, 'IdentityVerified');
  }
  const host = u.hostname.replace(/^\[|\]$/g, '');
  if ((isIP(host) === 4 && host.startsWith('169.254.')) || (isIP(host) === 6 && /^fe[89ab]/i.test(host)) || host === '0.0.0.0' || host === '::') {
    throw new PeeringError('ForbiddenApiUrl', `apiUrl ${apiUrl} points at a link-local or unspecified address; refusing to call it`, 'IdentityVerified');
  }
}

export function requesterClient(apiUrl: string, kc: TokenKubeconfig): KubeClient {
  return KubeClient.withToken(apiUrl, kc.token, kc.caPem);
}

/** Reads the requester's cluster ID with its own credential; the identity proof of step 5. */
export async function readRequesterClusterID(client: KubeClient, namespace: string): Promise<string | undefined> {
  try {
    const cm = await client.get<{ data?: Record<string, string> }>(resourcePath(Core.configMaps, { namespace, name: Names.clusterIDConfigMap }), { timeoutMs: 8000 });
    return cm.data?.[Names.clusterIDKey];
  } catch (e) {
    if (e instanceof ApiError && (e.code === 401 || e.code === 403)) {
      throw new PeeringError('CredentialRejected', `the requester's API server rejected the credential it sent us (${e.code} ${e.reason}): ${e.message}`, 'IdentityVerified');
    }
    if (e instanceof ApiError && e.code === 0) {
      throw new PeeringError('RequesterUnreachable', `cannot reach the requester at ${client.server}: ${e.message}`, 'IdentityVerified');
    }
    throw e;
  }
}
