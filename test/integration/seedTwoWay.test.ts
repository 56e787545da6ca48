/**
 * Issue 13 item 1: the seed's manual procedure ("repeated also in the opposite direction"),
 * its YAML applied verbatim on both sides, in either order, ends peered both ways with exactly
 * one ForeignCluster per peer on each side: the person's ForeignCluster takes over the record
 * kubepeer made for the peer's incoming request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../src/localcluster/localCluster.js';
import { Core, resourcePath, type KubeClient } from '../../src/k8s/rest.js';
import { GVR, type ForeignCluster } from '../../src/api/crds.js';
import { kubectl, kubepeer, startAgent, startCluster, agentMetricsUrl, type AgentProcess } from '../support/clusters.js';
import { fillPlaceholders, seedManifests } from '../support/seeds.js';
import { clusterIDOf, describeFC, foreignClusterByID, waitForReadyNode } from '../support/peering.js';
import { waitFor } from '../support/wait.js';

let a: LocalCluster;
let b: LocalCluster;
let agents: AgentProcess[] = [];
let A: KubeClient;
let B: KubeClient;
let idA: string;
let idB: string;

beforeAll(async () => {
  [a, b] = await Promise.all([startCluster('seed2-a'), startCluster('seed2-b')]);
  A = a.client();
  B = b.client();
  agents = [startAgent(a), startAgent(b)];
  await Promise.all(agents.map(agentMetricsUrl));
  [idA, idB] = await Promise.all([clusterIDOf(A), clusterIDOf(B)]);
});

afterAll(async () => {
  await Promise.all(agents.map((x) => x.stop()));
  await Promise.all([a?.stop(), b?.stop()]);
});

const seedFC = () => seedManifests().find((s) => s.kind === 'ForeignCluster' && s.apiVersion.endsWith('v1alpha1'))!;
/** The seed's YAML for peering with `peer`, as a person fills it in. */
const seedFor = (peer: LocalCluster, id: string) => fillPlaceholders(seedFC().yaml, { clusterID: id, address: '127.0.0.1' }).replace('https://127.0.0.1:6443', peer.apiUrl);

const fcsFor = async (client: KubeClient, id: string) => (await client.list<ForeignCluster>(resourcePath(GVR.foreignCluster))).items.filter((f) => f.spec.clusterID === id);

async function expectPeeredBothWays(): Promise<void> {
  await Promise.all([waitForReadyNode(A, idB, 120_000, describeFC(A, 'foreign-cluster')), waitForReadyNode(B, idA, 120_000, describeFC(B, 'foreign-cluster'))]);
  for (const [client, id] of [[A, idB], [B, idA]] as const) {
    const fc = await waitFor(`one ForeignCluster for ${id}, Established both ways`, async () => {
      const list = await fcsFor(client, id);
      return list.length === 1 && list[0]!.status?.outgoing?.phase === 'Established' && list[0]!.status?.incoming?.phase === 'Established' ? list[0] : undefined;
    }, { timeoutMs: 60_000, describe: () => fcsFor(client, id) });
    expect(fc.metadata.name).toBe('foreign-cluster');
    expect(fc.spec.discoveryType).toBe('Manual');
  }
}

async function unpeerAll(): Promise<void> {
  for (const c of [a, b]) expect(kubectl(c, ['delete', 'foreignclusters', '--all', '--timeout=60s']).code).toBe(0);
  await waitFor('no PeeringRequest left on either side', async () => (await A.list(resourcePath(GVR.peeringRequest))).items.length + (await B.list(resourcePath(GVR.peeringRequest))).items.length === 0, { timeoutMs: 90_000 });
  // the incoming records the remaining requests made meanwhile
  for (const c of [a, b]) kubectl(c, ['delete', 'foreignclusters', '--all', '--timeout=60s']);
}

describe('the seed\'s two-way manual procedure', () => {
  it('A first, then B once B holds the record of A\'s request: peered both ways, one ForeignCluster each', async () => {
    expect(kubectl(a, ['apply', '-f', '-'], seedFor(b, idB)).code).toBe(0);
    await waitFor('B made its IncomingPeering record for A', async () => (await foreignClusterByID(B, idA))?.spec.discoveryType === 'IncomingPeering', { timeoutMs: 60_000 });
    const r = kubectl(b, ['apply', '-f', '-'], seedFor(a, idA));
    expect(r.code, r.stderr).toBe(0);
    await expectPeeredBothWays();
    await unpeerAll();
  });

  it('B first, then A: the same', async () => {
    expect(kubectl(b, ['apply', '-f', '-'], seedFor(a, idA)).code).toBe(0);
    await waitFor('A made its IncomingPeering record for B', async () => (await foreignClusterByID(A, idB))?.spec.discoveryType === 'IncomingPeering', { timeoutMs: 60_000 });
    expect(kubectl(a, ['apply', '-f', '-'], seedFor(b, idB)).code).toBe(0);
    await expectPeeredBothWays();
  });

  it('peer reject on an accepted request ends that incoming peering and tells the peer; rejecting it again fails', async () => {
    const r = kubepeer(['peer', 'reject', idA, '--kubeconfig', b.kubeconfig]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('its incoming peering ends');
    await waitFor('B: A\'s request gone', async () => (await B.getOrNull(resourcePath(GVR.peeringRequest, { name: idA }))) === null, { timeoutMs: 30_000 });
    await waitFor('B: A\'s credential gone', async () => (await B.getOrNull(resourcePath(Core.secrets, { namespace: 'liqo', name: `liqo-peer-${idA}` }))) === null, { timeoutMs: 30_000 });
    await waitFor('A: told (outgoing Denied)', async () => (await foreignClusterByID(A, idB))?.status?.outgoing?.phase === 'Denied', { timeoutMs: 30_000, describe: () => foreignClusterByID(A, idB) });
    const again = kubepeer(['peer', 'reject', 'no-such-request', '--kubeconfig', b.kubeconfig]);
    expect(again.code).not.toBe(0);
  });

  it('peer remove ends both directions: our peering, and the peer\'s request to us with its credential', async () => {
    // B still peers with A (B's request to A is accepted on A)
    await waitForReadyNode(B, idA, 60_000);
    const r = kubepeer(['peer', 'remove', 'foreign-cluster', '--kubeconfig', a.kubeconfig]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('its incoming peering ends too');
    await waitFor('A: B\'s request gone', async () => (await A.getOrNull(resourcePath(GVR.peeringRequest, { name: idB }))) === null, { timeoutMs: 30_000 });
    // deleted with the request by the agent, not left to the garbage collector
    await waitFor('A: B\'s credential gone', async () => (await A.getOrNull(resourcePath(Core.secrets, { namespace: 'liqo', name: `liqo-peer-${idB}` }))) === null, { timeoutMs: 30_000 });
    expect(await A.getOrNull(resourcePath(Core.secrets, { namespace: 'liqo', name: `liqo-remote-${idB}` }))).toBeNull();
    await waitFor('B: told (outgoing Denied)', async () => (await foreignClusterByID(B, idA))?.status?.outgoing?.phase === 'Denied', { timeoutMs: 30_000, describe: () => foreignClusterByID(B, idA) });
  });

  it('peer join --wait stops at once with the condition\'s message on an untrusted CA; --allow-untrusted-ca on join fixes it', async () => {
    const add = kubepeer(['peer', 'add', idB, '--name', 'strict', '--api-url', b.apiUrl, '--kubeconfig', a.kubeconfig]);
    expect(add.code, add.stderr).toBe(0);
    const t0 = Date.now();
    const r = kubepeer(['peer', 'join', 'strict', '--wait', '--timeout', '120', '--kubeconfig', a.kubeconfig]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('UntrustedCA');
    expect(r.stderr).toContain('allowUntrustedCA');
    // far below the 120 s timeout: it did not wait for what waiting cannot fix
    expect(Date.now() - t0).toBeLessThan(60_000);
    const fix = kubepeer(['peer', 'join', 'strict', '--allow-untrusted-ca', '--kubeconfig', a.kubeconfig]);
    expect(fix.code, fix.stderr).toBe(0);
    await waitFor('A: trust established on first use', async () => (await foreignClusterByID(A, idB))?.status?.conditions?.find((c) => c.type === 'TrustEstablished')?.status === 'True', { timeoutMs: 60_000, describe: () => foreignClusterByID(A, idB) });
  });
});

