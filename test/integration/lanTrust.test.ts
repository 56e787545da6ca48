/**
 * The LAN trust model end to end (issue 12, High 2): three network-namespace hosts on one bridge,
 * each with a real control plane and agent. a and b share the LAN peering secret (set with the
 * CLI, as a person does); s is a stranger whose person wants to peer with a. Discovery is
 * automatic for all three; joining is automatic only between a and b. The stranger is listed on
 * both, gets no credential and no virtual node, its own request waits for approval, and a
 * person's `kubepeer peer join` on a peers it. Needs root; skipped otherwise.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { GVR, type ForeignCluster, type PeeringRequest } from '../../src/api/crds.js';
import { Names } from '../../src/api/constants.js';
import { Core, resourcePath, type KubeClient } from '../../src/k8s/rest.js';
import type { LocalCluster } from '../../src/localcluster/localCluster.js';
import { kubepeer, startAgent, startCluster, type AgentProcess } from '../support/clusters.js';
import { canUseNetns, createTestLab, type NetnsHost, type NetnsLab } from '../support/netns.js';
import { clusterIDOf, foreignClusterByID, setClusterConfig, virtualNode, waitForReadyNode } from '../support/peering.js';
import { waitFor } from '../support/wait.js';

interface Side {
  name: string;
  host: NetnsHost;
  cluster: LocalCluster;
  client: KubeClient;
  id: string;
  agent?: AgentProcess;
}

describe.skipIf(!canUseNetns)('LAN trust: two clusters that share the peering secret and a stranger', () => {
  let lab: NetnsLab;
  const sides: Side[] = [];
  let a: Side;
  let b: Side;
  let s: Side;

  async function newSide(name: string): Promise<Side> {
    const host = await lab.addHost(name);
    const cluster = await startCluster(`trust-${name}`, { address: host.address, netns: host.netns });
    const side: Side = { name, host, cluster, client: cluster.client(), id: '' };
    sides.push(side);
    // short mDNS TTLs so that departures show within seconds
    await setClusterConfig(side.client, { discoveryConfig: { ttl: 5 } });
    return side;
  }

  const describeAll = () =>
    Promise.all(
      sides.map(async (x) => ({
        side: x.name,
        id: x.id,
        foreignClusters: await x.client
          .list<ForeignCluster>(resourcePath(GVR.foreignCluster))
          .then((l) => l.items.map((f) => ({ id: f.spec.clusterID, type: f.spec.discoveryType, join: f.spec.join, ann: f.metadata.annotations, out: `${f.status?.outgoing?.phase}/${f.status?.outgoing?.reason}`, in: f.status?.incoming?.phase })))
          .catch((e: Error) => e.message),
        requests: await x.client
          .list<PeeringRequest>(resourcePath(GVR.peeringRequest))
          .then((l) => l.items.map((p) => `${p.metadata.name}:${p.status?.phase}/${p.status?.reason}`))
          .catch((e: Error) => e.message),
        agentLog: x.agent ? readFileSync(x.agent.logFile, 'utf8').split('\n').filter((l) => !l.includes('"level":"debug"')).slice(-6) : [],
      })),
    );

  const credentialFor = (on: Side, peer: Side) => on.client.getOrNull(resourcePath(Core.secrets, { namespace: 'liqo', name: `${Names.remoteCredentialPrefix}${peer.id}` }));
  const requestOf = (on: Side, from: Side) => on.client.getOrNull<PeeringRequest>(resourcePath(GVR.peeringRequest, { name: from.id }));

  beforeAll(async () => {
    lab = createTestLab();
    const started = await Promise.allSettled([newSide('a'), newSide('b'), newSide('s')]);
    for (const r of started) if (r.status === 'rejected') throw r.reason;
    [a, b, s] = started.map((r) => (r as PromiseFulfilledResult<Side>).value) as [Side, Side, Side];
    // a person sets the secret on a (generated) and the same value on b, with the CLI
    const set = kubepeer(['trust', 'secret', 'set', '-o', 'json', '--kubeconfig', a.cluster.kubeconfig]);
    expect(set.code, set.stderr).toBe(0);
    const { value, fingerprint } = JSON.parse(set.stdout) as { value: string; fingerprint: string };
    expect(kubepeer(['trust', 'secret', 'set', '--value', value, '--kubeconfig', b.cluster.kubeconfig]).code).toBe(0);
    const shown = kubepeer(['trust', 'secret', 'show', '-o', 'json', '--kubeconfig', b.cluster.kubeconfig]);
    expect(JSON.parse(shown.stdout)).toMatchObject({ configured: true, fingerprint });
    expect(shown.stdout).not.toContain(value);
    for (const x of [a, b, s]) x.agent = startAgent({ ...x.cluster, netns: x.host.netns });
    [a.id, b.id, s.id] = await Promise.all([a, b, s].map((x) => clusterIDOf(x.client)));
  });

  afterAll(async () => {
    await Promise.allSettled(sides.map((x) => x.agent?.stop()));
    await Promise.allSettled(sides.map((x) => x.cluster.stop()));
    await lab?.destroy();
  });

  it('the two that share the secret peer both ways with no typing', async () => {
    await waitForReadyNode(a.client, b.id, 240_000, describeAll);
    await waitForReadyNode(b.client, a.id, 240_000, describeAll);
    const onA = (await foreignClusterByID(a.client, b.id))!;
    expect(onA.spec).toMatchObject({ discoveryType: 'LAN', join: true, allowUntrustedCA: true });
    expect(onA.metadata.annotations?.['discovery.kubepeer.io/autojoin']).toBe('PeeringSecret');
    expect((await requestOf(b, a))?.status?.reason).toBe('AutoAcceptKnown');
  });

  it('the stranger is listed on both as available, never joined, and gets no credential', async () => {
    for (const x of [a, b]) {
      const listed = await waitFor(`${x.name}: the stranger listed`, () => foreignClusterByID(x.client, s.id), { timeoutMs: 60_000, describe: describeAll });
      expect(listed.spec).toMatchObject({ discoveryType: 'LAN', join: false });
      expect(listed.metadata.annotations?.['discovery.kubepeer.io/autojoin']).toBe('NotProven');
      expect(await credentialFor(x, s)).toBeNull();
      expect(await virtualNode(x.client, s.id)).toBeNull();
    }
    // and the stranger, with no secret, joins nobody either
    for (const x of [a, b]) {
      const onS = await waitFor(`s: ${x.name} listed`, () => foreignClusterByID(s.client, x.id), { timeoutMs: 60_000, describe: describeAll });
      expect(onS.spec.join).toBe(false);
    }
  });

  it("the stranger's own request waits for approval: no virtual node on either side", async () => {
    // s's person asks to peer with a: a person's connect on s (a was listed there)
    const connect = kubepeer(['peer', 'join', a.id, '--kubeconfig', s.cluster.kubeconfig]);
    expect(connect.code, connect.stderr).toBe(0);
    const pending = await waitFor('a: the request of s waiting for approval', async () => {
      const pr = await requestOf(a, s);
      return pr?.status?.reason === 'WaitingForApproval' ? pr : undefined;
    }, { timeoutMs: 90_000, describe: describeAll });
    expect(pending.status?.phase).toBe('Pending');
    expect(await virtualNode(s.client, a.id)).toBeNull();
    expect(await virtualNode(a.client, s.id)).toBeNull();
    expect(await credentialFor(a, s)).toBeNull();
  });

  it("a person's connect on a (kubepeer peer join) peers the stranger both ways", async () => {
    const join = kubepeer(['peer', 'join', s.id, '--kubeconfig', a.cluster.kubeconfig]);
    expect(join.code, join.stderr).toBe(0);
    await waitForReadyNode(a.client, s.id, 180_000, describeAll);
    await waitForReadyNode(s.client, a.id, 180_000, describeAll);
    const fc = (await foreignClusterByID(a.client, s.id))!;
    expect(fc.metadata.annotations?.['discovery.kubepeer.io/autojoin']).toBeUndefined();
    // b, where no person connected it, still lists it only
    expect((await foreignClusterByID(b.client, s.id))?.spec.join).toBe(false);
    expect(await credentialFor(b, s)).toBeNull();
  });
});
