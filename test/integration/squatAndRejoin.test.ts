/**
 * Issue 12 item 4 and issue 13 item 4, on two real control planes: a request that squats a known
 * peer's cluster ID cannot keep that peer's own request out, and a peer that leaves and joins
 * again replaces its old request at once instead of waiting for its next heartbeat to be refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import type { LocalCluster } from '../../src/localcluster/localCluster.js';
import { KubeClient, resourcePath } from '../../src/k8s/rest.js';
import { GVR, apiVersionOf } from '../../src/api/crds.js';
import { buildTokenKubeconfig } from '../../src/peering/kubeconfig.js';
import { kubepeer, startAgent, startCluster, agentMetricsUrl, type AgentProcess } from '../support/clusters.js';
import { clusterIDOf, describeFC, foreignCluster, setClusterConfig, waitForReadyNode } from '../support/peering.js';
import { waitFor } from '../support/wait.js';

let a: LocalCluster;
let b: LocalCluster;
let agentA: AgentProcess;
let agentB: AgentProcess;
let A: KubeClient;
let B: KubeClient;
let idA: string;
let idB: string;

beforeAll(async () => {
  [a, b] = await Promise.all([startCluster('squat-a'), startCluster('squat-b')]);
  A = a.client();
  B = b.client();
  // default heartbeat interval: the old request would end only at B's next heartbeat
  await setClusterConfig(B, { peeringConfig: { acceptPolicy: 'AcceptAll' } });
  agentA = startAgent(a);
  agentB = startAgent(b);
  await Promise.all([agentMetricsUrl(agentA), agentMetricsUrl(agentB)]);
  [idA, idB] = await Promise.all([clusterIDOf(A), clusterIDOf(B)]);
});

afterAll(async () => {
  await Promise.all([agentA?.stop(), agentB?.stop()]);
  await Promise.all([a?.stop(), b?.stop()]);
});

describe('a known peer\'s ID cannot be squatted', () => {
  it('A\'s own request wins while a stranger keeps re-creating a request named after A on B', async () => {
    // B knows A at A's real address (a person added it, not joined).
    const add = kubepeer(['peer', 'add', idA, '--name', 'a', '--api-url', a.apiUrl, '--allow-untrusted-ca', '--kubeconfig', b.kubeconfig]);
    expect(add.code, add.stderr).toBe(0);
    // The squatter: anonymous, as every requester; A's CA is public, the token is not A's.
    const anon = KubeClient.anonymous(b.apiUrl, readFileSync(b.caCert, 'utf8'));
    const squat = () =>
      anon.create(resourcePath(GVR.peeringRequest), {
        apiVersion: apiVersionOf(GVR.peeringRequest),
        kind: 'PeeringRequest',
        metadata: { name: idA },
        spec: { clusterID: idA, clusterName: 'squatter', namespace: 'liqo', apiUrl: a.apiUrl, kubeconfig: buildTokenKubeconfig({ server: a.apiUrl, caPem: readFileSync(a.caCert, 'utf8'), token: 'not-a-token-of-A' }, 'squatter') },
      }).then(() => true, () => false);
    expect(await squat()).toBe(true);
    let stop = false;
    let squats = 0;
    const loop = (async () => {
      while (!stop) {
        if (await squat()) squats++;
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    try {
      const join = kubepeer(['peer', 'add', idB, '--name', 'b', '--api-url', b.apiUrl, '--allow-untrusted-ca', '--join', '--kubeconfig', a.kubeconfig]);
      expect(join.code, join.stderr).toBe(0);
      // Generous: the point is that it happens at all while the name is squatted.
      await waitForReadyNode(A, idB, 60_000, describeFC(A, 'b'));
    } finally {
      stop = true;
      await loop;
      anon.close();
    }
    expect(squats).toBeGreaterThan(0);
    const events = (await B.list<{ reason: string }>('/api/v1/events')).items.map((e) => e.reason);
    expect(events).toEqual(expect.arrayContaining(['UnverifiedRequestDropped']));
  });
});

describe('re-join', () => {
  it('after peer leave, peer join --wait replaces the old request at once (no wait for a heartbeat)', async () => {
    // The squatting test before may leave A's request still being answered: start from Established.
    await waitFor('A: outgoing Established', async () => (await foreignCluster(A, 'b'))?.status?.outgoing?.phase === 'Established', { timeoutMs: 90_000, describe: describeFC(A, 'b') });
    const leave = kubepeer(['peer', 'leave', 'b', '--kubeconfig', a.kubeconfig]);
    expect(leave.code, leave.stderr).toBe(0);
    await waitFor('A: outgoing None', async () => (await foreignCluster(A, 'b'))?.status?.outgoing?.phase === 'None');
    const t0 = Date.now();
    const join = kubepeer(['peer', 'join', 'b', '--wait', '--timeout', '60', '--kubeconfig', a.kubeconfig]);
    const seconds = (Date.now() - t0) / 1000;
    expect(join.code, join.stderr).toBe(0);
    console.log(`re-join: ${seconds.toFixed(2)} s`);
    // Default heartbeat (B keeps its old request until its next heartbeat gets 401) made this
    // about 46 s; generous bound for 2 shared cores, the bench measures the real figure.
    expect(seconds).toBeLessThan(20);
  });
});
