/**
 * DNS discovery at scale: a bind9 zone of 1000 clusters (written with publishRecords), one local
 * control plane, and the SearchDomain controller running in this process against it, so that its
 * own API requests can be counted exactly (KubeClient.requestCounts of the controller's client;
 * the API server's apiserver_request_total for discovery.liqo.io and events is reported as a
 * cross-check that includes every client).
 *
 * Figures: time from SearchDomain creation to all 1000 ForeignClusters in the cache (target
 * < 10 s), DNS queries per cluster per resync (target <= 4), API writes during a resync where
 * nothing changed (target 0), and the duration of such a resync.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Counter, Histogram } from 'prom-client';
import { GVR, apiVersionOf, clusterConfigWithDefaults, type ClusterConfig, type ForeignCluster, type SearchDomain } from '../src/api/crds.js';
import { LIQO_NAMESPACE, Labels, Names } from '../src/api/constants.js';
import type { AgentContext, Informers } from '../src/agent/context.js';
import { ensureClusterID } from '../src/identity/clusterID.js';
import { EventRecorder } from '../src/k8s/events.js';
import { Informer } from '../src/k8s/informer.js';
import { KubeClient, resourcePath } from '../src/k8s/rest.js';
import { registry } from '../src/observability/metrics.js';
import { logger } from '../src/observability/logger.js';
import { publishRecords } from '../src/discovery/dns/records.js';
import { searchDomainController } from '../src/discovery/dns/searchDomainController.js';
import { startCluster } from '../test/support/clusters.js';
import { startNamed } from '../test/support/bind9.js';
import { setClusterConfig } from '../test/support/peering.js';
import { apiRequestCounts, diffCounts, sumWrites, type BenchSection, type Figure } from './lib.js';

const DOMAIN = 'bench.test';
const WRITE_VERBS = ['POST', 'PUT', 'PATCH', 'DELETE'];

export interface BenchDnsOptions {
  quick: boolean;
  /** Clusters in the zone (default 1000). */
  clusters?: number;
}

const idOf = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;

/** The zone: every cluster as `kubepeer dns records` would print it, half of them with a CA pin. */
export function benchZone(count: number): string {
  const parts: string[] = [];
  for (let i = 0; i < count; i++) {
    parts.push(
      publishRecords({
        domain: DOMAIN,
        instanceName: `cluster-${i}`,
        clusterID: idOf(i),
        clusterName: `bench cluster ${i}`,
        apiUrl: `https://api-${i}.${DOMAIN}:6443`,
        addresses: [`198.18.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`],
        ...(i % 2 === 0 ? { caFingerprint: `sha256:${String(i).padStart(64, '0')}` } : {}),
      }),
    );
  }
  return parts.join('\n');
}

function metricValue(name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = registry.getSingleMetric(name) as Counter | undefined;
  if (!m) return Promise.resolve(0);
  return Promise.resolve(m.get()).then((v) => v.values.filter((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val)).reduce((a, x) => a + x.value, 0));
}

async function histogramSumCount(name: string, labels: Record<string, string>): Promise<{ sum: number; count: number }> {
  const h = registry.getSingleMetric(name) as Histogram | undefined;
  if (!h) return { sum: 0, count: 0 };
  const v = await h.get();
  const pick = (suffix: string) =>
    v.values.filter((x) => x.metricName === `${name}${suffix}` && Object.entries(labels).every(([k, val]) => x.labels[k] === val)).reduce((a, x) => a + x.value, 0);
  return { sum: pick('_sum'), count: pick('_count') };
}

const writesOf = (c: KubeClient) => WRITE_VERBS.reduce((n, v) => n + (c.requestCounts[v] ?? 0), 0);

async function until(what: string, probe: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`bench dns: timed out after ${timeoutMs / 1000}s waiting for ${what}`);
    await sleep(20);
  }
}

export async function benchDnsDiscovery(opts: BenchDnsOptions): Promise<BenchSection> {
  const n = opts.clusters ?? 1000;
  const runs = opts.quick ? 1 : 3;
  const resyncs = opts.quick ? 3 : 10;
  const cluster = await startCluster('bench-dns');
  const dns = await startNamed({ zones: [{ origin: DOMAIN, records: benchZone(n) }] });
  const admin = KubeClient.fromFile(cluster.kubeconfig); // the benchmark's own requests
  const client = KubeClient.fromFile(cluster.kubeconfig); // the controller's, counted
  const informers = {
    foreignClusters: new Informer<ForeignCluster>(client, GVR.foreignCluster),
    searchDomains: new Informer<SearchDomain>(client, GVR.searchDomain),
    clusterConfigs: new Informer<ClusterConfig>(client, GVR.clusterConfig),
  };
  const stopAll = async () => {
    for (const i of Object.values(informers)) i.stop();
    client.close();
    admin.close();
    await dns.stop();
    await cluster.stop();
  };
  let controller: ReturnType<typeof searchDomainController> | undefined;
  try {
    await setClusterConfig(admin, { discoveryConfig: { dnsServer: dns.address, resyncSeconds: 300 } });
    const clusterID = await ensureClusterID(admin, LIQO_NAMESPACE);
    for (const i of Object.values(informers)) i.start();
    await Promise.all(Object.values(informers).map((i) => i.waitForSync()));
    const ctx: AgentContext = {
      client,
      namespace: LIQO_NAMESPACE,
      clusterID,
      clusterName: 'bench-dns',
      apiUrl: client.server,
      caPem: '',
      informers: informers as unknown as Informers,
      events: new EventRecorder(client, 'kubepeer-bench'),
      log: logger('bench-dns'),
      config: () => clusterConfigWithDefaults(informers.clusterConfigs.get(Names.clusterConfig)?.spec ?? {}),
      now: () => new Date(),
    };
    controller = searchDomainController(ctx);
    controller.start();

    const ours = () => informers.foreignClusters.list().filter((f) => f.metadata.labels?.[Labels.searchDomain] === DOMAIN && !f.metadata.deletionTimestamp);
    const sdPath = resourcePath(GVR.searchDomain);
    const discoverMs: number[] = [];
    const writesPerCluster: number[] = [];
    for (let run = 0; run < runs; run++) {
      if (run > 0) {
        // The garbage collector removes the ForeignClusters the deleted SearchDomain owned.
        await admin.delete(resourcePath(GVR.searchDomain, { name: DOMAIN }));
        await until('ForeignClusters collected after the SearchDomain was deleted', () => informers.foreignClusters.list().length === 0 && !informers.searchDomains.get(DOMAIN), 300_000);
      }
      const w0 = writesOf(client);
      const t0 = performance.now();
      await admin.create(sdPath, { apiVersion: apiVersionOf(GVR.searchDomain), kind: 'SearchDomain', metadata: { name: DOMAIN }, spec: { domain: DOMAIN, autojoin: false } });
      await until(`${n} ForeignClusters`, () => ours().length === n, 300_000);
      discoverMs.push(performance.now() - t0);
      // Settled: every ForeignCluster carries its status and the SearchDomain its list.
      await until('status written', () => ours().every((f) => !!f.status?.conditions?.length) && informers.searchDomains.get(DOMAIN)?.status?.clusters?.length === n, 120_000);
      writesPerCluster.push((writesOf(client) - w0) / n);
    }

    // Unchanged resyncs, every 2 s (changing resyncSeconds itself triggers one).
    const q = () => metricValue('kubepeer_discovery_dns_queries_total');
    const syncs = () => metricValue('kubepeer_discovery_dns_syncs_total');
    const queriesPerCluster: number[] = [];
    const writes: number[] = [];
    const resyncSeconds: number[] = [];
    const isDiscoveryWrite = (l: Record<string, string>) => (l.group === 'discovery.liqo.io' || l.resource === 'events') && ['POST', 'PUT', 'PATCH', 'DELETE', 'APPLY'].includes(l.verb!);
    const apiBefore = await apiRequestCounts(admin, isDiscoveryWrite);
    await setClusterConfig(admin, { discoveryConfig: { dnsServer: dns.address, resyncSeconds: 2 } });
    let s = await syncs();
    for (let i = 0; i < resyncs; i++) {
      const [q0, w0, h0] = [await q(), writesOf(client), await histogramSumCount('kubepeer_discovery_duration_seconds', { source: 'dns' })];
      const target = s + 1;
      await until('a resync', async () => (await syncs()) >= target, 60_000);
      s = await syncs();
      const h1 = await histogramSumCount('kubepeer_discovery_duration_seconds', { source: 'dns' });
      queriesPerCluster.push(((await q()) - q0) / n);
      writes.push(writesOf(client) - w0);
      if (h1.count > h0.count) resyncSeconds.push((h1.sum - h0.sum) / (h1.count - h0.count));
    }
    const apiWrites = sumWrites(diffCounts(apiBefore, await apiRequestCounts(admin, isDiscoveryWrite)));
    const max = (xs: number[]) => Math.max(...xs);
    const figures: Figure[] = [
      {
        name: `SearchDomain of ${n} clusters: creation -> all ForeignClusters present`,
        unit: 'ms',
        samples: discoverMs,
        target: '< 10000 ms',
        pass: max(discoverMs) < 10_000,
      },
      { name: `SearchDomain of ${n} clusters: API writes per cluster discovered (create, status, Event)`, unit: 'writes', samples: writesPerCluster },
      { name: 'DNS queries per cluster per resync', unit: 'queries', samples: queriesPerCluster, target: '<= 4', pass: max(queriesPerCluster) <= 4 },
      { name: `API writes during an unchanged resync (${n} clusters, controller's own)`, unit: 'writes', samples: writes, target: '0', pass: max(writes) === 0 },
      {
        name: 'API writes to discovery.liqo.io and Events during the unchanged resyncs (all clients, API server metrics)',
        unit: 'writes',
        samples: [apiWrites],
        target: '0',
        pass: apiWrites === 0,
        note: 'ClusterConfig (config.liqo.io) is not counted: the window opens with the change that sets resyncSeconds to 2 s',
      },
      { name: `unchanged resync of ${n} clusters: duration`, unit: 's', samples: resyncSeconds },
    ];
    return { figures };
  } finally {
    await controller?.stop();
    await stopAll();
  }
}
