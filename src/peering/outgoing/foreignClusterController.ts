/**
 * The requester side of peering (docs/design.md §5, steps 1-3, and unpeer). For each
 * ForeignCluster with `join: true`: establish trust in the peer, mint the peer's credential,
 * create PeeringRequest `<our-id>` on the peer as the anonymous user, and follow the outcome
 * (the peer's answers, then its Advertisement and our virtual node) in status.outgoing and
 * conditions. `join: false` or deletion unpeers without calling the peer.
 *
 * The decisions are in plan.ts; this file gathers what the plan observes and carries out the
 * actions that only this controller has (trust, credential, the request to the peer).
 */
import { Counter, Gauge, Histogram } from 'prom-client';
import { Annotations, Labels, Names } from '../../api/constants.js';
import { GVR, apiVersionOf, type Advertisement, type ForeignCluster } from '../../api/crds.js';
import { ApiError, KubeClient, isAlreadyExists, resourcePath } from '../../k8s/rest.js';
import { Controller } from '../../k8s/controller.js';
import { applyPlan, type Handlers } from '../../k8s/executor.js';
import type { Informer } from '../../k8s/informer.js';
import type { AgentContext } from '../../agent/context.js';
import { registry } from '../../observability/metrics.js';
import { evaluateTrust } from '../../trust/trustEvaluator.js';
import { ownRequestProof } from '../../trust/peeringSecret.js';
import { PeeringError } from '../errors.js';
import { buildTokenKubeconfig } from '../kubeconfig.js';
import { credentialName, ensureCredential, revokeCredential } from './credentials.js';
import { PeerAnswers } from './peerAnswers.js';
import { planOutgoing, trustKey, type OutgoingAction, type OutgoingObserved, type TrustResult } from './plan.js';

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

type NodeStatus = { conditions?: Array<{ type: string; status: string }> } | undefined;

export function foreignClusterController(ctx: AgentContext): Controller {
  const { informers } = ctx;
  const peerAnswers = new PeerAnswers(informers.configMaps, ctx.namespace);
  /** When we last created the PeeringRequest on each peer, by ForeignCluster uid (the plan rate-limits re-sends). */
  const lastSent = new Map<string, number>();
  /**
   * Successful trust results by ForeignCluster uid: evaluating trust costs TLS probes of the
   * peer, so a result is reused while the plan deems it fresh (a restart evaluates again).
   */
  const trustResults = new Map<string, Extract<TrustResult, { ok: true }>>();
  /**
   * The DNS answer (status.dnsAddresses) each remembered trust result connected by: when a
   * SearchDomain resync records other addresses, trust is evaluated again at the new ones.
   */
  const trustAddresses = new Map<string, string>();
  const addressesKey = (fc: ForeignCluster) => JSON.stringify(fc.status?.dnsAddresses ?? null);

  function observe(name: string): OutgoingObserved | undefined {
    const fc = informers.foreignClusters.get(name);
    if (!fc) return undefined;
    const id = fc.spec.clusterID;
    const node = informers.nodes.get(`${Names.virtualNodePrefix}${id}`);
    const answer = peerAnswers.latest(id);
    const incoming = informers.peeringRequests.get(id);
    const sentAt = lastSent.get(fc.metadata.uid ?? '');
    const remembered = trustResults.get(fc.metadata.uid ?? '');
    const trust = remembered && trustAddresses.get(fc.metadata.uid ?? '') === addressesKey(fc) ? remembered : undefined;
    return {
      now: ctx.now(),
      ownClusterID: ctx.clusterID,
      foreignCluster: fc,
      twins: informers.foreignClusters.list().filter((o) => o.spec.clusterID === id && o.metadata.name !== name && !o.metadata.deletionTimestamp),
      advertisement: informers.advertisements.get(`${Names.advertisementPrefix}${id}`),
      virtualNodeReady: ((node?.status as NodeStatus)?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
      hasCredential: !!informers.secrets.get(`${ctx.namespace}/${credentialName(id)}`),
      ...(incoming ? { incomingRequest: { rejected: incoming.metadata.annotations?.[Annotations.approval] === 'rejected' } } : {}),
      ...(answer ? { peerAnswer: answer } : {}),
      ...(sentAt !== undefined ? { lastSentMs: sentAt } : {}),
      ...(trust ? { trust } : {}),
    };
  }

  function handlers(fc: ForeignCluster): Handlers<OutgoingAction, Partial<OutgoingObserved>> {
    const uid = fc.metadata.uid ?? '';
    return {
      evaluateTrust: async () => {
        try {
          const outcome = await evaluateTrust(ctx, fc);
          const ok = { ok: true as const, outcome, key: trustKey(fc), atMs: ctx.now().getTime() };
          trustResults.set(uid, ok);
          trustAddresses.set(uid, addressesKey(fc));
          return { trust: ok };
        } catch (e) {
          if (!(e instanceof PeeringError)) throw e;
          return { trust: { ok: false, reason: e.reason, message: e.message } };
        }
      },
      ensureCredential: async () => ({ credential: { token: await ensureCredential(ctx, fc) } }),
      sendRequest: async (a) => {
        lastSent.set(uid, ctx.now().getTime());
        // to the address trust was established at (checked, never resolved again)
        return { sent: await sendPeeringRequest(fc, a.token, a.ca, trustResults.get(uid)?.outcome.address) };
      },
      revokeCredential: async (a) => {
        await revokeCredential(ctx, a.clusterID);
      },
      forgetTrust: async () => {
        trustResults.delete(uid);
        trustAddresses.delete(uid);
        // a new join is a new first request, not a re-send
        lastSent.delete(uid);
      },
      handshakeCompleted: async (a) => {
        handshakeDuration.observe(a.seconds);
      },
    };
  }

  /**
   * Creates PeeringRequest `<our-id>` on the peer as the anonymous user, over TLS verified with the
   * CA trust settled on, at the address trust was established at (`address`; TLS names the URL's host).
   */
  async function sendPeeringRequest(fc: ForeignCluster, token: string, ca: string[], address: string | undefined): Promise<NonNullable<OutgoingObserved['sent']>> {
    const remote = KubeClient.anonymous(fc.spec.apiUrl!, ca.join('\n'), false, undefined, address);
    // proves the LAN peering secret to this peer only (it names the peer and our CA)
    const proof = ownRequestProof(ctx, fc.spec.clusterID);
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
          ...(proof ? { peeringProof: proof } : {}),
          kubeconfig: buildTokenKubeconfig({ server: ctx.apiUrl, caPem: ctx.caPem, token }, ctx.clusterName.replace(/[^a-z0-9-]/gi, '-').toLowerCase() || 'peer'),
        },
      });
      requestsSent.inc({ result: 'created' });
      return { ok: true, created: true };
    } catch (e) {
      if (isAlreadyExists(e)) {
        requestsSent.inc({ result: 'exists' });
        return { ok: true, created: false };
      }
      requestsSent.inc({ result: 'error' });
      if (e instanceof ApiError) return { ok: false, code: e.code, status: e.reason, message: e.message };
      throw e;
    } finally {
      remote.close();
    }
  }

  const reconcile = async (name: string) => {
    const observed = observe(name);
    if (!observed) return;
    return applyPlan(ctx, ctx.log.child({ controller: 'foreigncluster', key: name }), observed, planOutgoing, handlers(observed.foreignCluster));
  };

  const controller = new Controller({ name: 'foreigncluster', reconcile, workers: 4 });
  const byClusterID = (id: string | undefined) => (id ? informers.foreignClusters.list().filter((f) => f.spec.clusterID === id).map((f) => f.metadata.name) : []);
  controller.watch(informers.foreignClusters);
  controller.watch(informers.advertisements, (a) => byClusterID((a as Advertisement).spec?.clusterID));
  controller.watch(informers.nodes, (n) => byClusterID(n.metadata?.labels?.[Labels.remoteClusterID]));
  controller.watch(informers.secrets, (s) => (s.metadata?.labels?.[Labels.remoteCredential] ? byClusterID(s.metadata.labels[Labels.clusterID]) : null));
  controller.watch(informers.configMaps, (cm) => byClusterID(PeerAnswers.clusterIDOf(cm)));
  countedForeignClusters = informers.foreignClusters;
  return controller;
}
