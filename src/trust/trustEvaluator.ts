/**
 * Decides how far we trust a peer's API server (docs/design.md §5) and which CA to verify it
 * with from then on:
 *  - Trusted: its certificate chains to the system roots or to trusted-ca-certificates;
 *  - Pinned:  it chains to a CA whose fingerprint matches spec.caFingerprint (or a DNS `ca=` pin);
 *  - Untrusted + allowUntrustedCA: the CA published in its liqo-cluster-info is read once without
 *    TLS verification, its cluster ID checked, and its fingerprint pinned (trust on first use);
 *    a later change stops the peering (CAChanged) until `kubepeer trust reset`.
 * Every mode also checks that the server's liqo-cluster-info names the cluster ID we expect.
 */
import { Labels, Names } from '../api/constants.js';
import type { ForeignCluster, TrustMode } from '../api/crds.js';
import { ApiError, Core, isAlreadyExists, resourcePath } from '../k8s/rest.js';
import type { AgentContext } from '../agent/context.js';
import { PeeringError } from '../peering/errors.js';
import { apiUrlProblem } from '../peering/apiUrl.js';
import { certificateFingerprint } from './pki.js';
import { configuredCAs, trustedCABundle } from './trustStore.js';
import { clusterInfoProof, joinedByPeeringSecret, peeringSecret, proofMatches } from './peeringSecret.js';
import { fetchClusterInfo, probeTLS, type RemoteClusterInfo } from './tlsProbe.js';
import { policyFor } from '../net/addressPolicy.js';
import { resolvePeerTarget } from '../net/peerAddress.js';

export interface TrustOutcome {
  mode: TrustMode;
  /** Fingerprint of the CA we verify the peer with (absent for system-root trust). */
  fingerprint?: string;
  /** CA bundle to verify the peer's API server with. */
  ca: string[];
  message: string;
  reason: 'TrustedCA' | 'PinnedCA' | 'TrustOnFirstUse' | 'PinnedOnFirstUse';
  /** The cluster name the peer publishes in liqo-cluster-info, when read. */
  remoteName?: string;
  /**
   * The checked address of the apiUrl host that the evaluation connected to, and later calls must
   * connect to (src/net/peerAddress.ts); absent when the apiUrl names an address.
   */
  address?: string;
}

export const remoteCAConfigMapName = (clusterID: string) => `liqo-remote-ca-${clusterID}`;

function fp(pem?: string): string | undefined {
  try {
    return pem ? certificateFingerprint(pem) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * How far we trust the peer (below), and for a LAN peer joined only because it proved the peering
 * secret, that it proves it again over TLS verified with the CA we are about to use: a stranger
 * that copied a proof cannot present a certificate of that CA, and nothing is sent before this.
 */
export async function evaluateTrust(ctx: AgentContext, fc: ForeignCluster): Promise<TrustOutcome> {
  const outcome = await evaluateCA(ctx, fc);
  if (!joinedByPeeringSecret(fc) || outcome.mode === 'Trusted') return outcome;
  const secret = peeringSecret(ctx);
  const url = fc.spec.apiUrl!;
  const notProven = (why: string) =>
    new PeeringError(
      'PeeringSecretNotProven',
      `${url} was joined because it proved our LAN peering secret, but ${why}; nothing was sent. If this cluster belongs with us, connect it: kubepeer peer join ${fc.metadata.name}`,
    );
  if (!secret) throw notProven('this cluster has no peering secret now (discoveryConfig.peeringSecretRef)');
  const info = await readClusterInfo(url, fc.spec.namespace || 'liqo', { ca: outcome.ca.join('\n'), address: outcome.address });
  if (info.clusterID !== fc.spec.clusterID || !outcome.fingerprint) throw notProven('its liqo-cluster-info does not name it');
  if (!proofMatches(clusterInfoProof(secret, fc.spec.clusterID, outcome.fingerprint), info.peeringProof)) {
    throw notProven(`its liqo-cluster-info, read over TLS verified with CA ${outcome.fingerprint}, carries no valid proof of it`);
  }
  return { ...outcome, message: `${outcome.message}; proved the LAN peering secret` };
}

/**
 * The peer's liqo-cluster-info, its failures as trust failures the ForeignCluster's status shows
 * (a person sees "not published" or "unavailable", not the last probe's outcome): the ConfigMap
 * refused or missing (kubepeer not installed there, or its agent never ran) is NoClusterInfo; an
 * API server that is restarting or answers garbage is Unreachable. Both are retried with backoff.
 */
async function readClusterInfo(url: string, namespace: string, tls: Parameters<typeof fetchClusterInfo>[2]): Promise<RemoteClusterInfo> {
  try {
    return await fetchClusterInfo(url, namespace, tls);
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    if (e.code === 403 || e.code === 404) throw new PeeringError('NoClusterInfo', `${e.message}; retrying with backoff`);
    throw new PeeringError('Unreachable', `${url} did not answer for ${namespace}/${Names.clusterInfoConfigMap}: ${e.message}; retrying with backoff`);
  }
}

/** The peer's API server as the evaluation calls it: at the checked address, TLS still naming the URL's host. */
interface PeerEndpoint {
  /** The URL, and the address it is reached at, for messages. */
  where: string;
  probe(ca: string[]): ReturnType<typeof probeTLS>;
  clusterInfo(namespace: string, tls: { ca?: string; insecure?: boolean }): Promise<RemoteClusterInfo>;
}

async function evaluateCA(ctx: AgentContext, fc: ForeignCluster): Promise<TrustOutcome> {
  const url = fc.spec.apiUrl;
  if (!url) throw new PeeringError('MissingApiUrl', 'spec.apiUrl is empty: set the https URL of the remote API server');
  // typed by a person or written by discovery: the one outbound address policy all the same
  const allowedCIDRs = ctx.config().peeringConfig.allowedPeerCIDRs;
  const problem = apiUrlProblem(url, 'spec.apiUrl', ctx.apiUrl, allowedCIDRs);
  if (problem) throw new PeeringError('ForbiddenAddress', `${problem}; nothing was sent`);
  // A host name is resolved once (by the DNS server that listed the cluster, when discovery
  // recorded its answer) and every address checked; every call then goes to the checked address.
  const target = await resolvePeerTarget(url, policyFor(ctx.apiUrl, allowedCIDRs), { known: fc.status?.dnsAddresses });
  if (!target.ok) throw new PeeringError(target.reason === 'ForbiddenAddress' ? 'ForbiddenAddress' : 'Unreachable', `${target.message}; nothing was sent`);
  // Each checked address in turn, until one answers: the first that does is where every later
  // call goes. Only an unreachable address passes to the next; any other verdict is final.
  const addresses = target.address ? [target.address, ...(target.alternatives ?? [])] : [undefined];
  for (let i = 0; ; i++) {
    const address = addresses[i];
    const peer: PeerEndpoint = {
      where: address ? `${url} (at ${address}, from ${target.via}${addresses.length > 1 ? `, address ${i + 1} of ${addresses.length}` : ''})` : url,
      probe: (ca) => probeTLS(url, ca, 5000, address),
      clusterInfo: (namespace, tls) => readClusterInfo(url, namespace, { ...tls, address }),
    };
    try {
      const outcome = await evaluateCAAt(ctx, fc, peer);
      return address ? { ...outcome, address } : outcome;
    } catch (e) {
      if (!(e instanceof PeeringError && e.reason === 'Unreachable') || i === addresses.length - 1) throw e;
    }
  }
}

async function evaluateCAAt(ctx: AgentContext, fc: ForeignCluster, peer: PeerEndpoint): Promise<TrustOutcome> {
  const url = fc.spec.apiUrl!;
  const id = fc.spec.clusterID;
  const ns = fc.spec.namespace || 'liqo';
  const pin = fc.spec.caFingerprint;
  const store = trustedCABundle(ctx);

  const first = await peer.probe(store);
  if (!first.ok && !first.certificateProblem) {
    throw new PeeringError('Unreachable', `${peer.where} is not reachable: ${first.message ?? first.code}. Check the address and that the API server is up; retrying with backoff.`);
  }

  const checkIdentity = (info: RemoteClusterInfo, how: string) => {
    if (info.clusterID !== id) {
      throw new PeeringError(
        'IdentityMismatch',
        `${url} says it is cluster "${info.clusterID ?? '(none)'}", not ${id} (${how}). Two API servers may claim one ID, or apiUrl points at the wrong cluster; nothing was sent.`,
      );
    }
  };

  if (first.ok) {
    const info = await peer.clusterInfo(ns, { ca: store.join('\n') });
    checkIdentity(info, 'read over TLS verified by a trusted CA');
    if (!pin) return { mode: 'Trusted', ca: store, reason: 'TrustedCA', message: `the certificate of ${url} chains to a trusted CA`, remoteName: info.clusterName };
    const candidates = [...configuredCAs(ctx).cas.map((c) => c.pem), ...(info.caPem ? [info.caPem] : [])];
    const match = candidates.find((pem) => fp(pem) === pin);
    if (match && (await peer.probe([match])).ok) {
      return { mode: 'Pinned', fingerprint: pin, ca: [match], reason: 'PinnedCA', message: `the certificate of ${url} chains to the pinned CA ${pin}`, remoteName: info.clusterName };
    }
    throw new PeeringError('CAPinMismatch', `${url} is trusted, but its CA does not match the pin ${pin} in spec.caFingerprint; fix or remove the pin`);
  }

  // Not verifiable with the trust store: only a pin or trust-on-first-use can help. In trusted mode
  // only a person's pin: no trust on first use, and no pin remembered from one.
  if (ctx.config().peeringConfig.trustMode === 'Trusted' && !pin) {
    throw new PeeringError(
      'TrustedModeUntrustedCA',
      `this cluster is in trusted mode (peeringConfig.trustMode: Trusted) and the certificate of ${url} is not signed by a CA in the trust store (${first.code}), so no request was sent. Add its CA: kubepeer trust add-ca <ca.crt>, or pin it by hand in spec.caFingerprint.`,
    );
  }
  const stored = ctx.informers.configMaps.get(`${ctx.namespace}/${remoteCAConfigMapName(id)}`)?.data?.['ca.crt'];
  const pinned = pin ?? fc.status?.caFingerprint;

  if (pinned && stored && fp(stored) === pinned) {
    const probe = await peer.probe([stored]);
    if (probe.ok) return pinnedOutcome(pin ? 'Pinned' : 'Untrusted', pinned, stored, url);
    // The pinned CA no longer validates the server: has the CA changed under us?
    const info = await peer.clusterInfo(ns, { insecure: true });
    const now = fp(info.caPem);
    if (now && now !== pinned) {
      throw new PeeringError(
        'CAChanged',
        `the CA of ${url} changed from ${pinned} to ${now}; peering is stopped. If the change is legitimate, re-approve it with: kubepeer trust reset ${id}`,
      );
    }
    throw new PeeringError('CertificateInvalid', `${url} presents a certificate its pinned CA does not validate (${probe.code}: ${probe.message})`);
  }

  if (pinned && !pin && !stored) {
    // TOFU pin recorded but the stored CA was deleted: re-read and compare, never re-pin silently.
    const info = await peer.clusterInfo(ns, { insecure: true });
    const now = fp(info.caPem);
    if (now !== pinned) {
      throw new PeeringError('CAChanged', `the CA of ${url} (${now ?? 'none'}) is not the one pinned on first use (${pinned}); re-approve with: kubepeer trust reset ${id}`);
    }
    checkIdentity(info, 'liqo-cluster-info');
    await storeRemoteCA(ctx, fc, info.caPem!);
    return pinnedOutcome('Untrusted', pinned, info.caPem!, url);
  }

  if (pin || fc.spec.allowUntrustedCA) {
    const info = await peer.clusterInfo(ns, { insecure: true });
    checkIdentity(info, 'liqo-cluster-info read without TLS verification');
    const got = fp(info.caPem);
    if (!got) throw new PeeringError('NoPublishedCA', `${url} publishes no valid ca.crt in ${ns}/${Names.clusterInfoConfigMap}`);
    if (pin && got !== pin) {
      throw new PeeringError('CAPinMismatch', `the CA published by ${url} has fingerprint ${got}, not the pinned ${pin}; nothing was sent`);
    }
    const probe = await peer.probe([info.caPem!]);
    if (!probe.ok) {
      throw new PeeringError('CertificateInvalid', `${url} presents a certificate that its own published CA does not validate (${probe.code}: ${probe.message})`);
    }
    await storeRemoteCA(ctx, fc, info.caPem!);
    return { ...pinnedOutcome(pin ? 'Pinned' : 'Untrusted', got, info.caPem!, url), remoteName: info.clusterName };
  }

  throw new PeeringError(
    'UntrustedCA',
    `the certificate of ${url} is not signed by a trusted CA (${first.code}), so no request was sent. Either add its CA: kubepeer trust add-ca <ca.crt> (the CA is in ConfigMap ${ns}/${Names.clusterInfoConfigMap} on that cluster), or set spec.allowUntrustedCA: true to pin it on first use.`,
  );
}

function pinnedOutcome(mode: TrustMode, fingerprint: string, pem: string, url: string): TrustOutcome {
  return mode === 'Pinned'
    ? { mode, fingerprint, ca: [pem], reason: 'PinnedCA', message: `the certificate of ${url} chains to the pinned CA ${fingerprint}` }
    : { mode, fingerprint, ca: [pem], reason: 'PinnedOnFirstUse', message: `untrusted CA pinned on first use: ${fingerprint}` };
}

/** Keeps the pinned CA next to the ForeignCluster (owned by it), so later reads are verified. */
async function storeRemoteCA(ctx: AgentContext, fc: ForeignCluster, pem: string): Promise<void> {
  const name = remoteCAConfigMapName(fc.spec.clusterID);
  const body = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name,
      namespace: ctx.namespace,
      labels: { [Labels.clusterID]: fc.spec.clusterID, [Labels.managedBy]: 'kubepeer' },
      ownerReferences: [{ apiVersion: fc.apiVersion ?? 'discovery.liqo.io/v1', kind: 'ForeignCluster', name: fc.metadata.name, uid: fc.metadata.uid!, blockOwnerDeletion: false }],
    },
    data: { 'ca.crt': pem },
  };
  try {
    await ctx.client.create(resourcePath(Core.configMaps, { namespace: ctx.namespace }), body);
  } catch (e) {
    if (!isAlreadyExists(e)) throw e;
    await ctx.client.replace(resourcePath(Core.configMaps, { namespace: ctx.namespace, name }), body);
  }
}
