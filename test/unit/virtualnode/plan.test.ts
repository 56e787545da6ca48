import { describe, expect, it } from 'vitest';
import type { Advertisement, Condition, ForeignCluster } from '../../../src/api/crds.js';
import { EventReasons, foreignClustersFor, labelsAppliedBy, plan, type Observed } from '../../../src/virtualnode/plan.js';
import { desiredVirtualNode, type NodeLike } from '../../../src/virtualnode/virtualNode.js';

const ID = '9a596a4b-591c-4ac6-8fd6-80258b4b3bf9';
const LOCAL = '11111111-2222-3333-4444-555555555555';
const T0 = Date.parse('2026-03-01T10:00:00.000Z');
const at = (s: number) => new Date(T0 + s * 1000);

function adv(spec: Partial<Advertisement['spec']> = {}, meta: Partial<Advertisement['metadata']> = {}, status?: Advertisement['status']): Advertisement {
  return {
    apiVersion: 'sharing.liqo.io/v1alpha1',
    kind: 'Advertisement',
    metadata: { name: `advertisement-${spec.clusterID ?? ID}`, uid: 'adv-uid', ...meta },
    spec: { clusterID: ID, resources: { cpu: '4', memory: '8Gi', pods: '110' }, heartbeat: new Date(T0).toISOString(), timeToLive: 3, ...spec },
    ...(status ? { status } : {}),
  };
}

function fc(join: boolean, conditions?: Condition[], name = 'peer-b'): ForeignCluster {
  return {
    apiVersion: 'discovery.liqo.io/v1',
    kind: 'ForeignCluster',
    metadata: { name, generation: 2, labels: { 'discovery.liqo.io/cluster-id': ID } },
    spec: { clusterID: ID, namespace: 'liqo', join, discoveryType: 'Manual', allowUntrustedCA: false, apiUrl: 'https://198.18.0.10:6443' },
    ...(conditions ? { status: { trustMode: 'Unknown', conditions } } : {}),
  };
}

const observed = (o: Partial<Observed>): Observed => ({ key: `advertisement-${ID}`, foreignClusters: [fc(true)], localClusterID: LOCAL, now: at(1), advertisement: adv(), ...o });

/** The node as the API server would hold it after applying a plan (what the cache shows next). */
function nodeAfter(o: Observed): NodeLike {
  const d = desiredVirtualNode(o.advertisement!, o.now, undefined, undefined, undefined, o.allowedNodeLabels);
  return {
    metadata: {
      ...d.node.metadata,
      uid: 'node-uid',
      managedFields: [{ manager: 'kubepeer-virtualnode', operation: 'Apply', fieldsV1: { 'f:metadata': { 'f:labels': Object.fromEntries(Object.keys(d.node.metadata.labels!).map((k) => [`f:${k}`, {}])) } } }],
    },
    spec: d.node.spec,
    // The API server canonicalises quantities: 8Gi stays, 4 stays; written as seen.
    status: { ...d.status, capacity: { cpu: '4', memory: '8Gi', pods: '110' }, allocatable: { cpu: '4', memory: '8Gi', pods: '110' } },
  };
}

describe('accepting an Advertisement', () => {
  it('creates the virtual node, its status and Lease, marks the Advertisement Accepted and the ForeignCluster VirtualNodeReady=True', () => {
    const p = plan(observed({}));
    expect(p.accepted).toBe(true);
    expect(p.applyNode?.metadata.name).toBe(`liqo-${ID}`);
    expect(p.nodeStatus?.conditions?.[0]).toMatchObject({ type: 'Ready', status: 'True', reason: 'HeartbeatReceived' });
    expect(p.lease).toEqual({ name: `liqo-${ID}`, renewTime: '2026-03-01T10:00:00.000000Z', leaseDurationSeconds: 3 });
    expect(p.advertisementStatus).toEqual({ phase: 'Accepted', reason: null, virtualNode: `liqo-${ID}` });
    expect(p.foreignClusterConditions).toHaveLength(1);
    expect(p.foreignClusterConditions[0]).toMatchObject({ name: 'peer-b', condition: { type: 'VirtualNodeReady', status: 'True', reason: 'HeartbeatReceived', observedGeneration: 2 } });
    expect(p.events.map((e) => e.reason)).toEqual([EventReasons.created]);
    expect(p.heartbeat).toEqual({ clusterID: ID, heartbeatMs: T0, ready: true });
  });

  it('writes nothing when the node, Lease, Advertisement and ForeignCluster already match', () => {
    const first = observed({});
    const p1 = plan(first);
    const settled = observed({
      node: nodeAfter(first),
      advertisement: adv({}, {}, { phase: 'Accepted', virtualNode: `liqo-${ID}` }),
      foreignClusters: [fc(true, [p1.foreignClusterConditions[0]!.condition])],
      now: at(2),
    });
    const p = plan(settled);
    expect(p.applyNode).toBeUndefined();
    expect(p.nodeStatus).toBeUndefined();
    expect(p.lease).toBeUndefined();
    expect(p.advertisementStatus).toBeUndefined();
    expect(p.foreignClusterConditions).toEqual([]);
    expect(p.events).toEqual([]);
  });

  it('compares quantities by value, so a canonicalised 1000m = 1 does not cause a write loop', () => {
    const o = observed({ advertisement: adv({ resources: { cpu: '1000m', memory: '1024Mi', pods: '110' } }) });
    const node = nodeAfter(o);
    node.status!.capacity = { cpu: '1', memory: '1Gi', pods: '110' };
    node.status!.allocatable = { cpu: '1', memory: '1Gi', pods: '110' };
    expect(plan({ ...o, node }).nodeStatus).toBeUndefined();
  });

  it('renews the Lease on every heartbeat, and rewrites the node status only on a change or every 5 minutes (kubelet manners)', () => {
    const first = observed({});
    const p = plan(observed({ node: nodeAfter(first), advertisement: adv({ heartbeat: at(2).toISOString() }), now: at(2.5) }));
    expect(p.lease?.renewTime).toBe('2026-03-01T10:00:02.000000Z');
    expect(p.nodeStatus).toBeUndefined();
    expect(p.applyNode).toBeUndefined();
    // the agent remembers the Lease it wrote: the same heartbeat again writes nothing
    const again = plan(observed({ node: nodeAfter(first), advertisement: adv({ heartbeat: at(2).toISOString() }), now: at(3), leaseHeartbeatMs: T0 + 2000 }));
    expect(again.lease).toBeUndefined();
    // five minutes of heartbeats later the status's lastHeartbeatTime is refreshed
    const later = plan(observed({ node: nodeAfter(first), advertisement: adv({ heartbeat: at(300).toISOString() }), now: at(300.5), leaseHeartbeatMs: T0 + 290_000 }));
    expect(later.nodeStatus?.conditions?.[0]?.lastHeartbeatTime).toBe('2026-03-01T10:05:00Z');
    expect(later.lease?.renewTime).toBe('2026-03-01T10:05:00.000000Z');
  });

  it('re-applies metadata when an advertised label is removed (we own it) or our taint is taken off', () => {
    const withLabel = observed({ advertisement: adv({ labels: { region: 'eu' } }), allowedNodeLabels: ['region'] });
    const node = nodeAfter(withLabel);
    expect(labelsAppliedBy(node)).toContain('region');
    expect(plan(observed({ node })).applyNode?.metadata.labels).not.toHaveProperty('region');
    const untainted = { ...nodeAfter(observed({})), spec: { taints: [] } };
    expect(plan(observed({ node: untainted })).applyNode?.spec?.taints).toEqual([{ key: 'virtual-node.liqo.io/not-allowed', value: 'true', effect: 'NoExecute' }]);
  });

  it('asks to look again the moment the heartbeat expires', () => {
    expect(plan(observed({ now: at(1) })).requeueAfterMs).toBe(2_050);
  });

  it('finds the ForeignCluster by the cluster-id label, or by spec.clusterID when it is not labelled yet', () => {
    const labelled = fc(true);
    const unlabelled = { ...fc(true, undefined, 'hand-made'), metadata: { name: 'hand-made' } };
    const other = { ...fc(true, undefined, 'other'), metadata: { name: 'other', labels: { 'discovery.liqo.io/cluster-id': 'x' } }, spec: { ...fc(true).spec, clusterID: 'x' } };
    expect(foreignClustersFor([labelled, unlabelled, other], ID).map((f) => f.metadata.name)).toEqual(['peer-b', 'hand-made']);
  });
});

describe('heartbeats', () => {
  it('turns the node NotReady (never deletes it) when heartbeats stop, with an Event and VirtualNodeReady=False', () => {
    const first = observed({});
    const readyCond = plan(first).foreignClusterConditions[0]!.condition;
    const p = plan(observed({ node: nodeAfter(first), foreignClusters: [fc(true, [readyCond])], advertisement: adv({}, {}, { phase: 'Accepted', virtualNode: `liqo-${ID}` }), now: at(3.06) }));
    expect(p.deleteNode).toBeUndefined();
    expect(p.applyNode).toBeUndefined();
    expect(p.nodeStatus?.conditions?.[0]).toMatchObject({ status: 'False', reason: 'HeartbeatMissed', lastTransitionTime: '2026-03-01T10:00:03Z' });
    expect(p.nodeStatus?.conditions?.[0]?.message).toContain('2026-03-01T10:00:00.000Z');
    expect(p.events.map((e) => [e.type, e.reason])).toEqual([['Warning', EventReasons.notReady]]);
    expect(p.foreignClusterConditions[0]!.condition).toMatchObject({ status: 'False', reason: 'HeartbeatMissed', lastTransitionTime: '2026-03-01T10:00:03Z' });
    expect(p.requeueAfterMs).toBeUndefined();
    expect(p.heartbeat?.ready).toBe(false);
  });

  it('turns it Ready again when heartbeats return, with a VirtualNodeReady Event', () => {
    const stale = observed({ now: at(10) });
    const node = nodeAfter(stale);
    expect(node.status?.conditions?.[0]?.status).toBe('False');
    const p = plan(observed({ node, advertisement: adv({ heartbeat: at(11).toISOString() }), now: at(11.5) }));
    expect(p.nodeStatus?.conditions?.[0]).toMatchObject({ status: 'True', reason: 'HeartbeatReceived' });
    expect(p.events.map((e) => e.reason)).toEqual([EventReasons.ready]);
    expect(p.lease?.renewTime).toBe('2026-03-01T10:00:11.000000Z');
  });
});

describe('refusing an Advertisement', () => {
  it('refuses with NotJoined and creates no node when the ForeignCluster has join: false (Liqo bug #601)', () => {
    const p = plan(observed({ foreignClusters: [fc(false)] }));
    expect(p.accepted).toBe(false);
    expect(p.applyNode).toBeUndefined();
    expect(p.nodeStatus).toBeUndefined();
    expect(p.lease).toBeUndefined();
    expect(p.advertisementStatus).toEqual({ phase: 'Refused', reason: 'NotJoined', virtualNode: null });
    expect(p.foreignClusterConditions[0]!.condition).toMatchObject({ type: 'VirtualNodeReady', status: 'False', reason: 'NotJoined' });
    expect(p.foreignClusterConditions[0]!.condition.message).toContain('set join: true');
    expect(p.events.map((e) => [e.on, e.type, e.reason])).toEqual([['advertisement', 'Warning', EventReasons.refused]]);
  });

  it('refuses with NotJoined when there is no ForeignCluster for that cluster at all', () => {
    const p = plan(observed({ foreignClusters: [] }));
    expect(p.advertisementStatus?.reason).toBe('NotJoined');
    expect(p.events[0]!.message).toContain(`no ForeignCluster with join: true for cluster ${ID}`);
  });

  it('ignores a ForeignCluster with join: true that is being deleted', () => {
    const deleting = { ...fc(true), metadata: { ...fc(true).metadata, deletionTimestamp: new Date(T0).toISOString() as unknown as Date } };
    expect(plan(observed({ foreignClusters: [deleting] })).advertisementStatus?.reason).toBe('NotJoined');
  });

  it('deletes the node it had made when join turns false', () => {
    const node = nodeAfter(observed({}));
    node.metadata.ownerReferences = [{ apiVersion: 'sharing.liqo.io/v1alpha1', kind: 'Advertisement', name: `advertisement-${ID}`, uid: 'adv-uid' }];
    const p = plan(observed({ node, foreignClusters: [fc(false)] }));
    expect(p.deleteNode).toEqual({ name: `liqo-${ID}`, uid: 'node-uid' });
  });

  it('refuses an Advertisement whose name does not match its clusterID, without touching that cluster\'s node or ForeignCluster', () => {
    const node = nodeAfter(observed({}));
    node.metadata.ownerReferences = [{ apiVersion: 'sharing.liqo.io/v1alpha1', kind: 'Advertisement', name: `advertisement-${ID}`, uid: 'the-real-one' }];
    const p = plan(observed({ key: 'advertisement-impostor', advertisement: adv({}, { name: 'advertisement-impostor', uid: 'forged' }), node }));
    expect(p.advertisementStatus).toEqual({ phase: 'Refused', reason: 'NameMismatch', virtualNode: null });
    expect(p.deleteNode).toBeUndefined();
    expect(p.applyNode).toBeUndefined();
    expect(p.foreignClusterConditions).toEqual([]);
  });

  it('refuses an Advertisement that claims our own cluster ID', () => {
    const p = plan(observed({ localClusterID: ID }));
    expect(p.advertisementStatus?.reason).toBe('OwnClusterID');
    expect(p.applyNode).toBeUndefined();
  });

  it('does not adopt a Node of that name that kubepeer did not make', () => {
    const p = plan(observed({ node: { metadata: { name: `liqo-${ID}`, uid: 'x', labels: { 'kubernetes.io/hostname': 'real' } } } }));
    expect(p.advertisementStatus?.reason).toBe('NodeNameTaken');
    expect(p.applyNode).toBeUndefined();
    expect(p.deleteNode).toBeUndefined();
  });

  it('does not repeat the refusal (status or Event) once recorded', () => {
    const first = plan(observed({ foreignClusters: [fc(false)] }));
    const p = plan(observed({ foreignClusters: [fc(false, [first.foreignClusterConditions[0]!.condition])], advertisement: adv({}, {}, { phase: 'Refused', reason: 'NotJoined' }) }));
    expect(p.advertisementStatus).toBeUndefined();
    expect(p.foreignClusterConditions).toEqual([]);
    expect(p.events).toEqual([]);
  });
});

describe('a deleted Advertisement', () => {
  it('deletes the virtual node if it remains and sets VirtualNodeReady=False with reason AdvertisementDeleted', () => {
    const ready = plan(observed({})).foreignClusterConditions[0]!.condition;
    const p = plan(observed({ advertisement: undefined, node: nodeAfter(observed({})), foreignClusters: [fc(true, [ready])], now: at(5) }));
    expect(p.deleteNode).toEqual({ name: `liqo-${ID}`, uid: 'node-uid' });
    expect(p.foreignClusterConditions[0]!.condition).toMatchObject({ status: 'False', reason: 'AdvertisementDeleted', lastTransitionTime: '2026-03-01T10:00:05Z' });
    expect(p.events.map((e) => e.reason)).toEqual([EventReasons.deleted]);
    expect(p.heartbeat).toBeNull();
  });

  it('does nothing for a ForeignCluster that never had a virtual node', () => {
    const p = plan(observed({ advertisement: undefined, foreignClusters: [fc(true)] }));
    expect(p.deleteNode).toBeUndefined();
    expect(p.foreignClusterConditions).toEqual([]);
  });

  it('treats an Advertisement being deleted as gone', () => {
    const going = adv({}, { deletionTimestamp: new Date(T0).toISOString() as unknown as Date });
    const p = plan(observed({ advertisement: going, node: nodeAfter(observed({})) }));
    expect(p.deleteNode?.name).toBe(`liqo-${ID}`);
    expect(p.applyNode).toBeUndefined();
  });

  it('leaves nodes it did not make alone', () => {
    const p = plan(observed({ advertisement: undefined, node: { metadata: { name: `liqo-${ID}`, uid: 'x' } } }));
    expect(p.deleteNode).toBeUndefined();
  });
});

describe("the virtual node's kubelet endpoint in its status", () => {
  const endpoint = { address: '198.18.0.7', port: 10350 };

  it('puts the address as InternalIP and the port as daemonEndpoints.kubeletEndpoint.Port', () => {
    const p = plan(observed({ kubeletEndpoint: endpoint }));
    expect(p.nodeStatus?.addresses).toEqual([{ type: 'InternalIP', address: '198.18.0.7' }]);
    expect(p.nodeStatus?.daemonEndpoints).toEqual({ kubeletEndpoint: { Port: 10350 } });
  });

  it('writes nothing when the node already shows the endpoint, and rewrites the status when it moved', () => {
    const o = observed({ kubeletEndpoint: endpoint });
    const node = nodeAfter(o);
    node.status = { ...node.status, ...{ addresses: [{ type: 'InternalIP', address: '198.18.0.7' }], daemonEndpoints: { kubeletEndpoint: { Port: 10350 } } } };
    expect(plan({ ...o, node }).nodeStatus).toBeUndefined();
    const moved = plan({ ...o, node, kubeletEndpoint: { address: '198.18.0.7', port: 10351 } });
    expect(moved.nodeStatus?.daemonEndpoints).toEqual({ kubeletEndpoint: { Port: 10351 } });
  });

  it('leaves addresses out while the agent does not serve the endpoint yet', () => {
    const p = plan(observed({}));
    expect(p.nodeStatus?.addresses).toBeUndefined();
    expect(p.nodeStatus?.daemonEndpoints).toBeUndefined();
  });
});
