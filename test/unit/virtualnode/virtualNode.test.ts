import { describe, expect, it } from 'vitest';
import type { Advertisement } from '../../../src/api/crds.js';
import {
  EXPIRY_SLACK_MS, clusterIDOfAdvertisementName, desiredVirtualNode, heartbeatState, isReservedLabel, isValidLabel, virtualNodeLabels,
  type NodeLike,
} from '../../../src/virtualnode/virtualNode.js';

const ID = '9a596a4b-591c-4ac6-8fd6-80258b4b3bf9';
const T0 = Date.parse('2026-03-01T10:00:00.000Z');
const at = (s: number) => new Date(T0 + s * 1000);

function adv(spec: Partial<Advertisement['spec']> = {}): Advertisement {
  return {
    apiVersion: 'sharing.liqo.io/v1alpha1',
    kind: 'Advertisement',
    metadata: { name: `advertisement-${ID}`, uid: 'adv-uid-1' },
    spec: { clusterID: ID, resources: { cpu: '4', memory: '8Gi', pods: '110' }, heartbeat: new Date(T0).toISOString(), timeToLive: 30, ...spec },
  };
}

describe('virtual node shape', () => {
  it('is named liqo-<clusterID> with the three virtual-node labels, the NoExecute taint and an owner reference to the Advertisement', () => {
    const d = desiredVirtualNode(adv(), at(1));
    expect(d.name).toBe(`liqo-${ID}`);
    expect(d.node.metadata.name).toBe(`liqo-${ID}`);
    expect(d.node.metadata.labels).toEqual({ type: 'virtual-node', 'kubernetes.io/role': 'agent', 'liqo.io/remote-cluster-id': ID });
    expect(d.node.spec?.taints).toEqual([{ key: 'virtual-node.liqo.io/not-allowed', value: 'true', effect: 'NoExecute' }]);
    expect(d.node.metadata.ownerReferences).toEqual([
      { apiVersion: 'sharing.liqo.io/v1alpha1', kind: 'Advertisement', name: `advertisement-${ID}`, uid: 'adv-uid-1', controller: true },
    ]);
  });

  it('sets capacity and allocatable to the advertised cpu, memory and pods', () => {
    const d = desiredVirtualNode(adv({ resources: { cpu: '2500m', memory: 1073741824, pods: 55 } }), at(1));
    expect(d.status.capacity).toEqual({ cpu: '2500m', memory: '1073741824', pods: '55' });
    expect(d.status.allocatable).toEqual(d.status.capacity);
  });

  it('keeps taints that others put on the node and replaces a changed copy of ours', () => {
    const observed: NodeLike = {
      metadata: { name: `liqo-${ID}` },
      spec: { taints: [{ key: 'maintenance', value: 'yes', effect: 'NoSchedule' }, { key: 'virtual-node.liqo.io/not-allowed', value: 'false', effect: 'NoSchedule' }] },
    };
    expect(desiredVirtualNode(adv(), at(1), observed).node.spec?.taints).toEqual([
      { key: 'maintenance', value: 'yes', effect: 'NoSchedule' },
      { key: 'virtual-node.liqo.io/not-allowed', value: 'true', effect: 'NoExecute' },
    ]);
  });
});

describe('advertised labels', () => {
  it('adds the advertised labels but never lets them override the virtual-node labels or Kubernetes/node-role keys', () => {
    const { labels, ignored } = virtualNodeLabels(
      adv({
        labels: {
          region: 'eu-west',
          'topology.example.com/zone': 'a',
          type: 'real-node',
          'kubernetes.io/role': 'master',
          'liqo.io/remote-cluster-id': 'someone-else',
          'node-role.kubernetes.io/control-plane': '',
          'node.kubernetes.io/instance-type': 'huge',
          'kubernetes.io/hostname': 'x',
          'feature.k8s.io/gpu': 'true',
          'kubepeer.io/local-node': 'true',
          'liqo.io/remote-cluster-name': 'cluster-b',
          'my-node-role': 'boss',
        },
      }),
      ['region', 'topology.example.com/', 'type', 'kubernetes.io/', 'node.kubernetes.io/', 'feature.k8s.io/', 'kubepeer.io/', 'my-node-role', 'node-role.kubernetes.io/'],
    );
    expect(labels).toEqual({
      region: 'eu-west',
      'topology.example.com/zone': 'a',
      'liqo.io/remote-cluster-name': 'cluster-b',
      type: 'virtual-node',
      'kubernetes.io/role': 'agent',
      'liqo.io/remote-cluster-id': ID,
    });
    expect(ignored.map((i) => i.key).sort()).toEqual(
      [
        'type', 'kubernetes.io/role', 'liqo.io/remote-cluster-id', 'node-role.kubernetes.io/control-plane', 'node.kubernetes.io/instance-type',
        'kubernetes.io/hostname', 'feature.k8s.io/gpu', 'kubepeer.io/local-node', 'my-node-role',
      ].sort(),
    );
    expect(ignored.every((i) => i.why === 'reserved')).toBe(true);
  });

  it('puts only liqo.io/ labels and the ones a person allows on the node: a peer cannot claim a GPU', () => {
    const advertised = adv({ labels: { 'nvidia.com/gpu.present': 'true', 'liqo.io/remote-cluster-name': 'b', region: 'eu', 'example.com/tier': 'gold' } });
    const byDefault = virtualNodeLabels(advertised);
    expect(byDefault.labels).not.toHaveProperty('nvidia.com/gpu.present');
    expect(byDefault.labels['liqo.io/remote-cluster-name']).toBe('b');
    expect(byDefault.ignored).toEqual(expect.arrayContaining([{ key: 'nvidia.com/gpu.present', why: 'notAllowed' }, { key: 'region', why: 'notAllowed' }]));
    const configured = virtualNodeLabels(advertised, ['region', 'example.com/']);
    expect(configured.labels).toMatchObject({ region: 'eu', 'example.com/tier': 'gold' });
    expect(configured.labels).not.toHaveProperty('nvidia.com/gpu.present');
  });

  it('leaves out labels the API server would reject, instead of failing the whole node', () => {
    const { labels, ignored } = virtualNodeLabels(adv({ labels: { 'bad key': 'v', ok: 'has space', 'UPPER.example.com/x': 'y', fine: 'yes', ['a'.repeat(64)]: 'v' } }), [
      'bad key', 'ok', 'UPPER.example.com/', 'fine', 'a'.repeat(64),
    ]);
    expect(labels.fine).toBe('yes');
    expect(ignored.map((i) => [i.key, i.why])).toEqual(
      expect.arrayContaining([['bad key', 'invalid'], ['ok', 'invalid'], ['UPPER.example.com/x', 'invalid'], ['a'.repeat(64), 'invalid']]),
    );
  });

  it('knows which keys are reserved and which labels are valid', () => {
    expect(isReservedLabel('kubernetes.io/os')).toBe(true);
    expect(isReservedLabel('sub.k8s.io/x')).toBe(true);
    expect(isReservedLabel('notkubernetes.io/x')).toBe(false);
    expect(isReservedLabel('example.com/role')).toBe(false);
    expect(isValidLabel('example.com/a_b.c-d', '')).toBe(true);
    expect(isValidLabel('/x', 'y')).toBe(false);
    expect(isValidLabel('x', '-y')).toBe(false);
  });
});

describe('readiness by heartbeat age', () => {
  it('is Ready while now - heartbeat <= timeToLive, NotReady after, and Ready again for a fresh heartbeat', () => {
    const a = adv({ timeToLive: 3 });
    expect(heartbeatState(a, at(0)).ready).toBe(true);
    expect(heartbeatState(a, at(3)).ready).toBe(true);
    expect(heartbeatState(a, at(3.001)).ready).toBe(false);
    const fresh = adv({ timeToLive: 3, heartbeat: at(10).toISOString() });
    expect(heartbeatState(fresh, at(11)).ready).toBe(true);
  });

  it('marks the node NotReady with reason HeartbeatMissed and a message naming the last heartbeat', () => {
    const d = desiredVirtualNode(adv({ timeToLive: 3 }), at(10));
    expect(d.ready).toBe(false);
    const ready = d.status.conditions![0]!;
    expect(ready).toMatchObject({ type: 'Ready', status: 'False', reason: 'HeartbeatMissed', lastHeartbeatTime: '2026-03-01T10:00:00Z' });
    expect(ready.message).toContain(new Date(T0).toISOString());
    expect(ready.message).toContain('timeToLive 3s');
  });

  it('treats an unparseable heartbeat as missed', () => {
    const d = desiredVirtualNode(adv({ heartbeat: 'yesterday' }), at(0));
    expect(d.ready).toBe(false);
    expect(d.status.conditions![0]!.lastHeartbeatTime).toBeUndefined();
    expect(d.requeueAfterMs).toBeUndefined();
  });

  it('keeps the Ready lastTransitionTime while readiness does not flip, and moves it when it does', () => {
    const first = desiredVirtualNode(adv(), at(1));
    const observed: NodeLike = { metadata: { name: first.name }, status: { conditions: [{ ...first.status.conditions![0]!, lastTransitionTime: '2026-03-01T09:00:00Z' }] } };
    expect(desiredVirtualNode(adv({ heartbeat: at(5).toISOString() }), at(6), observed).status.conditions![0]!.lastTransitionTime).toBe('2026-03-01T09:00:00Z');
    expect(desiredVirtualNode(adv(), at(100), observed).status.conditions![0]!.lastTransitionTime).toBe('2026-03-01T10:01:40Z');
  });
});

describe('requeue timing', () => {
  it('asks to look again just after the moment the heartbeat expires', () => {
    expect(desiredVirtualNode(adv({ timeToLive: 30 }), at(12)).requeueAfterMs).toBe(18_000 + EXPIRY_SLACK_MS);
    expect(desiredVirtualNode(adv({ timeToLive: 3 }), at(3)).requeueAfterMs).toBe(EXPIRY_SLACK_MS);
  });
  it('does not requeue a NotReady node: the next heartbeat is an Advertisement change', () => {
    expect(desiredVirtualNode(adv({ timeToLive: 3 }), at(4)).requeueAfterMs).toBeUndefined();
  });
});

describe('keys', () => {
  it('maps advertisement-<id> to the cluster ID', () => {
    expect(clusterIDOfAdvertisementName(`advertisement-${ID}`)).toBe(ID);
    expect(clusterIDOfAdvertisementName('advertisement-')).toBeUndefined();
    expect(clusterIDOfAdvertisementName('something-else')).toBeUndefined();
  });
});
