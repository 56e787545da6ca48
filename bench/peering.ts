/** Manual peering between two local control planes: join -> virtual node Ready, unpeer -> node gone. */
import { GVR, apiVersionOf } from '../src/api/crds.js';
import { Labels, Names } from '../src/api/constants.js';
import { Core, KubeClient, resourcePath } from '../src/k8s/rest.js';
import { Informer } from '../src/k8s/informer.js';
import { agentMetricsUrl, startAgent, startCluster } from '../test/support/clusters.js';
import { clusterIDOf, setClusterConfig } from '../test/support/peering.js';
import { apiRequestCounts, diffCounts, ms, sumAll, sumWrites, waitInformer, type BenchSection } from './lib.js';

type NodeObj = { metadata?: { name?: string }; status?: { conditions?: Array<{ type: string; status: string }> } };

const until = (what: string, informer: Informer<any>, probe: () => boolean, timeoutMs = 60_000): Promise<unknown> =>
  waitInformer(what, informer, () => (probe() ? true : undefined), timeoutMs);

export async function benchPeering(opts: { quick: boolean }): Promise<BenchSection> {
  const runs = opts.quick ? 5 : 20;
  const [a, b] = await Promise.all([startCluster('bench-pa'), startCluster('bench-pb')]);
  const A = a.client();
  const B = b.client();
  await setClusterConfig(B, { peeringConfig: { acceptPolicy: 'AcceptAll' } });
  const agents = [startAgent(a, ['--no-dashboard']), startAgent(b, ['--no-dashboard'])];
  await Promise.all(agents.map(agentMetricsUrl));
  const [idA, idB] = await Promise.all([clusterIDOf(A), clusterIDOf(B)]);
  void idA;
  const nodes = new Informer<NodeObj>(KubeClient.fromFile(a.kubeconfig), Core.nodes, { fieldSelector: `metadata.name=${Names.virtualNodePrefix}${idB}` });
  const requests = new Informer<NodeObj>(KubeClient.fromFile(b.kubeconfig), GVR.peeringRequest);
  nodes.start();
  requests.start();
  await Promise.all([nodes.waitForSync(), requests.waitForSync()]);
  const ready = () => !!nodes.list()[0]?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
  const join: number[] = [];
  const unpeer: number[] = [];
  const requestsA: number[] = [];
  const requestsB: number[] = [];
  const writesA: number[] = [];
  const rejoin: number[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const [beforeA, beforeB] = await Promise.all([apiRequestCounts(A), apiRequestCounts(B)]);
      const name = `bench-peer`;
      const t = process.hrtime.bigint();
      if (i === 0) {
        await A.create(resourcePath(GVR.foreignCluster), {
          apiVersion: apiVersionOf(GVR.foreignCluster),
          kind: 'ForeignCluster',
          metadata: { name, labels: { [Labels.clusterID]: idB } },
          spec: { clusterID: idB, apiUrl: b.apiUrl, discoveryType: 'Manual', join: true, allowUntrustedCA: true },
        });
      } else {
        await A.mergePatch(resourcePath(GVR.foreignCluster, { name }), { spec: { join: true } });
      }
      await until('virtual node Ready', nodes, ready);
      join.push(ms(t));
      const [afterA, afterB] = await Promise.all([apiRequestCounts(A), apiRequestCounts(B)]);
      const dA = diffCounts(beforeA, afterA);
      requestsA.push(sumAll(dA));
      writesA.push(sumWrites(dA));
      requestsB.push(sumAll(diffCounts(beforeB, afterB)));
      const u = process.hrtime.bigint();
      await A.mergePatch(resourcePath(GVR.foreignCluster, { name }), { spec: { join: false } });
      await until('virtual node gone', nodes, () => nodes.list().length === 0);
      unpeer.push(ms(u));
      // Let the foreign side notice the revoked credential before the next round.
      await until('PeeringRequest gone on the foreign side', requests, () => !requests.get(idA)).catch(async (e) => {
        throw new Error(`${(e as Error).message}: ${JSON.stringify(await B.getOrNull(resourcePath(GVR.peeringRequest, { name: idA })))?.slice(0, 1500)}`);
      });
    }
    // Re-join right after leaving, as a person toggles join: the foreign side still holds the old
    // request; the new one replaces it at once (incoming/candidates.ts) instead of waiting for the
    // next heartbeat to be refused.
    for (let i = 0; i < runs; i++) {
      const name = `bench-peer`;
      await A.mergePatch(resourcePath(GVR.foreignCluster, { name }), { spec: { join: true } });
      await until('virtual node Ready', nodes, ready);
      await A.mergePatch(resourcePath(GVR.foreignCluster, { name }), { spec: { join: false } });
      await until('virtual node gone', nodes, () => nodes.list().length === 0);
      const t = process.hrtime.bigint();
      await A.mergePatch(resourcePath(GVR.foreignCluster, { name }), { spec: { join: true } });
      await until('virtual node Ready again', nodes, ready);
      rejoin.push(ms(t));
      await A.mergePatch(resourcePath(GVR.foreignCluster, { name }), { spec: { join: false } });
      await until('virtual node gone', nodes, () => nodes.list().length === 0);
    }
  } finally {
    nodes.stop();
    requests.stop();
    await Promise.all(agents.map((x) => x.stop()));
    await Promise.all([a.stop(), b.stop()]);
  }
  return {
    figures: [
      { name: 'manual peering: join: true -> virtual node Ready', unit: 'ms', samples: join, target: 'p50 < 2000 ms', pass: [...join].sort((x, y) => x - y)[Math.ceil(join.length / 2) - 1]! < 2000 },
      { name: 'manual peering: re-join (join: false, then join: true at once) -> virtual node Ready', unit: 'ms', samples: rejoin, target: 'p50 < 2000 ms', pass: rejoin.length > 0 && [...rejoin].sort((x, y) => x - y)[Math.ceil(rejoin.length / 2) - 1]! < 2000 },
      { name: 'manual peering: join: false -> virtual node gone', unit: 'ms', samples: unpeer },
      { name: 'manual peering: API requests per peering, home cluster (all clients)', unit: 'requests', samples: requestsA, note: 'all clients incl. kube-controller-manager and the host-node lease; the bench itself only watches' },
      { name: 'manual peering: API writes per peering, home cluster', unit: 'writes', samples: writesA },
      { name: 'manual peering: API requests per peering, foreign cluster', unit: 'requests', samples: requestsB },
    ],
  };
}
