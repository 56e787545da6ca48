/**
 * The dns-discovery controller (docs/design.md §4, "DNS"): for each SearchDomain, on create, on a
 * spec change, on a change of ClusterConfig's dnsServer/resyncSeconds and every
 * resyncSeconds, browse the domain on ClusterConfig's dnsServer and make the ForeignClusters match
 * what it lists, through upsertDiscovered / retireDiscovered like every discovery source.
 *
 * The reconcile gathers what it observes (browse result, informer caches), asks searchDomainPlan.ts
 * (pure) what to do, and applies it. A domain that cannot be read changes only the Synced
 * condition: nothing found before is retired on the word of a DNS server that does not answer.
 * Status is written with a merge patch on the status subresource, only when it changed; lastSync
 * alone is refreshed at most every LAST_SYNC_REFRESH_MS, so an unchanged resync writes nothing.
 * Events are recorded only for what is new (clusters, failures, Synced flips), for the same reason.
 *
 * Deleting a SearchDomain needs no code here: its ForeignClusters carry an ownerReference to it, so
 * the garbage collector deletes those that no other SearchDomain owns (peered ones unpeer first
 * through their finalizer).
 */
import { Counter, Histogram } from 'prom-client';
import { GVR, clusterConfigWithDefaults, type ClusterConfig, type SearchDomain } from '../../api/crds.js';
import { Labels, Names } from '../../api/constants.js';
import { Controller, type ReconcileResult } from '../../k8s/controller.js';
import { ApiError, isConflict, isNotFound, resourcePath } from '../../k8s/rest.js';
import { registry } from '../../observability/metrics.js';
import { logger } from '../../observability/logger.js';
import type { AgentContext } from '../../agent/context.js';
import type { AgentPluginFactory } from '../../agent/plugins.js';
import { findForeignCluster, retireDiscovered, upsertDiscovered } from '../foreignClusterUpsert.js';
import { mapWithConcurrency } from './limit.js';
import { DnsDiscoveryError, browse, type BrowseOptions, type BrowseResult } from './resolver.js';
import { failedSyncCondition, nextStatus, planEvents, planSync, statusPatch, type PlannedEvent } from './searchDomainPlan.js';

export const CONTROLLER_NAME = 'dns-discovery';

/** ForeignCluster writes in flight per sync: 1000 clusters must not go one request at a time. */
const WRITE_CONCURRENCY = 32;
/** A write that lost a race (409) is retried this soon rather than after a full resync. */
const CONFLICT_RETRY_MS = 1000;

// ---------------------------------------------------------------- metrics

/**
 * Shared by every discovery source (`source` label). Whoever registers it first wins, so the LAN
 * source can declare the same metric next to its own code without a double registration.
 */
const discoveryDuration =
  (registry.getSingleMetric('kubepeer_discovery_duration_seconds') as Histogram<'source'> | undefined) ??
  new Histogram({
    name: 'kubepeer_discovery_duration_seconds',
    help: 'Time of one discovery pass (DNS: one SearchDomain sync, browse plus ForeignCluster writes).',
    labelNames: ['source'],
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
const dnsQueries = new Counter({
  name: 'kubepeer_discovery_dns_queries_total',
  help: 'DNS queries sent by SearchDomain syncs that read their domain (UDP datagrams including retries, plus TCP queries).',
  registers: [registry],
});
const dnsSyncs = new Counter({
  name: 'kubepeer_discovery_dns_syncs_total',
  help: 'SearchDomain syncs by result: success, dns_error (domain unreadable), write_error (ForeignCluster writes failed).',
  labelNames: ['result'],
  registers: [registry],
});

// ---------------------------------------------------------------- controller

export interface SearchDomainControllerOptions {
  /** Browse options added to the ClusterConfig ones (tests, benchmarks). */
  browse?: Omit<BrowseOptions, 'server' | 'ownClusterID'>;
  workers?: number;
}

type Ctx = AgentContext;

export function searchDomainController(ctx: Ctx, opts: SearchDomainControllerOptions = {}): Controller {
  const { informers } = ctx;
  const sdPath = (name: string) => resourcePath(GVR.searchDomain, { name, subresource: 'status' });
  const log = logger('controller', { controller: CONTROLLER_NAME });

  const recordEvents = (sd: SearchDomain, events: PlannedEvent[]) => {
    for (const e of events) void ctx.events.record(sd, e.type, e.reason, e.message);
  };

  const writeStatus = async (sd: SearchDomain, patch: Record<string, unknown> | null): Promise<boolean> => {
    if (!patch) return false;
    try {
      await ctx.client.mergePatch(sdPath(sd.metadata.name), patch);
      return true;
    } catch (e) {
      if (isNotFound(e)) return false; // deleted meanwhile
      throw e;
    }
  };

  async function reconcile(name: string): Promise<ReconcileResult | void> {
    const sd = informers.searchDomains.get(name);
    if (!sd || sd.metadata.deletionTimestamp) return;
    const config = ctx.config().discoveryConfig;
    const resyncMs = config.resyncSeconds * 1000;
    const now = ctx.now();
    const end = discoveryDuration.startTimer({ source: 'dns' });

    let result: BrowseResult;
    try {
      result = await browse(sd.spec.domain, { ...opts.browse, server: config.dnsServer, ownClusterID: ctx.clusterID });
    } catch (e) {
      if (!(e instanceof DnsDiscoveryError)) throw e;
      end();
      dnsSyncs.inc({ result: 'dns_error' });
      log.warn({ key: name, domain: sd.spec.domain, reason: e.reason, err: e.message }, 'SearchDomain could not be read; keeping what was found before');
      const condition = failedSyncCondition(sd, e.reason, e.message);
      if (await writeStatus(sd, statusPatch(sd, { condition }, now))) recordEvents(sd, planEvents(sd, { condition }));
      return { requeueAfterMs: resyncMs };
    }
    dnsQueries.inc(result.queries);

    const plan = planSync({
      sd,
      result,
      foreignClusters: informers.foreignClusters.list(),
      find: (id) => findForeignCluster(ctx, id),
      otherDomains: informers.searchDomains.list().filter((o) => o.metadata.uid !== sd.metadata.uid),
    });

    const rejected = new Map<string, string>();
    const writeErrors: string[] = [];
    let conflicts = 0;
    const failed = (what: string, e: unknown) => {
      if (isConflict(e)) conflicts++;
      else writeErrors.push(`${what}: ${(e as Error).message}`);
    };

    await mapWithConcurrency(plan.sightings, WRITE_CONCURRENCY, async (p) => {
      try {
        await upsertDiscovered(ctx, p.sighting, now);
      } catch (e) {
        // The API server refused the object itself (validation): that instance fails, not the sync.
        if (e instanceof ApiError && (e.code === 400 || e.code === 422) && !isConflict(e)) rejected.set(p.sighting.clusterID, e.message);
        else failed(`ForeignCluster for ${p.sighting.clusterID}`, e);
      }
    });
    for (const r of plan.releases) {
      try {
        if (r.kind === 'retire') {
          const outcome = await retireDiscovered(ctx, r.clusterID, 'WAN', r.why, now);
          if (outcome === 'deleted') log.info({ key: name, clusterID: r.clusterID }, 'cluster left the domain: ForeignCluster deleted');
        } else {
          await ctx.client.mergePatch(resourcePath(GVR.foreignCluster, { name: r.foreignCluster }), { metadata: { labels: { [Labels.searchDomain]: null } } });
        }
      } catch (e) {
        if (!isNotFound(e)) failed(`ForeignCluster for ${r.clusterID}`, e);
      }
    }

    const content = nextStatus(sd, result, plan, { rejected, writeErrors });
    if (await writeStatus(sd, statusPatch(sd, content, now))) recordEvents(sd, planEvents(sd, content));
    end();

    if (writeErrors.length) {
      dnsSyncs.inc({ result: 'write_error' });
      // The condition says it; the controller retries with backoff.
      throw new Error(content.condition.message);
    }
    dnsSyncs.inc({ result: 'success' });
    log.debug({ key: name, clusters: content.clusters.length, failures: content.failures.length, queries: result.queries, conflicts }, 'SearchDomain synced');
    return { requeueAfterMs: conflicts ? Math.min(CONFLICT_RETRY_MS, resyncMs) : resyncMs };
  }

  const controller = new Controller({ name: CONTROLLER_NAME, reconcile, workers: opts.workers ?? 4 });

  // Our own status writes must not trigger a browse: react to spec changes (generation) only.
  const sds = informers.searchDomains;
  controller.watch(sds, (sd, change) => (change === 'delete' ? null : sd.metadata.name), {
    updateFilter: (old, sd) => old.metadata.generation !== sd.metadata.generation || !!old.metadata.deletionTimestamp !== !!sd.metadata.deletionTimestamp,
  });

  // Where and how often we ask are ClusterConfig's.
  controller.watch(informers.clusterConfigs, (_cc, change) => (change === 'update' ? sds.list().map((sd) => sd.metadata.name) : null), {
    updateFilter: (old: ClusterConfig, cc: ClusterConfig) => {
      if (cc.metadata?.name !== Names.clusterConfig) return false;
      const a = clusterConfigWithDefaults(old.spec).discoveryConfig;
      const b = clusterConfigWithDefaults(cc.spec).discoveryConfig;
      return a.dnsServer !== b.dnsServer || a.resyncSeconds !== b.resyncSeconds;
    },
  });
  return controller;
}

export const dnsDiscoveryPlugin: AgentPluginFactory = async (ctx) => ({
  name: CONTROLLER_NAME,
  controllers: () => [searchDomainController(ctx)],
});
