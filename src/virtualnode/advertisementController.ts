/**
 * The advertisement controller (docs/design.md §5, step 7): turns the Advertisement a foreign
 * cluster writes into our cluster into the virtual Node `liqo-<id>`, its Lease in kube-node-lease,
 * the Advertisement's status and the ForeignCluster condition `VirtualNodeReady`.
 *
 * The reconcile gathers what it observes from the informer caches, asks `plan` (plan.ts, pure)
 * what to do, and applies that: server-side apply for the Node's metadata and spec, merge patches
 * for the Node and Advertisement status subresources, server-side apply with our own field manager
 * for the one ForeignCluster condition we own. Readiness is re-checked the moment a heartbeat
 * expires, so NotReady shows promptly; the node is never deleted for missed heartbeats.
 */
import { Gauge } from 'prom-client';
import type { KubernetesObject } from '@kubernetes/client-node';
import { GVR, type Advertisement, type ForeignCluster } from '../api/crds.js';
import { Labels } from '../api/constants.js';
import { Controller, type ReconcileResult } from '../k8s/controller.js';
import { applyOwnedStatus } from '../k8s/foreignClusterStatus.js';
import { Core, isConflict, isNotFound, resourcePath } from '../k8s/rest.js';
import { registry } from '../observability/metrics.js';
import type { AgentContext } from '../agent/context.js';
import type { AgentPluginFactory } from '../agent/plugins.js';
import { FIELD_MANAGER, foreignClustersFor, plan, type Plan, type PlannedEvent } from './plan.js';
import { advertisementName, clusterIDOfAdvertisementName, virtualNodeName, type NodeLike } from './virtualNode.js';
import { kubeletEndpoint } from '../offloading/consumer/kubeletEndpoint.js';

const NODE_LEASE_NAMESPACE = 'kube-node-lease';

// ---------------------------------------------------------------- metrics

/** Last heartbeat and readiness per peer, as of the last reconcile (leader only). */
const tracked = new Map<string, { heartbeatMs: number; ready: boolean }>();

new Gauge({
  name: 'kubepeer_heartbeat_age_seconds',
  help: 'Seconds since the last heartbeat in the Advertisement of each accepted peer.',
  labelNames: ['cluster_id'],
  registers: [registry],
  collect() {
    this.reset();
    const now = Date.now();
    for (const [id, t] of tracked) if (!Number.isNaN(t.heartbeatMs)) this.set({ cluster_id: id }, Math.max(0, (now - t.heartbeatMs) / 1000));
  },
});

new Gauge({
  name: 'kubepeer_virtual_nodes',
  help: 'Virtual nodes of accepted Advertisements, by readiness.',
  labelNames: ['ready'],
  registers: [registry],
  collect() {
    let ready = 0;
    for (const t of tracked.values()) if (t.ready) ready++;
    this.set({ ready: 'true' }, ready);
    this.set({ ready: 'false' }, tracked.size - ready);
  },
});

// ---------------------------------------------------------------- read your own writes

/**
 * The last copy of an object this controller wrote, used instead of the informer's copy until the
 * cache has caught up, so a reconcile that runs right after a write does not redo it (or repeat its
 * Events) from a stale cache.
 */
class RecentWrites<T extends KubernetesObject> {
  private items = new Map<string, { obj: T; at: number }>();
  constructor(private readonly ttlMs = 30_000) {}

  remember(name: string, obj: T): void {
    this.items.set(name, { obj, at: Date.now() });
  }

  forget(name: string): void {
    this.items.delete(name);
  }

  /** The newer of the cached object and our last write of it. */
  latest(name: string, cached: T | undefined): T | undefined {
    const w = this.items.get(name);
    if (!w) return cached;
    const mine = Number(w.obj.metadata?.resourceVersion);
    const theirs = Number(cached?.metadata?.resourceVersion);
    const cacheCaughtUp = cached && (cached.metadata?.uid !== w.obj.metadata?.uid || !Number.isFinite(mine) || !Number.isFinite(theirs) || theirs >= mine);
    if (cacheCaughtUp || Date.now() - w.at > this.ttlMs) {
      this.items.delete(name);
      return cached;
    }
    return w.obj;
  }
}

// ---------------------------------------------------------------- the controller

export function advertisementController(ctx: AgentContext): Controller {
  const { client, informers } = ctx;
  const nodes = new RecentWrites<NodeLike & KubernetesObject>();
  const fcs = new RecentWrites<ForeignCluster>();
  const advs = new RecentWrites<Advertisement>();
  /** Nodes we deleted: treated as absent while the cache still shows them. */
  const deletedNodes = new Map<string, string | undefined>();
  /** The heartbeat last written into each node's Lease (saves a write per heartbeat; lost on restart, harmlessly). */
  const leaseHeartbeats = new Map<string, number>();

  function observe(key: string) {
    const advertisement = advs.latest(key, informers.advertisements.get(key));
    const clusterID = advertisement ? advertisement.spec.clusterID : clusterIDOfAdvertisementName(key);
    if (!clusterID) return undefined;
    const nodeName = virtualNodeName(clusterID);
    let node = nodes.latest(nodeName, informers.nodes.get(nodeName) as (NodeLike & KubernetesObject) | undefined);
    if (node && deletedNodes.has(nodeName)) {
      if (deletedNodes.get(nodeName) === node.metadata.uid) node = undefined;
      else deletedNodes.delete(nodeName);
    } else if (!node) deletedNodes.delete(nodeName);
    const foreignClusters = foreignClustersFor(informers.foreignClusters.list(), clusterID).map((fc) => fcs.latest(fc.metadata.name, fc)!);
    return {
      key, advertisement, foreignClusters, node, localClusterID: ctx.clusterID, now: ctx.now(),
      leaseHeartbeatMs: node ? leaseHeartbeats.get(nodeName) : undefined,
      kubeletEndpoint: kubeletEndpoint(ctx).get(),
      allowedNodeLabels: ctx.config().peeringConfig.allowedNodeLabels,
    };
  }

  async function renewLease(name: string, nodeUid: string | undefined, lease: NonNullable<Plan['lease']>): Promise<void> {
    const metadata = nodeUid ? { ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name, uid: nodeUid }] } : {};
    const spec = { holderIdentity: name, leaseDurationSeconds: lease.leaseDurationSeconds, renewTime: lease.renewTime };
    try {
      await client.mergePatch(resourcePath(Core.leases, { namespace: NODE_LEASE_NAMESPACE, name }), { metadata, spec });
    } catch (e) {
      if (!isNotFound(e)) throw e;
      await client.create(resourcePath(Core.leases, { namespace: NODE_LEASE_NAMESPACE }), {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name, namespace: NODE_LEASE_NAMESPACE, ...metadata },
        spec,
      });
    }
  }

  async function record(ev: PlannedEvent, adv: Advertisement | undefined, node: KubernetesObject | undefined, fcList: ForeignCluster[]): Promise<void> {
    const target =
      ev.on === 'advertisement' ? adv : ev.on === 'node' ? node : fcList.find((fc) => fc.metadata.name === (ev.on as { foreignCluster: string }).foreignCluster);
    if (!target) return;
    await ctx.events.record(target, ev.type, ev.reason, ev.message);
  }

  const reconcile = async (key: string): Promise<ReconcileResult | void> => {
    const observed = observe(key);
    if (!observed) return;
    const p = plan(observed);
    const log = ctx.log.child({ controller: 'advertisement', key });
    const nodeName = p.nodeName;
    let nodeObj: (NodeLike & KubernetesObject) | undefined = observed.node;

    if (p.deleteNode) {
      try {
        await client.delete(resourcePath(Core.nodes, { name: p.deleteNode.name }), p.deleteNode.uid ? { preconditionsUid: p.deleteNode.uid } : {});
      } catch (e) {
        if (!isConflict(e)) throw e; // a different Node by that name now: the next event decides
      }
      // The Lease is owned by the Node, so garbage collection removes it too: deleting it here
      // only makes that prompt, and a failure is no reason to fail the reconcile.
      await client.delete(resourcePath(Core.leases, { namespace: NODE_LEASE_NAMESPACE, name: p.deleteNode.name })).catch((e: Error) => {
        log.debug({ err: e.message }, 'deleting the virtual node Lease failed; garbage collection removes it');
      });
      deletedNodes.set(p.deleteNode.name, p.deleteNode.uid);
      leaseHeartbeats.delete(p.deleteNode.name);
      nodes.forget(p.deleteNode.name);
      nodeObj = undefined;
      log.info({ node: p.deleteNode.name }, 'virtual node deleted');
    }
    if (nodeName && p.applyNode) {
      nodeObj = await client.apply<NodeLike & KubernetesObject>(resourcePath(Core.nodes, { name: nodeName }), p.applyNode, FIELD_MANAGER, true);
      nodes.remember(nodeName, nodeObj);
      deletedNodes.delete(nodeName);
      if (!observed.node) log.info({ node: nodeName }, 'virtual node created');
    }
    if (nodeName && p.nodeStatus) {
      nodeObj = await client.mergePatch<NodeLike & KubernetesObject>(resourcePath(Core.nodes, { name: nodeName, subresource: 'status' }), { status: p.nodeStatus });
      nodes.remember(nodeName, nodeObj);
    }
    if (nodeName && p.lease) {
      await renewLease(nodeName, nodeObj?.metadata?.uid, p.lease);
      leaseHeartbeats.set(nodeName, Date.parse(p.lease.renewTime));
    }

    const adv = observed.advertisement;
    if (adv && p.advertisementStatus) {
      try {
        const updated = await client.mergePatch<Advertisement>(resourcePath(GVR.advertisement, { name: adv.metadata.name, subresource: 'status' }), { status: p.advertisementStatus });
        advs.remember(adv.metadata.name, updated);
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
      if (p.advertisementStatus.phase === 'Refused') log.info({ reason: p.advertisementStatus.reason }, 'advertisement refused');
    }

    for (const { name, condition } of p.foreignClusterConditions) {
      try {
        const updated = await applyOwnedStatus(client, name, FIELD_MANAGER, { conditions: [condition] });
        fcs.remember(name, updated);
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    }

    for (const ev of p.events) {
      log.info({ reason: ev.reason, type: ev.type }, ev.message);
      await record(ev, adv, nodeObj && { apiVersion: 'v1', kind: 'Node', metadata: nodeObj.metadata }, observed.foreignClusters);
    }

    if (p.heartbeat) tracked.set(p.heartbeat.clusterID, { heartbeatMs: p.heartbeat.heartbeatMs, ready: p.heartbeat.ready });
    else if (p.clusterID && !p.waitForNodeDeletion) tracked.delete(p.clusterID);

    return p.requeueAfterMs !== undefined ? { requeueAfterMs: p.requeueAfterMs } : undefined;
  };

  const controller = new Controller({
    name: 'advertisement',
    reconcile,
    onError: async (key, err) => {
      const adv = informers.advertisements.get(key);
      if (adv) await ctx.events.record(adv, 'Warning', 'VirtualNodeSyncFailed', `could not sync the virtual node for ${key}: ${err.message}; retrying`);
    },
  });
  const nodeKey = (n: KubernetesObject) => {
    const id = n.metadata?.labels?.[Labels.remoteClusterID];
    return id ? advertisementName(id) : null;
  };
  const fcKeys = (fc: ForeignCluster) => {
    const ids = new Set([fc.spec?.clusterID, fc.metadata.labels?.[Labels.clusterID]].filter((x): x is string => Boolean(x)));
    return [...ids].map(advertisementName);
  };
  // A deletion the cache has seen supersedes what we last wrote.
  controller.watch(informers.advertisements, (a, change) => {
    if (change === 'delete') advs.forget(a.metadata.name);
    return a.metadata.name;
  });
  controller.watch(informers.nodes, (n, change) => {
    if (change === 'delete') nodes.forget(n.metadata?.name ?? '');
    return nodeKey(n);
  });
  controller.watch(informers.foreignClusters, (fc, change) => {
    if (change === 'delete') fcs.forget(fc.metadata.name);
    return fcKeys(fc);
  });
  return controller;
}

/** The agent plugin: the advertisement controller, run by the leader. */
export const virtualNodePlugin: AgentPluginFactory = async (ctx) => ({
  name: 'virtualnode',
  controllers: () => [advertisementController(ctx)],
  onNotLeading: async () => tracked.clear(),
  stop: async () => tracked.clear(),
});
