/**
 * The provider side of offloading (docs/design.md §8): for every consumer whose PeeringRequest we
 * accepted, keep its tenancy here (tenancy.ts) and give it a token for it, delivered into the
 * consumer as Secret `kubepeer-tenant-<our-id>` through the peering's own channel (the credential
 * the consumer gave us for its Advertisement; an admission policy on the consumer binds that Secret
 * to our identity, as it does the Advertisement). The token is bound to a Secret in the tenant
 * namespace, renewed at 80 % of its life, and revoked with the tenancy: when the request goes
 * (unpeer, reject, 401 from the consumer) or offloading is turned off, the namespace is deleted
 * with everything in it, the consumer's pods included.
 *
 * Decisions in `planTenancy` (pure); the reconcile gathers what it observes and carries them out.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import type { PeeringRequest } from '../../api/crds.js';
import { Labels } from '../../api/constants.js';
import type { AgentContext } from '../../agent/context.js';
import { Controller } from '../../k8s/controller.js';
import { Informer } from '../../k8s/informer.js';
import { ApiError, Core, isAlreadyExists, isNotFound, resourcePath, type KubeClient, type ResourceRef } from '../../k8s/rest.js';
import { isoSeconds } from '../../k8s/time.js';
import { buildTokenKubeconfig, parseTokenKubeconfig } from '../../peering/kubeconfig.js';
import { peerCredentialSecret } from '../../peering/incoming/plan.js';
import { requesterClient, resolveCallbackAddress } from '../../peering/incoming/requesterClient.js';
import { lookupForUrl } from '../../discovery/dns/knownAddresses.js';
import { CONSUMER_SERVICE_ACCOUNT, CONSUMER_TOKEN_SECRET, OffloadingAnnotations, OffloadingLabels, tenantCredentialOnConsumer, tenantNamespace } from '../names.js';
import { offerFor } from './offer.js';
import { tenancyHash, tenancyObjects, tokenRenewalDue, tokenStateOf, type TenancyObject } from './tenancy.js';

const FIELD_MANAGER = 'kubepeer-tenancy';
/** Lifetime of the token a consumer gets; renewed at 80 %. */
export const CONSUMER_TOKEN_SECONDS = 24 * 3600;
/** The offer follows our nodes and pods: the quota is brought in line this often at most. */
const RESYNC_MS = 30_000;
/** How often we check that the consumer is still there (one GET of the Secret we gave it). */
export const CONSUMER_PROBE_MS = 5 * 60_000;

const REFS: Record<string, ResourceRef> = {
  Namespace: Core.namespaces,
  ResourceQuota: { group: '', version: 'v1', plural: 'resourcequotas', namespaced: true },
  LimitRange: { group: '', version: 'v1', plural: 'limitranges', namespaced: true },
  ServiceAccount: Core.serviceAccounts,
  Role: Core.roles,
  RoleBinding: Core.roleBindings,
  Secret: Core.secrets,
};

type Namespace = KubernetesObject & { metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string>; deletionTimestamp?: string } };

export interface TenancyObserved {
  consumerID: string;
  nowMs: number;
  request?: PeeringRequest;
  offloadingEnabled: boolean;
  namespace?: Namespace;
  desired: TenancyObject[];
  desiredHash: string;
  /** Annotations of the token Secret (undefined: not read yet or absent). */
  token?: { issuedAtMs?: number; expiresAtMs?: number };
  /** When the consumer last answered us (annotation on the tenant namespace). */
  consumerSeenAtMs?: number;
  /** A tenancy whose consumer has not answered for this long is removed. */
  abandonAfterMs: number;
  /** This round's check of the consumer (probeConsumer's result). */
  probe?: { ok: boolean; message: string };
}

export type TenancyAction =
  | { type: 'deleteTenancy'; namespace: string; why?: string }
  | { type: 'refuse'; reason: string; message: string }
  | { type: 'applyTenancy'; objects: TenancyObject[]; hash: string }
  | { type: 'issueToken' }
  | { type: 'probeConsumer' }
  | { type: 'markSeen' }
  | { type: 'requeue'; afterMs: number };

export function planTenancy(o: TenancyObserved): TenancyAction[] {
  const ns = tenantNamespace(o.consumerID);
  const wanted = o.offloadingEnabled && o.request?.status?.phase === 'Accepted' && !o.request.metadata.deletionTimestamp;
  if (!wanted) return o.namespace && !o.namespace.metadata.deletionTimestamp ? [{ type: 'deleteTenancy', namespace: ns }] : [];
  if (o.namespace && o.namespace.metadata.labels?.[OffloadingLabels.consumer] !== o.consumerID) {
    return [{ type: 'refuse', reason: 'TenantNamespaceTaken', message: `namespace ${ns} exists and was not made by kubepeer for ${o.consumerID}; cluster ${o.consumerID} cannot offload here until it is renamed or removed` }];
  }
  if (o.namespace?.metadata.deletionTimestamp) return [{ type: 'requeue', afterMs: 2_000 }];
  const actions: TenancyAction[] = [];
  // A consumer that vanished for good (its cluster gone, never to say 401) leaves pods running
  // here on its quota: after abandonAfterMs without an answer, the tenancy goes.
  if (o.namespace && (o.consumerSeenAtMs === undefined || o.nowMs - o.consumerSeenAtMs >= CONSUMER_PROBE_MS)) {
    if (!o.probe) return [{ type: 'probeConsumer' }];
    if (o.probe.ok || o.consumerSeenAtMs === undefined) actions.push({ type: 'markSeen' });
    else if (o.nowMs - o.consumerSeenAtMs >= o.abandonAfterMs) {
      return [{ type: 'deleteTenancy', namespace: ns, why: `${o.consumerID} has not answered for ${Math.round((o.nowMs - o.consumerSeenAtMs) / 60_000)} min (${o.probe.message})` }];
    }
  }
  if (o.namespace?.metadata.annotations?.[OffloadingAnnotations.appliedHash] !== o.desiredHash) actions.push({ type: 'applyTenancy', objects: o.desired, hash: o.desiredHash });
  const due = tokenRenewalDue(o.token ?? {}, o.nowMs);
  if (due <= 0) actions.push({ type: 'issueToken' });
  actions.push({ type: 'requeue', afterMs: Math.max(1_000, Math.min(RESYNC_MS, due > 0 ? due : CONSUMER_TOKEN_SECONDS * 800)) });
  return actions;
}

export function tenancyController(ctx: AgentContext, namespaces: Informer<Namespace>): Controller {
  const { client, informers } = ctx;
  /**
   * What this process last applied per consumer: the namespace cache lags our own writes (and an
   * apply's intermediate states reach it as events), so without this a reconcile on a stale copy
   * would apply the same tenancy again, and again. After a restart the first reconcile re-applies
   * once (server-side apply: no change).
   */
  const lastApplied = new Map<string, string>();

  async function consumerClient(pr: PeeringRequest): Promise<KubeClient> {
    const secret = informers.secrets.get(`${ctx.namespace}/${peerCredentialSecret(pr.spec.clusterID)}`) as { data?: Record<string, string> } | undefined;
    const text = secret?.data?.kubeconfig ? Buffer.from(secret.data.kubeconfig, 'base64').toString('utf8') : undefined;
    if (!text) throw new Error(`no credential for ${pr.spec.clusterID} yet (Secret ${peerCredentialSecret(pr.spec.clusterID)})`);
    // the same policy and resolution as the identity callback
    const pinned = await resolveCallbackAddress(pr.spec.apiUrl, ctx.apiUrl, lookupForUrl(informers.foreignClusters.list(), pr.spec.apiUrl), ctx.config().peeringConfig.allowedPeerCIDRs);
    return requesterClient(pr.spec.apiUrl, parseTokenKubeconfig(text), pinned);
  }

  async function apply(obj: TenancyObject, annotations?: Record<string, string>): Promise<void> {
    const ref = REFS[obj.kind]!;
    const body = annotations ? { ...obj, metadata: { ...obj.metadata, annotations: { ...(obj.metadata.annotations ?? {}), ...annotations } } } : obj;
    await client.apply(resourcePath(ref, { namespace: obj.metadata.namespace, name: obj.metadata.name }), body, FIELD_MANAGER);
  }

  /** Mints a token bound to the tenant's token Secret and hands it to the consumer. */
  async function issueToken(pr: PeeringRequest): Promise<void> {
    const ns = tenantNamespace(pr.spec.clusterID);
    const secretPath = resourcePath(Core.secrets, { namespace: ns, name: CONSUMER_TOKEN_SECRET });
    const secret = await client.get<{ metadata: { uid: string } }>(secretPath);
    const tr = await client.create<{ status: { token: string; expirationTimestamp: string } }>(
      resourcePath(Core.serviceAccounts, { namespace: ns, name: CONSUMER_SERVICE_ACCOUNT, subresource: 'token' }),
      {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: { expirationSeconds: CONSUMER_TOKEN_SECONDS, boundObjectRef: { apiVersion: 'v1', kind: 'Secret', name: CONSUMER_TOKEN_SECRET, uid: secret.metadata.uid } },
      },
    );
    const kubeconfig = buildTokenKubeconfig({ server: ctx.apiUrl, caPem: ctx.caPem, token: tr.status.token }, `tenant-${ctx.clusterID}`);
    const peer = await consumerClient(pr);
    try {
      await deliver(peer, pr.spec.namespace, { kubeconfig, namespace: ns, clusterID: ctx.clusterID, clusterName: ctx.clusterName, expiresAt: tr.status.expirationTimestamp });
    } finally {
      peer.close();
    }
    await client.mergePatch(secretPath, {
      metadata: { annotations: { [OffloadingAnnotations.tokenIssuedAt]: isoSeconds(new Date(ctx.now())), [OffloadingAnnotations.tokenExpiresAt]: tr.status.expirationTimestamp } },
    });
    ctx.log.info({ consumer: pr.spec.clusterID, namespace: ns }, 'tenant credential delivered to the consumer');
  }

  async function deliver(peer: KubeClient, namespace: string, data: Record<string, string>): Promise<void> {
    const name = tenantCredentialOnConsumer(ctx.clusterID);
    const body = (rv?: string) => ({
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'Opaque',
      metadata: { name, namespace, labels: { [Labels.clusterID]: ctx.clusterID }, ...(rv ? { resourceVersion: rv } : {}) },
      stringData: data,
    });
    const path = resourcePath(Core.secrets, { namespace, name });
    const existing = await peer.getOrNull<{ metadata: { resourceVersion: string } }>(path);
    if (existing) await peer.replace(path, body(existing.metadata.resourceVersion));
    else {
      try {
        await peer.create(resourcePath(Core.secrets, { namespace }), body());
      } catch (e) {
        if (!isAlreadyExists(e)) throw e;
      }
    }
  }

  /** Whether the consumer answers with the credential it gave us (a GET of the Secret we gave it). */
  async function probeConsumer(pr: PeeringRequest): Promise<{ ok: boolean; message: string }> {
    let peer: KubeClient | undefined;
    try {
      peer = await consumerClient(pr);
      await peer.getOrNull(resourcePath(Core.secrets, { namespace: pr.spec.namespace, name: tenantCredentialOnConsumer(ctx.clusterID) }), { timeoutMs: 10_000 });
      return { ok: true, message: 'answered' };
    } catch (e) {
      return { ok: false, message: (e as Error).message };
    } finally {
      peer?.close();
    }
  }

  async function reconcile(consumerID: string) {
    const request = informers.peeringRequests.list().find((r) => r.spec.clusterID === consumerID);
    const nsName = tenantNamespace(consumerID);
    const namespace = namespaces.get(nsName) ?? (await client.getOrNull<Namespace>(resourcePath(Core.namespaces, { name: nsName })) ?? undefined);
    const cfg = ctx.config().offloadingConfig;
    const desired = tenancyObjects({ consumerID, consumerName: request?.spec.clusterName, offer: offerFor(ctx, consumerID), podSecurity: cfg.podSecurity });
    let token: TenancyObserved['token'];
    if (namespace && !namespace.metadata.deletionTimestamp) {
      const s = await client.getOrNull<{ metadata: { annotations?: Record<string, string> } }>(resourcePath(Core.secrets, { namespace: nsName, name: CONSUMER_TOKEN_SECRET }));
      token = tokenStateOf(s?.metadata.annotations);
    }
    const seen = Date.parse(namespace?.metadata.annotations?.[OffloadingAnnotations.consumerSeenAt] ?? '');
    let observed: TenancyObserved = {
      consumerID,
      nowMs: ctx.now().getTime(),
      abandonAfterMs: cfg.abandonedTenancySeconds * 1000,
      ...(Number.isFinite(seen) ? { consumerSeenAtMs: seen } : {}),
      ...(request ? { request } : {}),
      offloadingEnabled: cfg.enabled,
      ...(namespace
        ? {
            namespace:
              lastApplied.get(consumerID) === tenancyHash(desired)
                ? { ...namespace, metadata: { ...namespace.metadata, annotations: { ...(namespace.metadata.annotations ?? {}), [OffloadingAnnotations.appliedHash]: tenancyHash(desired) } } }
                : namespace,
          }
        : {}),
      desired,
      desiredHash: tenancyHash(desired),
      ...(token ? { token } : {}),
    };
    let requeueAfterMs: number | undefined;
    let actions = planTenancy(observed);
    if (actions.length === 1 && actions[0]!.type === 'probeConsumer') {
      observed = { ...observed, probe: await probeConsumer(request!) };
      actions = planTenancy(observed);
    }
    for (const a of actions) {
      switch (a.type) {
        case 'probeConsumer':
          break;
        case 'markSeen':
          await client.mergePatch(resourcePath(Core.namespaces, { name: nsName }), { metadata: { annotations: { [OffloadingAnnotations.consumerSeenAt]: isoSeconds(ctx.now()) } } });
          break;
        case 'deleteTenancy':
          lastApplied.delete(consumerID);
          // Deleting the namespace deletes A's pods, its ServiceAccount and the Secret its token is
          // bound to: the token stops working at once.
          await client.delete(resourcePath(Core.namespaces, { name: a.namespace }), { propagationPolicy: 'Background' });
          ctx.log.info({ consumer: consumerID, namespace: a.namespace, why: a.why }, 'tenancy removed');
          if (request) void ctx.events.record(request, a.why ? 'Warning' : 'Normal', a.why ? 'ConsumerVanished' : 'TenancyRemoved', `namespace ${a.namespace} of ${consumerID} deleted with its pods; its credential here is revoked${a.why ? `: ${a.why}` : ''}`);
          break;
        case 'refuse':
          if (request) ctx.events.record(request, 'Warning', a.reason, a.message);
          throw new Error(a.message);
        case 'applyTenancy': {
          const [ns, ...rest] = a.objects;
          // The namespace keeps the hash it had while its children are applied; the new hash goes
          // on last, so an interrupted apply is redone whole.
          const previous = namespace?.metadata.annotations?.[OffloadingAnnotations.appliedHash];
          await apply(ns!, previous ? { [OffloadingAnnotations.appliedHash]: previous } : undefined);
          for (const obj of rest) await apply(obj);
          await apply(ns!, { [OffloadingAnnotations.appliedHash]: a.hash });
          lastApplied.set(consumerID, a.hash);
          break;
        }
        case 'issueToken':
          await issueToken(request!);
          break;
        case 'requeue':
          requeueAfterMs = a.afterMs;
          break;
      }
    }
    return requeueAfterMs ? { requeueAfterMs } : undefined;
  }

  const controller = new Controller({
    name: 'tenancy',
    reconcile: async (key) => {
      try {
        return await reconcile(key);
      } catch (e) {
        if (e instanceof ApiError && isNotFound(e)) return { requeueAfterMs: 1_000 };
        throw e;
      }
    },
  });
  controller.watch(informers.peeringRequests, (pr) => pr.spec.clusterID, { updateFilter: (a, b) => a.status?.phase !== b.status?.phase || !!b.metadata.deletionTimestamp });
  controller.watch(namespaces, (ns) => ns.metadata.labels?.[OffloadingLabels.consumer]);
  // A new sharing percentage or offloading setting changes every consumer's quota at once.
  controller.watch(informers.clusterConfigs, () => informers.peeringRequests.list().map((r) => r.spec.clusterID));
  return controller;
}

export function tenantNamespacesInformer(client: KubeClient): Informer<Namespace> {
  return new Informer<Namespace>(client, Core.namespaces, { labelSelector: OffloadingLabels.consumer });
}
