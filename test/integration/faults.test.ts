/**
 * Faults the peering must survive: agents killed at each handshake step, API servers
 * and etcd restarted mid-way, the leader of two replicas killed, a peer whose agent is down when
 * join turns true. Every case ends converged, with exactly one of each object and no orphans.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../src/localcluster/localCluster.js';
import { Core, resourcePath, type KubeClient } from '../../src/k8s/rest.js';
import { GVR, apiVersionOf } from '../../src/api/crds.js';
import { Labels, Names } from '../../src/api/constants.js';
import { agentMetricsUrl, startAgent, startCluster, type AgentProcess } from '../support/clusters.js';
import { clusterIDOf, describeFC, foreignCluster, setClusterConfig, virtualNode, waitForReadyNode } from '../support/peering.js';
import { waitFor } from '../support/wait.js';

let a: LocalCluster;
let b: LocalCluster;
let A: KubeClient;
let B: KubeClient;
let idA: string;
let idB: string;
const agents = new Set<AgentProcess>();

function agentFor(c: LocalCluster, args: string[] = []): AgentProcess {
  const p = startAgent(c, ['--no-dashboard', '--lease-duration', '4', ...args]);
  agents.add(p);
  return p;
}

beforeAll(async () => {
  [a, b] = await Promise.all([startCluster('fault-a'), startCluster('fault-b')]);
  A = a.client();
  B = b.client();
  await Promise.all([setClusterConfig(A, { peeringConfig: { heartbeatSeconds: 2 } }), setClusterConfig(B, { peeringConfig: { heartbeatSeconds: 2, acceptPolicy: 'AcceptAll' } })]);
  const [x, y] = [agentFor(a), agentFor(b)];
  await Promise.all([agentMetricsUrl(x), agentMetricsUrl(y)]);
  [idA, idB] = await Promise.all([clusterIDOf(A), clusterIDOf(B)]);
  await Promise.all([x.stop(), y.stop()]);
});

/** Removes a test's ForeignCluster even when the test failed, so the next one starts clean. */
async function cleanup(name: string): Promise<void> {
  // the delete is asked again until it is gone: an API server restarting refuses the first one
  await waitFor(`ForeignCluster ${name} gone`, async () => {
    await A.delete(resourcePath(GVR.foreignCluster, { name })).catch(() => {});
    return (await foreignCluster(A, name)) === null;
  }, { timeoutMs: 60_000, intervalMs: 1000 }).catch(() => {});
}

afterAll(async () => {
  await Promise.all([...agents].map((p) => p.stop()));
  await Promise.all([a?.stop(), b?.stop()]);
});

const cred = () => `liqo-remote-${idB}`;
async function countOnA(): Promise<Record<string, number>> {
  const sel = { labelSelector: `${Labels.clusterID}=${idB}` };
  const n = async (p: string) => (await A.list(p, sel)).items.length;
  return {
    serviceAccounts: await n(resourcePath(Core.serviceAccounts, { namespace: 'liqo' })),
    secrets: (await A.list<{ metadata: { name: string } }>(resourcePath(Core.secrets, { namespace: 'liqo' }), sel)).items.filter((s) => s.metadata.name === cred()).length,
    roles: await n(resourcePath(Core.roles, { namespace: 'liqo' })),
    roleBindings: await n(resourcePath(Core.roleBindings, { namespace: 'liqo' })),
    clusterRoles: await n(resourcePath(Core.clusterRoles)),
    clusterRoleBindings: await n(resourcePath(Core.clusterRoleBindings)),
    advertisements: (await A.list<{ spec: { clusterID: string } }>(resourcePath(GVR.advertisement))).items.filter((x) => x.spec.clusterID === idB).length,
  };
}
async function peeringRequestsOnB(): Promise<number> {
  return (await B.list<{ spec: { clusterID: string } }>(resourcePath(GVR.peeringRequest))).items.filter((p) => p.spec.clusterID === idA).length;
}

async function createFC(name: string): Promise<void> {
  await A.create(resourcePath(GVR.foreignCluster), {
    apiVersion: apiVersionOf(GVR.foreignCluster),
    kind: 'ForeignCluster',
    metadata: { name },
    spec: { clusterID: idB, apiUrl: b.apiUrl, discoveryType: 'Manual', join: true, allowUntrustedCA: true },
  });
}

async function unpeerAndCheckClean(name: string): Promise<void> {
  await A.mergePatch(resourcePath(GVR.foreignCluster, { name }), { spec: { join: false } });
  await waitFor('A: every credential object, the Advertisement and the node gone', async () => {
    const c = await countOnA();
    return Object.values(c).every((v) => v === 0) && (await virtualNode(A, idB)) === null ? c : undefined;
  }, { describe: countOnA });
  await waitFor('B: the PeeringRequest and its credential Secret gone', async () => (await peeringRequestsOnB()) === 0 && (await B.getOrNull(resourcePath(Core.secrets, { namespace: 'liqo', name: `liqo-peer-${idA}` }))) === null, { timeoutMs: 60_000 });
  await A.delete(resourcePath(GVR.foreignCluster, { name }));
  await waitFor('ForeignCluster deleted', async () => (await foreignCluster(A, name)) === null);
}

describe('agents killed at each step of the handshake', () => {
  it('converges with exactly one credential, one request and one Advertisement, and unpeers cleanly', async () => {
    let agentA = agentFor(a);
    let agentB = agentFor(b);
    await Promise.all([agentMetricsUrl(agentA), agentMetricsUrl(agentB)]);
    await createFC('killed');
    try {

    // Step 2 done (credential minted on A): kill A's agent with SIGKILL, restart it.
    await waitFor('credential Secret on A', () => A.getOrNull(resourcePath(Core.secrets, { namespace: 'liqo', name: cred() })), { timeoutMs: 60_000 });
    await agentA.kill();
    agentA = agentFor(a);
    // Step 3 done (request created on B): kill B's agent before or while it verifies.
    await waitFor('PeeringRequest on B', () => B.getOrNull(resourcePath(GVR.peeringRequest, { name: idA })), { timeoutMs: 60_000 });
    await agentB.kill();
    agentB = agentFor(b);
    // Step 6 done (Advertisement on A): kill A's agent again before the node is ready.
    await waitFor('Advertisement on A', () => A.getOrNull(resourcePath(GVR.advertisement, { name: `advertisement-${idB}` })), { timeoutMs: 90_000 });
    await agentA.kill();
    agentA = agentFor(a);

    await waitForReadyNode(A, idB, 120_000, describeFC(A, 'killed'));
    expect(await countOnA()).toEqual({ serviceAccounts: 1, secrets: 1, roles: 1, roleBindings: 1, clusterRoles: 1, clusterRoleBindings: 1, advertisements: 1 });
    expect(await peeringRequestsOnB()).toBe(1);
    await unpeerAndCheckClean('killed');
    } finally {
      await cleanup('killed');
      await Promise.all([agentA.stop(), agentB.stop()]);
    }
  }, 420_000);
});

describe('control-plane restarts mid-handshake', () => {
  it('the foreign API server restarted right after join: the peering converges', async () => {
    const agentA = agentFor(a);
    const agentB = agentFor(b);
    await Promise.all([agentMetricsUrl(agentA), agentMetricsUrl(agentB)]);
    await createFC('api-restart');
    try {
    await b.restart('kube-apiserver');
    await waitForReadyNode(A, idB, 180_000, describeFC(A, 'api-restart'));
    // B's agent was starting when its API server went away: it waited, it did not exit
    expect(agentB.exited()).toBe(false);
    // The home API server restarted while peered: heartbeats resume, the node stays Ready.
    await a.restart('kube-apiserver');
    // /readyz can answer before the CRDs' paths are installed again (503 "before all known HTTP
    // paths have been installed"): wait until the ForeignCluster itself is served
    await waitFor('A API server serving ForeignClusters again', async () => A.get(resourcePath(GVR.foreignCluster, { name: 'api-restart' })).then(() => true, () => false), { timeoutMs: 90_000 });
    await waitForReadyNode(A, idB, 120_000);
    await unpeerAndCheckClean('api-restart');
    } finally {
      await cleanup('api-restart');
      await Promise.all([agentA.stop(), agentB.stop()]);
    }
  }, 480_000);

  it('etcd of the home cluster restarted: the agent\'s watches recover and it still acts on changes', async () => {
    const agentA = agentFor(a);
    const agentB = agentFor(b);
    await Promise.all([agentMetricsUrl(agentA), agentMetricsUrl(agentB)]);
    await a.restart('etcd');
    await waitFor('A API server serving again', async () => A.list(resourcePath(GVR.foreignCluster)).then(() => true, () => false), { timeoutMs: 90_000 });
    await createFC('after-etcd');
    try {
    await waitForReadyNode(A, idB, 180_000, describeFC(A, 'after-etcd'));
    await unpeerAndCheckClean('after-etcd');
    } finally {
      await cleanup('after-etcd');
      await Promise.all([agentA.stop(), agentB.stop()]);
    }
  }, 420_000);
});

describe('two agent replicas', () => {
  it('the leader killed: the standby takes over within the lease time and nothing is duplicated', async () => {
    const one = agentFor(a, ['--identity', 'a-one']);
    const two = agentFor(a, ['--identity', 'a-two']);
    const agentB = agentFor(b);
    await Promise.all([agentMetricsUrl(one), agentMetricsUrl(two), agentMetricsUrl(agentB)]);
    await createFC('replicas');
    try {
    await waitForReadyNode(A, idB, 120_000, describeFC(A, 'replicas'));
    const holder = (await A.get<{ spec: { holderIdentity: string } }>(resourcePath(Core.leases, { namespace: 'liqo', name: Names.agentLease }))).spec.holderIdentity;
    const [leader, standby] = holder === 'a-one' ? [one, two] : [two, one];
    const killedAt = Date.now();
    await leader.kill();
    await waitFor('standby holds the lease', async () => (await A.get<{ spec: { holderIdentity: string } }>(resourcePath(Core.leases, { namespace: 'liqo', name: Names.agentLease }))).spec.holderIdentity !== holder, { timeoutMs: 30_000 });
    console.log(`handover after SIGKILL of the leader: ${Date.now() - killedAt} ms (lease 4 s)`);
    // The standby now owns the peering: flip it off and on, it must act, and not duplicate.
    await A.mergePatch(resourcePath(GVR.foreignCluster, { name: 'replicas' }), { spec: { join: false } });
    await waitFor('node gone (new leader acted)', async () => (await virtualNode(A, idB)) === null);
    await waitFor('B dropped the request', async () => (await peeringRequestsOnB()) === 0, { timeoutMs: 60_000 });
    await A.mergePatch(resourcePath(GVR.foreignCluster, { name: 'replicas' }), { spec: { join: true } });
    await waitForReadyNode(A, idB, 120_000, describeFC(A, 'replicas'));
    expect(await countOnA()).toEqual({ serviceAccounts: 1, secrets: 1, roles: 1, roleBindings: 1, clusterRoles: 1, clusterRoleBindings: 1, advertisements: 1 });
    expect(await peeringRequestsOnB()).toBe(1);
    await unpeerAndCheckClean('replicas');
    } finally {
      await cleanup('replicas');
      await Promise.all([one.stop(), two.stop(), agentB.stop()]);
    }
  }, 420_000);
});

describe('a peer that is down when join turns true', () => {
  it('says why it waits, then peers when the peer comes back', async () => {
    const agentA = agentFor(a);
    await agentMetricsUrl(agentA);
    await createFC('peer-down');
    try { // B's agent (and its admission webhook) is not running
    const waiting = await waitFor('a condition explaining the wait', async () => {
      const fc = await foreignCluster(A, 'peer-down');
      const c = fc?.status?.conditions?.find((x) => x.type === 'PeeringRequested' && x.status === 'False');
      return c?.reason === 'PeerAgentDown' ? c : undefined;
    }, { describe: describeFC(A, 'peer-down'), timeoutMs: 60_000 });
    expect(waiting.message).toContain('retrying');
    const agentB = agentFor(b);
    await agentMetricsUrl(agentB);
    await waitForReadyNode(A, idB, 180_000, describeFC(A, 'peer-down'));
    await unpeerAndCheckClean('peer-down');
    } finally {
      await cleanup('peer-down');
      await Promise.all([...agents].map((p) => p.stop()));
    }
  }, 420_000);
});
