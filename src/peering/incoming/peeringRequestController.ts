/**
 * The foreign side of peering (docs/design.md §5, steps 5-6). For each PeeringRequest the
 * webhook admitted: move the credential into a Secret owned by the request, verify the
 * requester's identity by calling back its API server with that credential, apply the
 * acceptPolicy (or a person's `kubepeer peer accept|reject`), then keep the requester's
 * Advertisement fresh (the heartbeat). A 401 from the requester means it unpeered: we drop the
 * request and its Secret.
 *
 * The decisions are in plan.ts; this file gathers what the plan observes and carries out the
 * actions that only this controller has (the callback, the answer, the Advertisement, renewal).
 */
import { peeringSecret } from '../../trust/peeringSecret.js';
import { configuredCAs } from '../../trust/trustStore.js';
import { Labels, MANAGED_BY, Names } from '../../api/constants.js';
import { GVR, apiVersionOf } from '../../api/crds.js';
import { ApiError, Core, isAlreadyExists, isConflict, isNotFound, resourcePath, type KubeClient } from '../../k8s/rest.js';
import { Controller } from '../../k8s/controller.js';
import { applyPlan, type Handlers } from '../../k8s/executor.js';
import type { AgentContext } from '../../agent/context.js';
import { PeeringError } from '../errors.js';
import { buildTokenKubeconfig, parseTokenKubeconfig } from '../kubeconfig.js';
import { peerAnswerBody, peerAnswerName } from '../outgoing/peerAnswers.js';
import { REQUEST_FINALIZER, planIncoming, peerCredentialSecret, type Answer, type IncomingAction, type IncomingObserved, type RequesterEndpoint } from './plan.js';
import { offerFor } from '../../offloading/provider/offer.js';
import { readRequesterClusterID, requesterClient, resolveCallbackAddress } from './requesterClient.js';
import { lookupForUrl } from '../../discovery/dns/knownAddresses.js';
import { renewPeerToken } from './tokenRenewal.js';
import { candidatesOf } from './candidates.js';
import { isoSeconds } from '../../k8s/time.js';

type Secret = { metadata: { name: string }; data?: Record<string, string> };

export function peeringRequestController(ctx: AgentContext): Controller {
  const { client, informers } = ctx;
  const secretPath = (id: string) => resourcePath(Core.secrets, { namespace: ctx.namespace, name: peerCredentialSecret(id) });
  /** Last known resourceVersion of each Advertisement we keep on a peer (saves a GET per heartbeat). */
  const advVersions = new Map<string, string>();
  const clients = new Map<string, { key: string; client: KubeClient }>();
  /** First 401 seen per requester, for the plan's grace period (the API cannot tell us). */
  const unauthorizedSince = new Map<string, number>();

  const candidates = candidatesOf(ctx);
  const fcFor = (id: string) => informers.foreignClusters.list().find((f) => f.spec.clusterID === id && !f.metadata.deletionTimestamp);

  function observe(name: string): IncomingObserved {
    const request = informers.peeringRequests.get(name);
    const id = request?.spec.clusterID ?? name;
    const fc = fcFor(id);
    const secret = informers.secrets.get(`${ctx.namespace}/${peerCredentialSecret(id)}`) as Secret | undefined;
    const since = unauthorizedSince.get(id);
    const cfg = ctx.config().peeringConfig;
    return {
      now: ctx.now(),
      own: { clusterID: ctx.clusterID, clusterName: ctx.clusterName },
      acceptPolicy: cfg.acceptPolicy,
      ...(peeringSecret(ctx) ? { peeringSecret: peeringSecret(ctx)! } : {}),
      trustedCAFingerprints: configuredCAs(ctx).cas.map((c) => c.fingerprint),
      heartbeatSeconds: cfg.heartbeatSeconds,
      name,
      ...(request ? { request } : {}),
      ...(fc ? { foreignCluster: fc } : {}),
      // Not in the cache yet (just created): the plan asks for a read.
      ...(secret ? { credential: readKubeconfig(secret) } : {}),
      ...(since !== undefined ? { unauthorizedSinceMs: since } : {}),
      ...candidateFor(name, secret),
    };
  }

  /** A newcomer for this name, unless it is the stored request sent again (same credential). */
  function candidateFor(name: string, secret: Secret | undefined): Pick<IncomingObserved, 'candidate'> {
    const c = candidates.get(name);
    if (!c) return {};
    const stored = secret ? readKubeconfig(secret) : null;
    let token: string | undefined;
    try {
      token = parseTokenKubeconfig(c.request.spec.kubeconfig ?? '').token;
    } catch {
      token = undefined;
    }
    if (!token || (stored?.ok && stored.kubeconfig.token === token)) {
      candidates.forget(name, c.atMs);
      return {};
    }
    return { candidate: { ...c, token } };
  }

  function peerClient(peer: RequesterEndpoint): KubeClient {
    const key = `${peer.apiUrl}|${peer.pinnedAddress ?? ''}|${peer.kubeconfig.token.slice(-16)}`;
    const cached = clients.get(peer.clusterID);
    if (cached?.key === key) return cached.client;
    cached?.client.close();
    const c = requesterClient(peer.apiUrl, peer.kubeconfig, peer.pinnedAddress);
    clients.set(peer.clusterID, { key, client: c });
    return c;
  }

  /** A peer we discovered through a SearchDomain is called back at the addresses its DNS server gave. */
  const callbackLookup = (apiUrl: string) => lookupForUrl(informers.foreignClusters.list(), apiUrl);

  const failure = (e: unknown) => {
    if (!(e instanceof PeeringError)) throw e;
    return { ok: false as const, reason: e.reason, message: e.message };
  };

  const handlers: Handlers<IncomingAction, Partial<IncomingObserved>> = {
    storeCredential: async ({ request: pr }) => {
      const id = pr.spec.clusterID;
      const body = {
        apiVersion: 'v1',
        kind: 'Secret',
        type: 'Opaque',
        metadata: {
          name: peerCredentialSecret(id),
          namespace: ctx.namespace,
          labels: { [Labels.clusterID]: id, [Labels.managedBy]: MANAGED_BY },
          ownerReferences: [{ apiVersion: apiVersionOf(GVR.peeringRequest), kind: 'PeeringRequest', name: pr.metadata.name, uid: pr.metadata.uid!, blockOwnerDeletion: false }],
        },
        data: { kubeconfig: Buffer.from(pr.spec.kubeconfig!).toString('base64') },
      };
      try {
        await client.create(resourcePath(Core.secrets, { namespace: ctx.namespace }), body);
      } catch (e) {
        if (!isAlreadyExists(e)) throw e;
        // A Secret left by an earlier request of the same cluster (the garbage collector has not
        // removed it yet): take it over whole, owner included, or GC would delete the new credential.
        const old = await client.get<{ metadata: { resourceVersion: string } }>(secretPath(id));
        await client.replace(secretPath(id), { ...body, metadata: { ...body.metadata, resourceVersion: old.metadata.resourceVersion } });
      }
      // the finalizer with it: from now on we hold a credential to tell the requester if someone else deletes the request
      const finalizers = [...(pr.metadata.finalizers ?? []).filter((f) => f !== REQUEST_FINALIZER), REQUEST_FINALIZER];
      await client.mergePatch(resourcePath(GVR.peeringRequest, { name: pr.metadata.name }), { metadata: { finalizers }, spec: { kubeconfig: null } });
    },
    readCredential: async ({ clusterID }) => {
      const secret = await client.getOrNull<Secret>(secretPath(clusterID));
      return { credential: secret ? readKubeconfig(secret) : null };
    },
    resolveCallback: async ({ apiUrl }) => {
      try {
        const pinnedAddress = await resolveCallbackAddress(apiUrl, ctx.apiUrl, callbackLookup(apiUrl), ctx.config().peeringConfig.allowedPeerCIDRs);
        return { callback: { ok: true, ...(pinnedAddress ? { pinnedAddress } : {}) } };
      } catch (e) {
        return { callback: failure(e) };
      }
    },
    readIdentity: async ({ peer, namespace }) => {
      try {
        const clusterID = await readRequesterClusterID(peerClient(peer), namespace);
        return { identity: { ok: true, ...(clusterID !== undefined ? { clusterID } : {}) } };
      } catch (e) {
        return { identity: failure(e) };
      }
    },
    answer: async ({ peer, namespace, reason, message }) => {
      await tell(peerClient(peer), namespace, reason, message);
    },
    ensureForeignCluster: async ({ request: pr }) => {
      if (fcFor(pr.spec.clusterID)) return;
      try {
        await client.create(resourcePath(GVR.foreignCluster), {
          apiVersion: apiVersionOf(GVR.foreignCluster),
          kind: 'ForeignCluster',
          metadata: { name: pr.spec.clusterID, labels: { [Labels.clusterID]: pr.spec.clusterID, [Labels.discoveryType]: 'IncomingPeering', [Labels.managedBy]: MANAGED_BY } },
          spec: { clusterID: pr.spec.clusterID, clusterName: pr.spec.clusterName, namespace: pr.spec.namespace, apiUrl: pr.spec.apiUrl, discoveryType: 'IncomingPeering', join: false },
        });
      } catch (e) {
        if (!isAlreadyExists(e)) throw e;
      }
      // the informer brings it; the next reconcile sets its status
    },
    renewToken: async ({ peer }) => {
      try {
        return { renewal: { ok: true, ...(await renewPeerToken(peerClient(peer), peer.kubeconfig.token)) } };
      } catch (e) {
        return { renewal: { ok: false, message: (e as Error).message } };
      }
    },
    storeRenewedCredential: async ({ clusterID, kubeconfig }) => {
      await client.mergePatch(secretPath(clusterID), { data: { kubeconfig: Buffer.from(buildTokenKubeconfig(kubeconfig)).toString('base64') } });
    },
    writeAdvertisement: async ({ peer }) => {
      try {
        await writeAdvertisement(peerClient(peer), peer.clusterID);
        return { advertised: { ok: true } };
      } catch (e) {
        if (e instanceof ApiError) return { advertised: { ok: false, code: e.code, status: e.reason, message: e.message } };
        return { advertised: { ok: false, message: (e as Error).message } };
      }
    },
    rememberUnauthorized: async ({ clusterID, atMs }) => {
      unauthorizedSince.set(clusterID, atMs);
    },
    forgetUnauthorized: async ({ clusterID }) => {
      unauthorizedSince.delete(clusterID);
    },
    checkCandidate: async ({ candidate, atMs, apiUrl }) => {
      const name = candidate.metadata.name;
      let peer: KubeClient | undefined;
      try {
        const kubeconfig = parseTokenKubeconfig(candidate.spec.kubeconfig ?? '');
        peer = requesterClient(apiUrl, kubeconfig, await resolveCallbackAddress(apiUrl, ctx.apiUrl, callbackLookup(apiUrl), ctx.config().peeringConfig.allowedPeerCIDRs));
        const clusterID = await readRequesterClusterID(peer, candidate.spec.namespace);
        if (clusterID !== candidate.spec.clusterID) candidates.forget(name, atMs);
        return { candidateCheck: { ok: true, ...(clusterID !== undefined ? { clusterID } : {}) } };
      } catch (e) {
        candidates.forget(name, atMs);
        if (e instanceof PeeringError) return { candidateCheck: { ok: false, reason: e.reason, message: e.message } };
        return { candidateCheck: { ok: false, reason: 'InvalidCredential', message: (e as Error).message } };
      } finally {
        peer?.close();
      }
    },
    supersede: async ({ old, candidate, atMs }) => {
      const name = old.metadata.name;
      ctx.log.info({ clusterID: name }, 'a newer PeeringRequest proved its identity; it replaces the stored one');
      // The old credential goes with the old request (the Secret first: it is the credential).
      await client.delete(secretPath(name));
      await client.delete(resourcePath(GVR.peeringRequest, { name }));
      try {
        await client.create(resourcePath(GVR.peeringRequest), { apiVersion: apiVersionOf(GVR.peeringRequest), kind: 'PeeringRequest', metadata: { name }, spec: candidate.spec });
        candidates.forget(name, atMs);
      } catch (e) {
        // Someone created the name in between (the requester's re-send, or a squatter again): the
        // candidate stays, and the reconcile of whatever now holds the name checks it once more.
        if (!isAlreadyExists(e)) throw e;
      }
    },
    deleteCredential: async ({ clusterID, request }) => {
      // Only the Secret this request owns: a newer request of the same cluster may hold it by now.
      const secret = await client.getOrNull<{ metadata: { uid?: string; ownerReferences?: { uid: string }[] } }>(secretPath(clusterID));
      if (!secret?.metadata.ownerReferences?.some((r) => r.uid === request.metadata.uid)) return;
      await client.delete(secretPath(clusterID), secret.metadata.uid ? { preconditionsUid: secret.metadata.uid } : {});
    },
    forgetRequester: async ({ clusterID }) => {
      clients.get(clusterID)?.client.close();
      clients.delete(clusterID);
      advVersions.delete(clusterID);
    },
  };

  /**
   * Tells the requester what happened to its request (best effort), in ConfigMap
   * `kubepeer-answer-<our-id>` in its namespace: the one object its admission policy lets our
   * credential write, so the requester knows the answer is ours.
   */
  async function tell(peer: KubeClient, namespace: string, reason: Answer, message: string) {
    const body = peerAnswerBody(namespace, ctx.clusterID, reason, `${ctx.clusterName} (${ctx.clusterID}): ${message}`, isoSeconds(ctx.now()));
    try {
      try {
        await peer.create(resourcePath(Core.configMaps, { namespace }), body);
      } catch (e) {
        if (!isAlreadyExists(e)) throw e;
        // an unconditional update: the latest answer replaces the previous one
        await peer.replace(resourcePath(Core.configMaps, { namespace, name: peerAnswerName(ctx.clusterID) }), body);
      }
    } catch (e) {
      ctx.log.debug({ err: (e as Error).message, reason }, 'could not notify the requester');
    }
  }

  async function writeAdvertisement(peer: KubeClient, id: string): Promise<void> {
    const cfg = ctx.config().peeringConfig;
    const name = `${Names.advertisementPrefix}${ctx.clusterID}`;
    const path = resourcePath(GVR.advertisement, { name });
    const body = (rv?: string) => ({
      apiVersion: apiVersionOf(GVR.advertisement),
      kind: 'Advertisement',
      metadata: { name, ...(rv ? { resourceVersion: rv } : {}) },
      spec: {
        clusterID: ctx.clusterID,
        clusterName: ctx.clusterName,
        resources: offerFor(ctx, id),
        labels: { 'liqo.io/remote-cluster-name': ctx.clusterName.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 63) },
        heartbeat: isoSeconds(ctx.now()),
        timeToLive: cfg.heartbeatSeconds * 3,
      },
    });
    for (let attempt = 0; attempt < 3; attempt++) {
      const rv = advVersions.get(id);
      try {
        const res = rv
          ? await peer.replace<{ metadata: { resourceVersion: string } }>(path, body(rv))
          : await peer.create<{ metadata: { resourceVersion: string } }>(resourcePath(GVR.advertisement), body());
        advVersions.set(id, res.metadata.resourceVersion);
        return;
      } catch (e) {
        if (isConflict(e) || isAlreadyExists(e) || isNotFound(e)) {
          // Someone else wrote it, or we have no version yet: read it once and retry.
          const cur = await peer.getOrNull<{ metadata: { resourceVersion: string } }>(path);
          if (cur) advVersions.set(id, cur.metadata.resourceVersion);
          else advVersions.delete(id);
          continue;
        }
        throw e;
      }
    }
    throw new PeeringError('AdvertisementConflict', 'could not write the Advertisement after 3 attempts (concurrent writers?)');
  }

  const reconcile = async (name: string) => applyPlan(ctx, ctx.log.child({ controller: 'peeringrequest', key: name }), observe(name), planIncoming, handlers);

  const controller = new Controller({ name: 'peeringrequest', reconcile, workers: 4 });
  controller.watch(informers.peeringRequests);
  // a newcomer whose create met AlreadyExists
  controller.watch(candidates, (name: string) => (informers.peeringRequests.get(name) ? name : null));
  // A known ForeignCluster appearing may unblock an AutoAcceptKnown request.
  controller.watch(informers.foreignClusters, (fc) => (informers.peeringRequests.get(fc.spec.clusterID) ? fc.spec.clusterID : null));
  // acceptPolicy and heartbeat changes apply to every request at once.
  controller.watch(informers.clusterConfigs, () => informers.peeringRequests.list().map((p) => p.metadata.name));
  controller.watch(informers.secrets, (s) => (s.metadata?.name?.startsWith('liqo-peer-') ? s.metadata.name.slice('liqo-peer-'.length) : null));
  return controller;
}

/** The kubeconfig a credential Secret holds, parsed with the webhook's rules (a crafted one cannot exhaust us here either), or null. */
function readKubeconfig(secret: Secret): NonNullable<IncomingObserved['credential']> | null {
  if (!secret.data?.kubeconfig) return null;
  try {
    return { ok: true, kubeconfig: parseTokenKubeconfig(Buffer.from(secret.data.kubeconfig, 'base64').toString('utf8')) };
  } catch (e) {
    return { ok: false, message: (e as Error).message };
  }
}

