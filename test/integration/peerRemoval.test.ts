/**
 * Issue 13 item 2 on two real control planes with real agents: an incoming-only peering always
 * shows (peer list, status), even when someone deletes the ForeignCluster kubepeer made for it;
 * and deleting a ForeignCluster while the peer's control plane is down leaves nothing behind on
 * our side (no request, no credential either way, no Advertisement or virtual node, no retries);
 * and a removed peer that is kept as a record (one found by discovery) stays removed: its new
 * request waits for a person, whatever the accept policy.
 * The removal record of a discovered peer is tested with real LAN discovery in lanPeering.test.ts.
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../src/localcluster/localCluster.js';
import { Core, resourcePath, type KubeClient } from '../../src/k8s/rest.js';
import { GVR, type PeeringRequest } from '../../src/api/crds.js';
import { kubectl, kubepeer } from '../support/clusters.js';
import { startClusterPair, type ClusterPair } from '../support/clusterPair.js';
import { foreignClusterByID, virtualNode, waitForReadyNode } from '../support/peering.js';
import { waitFor } from '../support/wait.js';

let pair: ClusterPair;
let a: LocalCluster;
let b: LocalCluster;
let A: KubeClient;
let B: KubeClient;
let idA: string;
let idB: string;

beforeAll(async () => {
  pair = await startClusterPair(['removal-a', 'removal-b'], { peeringConfig: { acceptPolicy: 'AcceptAll' } });
  ({ a, b, A, B, idA, idB } = pair);
});

afterAll(async () => {
  await pair?.stop();
});

const request = (client: KubeClient, id: string) => client.getOrNull<PeeringRequest>(resourcePath(GVR.peeringRequest, { name: id }));
const secret = (client: KubeClient, name: string) => client.getOrNull(resourcePath(Core.secrets, { namespace: 'liqo', name }));
const peerList = (c: LocalCluster) => kubepeer(['peer', 'list', '--kubeconfig', c.kubeconfig]);
const rowOf = (out: string, id: string) => out.split('\n').find((l) => l.includes(id));

describe('an incoming-only peering', () => {
  it('shows in peer list and status with its incoming state, also after its ForeignCluster was deleted (the agent makes it again)', async () => {
    const add = kubepeer(['peer', 'add', idB, '--api-url', b.apiUrl, '--allow-untrusted-ca', '--join', '--kubeconfig', a.kubeconfig]);
    expect(add.code, add.stderr).toBe(0);
    await waitForReadyNode(A, idB, 120_000);
    await waitFor('B: incoming Established on its record for A', async () => (await foreignClusterByID(B, idA))?.status?.incoming?.phase === 'Established', { timeoutMs: 60_000, describe: () => foreignClusterByID(B, idA) });
    expect(rowOf(peerList(b).stdout, idA)).toMatch(/Established/);

    const record = (await foreignClusterByID(B, idA))!;
    expect(record.spec.discoveryType).toBe('IncomingPeering');
    expect(kubectl(b, ['delete', 'foreignclusters', record.metadata.name]).code).toBe(0);
    // listed at once: from its request if the agent has not made the record again yet
    const listed = peerList(b);
    expect(listed.code, listed.stderr).toBe(0);
    expect(rowOf(listed.stdout, idA), listed.stdout).toMatch(/IncomingPeering/);
    const status = JSON.parse(kubepeer(['status', '-o', 'json', '--kubeconfig', b.kubeconfig]).stdout) as { peers: { total: number; incoming: Record<string, number> } };
    expect(status.peers.total).toBe(1);
    expect(Object.keys(status.peers.incoming)).not.toContain('None');

    const again = await waitFor('B: the agent made the record for A\'s accepted request again', async () => {
      const f = await foreignClusterByID(B, idA);
      return f && f.metadata.uid !== record.metadata.uid && f.status?.incoming?.phase === 'Established' ? f : undefined;
    }, { timeoutMs: 60_000, describe: () => foreignClusterByID(B, idA) });
    expect(again.spec.discoveryType).toBe('IncomingPeering');
    expect(rowOf(peerList(b).stdout, idA)).toMatch(/Established/);
    // A's side never noticed
    await waitForReadyNode(A, idB, 30_000);
  }, 300_000);
});

describe('a request deleted on the foreign side by hand', () => {
  it('the requester is told (PeeringDropped), sends it again at once, and the peering goes on', async () => {
    const old = (await request(B, idA))!;
    expect(old.metadata.finalizers).toContain('discovery.liqo.io/request-cleanup');
    const del = kubectl(b, ['delete', 'peeringrequest', idA, '--timeout=60s']);
    expect(del.code, del.stderr).toBe(0);
    const again = await waitFor('B: A\'s new request, accepted', async () => {
      const p = await request(B, idA);
      return p && p.metadata.uid !== old.metadata.uid && p.status?.phase === 'Accepted' ? p : undefined;
    }, { timeoutMs: 60_000, describe: () => request(B, idA) });
    expect(again.spec.clusterID).toBe(idA);
    const fcName = (await foreignClusterByID(A, idB))!.metadata.name;
    const events = await A.list<{ reason: string; message: string }>(resourcePath(Core.events, { namespace: 'default' }), { fieldSelector: `involvedObject.name=${fcName}` });
    expect(events.items.map((e) => e.message).join('\n')).toContain('dropped our PeeringRequest');
    await waitForReadyNode(A, idB, 60_000);
  }, 200_000);
});

describe('a removed discovered peer', () => {
  it('stays removed: its new request waits for a person even under AcceptAll; peer accept connects it again and clears the record', async () => {
    // B peers with A too, so A holds B's accepted request and its credential
    const add = kubepeer(['peer', 'add', idA, '--api-url', a.apiUrl, '--allow-untrusted-ca', '--join', '--kubeconfig', b.kubeconfig]);
    expect(add.code, add.stderr).toBe(0);
    await waitForReadyNode(B, idA, 120_000);
    // A knows B as a SearchDomain would have listed it (what kind of peer is kept as a record)
    const onA = (await foreignClusterByID(A, idB))!;
    await A.mergePatch(resourcePath(GVR.foreignCluster, { name: onA.metadata.name }), { spec: { discoveryType: 'WAN' } });

    const removed = kubepeer(['peer', 'remove', onA.metadata.name, '--kubeconfig', a.kubeconfig]);
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).toContain('kept as a record');
    expect(removed.stdout).toContain('its incoming peering ends too');
    await waitFor('A: B\'s request ended and our peering with B ended', async () => !(await request(A, idB)) && !(await virtualNode(A, idB)), { timeoutMs: 90_000 });
    const record = (await foreignClusterByID(A, idB))!;
    expect(record.metadata.uid).toBe(onA.metadata.uid);
    expect(record.spec.join).toBe(false);
    await waitFor('A: the record says Removed', async () => (await foreignClusterByID(A, idB))?.status?.outgoing?.reason === 'Removed', { timeoutMs: 60_000, describe: () => foreignClusterByID(A, idB) });
    expect(rowOf(peerList(a).stdout, idB)).toMatch(/Removed/);

    // B asks again (a person there leaves and joins): A, which accepts all, waits for a person
    const fcOnB = (await foreignClusterByID(B, idA))!.metadata.name;
    expect(kubepeer(['peer', 'leave', fcOnB, '--kubeconfig', b.kubeconfig]).code).toBe(0);
    await waitFor('B: its old request to A gone', async () => (await virtualNode(B, idA)) === null, { timeoutMs: 90_000 });
    expect(kubepeer(['peer', 'join', fcOnB, '--kubeconfig', b.kubeconfig]).code).toBe(0);
    const waiting = await waitFor('A: B\'s new request waiting for a person', async () => {
      const p = await request(A, idB);
      return p?.status?.reason === 'WaitingForApproval' ? p : undefined;
    }, { timeoutMs: 90_000, describe: () => request(A, idB) });
    expect(waiting.status?.message).toContain('removed by a person');
    await waitFor('B: told it waits for approval', async () => (await foreignClusterByID(B, idA))?.status?.outgoing?.reason === 'WaitingForApproval', { timeoutMs: 60_000, describe: () => foreignClusterByID(B, idA) });

    const accept = kubepeer(['peer', 'accept', idB, '--kubeconfig', a.kubeconfig]);
    expect(accept.code, accept.stderr).toBe(0);
    await waitForReadyNode(B, idA, 120_000);
    expect((await foreignClusterByID(A, idB))?.metadata.annotations?.['discovery.kubepeer.io/removed']).toBeUndefined();
    // and A's own direction comes back when a person joins it
    expect(kubepeer(['peer', 'join', onA.metadata.name, '--kubeconfig', a.kubeconfig]).code).toBe(0);
    await waitForReadyNode(A, idB, 120_000);
  }, 400_000);
});

describe('deleting a ForeignCluster while the peer is down', () => {
  it('leaves nothing behind on our side: no request, no credential either way, no Advertisement, no virtual node, no retries', async () => {
    // peered both ways (the test before), so A holds B's accepted request and its credential
    await waitForReadyNode(B, idA, 120_000);
    await waitFor('A: B\'s request Accepted, its credential stored', async () => (await request(A, idB))?.status?.phase === 'Accepted' && !!(await secret(A, `liqo-peer-${idB}`)), { timeoutMs: 60_000 });
    expect(await secret(A, `liqo-remote-${idB}`)).not.toBeNull();

    await pair.agentB.stop();
    await b.stop();
    const fc = (await foreignClusterByID(A, idB))!;
    const del = kubectl(a, ['delete', 'foreignclusters', fc.metadata.name, '--timeout=90s']);
    expect(del.code, del.stderr).toBe(0);

    const leftovers = async () => ({
      foreignCluster: (await foreignClusterByID(A, idB))?.metadata.name ?? null,
      request: (await request(A, idB))?.status ?? null,
      peerCredential: !!(await secret(A, `liqo-peer-${idB}`)),
      ourCredential: !!(await secret(A, `liqo-remote-${idB}`)),
      advertisement: !!(await A.getOrNull(resourcePath(GVR.advertisement, { name: `advertisement-${idB}` }))),
      virtualNode: !!(await virtualNode(A, idB)),
    });
    await waitFor('A: nothing of B left', async () => {
      const l = await leftovers();
      return !l.foreignCluster && !l.request && !l.peerCredential && !l.ourCredential && !l.advertisement && !l.virtualNode;
    }, { timeoutMs: 90_000, describe: leftovers });

    // No retries: nothing is left to reconcile for B. Watched for longer than the work queue's
    // 30 s backoff cap, so a retrying key would have logged at least once.
    const offset = readFileSync(pair.agentA.logFile, 'utf8').length;
    await sleep(35_000);
    const retries = readFileSync(pair.agentA.logFile, 'utf8').slice(offset).split('\n').filter((l) => l.includes(idB) && /reconcile failed|could not notify|heartbeat|writeAdvertisement/.test(l));
    expect(retries, retries.join('\n')).toEqual([]);
    expect(await leftovers()).toEqual({ foreignCluster: null, request: null, peerCredential: false, ourCredential: false, advertisement: false, virtualNode: false });
  }, 300_000);
});
