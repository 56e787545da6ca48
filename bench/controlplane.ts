/** Local control plane and agent figures: cold build, time to ready, memory, agent idle RSS. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CONTROLPLANE_BINARIES, controlPlaneBinDir } from '../src/localcluster/binaries.js';
import { startLocalCluster } from '../src/localcluster/localCluster.js';
import { install } from '../src/install/install.js';
import { agentMetricsUrl, startAgent } from '../test/support/clusters.js';
import { ms, rssMiB, type BenchSection, type Figure } from './lib.js';
import { coldBuildSeconds } from './realnode.js';

export async function benchControlPlane(opts: { quick: boolean }): Promise<BenchSection> {
  const figures: Figure[] = [];
  const bin = controlPlaneBinDir();
  // The cache also holds the real node's binaries (bench/realnode.ts reports them): count the
  // control plane's own, each at its first (cold) build.
  const tsv = join(dirname(bin), 'build-seconds.tsv');
  const perBinary = existsSync(tsv) ? coldBuildSeconds(readFileSync(tsv, 'utf8')) : new Map<string, number>();
  const recorded = CONTROLPLANE_BINARIES.every((b) => perBinary.has(b)) ? CONTROLPLANE_BINARIES.reduce((a, b) => a + perBinary.get(b)!, 0) : undefined;
  if (recorded) figures.push({ name: `control plane: cold build of ${CONTROLPLANE_BINARIES.join(', ')} (recorded when the cache was filled)`, unit: 's', samples: [recorded], target: '< 900 s', pass: recorded < 900 });

  const runs = opts.quick ? 2 : 5;
  const ready: number[] = [];
  const mem: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    const c = await startLocalCluster({ name: `bench-cp-${i}` });
    ready.push(ms(t));
    await sleep(3000); // let start-up settle before measuring memory
    mem.push(Object.values(c.pids).reduce((a, pid) => a + rssMiB(pid), 0) + rssMiB(c.supervisorPid));
    await c.stop();
  }
  figures.push({ name: 'control plane: warm start to /readyz (binaries cached)', unit: 'ms', samples: ready, target: '< 15000 ms', pass: ready.every((x) => x < 15000) });
  figures.push({ name: 'control plane: memory per cluster (etcd + apiserver + kcm + supervisor RSS)', unit: 'MiB', samples: mem });

  // Agent idle RSS on an installed cluster with nothing to do.
  const c = await startLocalCluster({ name: 'bench-agent' });
  await install(c.client(), { clusterName: 'bench-agent' });
  const agent = startAgent(c, ['--no-dashboard']);
  await agentMetricsUrl(agent);
  const rss: number[] = [];
  await sleep(opts.quick ? 5000 : 15000);
  for (let i = 0; i < 5; i++) {
    rss.push(rssMiB(agent.pid));
    await sleep(1000);
  }
  figures.push({ name: 'agent: idle RSS', unit: 'MiB', samples: rss, target: '< 150 MiB', pass: rss.every((x) => x < 150) });
  await agent.stop();
  await c.stop();
  return { figures };
}
