/**
 * Real-node figures (local clusters on a network-namespace host with containerd, kubelet,
 * kube-proxy, kube-scheduler and CoreDNS): the cold build of every binary as recorded when the
 * cache filled, warm start to node Ready, pod create -> Running, and memory per cluster with its
 * node. Needs root (network namespaces, containerd); the section says "skipped" otherwise.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Core, resourcePath } from '../src/k8s/rest.js';
import { Informer } from '../src/k8s/informer.js';
import { controlPlaneBinDir } from '../src/localcluster/binaries.js';
import { startLocalCluster, type LocalCluster } from '../src/localcluster/localCluster.js';
import { NetnsLab } from '../src/localcluster/netns.js';
import { cgroupDirs, shimPids } from '../src/localcluster/node/cleanup.js';
import { Images } from '../src/localcluster/node/images.js';
import { ms, p50, rssMiB, waitInformer, type BenchSection, type Figure } from './lib.js';

interface Pod {
  metadata: { name: string; namespace?: string };
  status?: { phase?: string };
}

/**
 * Per-binary seconds of the build that filled the cache, from build-seconds.tsv (one `name\tseconds`
 * line per `go build`). A binary rebuilt later (a --force run, a binary added to the set) appends
 * another line, built with a warm Go cache; the first line of each binary is its cold build.
 */
export function coldBuildSeconds(tsv: string): Map<string, number> {
  const first = new Map<string, number>();
  for (const line of tsv.split('\n')) {
    const [name, secs] = line.split('\t');
    if (name && secs !== undefined && !first.has(name) && Number.isFinite(Number(secs))) first.set(name, Number(secs));
  }
  return first;
}

function buildFigures(binDir: string): Figure[] {
  const cache = dirname(binDir);
  const tsv = join(cache, 'build-seconds.tsv');
  const versionsFile = join(cache, 'versions.json');
  if (!existsSync(tsv) || !existsSync(versionsFile)) {
    return [{ name: 'cold build of all binaries', unit: 's', samples: [], note: `not recorded: ${cache} was not filled by tools/controlplane/build.sh (no build-seconds.tsv and versions.json)` }];
  }
  const versions = JSON.parse(readFileSync(versionsFile, 'utf8')) as Record<string, unknown>;
  const perBinary = coldBuildSeconds(readFileSync(tsv, 'utf8'));
  const total = [...perBinary.values()].reduce((a, b) => a + b, 0);
  const figures: Figure[] = [...perBinary].map(([name, s]) => ({ name: `cold build: ${name}`, unit: 's', samples: [s] }));
  figures.push({
    name: 'cold build: all binaries (total)',
    unit: 's',
    samples: [total],
    note: `recorded by tools/controlplane/build.sh when the cache filled (${['kubernetes', 'etcd', 'containerd', 'coredns'].map((k) => `${k} ${String(versions[k] ?? '?')}`).join(', ')}); go mod download not included; one go build at a time; the first line of each binary in build-seconds.tsv (later lines are warm rebuilds)`,
  });
  return figures;
}

function pidsOfCgroup(dir: string): number[] {
  try {
    return readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** RSS (MiB) of every process of a cluster with a real node, by component. */
export function clusterMemory(c: LocalCluster): Record<string, number> {
  const out: Record<string, number> = { supervisor: rssMiB(c.supervisorPid) };
  const seen = new Set<number>([c.supervisorPid]);
  for (const [name, pid] of Object.entries(c.pids)) {
    out[name] = rssMiB(pid);
    seen.add(pid);
  }
  const add = (key: string, pids: number[]) => {
    for (const pid of pids) {
      if (seen.has(pid)) continue;
      seen.add(pid);
      const r = rssMiB(pid);
      if (Number.isFinite(r)) out[key] = (out[key] ?? 0) + r;
    }
  };
  add('shims', shimPids(c.node!.containerdSocket!));
  // Containers (CoreDNS and the pause processes): every process in the node's cgroup subtree, in
  // any hierarchy (cgroup v1 lists the same process once per hierarchy; `seen` counts it once).
  add('containers', cgroupDirs(c.node!.cgroupRoot!).flatMap(pidsOfCgroup));
  return out;
}

async function podsRunning(c: LocalCluster, namespace: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pods = await c.client().list<Pod>(resourcePath(Core.pods, { namespace }));
    if (pods.items.length && pods.items.every((p) => p.status?.phase === 'Running')) return;
    if (Date.now() > deadline) throw new Error(`bench: pods of ${namespace} not Running after ${timeoutMs / 1000}s: ${pods.items.map((p) => `${p.metadata.name}=${p.status?.phase}`).join(', ') || 'none'}`);
    await sleep(200);
  }
}

export async function benchRealNode(opts: { quick: boolean }): Promise<BenchSection> {
  if (process.getuid?.() !== 0) return { figures: [], skipped: 'needs root (network namespaces, containerd)' };
  const figures = buildFigures(controlPlaneBinDir());
  const starts = opts.quick ? 2 : 5;
  const podRuns = opts.quick ? 10 : 20;
  const lab = NetnsLab.forTestRun();
  const ready: number[] = [];
  const mem: number[] = [];
  const parts: Record<string, number[]> = {};
  const podLatency: number[] = [];
  try {
    for (let i = 0; i < starts; i++) {
      // A fresh namespace host each time, as `local up --netns` gives: no iptables rules or CNI
      // bridge left from the previous start. Making the host is not part of the figure.
      const host = await lab.addHost(`rn${i}`);
      const t = process.hrtime.bigint();
      const c = await startLocalCluster({ name: `bench-rn-${i}`, address: host.address, netns: host.netns, node: 'real' });
      ready.push(ms(t));
      try {
        await podsRunning(c, 'kube-system', 60_000);
        await sleep(2000); // let start-up settle before measuring memory (not a synchronisation)
        const m = clusterMemory(c);
        mem.push(Object.values(m).reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0));
        for (const [k, v] of Object.entries(m)) (parts[k] ??= []).push(v);
        if (i === starts - 1) podLatency.push(...(await podStartLatencies(c, podRuns)));
      } finally {
        await c.stop();
        await lab.removeHost(`rn${i}`);
      }
    }
  } finally {
    await lab.destroy();
  }
  figures.push({
    name: 'real node: warm start to node Ready',
    unit: 'ms',
    samples: ready,
    target: '< 30000 ms',
    pass: ready.every((x) => x < 30_000),
    note: 'from startLocalCluster({node: "real"}) to its return, which waits for the kubelet\'s Node to be Ready (etcd, apiserver, kcm, scheduler, containerd, image import, kubelet); kube-proxy start and the CoreDNS manifests follow within it; binaries and image archives cached',
  });
  figures.push({
    name: `real node: pod create -> Running (${Images.busybox()})`,
    unit: 'ms',
    samples: podLatency,
    target: '< 3000 ms (p50)',
    pass: p50(podLatency) < 3000,
    note: 'one pod at a time on an idle node, from the create call to the Running phase seen by a watch (image already on the node, imagePullPolicy IfNotPresent); samples sit near whole seconds because the kubelet notices a started container at its 1 s PLEG relist',
  });
  const breakdown = Object.entries(parts)
    .map(([k, v]) => `${k} ${p50(v).toFixed(0)}`)
    .join(', ');
  figures.push({
    name: 'real node: memory per cluster with its node (RSS sum)',
    unit: 'MiB',
    samples: mem,
    note: `idle cluster with CoreDNS Running; VmRSS of every process, p50 MiB by part: ${breakdown}; pages shared between processes count in each`,
  });
  return { figures };
}

async function podStartLatencies(c: LocalCluster, n: number): Promise<number[]> {
  const client = c.client();
  const namespace = 'default';
  const informer = new Informer<Pod & { apiVersion?: string; kind?: string }>(client, Core.pods, { namespace });
  informer.start();
  await informer.waitForSync();
  const out: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const name = `bench-pod-${i}`;
      const t = process.hrtime.bigint();
      await client.create(resourcePath(Core.pods, { namespace }), {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, namespace },
        spec: { terminationGracePeriodSeconds: 0, containers: [{ name: 'main', image: Images.busybox(), imagePullPolicy: 'IfNotPresent', command: ['sleep', '3600'] }] },
      });
      let elapsed = 0;
      await waitInformer(
        `pod ${name} Running`,
        informer,
        () => {
          const p = informer.list().find((x) => x.metadata.name === name);
          if (p?.status?.phase !== 'Running') return undefined;
          elapsed ||= ms(t);
          return true;
        },
        60_000,
      );
      out.push(elapsed);
    }
  } finally {
    informer.stop();
  }
  return out;
}
