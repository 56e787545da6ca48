/**
 * The foreign side of peering (docs/design.md §5, steps 5-6). For each PeeringRequest the
 * webhook admitted: move the credential into a Secret owned by the request, verify the
 * requester's identity by calling back its API server with that credential, apply the
 * acceptPolicy (or a person's `kubepeer peer accept|reject`), then keep the requester's
 * Advertisement fresh (the heartbeat). A 401 from the requester means it unpeered: we drop the
 * request and its Secret.
 */
import { Annotations, Labels, MANAGED_BY, Names } from '../../api/constants.js';
import { GVR, apiVersionOf, type ForeignCluster, type PeeringRequest, type PeeringRequestPhase } from '../../api/crds.js';
import { ApiError, Core, isAlreadyExists, isConflict, isNotFound, resourcePath, type KubeClient } from '../../k8s/rest.js';
import { Controller } from '../../k8s/controller.js';
import { setCondition, type ConditionInput } from '../../k8s/conditions.js';
import type { AgentContext } from '../../agent/context.js';
import { PeeringError } from '../errors.js';
import { buildTokenKubeconfig, parseTokenKubeconfig, type TokenKubeconfig } from '../kubeconfig.js';
import { applyForeignClusterStatus } from '../../k8s/foreignClusterStatus.js';
import { computeOffer } from './resources.js';
import { readRequesterClusterID, requesterClient, resolveCallbackAddress } from './requesterClient.js';
import { renewPeerToken, tokenRenewalDue } from './tokenRenewal.js';

const MANAGER = 'kubepeer-incoming';
const DENIED_RETENTION_MS = 60_000;
export const peerCredentialSecret = (clusterID: string) => `liqo-peer-${clusterID}`;

type Secret = { metadata: { name: string }; data?: Record<string, string> };

export function peeringRequestController(ctx: AgentContext): Controller {
  const { client, informers } = ctx;
  const prPath = (name: string, sub?: string) => resourcePath(GVR.peeringRequest, { name, subresource: sub });
  /** Last known resourceVersion of each Advertisement we keep on a peer (saves a GET per heartbeat). */
  const advVersions = new Map<string, string>();
  const clients = new Map<string, { key: string; client: KubeClient }>();
  /** First 401 seen per requester: one 401 may be an API server that just restarted. */
  const unauthorizedSince = new Map<string, number>();

  const fcFor = (id: string) => informers.foreignClusters.list().find((f) => f.spec.clusterID === id && !f.metadata.deletionTimestamp);

  function peerClient(id: string, apiUrl: string, kc: TokenKubeconfig, pinnedAddress: string | undefined): KubeClient {
    const key = `${apiUrl}|${pinnedAddress ?? ''}|${kc.token.slice(-16)}`;
    const cached = clients.get(id);
    if (cached?.key === key) return cached.client;
    cached?.client.close();
    const c = requesterClient(apiUrl, kc, pinnedAddress);
    clients.set(id, { key, client: c });
    return c;
  }

  async function setPRStatus(pr: PeeringRequest, phase: PeeringRequestPhase, reason: string, message: string, conds: ConditionInput[] = []) {
    let list = pr.status?.conditions ?? [];
    for (const c of conds) list = setCondition(list, c, pr.metadata.generation, ctx.now());
    const same = pr.status?.phase === phase && pr.status?.reason === reason && pr.status?.message === message && list === (pr.status?.conditions ?? []);
    if (same) return;
    await client.mergePatch(prPath(pr.metadata.name, 'status'), { status: { phase, reason, message, conditions: list } });
    if (pr.status?.phase !== phase) void ctx.events.record(pr, phase === 'Denied' ? 'Warning' : 'Normal', `Peering${phase}`, message);
  }

  /** Tells the requester, in its own namespace, what happened to its request (best effort). */
  async function tell(peer: KubeClient, namespace: string, reason: 'PeeringPending' | 'PeeringDenied' | 'PeeringAccepted', message: string) {
    const now = ctx.now().toISOString().replace(/\.\d{3}Z$/, 'Z');
    try {
      await peer.create(resourcePath(Core.events, { namespace }), {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { generateName: `${Names.remoteCredentialPrefix}${ctx.clusterID}.`, namespace },
        involvedObject: { apiVersion: 'v1', kind: 'ServiceAccount', name: `${Names.remoteCredentialPrefix}${ctx.clusterID}`, namespace },
        type: reason === 'PeeringDenied' ? 'Warning' : 'Normal',
        reason,
        message: `${ctx.clusterName} (${ctx.clusterID}): ${message}`.slice(0, 1000),
        source: { component: 'kubepeer-agent', host: ctx.clusterID },
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      });
    } catch (e) {
      ctx.log.debug({ err: (e as Error).message, reason }, 'could not notify the requester');
    }
  }

  async function ensureIncomingForeignCluster(pr: PeeringRequest): Promise<ForeignCluster | undefined> {
    const existing = fcFor(pr.spec.clusterID);
    if (existing) return existing;
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
    return undefined; // the informer will bring it; the next reconcile sets its status
  }

  async function setIncoming(id: string, phase: 'None' | 'Pending' | 'Established' | 'Denied', reason: string, message: string) {
    const fc = fcFor(id);
    if (!fc) return;
    const prev = fc.status?.incoming;
    await applyForeignClusterStatus(ctx, fc, MANAGER, {
      incoming: { phase, reason, message, lastTransitionTime: prev?.phase === phase && prev.lastTransitionTime ? prev.lastTransitionTime : ctx.now().toISOString().replace(/\.\d{3}Z$/, 'Z') },
    });
    if (prev?.phase !== phase && (prev?.phase || phase !== 'None')) void ctx.events.record(fc, phase === 'Denied' ? 'Warning' : 'Normal', `Incoming${phase}`, message);
  }

  async function forget(id: string) {
    clients.get(id)?.client.close();
    clients.delete(id);
    advVersions.delete(id);
    await setIncoming(id, 'None', 'NoRequest', 'no PeeringRequest from this cluster');
    const fc = fcFor(id);
    // An IncomingPeering-only ForeignCluster has no reason to exist without a request.
    if (fc && fc.spec.discoveryType === 'IncomingPeering' && !fc.spec.join && (fc.status?.outgoing?.phase ?? 'None') === 'None') {
      await client.delete(resourcePath(GVR.foreignCluster, { name: fc.metadata.name }));
    }
  }

  async function deny(pr: PeeringRequest, reason: string, message: string, peer?: KubeClient) {
    await setPRStatus(pr, 'Denied', reason, message, [{ type: 'Accepted', status: 'False', reason, message }]);
    if (peer) await tell(peer, pr.spec.namespace, 'PeeringDenied', message);
    await setIncoming(pr.spec.clusterID, 'Denied', reason, message);
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
        resources: computeOffer(informers.nodes.list(), informers.pods.list(), cfg.resourceSharingPercentage),
        labels: { 'liqo.io/remote-cluster-name': ctx.clusterName.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 63) },
        heartbeat: ctx.now().toISOString().replace(/\.\d{3}Z$/, 'Z'),
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
    throw new PeeringError('AdvertisementConflict', 'could not write the Advertisement after 3 attempts (concurrent writers?)', 'PeeringAccepted');
  }

  const reconcile = async (name: string) => {
    const pr = informers.peeringRequests.get(name);
    if (!pr) {
      await forget(name);
      return;
    }
    const id = pr.spec.clusterID;
    if (pr.metadata.deletionTimestamp) return;
    if (name !== id || id === ctx.clusterID) {
      await deny(pr, 'InvalidRequest', name !== id ? `PeeringRequest name ${name} does not match its clusterID ${id}` : 'a cluster never peers with itself');
      return;
    }

    // 1. The credential moves into a Secret we own (through the request), then leaves the request.
    const secretName = peerCredentialSecret(id);
    if (pr.spec.kubeconfig) {
      const secretBody = {
        apiVersion: 'v1',
        kind: 'Secret',
        type: 'Opaque',
        metadata: {
          name: secretName,
          namespace: ctx.namespace,
          labels: { [Labels.clusterID]: id, [Labels.managedBy]: MANAGED_BY },
          ownerReferences: [{ apiVersion: apiVersionOf(GVR.peeringRequest), kind: 'PeeringRequest', name, uid: pr.metadata.uid!, blockOwnerDeletion: false }],
        },
        data: { kubeconfig: Buffer.from(pr.spec.kubeconfig).toString('base64') },
      };
      try {
        await client.create(resourcePath(Core.secrets, { namespace: ctx.namespace }), secretBody);
      } catch (e) {
        if (!isAlreadyExists(e)) throw e;
        // A Secret left by an earlier request of the same cluster (the garbage collector has not
        // removed it yet): take it over whole, owner included, or GC would delete the new credential.
        const old = await client.get<{ metadata: { resourceVersion: string } }>(resourcePath(Core.secrets, { namespace: ctx.namespace, name: secretName }));
        await client.replace(resourcePath(Core.secrets, { namespace: ctx.namespace, name: secretName }), { ...secretBody, metadata: { ...secretBody.metadata, resourceVersion: old.metadata.resourceVersion } });
      }
      await client.mergePatch(prPath(name), { spec: { kubeconfig: null } });
      return;
    }
    const secret = (informers.secrets.get(`${ctx.namespace}/${secretName}`) as Secret | undefined) ?? (await client.getOrNull<Secret>(resourcePath(Core.secrets, { namespace: ctx.namespace, name: secretName })));
    if (!secret?.data?.kubeconfig) {
      await deny(pr, 'NoCredential', 'the request carries no credential (kubeconfig); the requester must send a new PeeringRequest');
      return { requeueAfterMs: DENIED_RETENTION_MS };
    }
    let kc: TokenKubeconfig;
    try {
      kc = parseTokenKubeconfig(Buffer.from(secret.data.kubeconfig, 'base64').toString('utf8'));
    } catch (e) {
      await deny(pr, 'InvalidCredential', `the credential is unusable: ${(e as Error).message}`);
      return { requeueAfterMs: DENIED_RETENTION_MS };
    }
    const known = fcFor(id);
    const apiUrl = known?.spec.discoveryType !== 'IncomingPeering' && known?.spec.apiUrl ? known.spec.apiUrl : pr.spec.apiUrl;

    // Denied requests are kept a minute for people to see, then dropped so the requester may retry.
    if (pr.status?.phase === 'Denied') {
      const at = Date.parse(pr.status.conditions?.find((c) => c.type === 'Accepted')?.lastTransitionTime ?? '') || Date.now();
      if (Date.now() - at >= DENIED_RETENTION_MS) {
        await client.delete(prPath(name));
        return;
      }
      return { requeueAfterMs: DENIED_RETENTION_MS - (Date.now() - at) + 100 };
    }

    let peer: KubeClient;
    let pinned: string | undefined;
    try {
      pinned = await resolveCallbackAddress(apiUrl, ctx.apiUrl);
      peer = peerClient(id, apiUrl, kc, pinned);
    } catch (e) {
      if (!(e instanceof PeeringError)) throw e;
      if (e.reason === 'RequesterUnreachable') {
        // a name that does not resolve (yet): retried with backoff, not a refusal
        if (pr.status?.phase !== 'Accepted') await setPRStatus(pr, 'Pending', e.reason, e.message, [{ type: 'IdentityVerified', status: 'Unknown', reason: e.reason, message: e.message }]);
        throw e;
      }
      await deny(pr, e.reason, e.message);
      return { requeueAfterMs: DENIED_RETENTION_MS };
    }

    if (pr.status?.phase !== 'Accepted') {
      // 2. identity: the requester proves it is `id` by reading its own cluster-id with its token.
      if (pr.status?.conditions?.find((c) => c.type === 'IdentityVerified')?.status !== 'True') {
        let remoteID: string | undefined;
        try {
          remoteID = await readRequesterClusterID(peer, pr.spec.namespace);
        } catch (e) {
          if (!(e instanceof PeeringError)) throw e;
          if (e.reason === 'RequesterUnreachable') {
            await setPRStatus(pr, 'Pending', e.reason, e.message, [{ type: 'IdentityVerified', status: 'Unknown', reason: e.reason, message: e.message }]);
            throw e;
          }
          await deny(pr, e.reason, e.message);
          return { requeueAfterMs: DENIED_RETENTION_MS };
        }
        if (remoteID !== id) {
          await deny(pr, 'IdentityMismatch', `the API server at ${apiUrl} says it is cluster "${remoteID ?? '(none)'}", but the request claims ${id}`, peer);
          return { requeueAfterMs: DENIED_RETENTION_MS };
        }
        await setPRStatus(pr, 'Pending', 'IdentityVerified', `identity of ${id} verified at ${apiUrl}`, [
          { type: 'IdentityVerified', status: 'True', reason: 'Verified', message: `${apiUrl} answered with its own credential as ${id}` },
        ]);
        return;
      }

      // 3. policy
      const policy = ctx.config().peeringConfig.acceptPolicy;
      const approval = pr.metadata.annotations?.[Annotations.approval];
      const knownPeer = !!known && known.spec.discoveryType !== 'IncomingPeering';
      const who = `${pr.spec.clusterName || id}`;
      if (approval === 'rejected' || policy === 'RejectAll') {
        await deny(pr, approval === 'rejected' ? 'RejectedByAdmin' : 'RejectAll', approval === 'rejected' ? 'an administrator rejected the request' : 'this cluster does not accept peering requests (acceptPolicy: RejectAll)', peer);
        return { requeueAfterMs: DENIED_RETENTION_MS };
      }
      const accept = approval === 'accepted' || policy === 'AcceptAll' || (policy === 'AutoAcceptKnown' && knownPeer);
      if (!accept) {
        const why =
          policy === 'Manual'
            ? `waiting for approval (acceptPolicy: Manual): run "kubepeer peer accept ${id}" on ${ctx.clusterName}`
            : `${who} is not a known peer (no ForeignCluster from LAN, DNS or a person): run "kubepeer peer accept ${id}" on ${ctx.clusterName} to accept`;
        const wasPending = pr.status?.reason === 'WaitingForApproval';
        await setPRStatus(pr, 'Pending', 'WaitingForApproval', why, [{ type: 'Accepted', status: 'Unknown', reason: 'WaitingForApproval', message: why }]);
        if (!wasPending) await tell(peer, pr.spec.namespace, 'PeeringPending', why);
        await ensureIncomingForeignCluster(pr);
        await setIncoming(id, 'Pending', 'WaitingForApproval', why);
        return;
      }
      await ensureIncomingForeignCluster(pr);
      await setPRStatus(pr, 'Accepted', approval === 'accepted' ? 'ApprovedByAdmin' : policy, `accepted (${approval === 'accepted' ? 'approved by an administrator' : `acceptPolicy ${policy}`})`, [
        { type: 'Accepted', status: 'True', reason: approval === 'accepted' ? 'ApprovedByAdmin' : policy, message: 'request accepted' },
      ]);
      await tell(peer, pr.spec.namespace, 'PeeringAccepted', 'request accepted; advertising resources');
    }

    // 4. Advertisement + heartbeat, renewing the credential first when 80 % of its lifetime is gone
    if (tokenRenewalDue(kc.token, Date.now())) {
      try {
        const renewed = await renewPeerToken(peer, kc.token);
        const kubeconfig = buildTokenKubeconfig({ ...kc, token: renewed.token });
        await client.mergePatch(resourcePath(Core.secrets, { namespace: ctx.namespace, name: secretName }), { data: { kubeconfig: Buffer.from(kubeconfig).toString('base64') } });
        ctx.log.info({ clusterID: id, expires: renewed.expirationTimestamp }, 'renewed the credential of the requester');
        void ctx.events.record(pr, 'Normal', 'CredentialRenewed', `renewed our credential on ${apiUrl} before it expired; the new one expires at ${renewed.expirationTimestamp}`);
        kc = { ...kc, token: renewed.token };
        peer = peerClient(id, apiUrl, kc, pinned);
      } catch (e) {
        // Not fatal while the current token lasts (e.g. a credential from an older requester
        // agent that has not granted the renewal yet); the heartbeat goes on, retried next time.
        ctx.log.warn({ clusterID: id, err: (e as Error).message }, 'could not renew the credential of the requester; it stays valid until it expires');
      }
    }
    try {
      await writeAdvertisement(peer, id);
    } catch (e) {
      if (e instanceof ApiError && e.code === 401) {
        // 401: the token is no longer valid, i.e. the requester revoked it (unpeered). A freshly
        // restarted API server can answer 401 for a moment too, so it must hold for 2 s.
        const since = unauthorizedSince.get(id);
        if (since === undefined || Date.now() - since < 2000) {
          if (since === undefined) unauthorizedSince.set(id, Date.now());
          await setIncoming(id, 'Pending', 'CredentialRejected', `${apiUrl} rejected our credential (401); checking again before ending the peering`);
          return { requeueAfterMs: 2100 };
        }
        unauthorizedSince.delete(id);
        ctx.log.info({ clusterID: id, code: e.code }, 'requester revoked our credential; removing its PeeringRequest');
        void ctx.events.record(pr, 'Normal', 'PeerRevoked', `${id} revoked the credential (HTTP 401): the peering ended on its side`);
        await client.delete(prPath(name));
        return;
      }
      if (e instanceof ApiError && e.code === 403) {
        // 403 is authorization, not revocation: RBAC may be warming up after a restart, or
        // someone changed the role. Keep trying and say so.
        await setIncoming(id, 'Pending', 'AdvertisementForbidden', `${apiUrl} refused our Advertisement (403 ${e.message}); retrying`);
        throw e;
      }
      const msg = e instanceof ApiError ? `${e.reason}: ${e.message}` : (e as Error).message;
      await setIncoming(id, 'Pending', 'AdvertisementFailed', `cannot write our Advertisement on ${apiUrl}: ${msg}`);
      throw e;
    }
    unauthorizedSince.delete(id);
    await setIncoming(id, 'Established', 'Advertising', `advertising resources to ${pr.spec.clusterName || id} every ${ctx.config().peeringConfig.heartbeatSeconds}s`);
    return { requeueAfterMs: ctx.config().peeringConfig.heartbeatSeconds * 1000 };
  };

  const controller = new Controller({ name: 'peeringrequest', reconcile, workers: 4 });
  controller.watch(informers.peeringRequests);
  // A known ForeignCluster appearing may unblock an AutoAcceptKnown request.
  controller.watch(informers.foreignClusters, (fc) => (informers.peeringRequests.get(fc.spec.clusterID) ? fc.spec.clusterID : null));
  // acceptPolicy and heartbeat changes apply to every request at once.
  controller.watch(informers.clusterConfigs, () => informers.peeringRequests.list().map((p) => p.metadata.name));
  controller.watch(informers.secrets, (s) => (s.metadata?.name?.startsWith('liqo-peer-') ? s.metadata.name.slice('liqo-peer-'.length) : null));
  return controller;
}
