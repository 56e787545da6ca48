/**
 * The requester side of peering (docs/design.md §5, steps 1-3, and unpeer). For each
 * ForeignCluster with `join: true`: establish trust in the peer, mint the peer's credential,
 * create PeeringRequest `<our-id>` on the peer as the anonymous user, and follow the outcome
 * (Events the peer writes into our namespace, then its Advertisement and our virtual node) in
 * status.outgoing and conditions. `join: false` or deletion unpeers without calling the peer.
 */
import { Counter, Gauge, Histogram } from 'prom-client';
import { Annotations, Labels, Names } from '../../api/constants.js';
import { GVR, apiVersionOf, type Advertisement, type ForeignCluster, type PeeringPhase } from '../../api/crds.js';
import { ApiError, Core, isAlreadyExists, resourcePath } from '../../k8s/rest.js';
import { Controller } from '../../k8s/controller.js';
import type { Informer } from '../../k8s/informer.js';
import type { ConditionInput } from '../../k8s/conditions.js';
import { getCondition } from '../../k8s/conditions.js';
import type { AgentContext } from '../../agent/context.js';
import { registry } from '../../observability/metrics.js';
import { evaluateTrust, type TrustOutcome } from '../../trust/trustEvaluator.js';
import { PeeringError } from '../errors.js';
import { buildTokenKubeconfig } from '../kubeconfig.js';
import { applyForeignClusterStatus } from '../../k8s/foreignClusterStatus.js';
import { credentialName, ensureCredential, revokeCredential } from './credentials.js';
import type { PeerEvents } from './peerEvents.js';

export const FINALIZER = 'discovery.liqo.io/peering-cleanup';
const MANAGER = 'kubepeer-outgoing';
const RESEND_MS = 30_000;
const TRUST_RECHECK_MS = 5 * 60_000;
const DENIED_RETRY_MS = 5 * 60_000;

/** The cache the peers gauge counts, set by the controller (the gauge is computed when scraped). */
let countedForeignClusters: Informer<ForeignCluster> | undefined;
new Gauge({
  name: 'kubepeer_peers',
  help: 'ForeignClusters by peering phase, per direction.',
  labelNames: ['direction', 'phase'],
  registers: [registry],
  collect() {
    this.reset();
    for (const f of countedForeignClusters?.list() ?? []) {
      this.inc({ direction: 'outgoing', phase: f.status?.outgoing?.phase ?? 'None' });
      this.inc({ direction: 'incoming', phase: f.status?.incoming?.phase ?? 'None' });
    }
  },
});
const handshakeDuration = new Histogram({
  name: 'kubepeer_handshake_duration_seconds',
  help: 'From join: true to the peering being Established (virtual node Ready).',
  buckets: [0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120],
  registers: [registry],
});
const requestsSent = new Counter({ name: 'kubepeer_peering_requests_sent_total', help: 'PeeringRequests created on peers, by result.', labelNames: ['result'], registers: [registry] });

export function foreignClusterController(ctx: AgentContext, peerEvents: PeerEvents): Controller {
  const { client, informers } = ctx;
  /** Trust outcomes by FC uid+generation: an optimisation only (a restart re-evaluates). */
  const trustCache = new Map<string, { at: number; outcome: TrustOutcome }>();
  const fcPath = (name: string, subresource?: string) => resourcePath(GVR.foreignCluster, { name, subresource });

  const status = (fc: ForeignCluster, phase: PeeringPhase, reason: string, message: string, trust?: TrustOutcome | null, conds: ConditionInput[] = []) => {
    const prev = fc.status?.outgoing;
    const outgoing = {
      phase,
      reason,
      message,
      lastTransitionTime: prev?.phase === phase && prev.lastTransitionTime ? prev.lastTransitionTime : ctx.now().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    };
    const fields = {
      outgoing,
      ...(trust ? { trustMode: trust.mode, caFingerprint: trust.fingerprint, apiUrl: fc.spec.apiUrl } : trust === null ? {} : {}),
    };
    if (prev?.phase !== phase) {
      void ctx.events.record(fc, phase === 'Denied' ? 'Warning' : 'Normal', `Outgoing${phase}`, message);
    }
    return applyForeignClusterStatus(ctx, fc, MANAGER, fields, conds, ctx.now());
  };

  async function unpeer(fc: ForeignCluster): Promise<boolean> {
    const id = fc.spec.clusterID;
    const adv = informers.advertisements.get(`${Names.advertisementPrefix}${id}`);
    const hasCredential = !!informers.secrets.get(`${ctx.namespace}/${credentialName(id)}`);
    const phase = fc.status?.outgoing?.phase ?? 'None';
    if (!adv && !hasCredential && phase === 'None') return false;
    if (phase !== 'Disconnecting' && phase !== 'None') await status(fc, 'Disconnecting', 'Unpeering', 'removing the virtual node, the Advertisement and the credential of this peer', null);
    // Order matters: the credential first, so the peer cannot write again while we clean up.
    await revokeCredential(ctx, id);
    await client.delete(resourcePath(GVR.advertisement, { name: `${Names.advertisementPrefix}${id}` }));
    await client.delete(resourcePath(Core.nodes, { name: `${Names.virtualNodePrefix}${id}` }));
    trustCache.delete(fc.metadata.uid ?? '');
    void ctx.events.record(fc, 'Normal', 'Unpeered', `peering with ${id} ended: virtual node, Advertisement and credential removed`);
    return true;
  }

  async function trustOf(fc: ForeignCluster): Promise<TrustOutcome> {
    const key = `${fc.metadata.uid}/${fc.metadata.generation}/${fc.metadata.annotations?.[Annotations.trustResetAt] ?? ''}/${fc.status?.caFingerprint ?? ''}`;
    const cached = trustCache.get(fc.metadata.uid ?? '');
    if (cached && cached.at > Date.now() - TRUST_RECHECK_MS && (cached as { key?: string }).key === key) return cached.outcome;
    const outcome = await evaluateTrust(ctx, fc);
    trustCache.set(fc.metadata.uid ?? '', Object.assign({ at: Date.now(), outcome }, { key }));
    return outcome;
  }

  async function sendPeeringRequest(fc: ForeignCluster, trust: TrustOutcome, token: string): Promise<'created' | 'exists'> {
    const remote = ctxRemoteClient(fc, trust);
    try {
      await remote.create(resourcePath(GVR.peeringRequest), {
        apiVersion: apiVersionOf(GVR.peeringRequest),
        kind: 'PeeringRequest',
        metadata: { name: ctx.clusterID },
        spec: {
          clusterID: ctx.clusterID,
          clusterName: ctx.clusterName,
          namespace: ctx.namespace,
          apiUrl: ctx.apiUrl,
          kubeconfig: buildTokenKubeconfig({ server: ctx.apiUrl, caPem: ctx.caPem, token }, ctx.clusterName.replace(/[^a-z0-9-]/gi, '-').toLowerCase() || 'peer'),
        },
      });
      requestsSent.inc({ result: 'created' });
      return 'created';
    } catch (e) {
      if (isAlreadyExists(e)) {
        requestsSent.inc({ result: 'exists' });
        return 'exists';
      }
      requestsSent.inc({ result: 'error' });
      if (e instanceof ApiError && e.code === 0) {
        throw new PeeringError('PeerUnreachable', `${fc.spec.clusterName || fc.spec.clusterID} unreachable at ${fc.spec.apiUrl}: ${e.message}; retrying with backoff`, 'PeeringRequested');
      }
      if (e instanceof ApiError && (e.code === 400 || e.code === 403 || e.code === 422 || e.code === 429)) {
        // The peer's admission webhook or RBAC refused the request: its message is the reason.
        throw new PeeringError('RequestRefused', `${fc.spec.clusterName || fc.spec.clusterID} refused the PeeringRequest: ${e.message}`, 'PeeringRequested', e.code === 429 ? 60_000 : undefined);
      }
      if (e instanceof ApiError && /failed calling webhook/.test(e.message)) {
        throw new PeeringError('PeerAgentDown', `${fc.spec.clusterName || fc.spec.clusterID} cannot admit requests right now (its kubepeer agent's webhook does not answer); retrying with backoff`, 'PeeringRequested');
      }
      if (e instanceof ApiError) {
        throw new PeeringError('RequestFailed', `creating the PeeringRequest on ${fc.spec.apiUrl} failed: ${e.code} ${e.reason}: ${e.message}`, 'PeeringRequested');
      }
      throw e;
    } finally {
      remote.close();
    }
  }

  function ctxRemoteClient(fc: ForeignCluster, trust: TrustOutcome) {
    return clientForPeer(fc.spec.apiUrl!, trust.ca);
  }

  const reconcile = async (name: string) => {
    const fc = informers.foreignClusters.get(name);
    if (!fc) return;
    const id = fc.spec.clusterID;

    if (fc.metadata.deletionTimestamp) {
      await unpeer(fc);
      const finalizers = (fc.metadata.finalizers ?? []).filter((f) => f !== FINALIZER);
      if (finalizers.length !== (fc.metadata.finalizers ?? []).length) {
        await client.jsonPatch(fcPath(name), [
          { op: 'test', path: '/metadata/resourceVersion', value: fc.metadata.resourceVersion },
          { op: 'replace', path: '/metadata/finalizers', value: finalizers },
        ]);
      }
      return;
    }

    // Every ForeignCluster carries the cluster-id label, hand-made ones included, so that lookups
    // by ID find one peer, never two.
    if (fc.metadata.labels?.[Labels.clusterID] !== id || fc.metadata.labels?.[Labels.discoveryType] !== fc.spec.discoveryType) {
      await client.mergePatch(fcPath(name), { metadata: { labels: { [Labels.clusterID]: id, [Labels.discoveryType]: fc.spec.discoveryType } } });
      return;
    }

    if (id === ctx.clusterID) {
      await status(fc, 'None', 'OwnCluster', 'this ForeignCluster names our own cluster ID; a cluster never peers with itself', null, [
        { type: 'PeeringRequested', status: 'False', reason: 'OwnCluster', message: 'this is our own cluster ID: nothing to peer with' },
      ]);
      return;
    }

    const twins = informers.foreignClusters.list().filter((o) => o.spec.clusterID === id && o.metadata.name !== name && !o.metadata.deletionTimestamp);
    const older = twins.find((o) => (o.metadata.creationTimestamp ?? '') < (fc.metadata.creationTimestamp ?? '') || ((o.metadata.creationTimestamp ?? '') === (fc.metadata.creationTimestamp ?? '') && o.metadata.name < name));
    if (older) {
      await status(fc, 'None', 'DuplicateClusterID', `ForeignCluster ${older.metadata.name} already stands for cluster ${id}; this one is ignored (delete one of them)`, null, [
        { type: 'PeeringRequested', status: 'False', reason: 'DuplicateClusterID', message: `ForeignCluster ${older.metadata.name} already stands for cluster ${id}; delete one of the two` },
      ]);
      return;
    }

    if (!fc.spec.join) {
      await unpeer(fc);
      await status(fc, 'None', 'JoinDisabled', 'join is false: not peering (set spec.join: true to peer)', null, [
        { type: 'PeeringRequested', status: 'False', reason: 'JoinDisabled', message: 'spec.join is false' },
        { type: 'PeeringAccepted', status: 'False', reason: 'JoinDisabled', message: 'spec.join is false' },
      ]);
      return;
    }

    if (!fc.metadata.finalizers?.includes(FINALIZER)) {
      await client.jsonPatch(fcPath(name), [
        { op: 'test', path: '/metadata/resourceVersion', value: fc.metadata.resourceVersion },
        { op: fc.metadata.finalizers ? 'add' : 'add', path: fc.metadata.finalizers ? '/metadata/finalizers/-' : '/metadata/finalizers', value: fc.metadata.finalizers ? FINALIZER : [FINALIZER] },
      ]);
      return;
    }

    // 1. trust
    let trust: TrustOutcome;
    try {
      trust = await trustOf(fc);
    } catch (e) {
      if (!(e instanceof PeeringError)) throw e;
      const reachable = e.condition === 'Reachable';
      await status(fc, fc.status?.outgoing?.phase === 'Established' && e.reason !== 'CAChanged' ? 'Established' : 'Pending', e.reason, e.message, null, [
        reachable
          ? { type: 'Reachable', status: 'False', reason: e.reason, message: e.message }
          : { type: 'TrustEstablished', status: 'False', reason: e.reason, message: e.message },
        ...(reachable ? [] : [{ type: 'Reachable', status: 'True' as const, reason: 'Reachable', message: `${fc.spec.apiUrl} answered` }]),
      ]);
      void ctx.events.record(fc, 'Warning', e.reason, e.message);
      if (e.reason === 'CAChanged') {
        // A changed CA stops the peering until a person re-approves it.
        await revokeCredential(ctx, id);
        return { requeueAfterMs: TRUST_RECHECK_MS };
      }
      throw e;
    }
    if (!fc.spec.clusterName && trust.remoteName) {
      // A hand-made ForeignCluster has no name; the peer's own (verified) one is the best guess.
      await client.mergePatch(fcPath(name), { spec: { clusterName: trust.remoteName } });
    }
    const trustConds: ConditionInput[] = [
      { type: 'TrustEstablished', status: 'True', reason: trust.reason, message: trust.message },
      { type: 'Reachable', status: 'True', reason: 'Reachable', message: `${fc.spec.apiUrl} answered over verified TLS` },
    ];

    // 2. credential
    const token = await ensureCredential(ctx, fc);

    // 3. outcome so far: Advertisement + virtual node, or the peer's Events
    const adv = informers.advertisements.get(`${Names.advertisementPrefix}${id}`) as Advertisement | undefined;
    const node = informers.nodes.get(`${Names.virtualNodePrefix}${id}`);
    const nodeReady = ((node?.status as { conditions?: Array<{ type: string; status: string }> } | undefined)?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
    if (adv && adv.status?.phase === 'Accepted') {
      if (fc.status?.outgoing?.phase !== 'Established' && nodeReady) {
        const since = Date.parse(getCondition(fc.status?.conditions, 'PeeringRequested')?.lastTransitionTime ?? '') || Date.now();
        handshakeDuration.observe(Math.max(0, (Date.now() - since) / 1000));
      }
      await status(
        fc,
        nodeReady ? 'Established' : 'Pending',
        nodeReady ? 'VirtualNodeReady' : 'WaitingForVirtualNode',
        nodeReady ? `peered: virtual node ${Names.virtualNodePrefix}${id} is Ready` : `Advertisement received; waiting for virtual node ${Names.virtualNodePrefix}${id} to be Ready`,
        trust,
        [...trustConds, { type: 'PeeringRequested', status: 'True', reason: 'RequestSent', message: 'PeeringRequest created on the peer' }, { type: 'PeeringAccepted', status: 'True', reason: 'Accepted', message: `${fc.spec.clusterName || id} accepted and advertises resources` }],
      );
      return { requeueAfterMs: TRUST_RECHECK_MS };
    }

    const answer = peerEvents.latest(id);
    const requested = getCondition(fc.status?.conditions, 'PeeringRequested');
    const requestedAt = requested?.status === 'True' ? Date.parse(requested.lastTransitionTime) : 0;
    if (answer?.reason === 'PeeringDenied' && Date.parse(answer.at) >= requestedAt - 1000 && requestedAt > 0) {
      await status(fc, 'Denied', 'Denied', `${fc.spec.clusterName || id} denied the peering: ${answer.message}`, trust, [
        ...trustConds,
        { type: 'PeeringAccepted', status: 'False', reason: 'Denied', message: answer.message },
      ]);
      if (Date.now() - Date.parse(answer.at) < DENIED_RETRY_MS) return { requeueAfterMs: DENIED_RETRY_MS };
    }

    // 4. (re)send the PeeringRequest: on first join, and periodically while nothing has come back
    //    (the peer may have dropped it; creating it again is harmless: AlreadyExists).
    if (!requestedAt || Date.now() - Date.parse(fc.status?.outgoing?.lastTransitionTime ?? '0') > RESEND_MS || fc.status?.outgoing?.phase !== 'Pending') {
      let result: 'created' | 'exists';
      try {
        result = await sendPeeringRequest(fc, trust, token);
      } catch (e) {
        if (!(e instanceof PeeringError)) throw e;
        await status(fc, 'Pending', e.reason, e.message, trust, [...trustConds, { type: 'PeeringRequested', status: 'False', reason: e.reason, message: e.message }]);
        void ctx.events.record(fc, 'Warning', e.reason, e.message);
        throw e;
      }
      const waiting = answer?.reason === 'PeeringPending' ? `waiting for approval on ${fc.spec.clusterName || id}: ${answer.message}` : `PeeringRequest ${result === 'created' ? 'sent to' : 'already on'} ${fc.spec.clusterName || id}; waiting for it to verify and accept`;
      await status(fc, 'Pending', answer?.reason === 'PeeringPending' ? 'WaitingForApproval' : 'RequestSent', waiting, trust, [
        ...trustConds,
        { type: 'PeeringRequested', status: 'True', reason: 'RequestSent', message: `PeeringRequest ${ctx.clusterID} created on ${fc.spec.apiUrl}` },
        { type: 'PeeringAccepted', status: 'Unknown', reason: answer?.reason === 'PeeringPending' ? 'WaitingForApproval' : 'WaitingForPeer', message: waiting },
      ]);
    } else if (answer?.reason === 'PeeringPending') {
      const waiting = `waiting for approval on ${fc.spec.clusterName || id}: ${answer.message}`;
      await status(fc, 'Pending', 'WaitingForApproval', waiting, trust, [...trustConds, { type: 'PeeringAccepted', status: 'Unknown', reason: 'WaitingForApproval', message: waiting }]);
    }
    return { requeueAfterMs: RESEND_MS / 2 };
  };

  const controller = new Controller({
    name: 'foreigncluster',
    reconcile,
    workers: 4,
  });
  const byClusterID = (id: string | undefined) => (id ? informers.foreignClusters.list().filter((f) => f.spec.clusterID === id).map((f) => f.metadata.name) : []);
  controller.watch(informers.foreignClusters);
  controller.watch(informers.advertisements, (a) => byClusterID((a as Advertisement).spec?.clusterID));
  controller.watch(informers.nodes, (n) => byClusterID(n.metadata?.labels?.[Labels.remoteClusterID]));
  controller.watch(informers.secrets, (s) => (s.metadata?.labels?.[Labels.remoteCredential] ? byClusterID(s.metadata.labels[Labels.clusterID]) : null));
  controller.watch(peerEvents, byClusterID);
  countedForeignClusters = informers.foreignClusters;
  return controller;
}

import { KubeClient } from '../../k8s/rest.js';

/** Anonymous client for a peer's API server, verified with the CA trust settled on. */
export function clientForPeer(apiUrl: string, ca: string[]): KubeClient {
  return KubeClient.anonymous(apiUrl, ca.join('\n'));
}
