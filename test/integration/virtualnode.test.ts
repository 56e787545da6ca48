/**
 * The advertisement controller on a real control plane with a real agent process: an
 * Advertisement written into the cluster (here by the admin, as the foreign agent would) becomes
 * the virtual node `liqo-<id>`, follows the heartbeat, and is refused without a joined ForeignCluster.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import type { LocalCluster } from '../../src/localcluster/localCluster.js';
import { Core, type KubeClient, resourcePath } from '../../src/k8s/rest.js';
import { GVR, apiVersionOf, type Advertisement, type Condition, type ForeignCluster } from '../../src/api/crds.js';
import type { NodeLike } from '../../src/virtualnode/virtualNode.js';
import { agentMetricsUrl, kubectl, startAgent, startCluster, type AgentProcess } from '../support/clusters.js';
import { waitFor } from '../support/wait.js';

const B = randomUUID();
const C = randomUUID();
const D = randomUUID();
const TTL = 3;

let a: LocalCluster;
let admin: KubeClient;
let agent: AgentProcess;
let metricsUrl: string;

const advPath = (id: string, subresource?: string) => resourcePath(GVR.advertisement, { name: `advertisement-${id}`, subresource });
const getNode = (id: string) => admin.getOrNull<NodeLike>(resourcePath(Core.nodes, { name: `liqo-${id}` }));
const getAdv = (id: string) => admin.getOrNull<Advertisement>(advPath(id));
const getLease = (id: string) =>
  admin.getOrNull<{ metadata: { ownerReferences?: Array<{ kind: string; uid: string }> }; spec: { renewTime: string; leaseDurationSeconds: number } }>(
    resourcePath(Core.leases, { namespace: 'kube-node-lease', name: `liqo-${id}` }),
  );
const fcCondition = async (name: string): Promise<Condition | undefined> =>
  (await admin.getOrNull<ForeignCluster>(resourcePath(GVR.foreignCluster, { name })))?.status?.conditions?.find((c) => c.type === 'VirtualNodeReady');
const nodeReady = (n: NodeLike | null) => n?.status?.conditions?.find((c) => c.type === 'Ready');
const eventReasons = async (name: string) =>
  (await admin.list<{ reason: string; message: string }>(resourcePath(Core.events, { namespace: 'default' }), { fieldSelector: `involvedObject.name=${name}` })).items.map((e) => e.reason);

async function createForeignCluster(name: string, id: string, join: boolean): Promise<void> {
  await admin.create(resourcePath(GVR.foreignCluster), {
    apiVersion: apiVersionOf(GVR.foreignCluster),
    kind: 'ForeignCluster',
    metadata: { name, labels: { 'discovery.liqo.io/cluster-id': id } },
    spec: { clusterID: id, clusterName: name, join, discoveryType: 'Manual', apiUrl: 'https://198.18.0.10:6443' },
  });
}

async function createAdvertisement(id: string, spec: Partial<Advertisement['spec']> = {}): Promise<void> {
  await admin.create(resourcePath(GVR.advertisement), {
    apiVersion: apiVersionOf(GVR.advertisement),
    kind: 'Advertisement',
    metadata: { name: `advertisement-${id}` },
    spec: { clusterID: id, resources: { cpu: '4', memory: '8Gi', pods: '110' }, heartbeat: new Date().toISOString(), timeToLive: TTL, ...spec },
  });
}

/** Plays the foreign agent: refreshes the Advertisement's heartbeat every second until stopped. */
class Heartbeat {
  last = '';
  private timer?: NodeJS.Timeout;
  private inflight: Promise<unknown> = Promise.resolve();
  constructor(private readonly id: string) {}
  start(): void {
    const beat = () => {
      const at = new Date().toISOString();
      this.inflight = admin.mergePatch(advPath(this.id), { spec: { heartbeat: at } }).then(
        () => (this.last = at),
        () => {},
      );
    };
    beat();
    this.timer = setInterval(beat, 1000);
  }
  async stop(): Promise<string> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.inflight;
    return this.last;
  }
}
const heartbeatB = new Heartbeat(B);

beforeAll(async () => {
  a = await startCluster('vnode');
  admin = a.client();
  agent = startAgent(a, ['--lease-duration', '4']);
  metricsUrl = await agentMetricsUrl(agent);
});

afterAll(async () => {
  await heartbeatB.stop();
  await agent?.stop();
  await a?.stop();
});

describe('virtual node from an Advertisement', () => {
  it('creates a Ready virtual node liqo-<id> with the advertised capacity, the virtual-node labels and taint, a Lease, and VirtualNodeReady=True', async () => {
    await createForeignCluster('cluster-b', B, true);
    // A condition another controller owns: server-side apply must merge next to it, not replace it.
    const discovered = { type: 'Discovered', status: 'True', reason: 'ManualConfiguration', message: 'added by a person', lastTransitionTime: '2026-01-01T00:00:00Z' };
    await admin.apply(
      resourcePath(GVR.foreignCluster, { name: 'cluster-b', subresource: 'status' }),
      { apiVersion: apiVersionOf(GVR.foreignCluster), kind: 'ForeignCluster', metadata: { name: 'cluster-b' }, status: { conditions: [discovered] } },
      'test-discovery',
    );
    await createAdvertisement(B, {
      labels: { region: 'lab', 'liqo.io/remote-cluster-name': 'cluster-b', type: 'real-node', 'kubernetes.io/role': 'master', 'node-role.kubernetes.io/control-plane': '' },
    });
    heartbeatB.start();

    const node = await waitFor(`node liqo-${B} Ready`, async () => {
      const n = await getNode(B);
      return nodeReady(n)?.status === 'True' ? n : undefined;
    }, { timeoutMs: 30_000, describe: () => getNode(B) });

    expect(node.metadata.labels).toMatchObject({ type: 'virtual-node', 'kubernetes.io/role': 'agent', 'liqo.io/remote-cluster-id': B, 'liqo.io/remote-cluster-name': 'cluster-b' });
    // Labels a peer may set are an allowlist (liqo.io/ keys and peeringConfig.allowedNodeLabels):
    // `region` was not allowed here, and roles are never taken from a peer.
    expect(node.metadata.labels).not.toHaveProperty('region');
    expect(node.metadata.labels).not.toHaveProperty('node-role.kubernetes.io/control-plane');
    expect(node.spec?.taints).toContainEqual({ key: 'virtual-node.liqo.io/not-allowed', value: 'true', effect: 'NoExecute' });
    expect(node.status?.capacity).toMatchObject({ cpu: '4', memory: '8Gi', pods: '110' });
    expect(node.status?.allocatable).toMatchObject({ cpu: '4', memory: '8Gi', pods: '110' });
    const adv = (await getAdv(B))!;
    expect(node.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'Advertisement', name: `advertisement-${B}`, uid: adv.metadata.uid, controller: true })]);

    const status = await waitFor('Advertisement Accepted', async () => ((await getAdv(B))?.status?.phase === 'Accepted' ? (await getAdv(B))!.status : undefined));
    expect(status).toMatchObject({ phase: 'Accepted', virtualNode: `liqo-${B}` });

    const lease = await waitFor('node Lease', () => getLease(B));
    expect(lease.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'Node', uid: node.metadata.uid })]);
    expect(lease.spec.leaseDurationSeconds).toBe(TTL);
    expect(Date.now() - Date.parse(lease.spec.renewTime)).toBeLessThan(10_000);

    const cond = await waitFor('VirtualNodeReady=True on the ForeignCluster', async () => ((await fcCondition('cluster-b'))?.status === 'True' ? fcCondition('cluster-b') : undefined));
    expect(cond).toMatchObject({ reason: 'HeartbeatReceived' });
    expect(cond!.message).toContain(`liqo-${B}`);
    const fc = (await admin.get<ForeignCluster>(resourcePath(GVR.foreignCluster, { name: 'cluster-b' })))!;
    expect(fc.status?.conditions).toContainEqual(discovered);
    const managers = (fc.metadata.managedFields ?? []).filter((m) => m.subresource === 'status').map((m) => m.manager);
    expect(managers).toEqual(expect.arrayContaining(['kubepeer-virtualnode', 'test-discovery']));

    // As in the seed document: kubectl get nodes shows it Ready with role agent.
    const table = kubectl(a, ['get', 'nodes']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(new RegExp(`^liqo-${B}\\s+Ready\\s+agent\\s`, 'm'));

    await waitFor('VirtualNodeCreated event', async () => (await eventReasons(`liqo-${B}`)).includes('VirtualNodeCreated'));
  });

  it('turns the node NotReady within seconds when heartbeats stop, keeps it, and makes it Ready again when they return', async () => {
    const lastHeartbeat = await heartbeatB.stop();
    const notReady = await waitFor(`node liqo-${B} NotReady`, async () => {
      const c = nodeReady(await getNode(B));
      return c?.status === 'False' ? c : undefined;
    }, { timeoutMs: (TTL + 5) * 1000, intervalMs: 100, describe: () => getNode(B) });
    const lag = Date.now() - Date.parse(lastHeartbeat) - TTL * 1000;
    console.log(`NotReady ${lag} ms after the heartbeat expired (timeToLive ${TTL} s)`);
    expect(lag).toBeLessThan(3000);
    expect(notReady.reason).toBe('HeartbeatMissed');
    expect(notReady.message).toContain(lastHeartbeat);

    expect(await getNode(B)).not.toBeNull(); // never deleted for missed heartbeats
    expect(kubectl(a, ['get', 'nodes']).stdout).toMatch(new RegExp(`^liqo-${B}\\s+NotReady\\s+agent\\s`, 'm'));
    await waitFor('VirtualNodeReady=False HeartbeatMissed', async () => (await fcCondition('cluster-b'))?.reason === 'HeartbeatMissed');
    await waitFor('VirtualNodeNotReady event', async () => (await eventReasons(`liqo-${B}`)).includes('VirtualNodeNotReady'));
    const metrics = await (await fetch(`${metricsUrl}/metrics`)).text();
    expect(metrics).toContain('kubepeer_virtual_nodes{ready="false"} 1');
    expect(metrics).toMatch(new RegExp(`kubepeer_heartbeat_age_seconds\\{cluster_id="${B}"\\} \\d`));
    const leaseBefore = (await getLease(B))!.spec.renewTime;

    heartbeatB.start();
    await waitFor(`node liqo-${B} Ready again`, async () => nodeReady(await getNode(B))?.status === 'True', { timeoutMs: 15_000, describe: () => getNode(B) });
    await waitFor('VirtualNodeReady=True again', async () => (await fcCondition('cluster-b'))?.status === 'True');
    await waitFor('Lease renewed', async () => Date.parse((await getLease(B))!.spec.renewTime) > Date.parse(leaseBefore));
    await waitFor('VirtualNodeReady event', async () => (await eventReasons(`liqo-${B}`)).includes('VirtualNodeReady'));
    expect(await (await fetch(`${metricsUrl}/metrics`)).text()).toContain('kubepeer_virtual_nodes{ready="true"} 1');
  });

  it('refuses an Advertisement from a cluster with no joined ForeignCluster and creates no node, until one with join: true exists', async () => {
    await createAdvertisement(C, { timeToLive: 600 });
    const status = await waitFor('Advertisement Refused', async () => {
      const s = (await getAdv(C))?.status;
      return s?.phase === 'Refused' ? s : undefined;
    }, { describe: () => getAdv(C) });
    expect(status.reason).toBe('NotJoined');
    expect(await getNode(C)).toBeNull();
    await waitFor('AdvertisementRefused event', async () => (await eventReasons(`advertisement-${C}`)).includes('AdvertisementRefused'));

    await createForeignCluster('cluster-c', C, true);
    await waitFor(`node liqo-${C} once a ForeignCluster with join: true exists`, async () => nodeReady(await getNode(C))?.status === 'True', { timeoutMs: 15_000 });
    await waitFor('Advertisement Accepted', async () => (await getAdv(C))?.status?.phase === 'Accepted');
    expect((await getAdv(C))?.status).toMatchObject({ phase: 'Accepted', virtualNode: `liqo-${C}` });
  });

  it('never creates a node for an Advertisement whose ForeignCluster has join: false (Liqo bug #601)', async () => {
    await createForeignCluster('cluster-d', D, false);
    await createAdvertisement(D, { timeToLive: 600 });
    // Refused by the advertisement controller, unless the peering controller's unpeer (join: false
    // means no peering) deletes the Advertisement first: either way, no node.
    const outcome = await waitFor('Advertisement Refused (or removed by unpeer)', async () => {
      const adv = await getAdv(D);
      return adv === null ? 'deleted' : adv.status?.phase === 'Refused' ? adv.status : undefined;
    }, { describe: () => getAdv(D) });
    if (outcome !== 'deleted') {
      expect(outcome.reason).toBe('NotJoined');
      // The refusal may be overtaken by the peering controller's unpeer (which deletes the
      // Advertisement): then the condition says AdvertisementDeleted. Both mean: no node.
      const cond = await waitFor('VirtualNodeReady=False NotJoined or AdvertisementDeleted', async () => {
        const c = await fcCondition('cluster-d');
        return c?.reason === 'NotJoined' || c?.reason === 'AdvertisementDeleted' ? c : undefined;
      }, { describe: () => fcCondition('cluster-d') });
      expect(cond.status).toBe('False');
      if (cond.reason === 'NotJoined') expect(cond.message).toContain('set join: true');
    }
    expect(await getNode(D)).toBeNull();
    expect(await eventReasons(`liqo-${D}`)).not.toContain('VirtualNodeCreated');
  });

  it('removes the virtual node and sets VirtualNodeReady=False (AdvertisementDeleted) when the Advertisement is deleted', async () => {
    await heartbeatB.stop();
    await admin.delete(advPath(B));
    await waitFor(`node liqo-${B} gone`, async () => (await getNode(B)) === null, { timeoutMs: 30_000 });
    const cond = await waitFor('VirtualNodeReady=False AdvertisementDeleted', async () => {
      const c = await fcCondition('cluster-b');
      return c?.reason === 'AdvertisementDeleted' ? c : undefined;
    }, { describe: () => fcCondition('cluster-b') });
    expect(cond.status).toBe('False');
    await waitFor('Lease gone', async () => (await getLease(B)) === null, { timeoutMs: 30_000 });
    const metrics = await (await fetch(`${metricsUrl}/metrics`)).text();
    expect(metrics).not.toContain(`cluster_id="${B}"`);
    // The other peer's node is untouched.
    expect(await getNode(C)).not.toBeNull();
  });
});
