/**
 * Workload offloading figures, on two clusters with real nodes (network-namespace hosts, kubelet +
 * containerd each) and real agents, set up as test/integration/offloading.test.ts does: A peers
 * with B; pods of an enabled namespace of A pinned to the virtual node `liqo-<B>` run in B's
 * tenant namespace for A. Every offloaded figure is measured in the same run against the same pod
 * (or Deployment) created directly on B, so the ratio is the cost of going through the peering.
 * Needs root (network namespaces, containerd); the section says "skipped" otherwise.
 */
import { spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { Core, resourcePath, type KubeClient, type ResourceRef } from '../src/k8s/rest.js';
import { Informer } from '../src/k8s/informer.js';
import { NetnsLab } from '../src/localcluster/netns.js';
import { Images } from '../src/localcluster/node/images.js';
import { OFFLOADING_ENABLED_LABEL, tenantCredentialOnConsumer, tenantNamespace } from '../src/offloading/names.js';
import { startPeeredRealNodePair, type PeeredRealNodePair } from '../test/support/realNodePair.js';
import { apiRequestCounts, diffCounts, ms, p50, p95, rssMiB, waitInformer, type BenchSection, type Figure } from './lib.js';

interface Pod {
  metadata: { name: string; namespace?: string };
  status?: { phase?: string };
}
interface Deployment {
  metadata: { name: string };
  status?: { readyReplicas?: number };
}

const Deployments: ResourceRef = { group: 'apps', version: 'v1', plural: 'deployments', namespaced: true };
/** The enabled namespace on A, and B's namespace for the same pods created directly. */
const HOME_NS = 'bench-offload';
const DIRECT_NS = 'bench-direct';
/** kubelet's pod capacity on B: room for 100 offloaded pods and the direct ones at once. */
const B_MAX_PODS = 200;

/**
 * The pod every figure uses, offloaded or not: local busybox (never pulled), 1 s grace, requests
 * small enough for 100+ on one node. `pinTo` pins it to a peer's virtual node (the toleration is
 * what the webhook would add; harmless on B's own node).
 */
function podSpec(pinTo?: string): Record<string, unknown> {
  return {
    terminationGracePeriodSeconds: 1,
    ...(pinTo ? { nodeSelector: { 'liqo.io/remote-cluster-id': pinTo } } : {}),
    tolerations: [{ key: 'virtual-node.liqo.io/not-allowed', operator: 'Exists', effect: 'NoExecute' }],
    containers: [
      {
        name: 'main',
        image: Images.busybox(),
        imagePullPolicy: 'IfNotPresent',
        command: ['sleep', '3600'],
        resources: { requests: { cpu: '1m', memory: '4Mi' } },
      },
    ],
  };
}

const pod = (name: string, namespace: string, pinTo?: string) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace, labels: { bench: 'offloading' } }, spec: podSpec(pinTo) });

const deployment = (name: string, namespace: string, replicas: number, pinTo?: string) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace },
  spec: {
    replicas,
    selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name } }, spec: podSpec(pinTo) },
  },
});

function watch<T>(client: KubeClient, ref: ResourceRef, namespace?: string): Informer<T & { apiVersion?: string; kind?: string; metadata: { name: string } }> {
  const i = new Informer<T & { apiVersion?: string; kind?: string; metadata: { name: string } }>(client, ref, namespace ? { namespace } : {});
  i.start();
  return i;
}

const running = (i: Informer<Pod>, name: string) => i.list().some((p) => p.metadata.name === name && p.status?.phase === 'Running');
const until = (what: string, i: Informer<any>, probe: () => boolean, timeoutMs: number) => waitInformer(what, i, () => (probe() ? true : undefined), timeoutMs);

/** Creates a pod and returns ms from the create call to its Running phase as `seenBy` watches it. */
async function podToRunning(client: KubeClient, seenBy: Informer<Pod>, manifest: ReturnType<typeof pod>): Promise<number> {
  const t = process.hrtime.bigint();
  let elapsed = 0;
  await client.create(resourcePath(Core.pods, { namespace: manifest.metadata.namespace }), manifest);
  await waitInformer(
    `pod ${manifest.metadata.namespace}/${manifest.metadata.name} Running`,
    seenBy,
    () => {
      if (!running(seenBy, manifest.metadata.name)) return undefined;
      elapsed ||= ms(t);
      return true;
    },
    90_000,
  );
  return elapsed;
}

/** Creates a Deployment and returns ms from the create call to readyReplicas = replicas. */
async function deploymentReady(client: KubeClient, deployments: Informer<Deployment>, manifest: ReturnType<typeof deployment>): Promise<number> {
  const t = process.hrtime.bigint();
  let elapsed = 0;
  await client.create(resourcePath(Deployments, { namespace: manifest.metadata.namespace }), manifest);
  await waitInformer(
    `deployment ${manifest.metadata.name} ${manifest.spec.replicas}/${manifest.spec.replicas} ready`,
    deployments,
    () => {
      const d = deployments.list().find((x) => x.metadata.name === manifest.metadata.name);
      if ((d?.status?.readyReplicas ?? 0) < manifest.spec.replicas) return undefined;
      elapsed ||= ms(t);
      return true;
    },
    240_000,
  );
  return elapsed;
}

/** One deletecollection of the bench's bare pods of a namespace. */
async function deleteAllPods(client: KubeClient, namespace: string): Promise<void> {
  await client.request('DELETE', resourcePath(Core.pods, { namespace }), { query: { labelSelector: 'bench=offloading' }, body: { kind: 'DeleteOptions', apiVersion: 'v1' } });
}

/** B's requests by `VERB resource`, WATCH and CONNECT left out (long-running, not per pod). */
const requestsByResource = (client: KubeClient) =>
  apiRequestCounts(client, (l) => l.verb !== 'WATCH' && l.verb !== 'CONNECT', (l) => `${l.verb} ${l.resource}${l.subresource ? `/${l.subresource}` : ''}`);
const total = (c: Record<string, number>) => Object.values(c).reduce((x, y) => x + y, 0);
const sumWhere = (c: Record<string, number>, keep: (key: string) => boolean) => total(Object.fromEntries(Object.entries(c).filter(([k]) => keep(k))));
/** `VERB resource[/sub]` keys of what a pod's life touches (the pod, its Events, what it mounts, the quota it counts in). */
const isPodRelated = (key: string) => /^\S+ (pods|events|configmaps|secrets|resourcequotas)(\/|$)/.test(key);

/** The agent's own /metrics, fetched inside its network namespace (where it listens). */
function agentMetricsText(netns: string, metricsUrl: string): string {
  const r = spawnSync('ip', ['netns', 'exec', netns, 'curl', '-sf', '--max-time', '10', `${metricsUrl}/metrics`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout : '';
}

/** The sum of a metric's samples (all label sets), or NaN when it is not exported. */
export function metricSum(text: string, name: string): number {
  let sum = NaN;
  for (const line of text.split('\n')) {
    const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`).exec(line);
    if (m) sum = (Number.isNaN(sum) ? 0 : sum) + Number(m[1]);
  }
  return sum;
}

/** Medians of a few RSS and JS-heap readings a second apart (both move between collections). */
async function settledMemory(pid: number, metrics: () => string): Promise<{ rss: number; heap: number }> {
  // Not a synchronisation: lets the reflector's last writes and a GC cycle pass before reading.
  await sleep(3000);
  const rss: number[] = [];
  const heap: number[] = [];
  for (let i = 0; i < 5; i++) {
    rss.push(rssMiB(pid));
    heap.push(metricSum(metrics(), 'kubepeer_process_nodejs_heap_size_used_bytes') / 2 ** 20);
    await sleep(1000);
  }
  return { rss: p50(rss), heap: p50(heap) };
}

export async function benchOffloading(opts: { quick: boolean }): Promise<BenchSection> {
  if (process.getuid?.() !== 0) return { figures: [], skipped: 'needs root (network namespaces, containerd)' };
  const began = Date.now();
  const phase = (what: string) => process.stderr.write(`bench: offloading: +${((Date.now() - began) / 1000).toFixed(0)}s ${what}\n`);
  const startRuns = opts.quick ? 10 : 20;
  const lifecycleRuns = opts.quick ? 10 : 20;
  const replicas = 50;
  const lab = NetnsLab.forTestRun();
  let pair: PeeredRealNodePair | undefined;
  const informers: Array<Informer<any>> = [];
  const figures: Figure[] = [];
  try {
    pair = await startPeeredRealNodePair(lab, { names: ['bench-offa', 'bench-offb'], maxPodsB: B_MAX_PODS, agentArgs: ['--no-dashboard'], foreignClusterName: 'bench-b' });
    const { a, b, agentA, idA, idB } = pair;
    const A = a.client();
    const B = b.client();
    const metricsA = () => agentMetricsText(pair!.hosts.a.netns, pair!.metricsUrlA);
    const tenantNs = tenantNamespace(idA);
    await A.create(resourcePath(Core.namespaces), { apiVersion: 'v1', kind: 'Namespace', metadata: { name: HOME_NS, labels: { [OFFLOADING_ENABLED_LABEL]: 'true' } } });
    await B.create(resourcePath(Core.namespaces), { apiVersion: 'v1', kind: 'Namespace', metadata: { name: DIRECT_NS } });
    // B's ServiceAccount admission wants the namespace's default ServiceAccount before any pod.
    const saB = watch(B, Core.serviceAccounts, DIRECT_NS);
    const credA = watch(A, Core.secrets, 'liqo');
    const homePods = watch<Pod>(A, Core.pods, HOME_NS);
    const directPods = watch<Pod>(B, Core.pods, DIRECT_NS);
    const tenantPods = watch<Pod>(B, Core.pods, tenantNs);
    const homeDeployments = watch<Deployment>(A, Deployments, HOME_NS);
    const directDeployments = watch<Deployment>(B, Deployments, DIRECT_NS);
    informers.push(saB, credA, homePods, directPods, tenantPods, homeDeployments, directDeployments);
    await Promise.all(informers.map((i) => i.waitForSync()));
    await until('tenant credential for A delivered into A', credA, () => !!credA.get(`liqo/${tenantCredentialOnConsumer(idB)}`), 120_000);
    await until(`default ServiceAccount in ${DIRECT_NS} on B`, saB, () => !!saB.get(`${DIRECT_NS}/default`), 60_000);
    const allGone = async (what: string) => {
      await Promise.all([
        until(`${what}: home pods gone`, homePods, () => homePods.list().length === 0, 120_000),
        until(`${what}: remote pods gone on B`, tenantPods, () => tenantPods.list().length === 0, 120_000),
        until(`${what}: direct pods gone on B`, directPods, () => directPods.list().length === 0, 120_000),
      ]);
    };

    // (a) One pod at a time, direct and offloaded alternating so both see the same machine.
    phase(`${startRuns} pods each way, one at a time`);
    const direct: number[] = [];
    const offloaded: number[] = [];
    for (let i = 0; i < startRuns; i++) {
      direct.push(await podToRunning(B, directPods, pod(`direct-${i}`, DIRECT_NS)));
      offloaded.push(await podToRunning(A, homePods, pod(`offloaded-${i}`, HOME_NS, idB)));
    }
    await Promise.all([deleteAllPods(A, HOME_NS), deleteAllPods(B, DIRECT_NS)]);
    await allGone('after pod start-up');
    figures.push(
      {
        name: 'offloaded pod: create at home -> Running at home',
        unit: 'ms',
        samples: offloaded,
        note: `one pod at a time (${Images.busybox()}, image on B's node, requests cpu 1m memory 4Mi), from the create call on A to the home pod's Running phase seen by a watch on A: webhook, A's scheduler, the virtual kubelet creating the remote pod in liqo-tenant-<A> on B, B's scheduler and kubelet, and the status mirrored back`,
      },
      { name: 'direct pod on B: create -> Running', unit: 'ms', samples: direct, note: 'the same pod created directly in an ordinary namespace of B, alternating with the offloaded ones, Running seen by a watch on B' },
      ratioFigure('pod start-up: offloaded / direct (p50)', offloaded, direct, p50),
      ratioFigure('pod start-up: offloaded / direct (p95)', offloaded, direct, p95),
    );

    // (c) API requests on B per pod lifecycle (create -> Running -> delete -> gone), offloaded from
    // A and, the same pods, created directly on B. B's apiserver_request_total has no user or
    // namespace label, so the counts are of every client; an idle window measured just before
    // gives the background (leases, heartbeats, controllers) to subtract.
    phase(`${lifecycleRuns} pod lifecycles each way, counting requests on B`);
    const idleMs = 10_000;
    const idleBefore = await requestsByResource(B);
    await sleep(idleMs); // a measurement window: B's background rate with nothing running
    const idle = diffCounts(idleBefore, await requestsByResource(B));
    const lifecycleOn = async (client: KubeClient, namespace: string, seenBy: Informer<Pod>, pinTo?: string) => {
      const before = await requestsByResource(B);
      const t = Date.now();
      const names = Array.from({ length: lifecycleRuns }, (_, i) => `lifecycle-${i}`);
      await Promise.all(names.map((n) => client.create(resourcePath(Core.pods, { namespace }), pod(n, namespace, pinTo))));
      await until(`${lifecycleRuns} pods of ${namespace} Running`, seenBy, () => names.every((n) => running(seenBy, n)), 180_000);
      await deleteAllPods(client, namespace);
      await allGone(`after the lifecycles in ${namespace}`);
      const counts = diffCounts(before, await requestsByResource(B));
      const windowMs = Date.now() - t;
      const scale = windowMs / idleMs;
      const net = (keep: (k: string) => boolean) => (sumWhere(counts, keep) - sumWhere(idle, keep) * scale) / lifecycleRuns;
      return { counts, windowMs, all: net(() => true), podRelated: net(isPodRelated) };
    };
    const off = await lifecycleOn(A, HOME_NS, homePods, idB);
    const dir = await lifecycleOn(B, DIRECT_NS, directPods);
    const idleRate = (total(idle) / idleMs) * 1000;
    figures.push(
      {
        name: 'API requests on B per offloaded pod lifecycle (pods, events, configmaps, secrets, quotas)',
        unit: 'requests',
        samples: [off.podRelated],
        note: `${lifecycleRuns} pods created at once on A, all Running at home, deleted, gone on both sides (${(off.windowMs / 1000).toFixed(1)} s); the difference of B's apiserver_request_total (every client of B: A's agent, B's scheduler, kubelet and controllers) over that window for the resources a pod's life touches, minus their idle rate, divided by ${lifecycleRuns}; WATCH and CONNECT not counted. Every request on B per pod, before subtracting: ${perPod(off.counts, lifecycleRuns)}. All resources are not a figure: B's idle rate (${idleRate.toFixed(1)} requests/s over ${idleMs / 1000} s just before, agents running, nothing offloaded; per s: ${perPod(idle, idleMs / 1000)}) is most of the window and its noise exceeds a pod's requests`,
      },
      {
        name: 'API requests on B per direct pod lifecycle (same resources)',
        unit: 'requests',
        samples: [dir.podRelated],
        note: `the same ${lifecycleRuns} pods created, Running, deleted and gone directly in a namespace of B (${(dir.windowMs / 1000).toFixed(1)} s), counted the same way: ${perPod(dir.counts, lifecycleRuns)}`,
      },
      { name: 'API requests per pod lifecycle on B: offloaded / direct', unit: 'x', samples: [off.podRelated / dir.podRelated] },
    );

    // (b) A 50-replica Deployment to all ready, direct on B first, then offloaded.
    phase(`${replicas}-replica Deployment, direct then offloaded`);
    const mem0 = await settledMemory(agentA.pid, metricsA);
    const directDeploy = await deploymentReady(B, directDeployments, deployment('direct', DIRECT_NS, replicas));
    await B.delete(resourcePath(Deployments, { namespace: DIRECT_NS, name: 'direct' }));
    await until('direct Deployment pods gone', directPods, () => directPods.list().length === 0, 180_000);
    const offloadedDeploy = await deploymentReady(A, homeDeployments, deployment('offloaded', HOME_NS, replicas, idB));
    figures.push(
      {
        name: `${replicas}-replica Deployment -> all ready, offloaded`,
        unit: 'ms',
        samples: [offloadedDeploy],
        note: `created on A in an enabled namespace, pinned to liqo-<B>; from the create call to status.readyReplicas = ${replicas} on A (each home pod Ready once its remote pod is, as mirrored back)`,
      },
      { name: `${replicas}-replica Deployment -> all ready, direct on B`, unit: 'ms', samples: [directDeploy], note: 'the same Deployment created on B (without the pin), just before; readyReplicas on B' },
      ratioFigure(`${replicas}-replica Deployment: offloaded / direct`, [offloadedDeploy], [directDeploy], p50),
    );

    // (d) Agent A's memory with 0, 50 and 100 offloaded pods.
    phase('agent memory at 50 and 100 offloaded pods');
    const mem50 = await settledMemory(agentA.pid, metricsA);
    const t100 = Date.now();
    await A.mergePatch(resourcePath(Deployments, { namespace: HOME_NS, name: 'offloaded' }), { spec: { replicas: 100 } });
    await until('100 offloaded replicas ready', homeDeployments, () => (homeDeployments.list().find((d) => d.metadata.name === 'offloaded')?.status?.readyReplicas ?? 0) >= 100, 300_000);
    const scaleMs = Date.now() - t100;
    const mem100 = await settledMemory(agentA.pid, metricsA);
    const [rss0, rss50, rss100] = [mem0.rss, mem50.rss, mem100.rss];
    const slope = (rss100 - rss0) / 100;
    const heapSlope = (mem100.heap - mem0.heap) / 100;
    // The offloading metrics the agent exports (kubepeer_offloaded_pods by peer and phase, the
    // create -> remote Running histogram), read where a Prometheus would read them.
    const exported = metricsA();
    const offloadedGauge = metricSum(exported, 'kubepeer_offloaded_pods');
    const startupCount = metricSum(exported, 'kubepeer_offloaded_pod_startup_seconds_count');
    const startupSum = metricSum(exported, 'kubepeer_offloaded_pod_startup_seconds_sum');
    figures.push(
      { name: 'agent A RSS, 0 offloaded pods', unit: 'MiB', samples: [rss0], note: 'VmRSS of the consumer agent (median of 5 readings 1 s apart, 3 s after the last change), after the start-up and lifecycle runs above so its caches are warm' },
      { name: 'agent A RSS, 50 offloaded pods', unit: 'MiB', samples: [rss50] },
      { name: 'agent A RSS, 100 offloaded pods', unit: 'MiB', samples: [rss100], note: `scaled 50 -> 100 in ${(scaleMs / 1000).toFixed(0)} s` },
      { name: 'agent A RSS per offloaded pod (slope 0 -> 100)', unit: 'KiB', samples: [slope * 1024], note: `(RSS at 100 - RSS at 0) / 100; 0 -> 50: ${(((rss50 - rss0) / 50) * 1024).toFixed(0)} KiB/pod, 50 -> 100: ${(((rss100 - rss50) / 50) * 1024).toFixed(0)} KiB/pod; V8 grows and returns its heap in steps, so a per-pod cost below ~100 KiB is within the noise of one reading (a negative slope means it is)` },
      {
        name: 'agent A JS heap used per offloaded pod (slope 0 -> 100)',
        unit: 'KiB',
        samples: [heapSlope * 1024],
        note: `kubepeer_process_nodejs_heap_size_used_bytes from the agent's /metrics, medians of 5 readings: ${mem0.heap.toFixed(1)} / ${mem50.heap.toFixed(1)} / ${mem100.heap.toFixed(1)} MiB at 0 / 50 / 100 pods (uncollected garbage included)`,
      },
      {
        name: 'agent A /metrics: kubepeer_offloaded_pods (sum) at 100 pods',
        unit: 'pods',
        samples: [offloadedGauge],
        note: `exported on the agent's /metrics; kubepeer_offloaded_pod_startup_seconds counted ${startupCount} pods, mean ${((startupSum / startupCount) * 1000).toFixed(0)} ms from home create to remote Running (every offloaded pod of this run: the one-at-a-time ones, the lifecycles and the Deployment's, which queue behind each other)`,
      },
    );
    phase('cleaning up');
  } finally {
    for (const i of informers) i.stop();
    await pair?.stop().catch((e: Error) => process.stderr.write(`bench: offloading: stopping the clusters: ${e.message}\n`));
    await lab.destroy();
  }
  return { figures };
}

function ratioFigure(name: string, offloaded: number[], direct: number[], at: (s: number[]) => number): Figure {
  return { name, unit: 'x', samples: [at(offloaded) / at(direct)] };
}

/** `POST pods 2.0, GET pods 1.5, ...` per pod, the largest first. */
function perPod(counts: Record<string, number>, n: number): string {
  return (
    Object.entries(counts)
      .sort((x, y) => y[1] - x[1])
      .slice(0, 14)
      .map(([k, v]) => `${k} ${(v / n).toFixed(1)}`)
      .join(', ') || 'none'
  );
}
