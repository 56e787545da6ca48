import { describe, expect, it } from 'vitest';
import { offloadingNotice, type PodLike } from '../../../src/offloading/consumer/enabledNamespaces.js';
import { VIRTUAL_NODE_TOLERATION } from '../../../src/offloading/consumer/podWebhook.js';

const unschedulable = { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }] };
const owned = { name: 'web-1', uid: 'u1', ownerReferences: [{ kind: 'ReplicaSet', name: 'web-5d4f', controller: true }] };
const o = { namespace: 'shop', namespaceJustEnabled: false, virtualNodes: ['liqo-b'] };

describe('telling the owner of a pod that cannot go to a virtual node', () => {
  it('warns about a Pending, unschedulable pod without the toleration, and says to delete it', () => {
    const n = offloadingNotice({ metadata: owned, spec: {}, status: unschedulable }, o);
    expect(n?.type).toBe('Warning');
    expect(n?.reason).toBe('NoVirtualNodeToleration');
    expect(n?.message).toContain('virtual-node.liqo.io/not-allowed');
    expect(n?.message).toContain('kubectl delete pod -n shop web-1');
    expect(n?.message).toContain('ReplicaSet web-5d4f recreates it');
  });

  it('tells a bare pod to be created again (nothing recreates it)', () => {
    expect(offloadingNotice({ metadata: { name: 'solo' }, status: unschedulable }, o)?.message).toContain('create the pod again');
  });

  it('tells running pods once, when their namespace gains the label; not otherwise', () => {
    const running: PodLike = { metadata: owned, spec: { nodeName: 'node1' }, status: { phase: 'Running' } };
    expect(offloadingNotice(running, { ...o, namespaceJustEnabled: true })?.type).toBe('Normal');
    expect(offloadingNotice(running, o)).toBeUndefined();
  });

  it('says nothing about pods with the toleration, on a virtual node, finished, being deleted, or when there is no virtual node', () => {
    expect(offloadingNotice({ metadata: owned, spec: { tolerations: [VIRTUAL_NODE_TOLERATION] }, status: unschedulable }, o)).toBeUndefined();
    expect(offloadingNotice({ metadata: owned, spec: { nodeName: 'liqo-b' }, status: { phase: 'Running' } }, { ...o, namespaceJustEnabled: true })).toBeUndefined();
    expect(offloadingNotice({ metadata: owned, status: { phase: 'Succeeded' } }, { ...o, namespaceJustEnabled: true })).toBeUndefined();
    expect(offloadingNotice({ metadata: { ...owned, deletionTimestamp: '2026-01-01T00:00:00Z' }, status: unschedulable }, o)).toBeUndefined();
    expect(offloadingNotice({ metadata: owned, status: unschedulable }, { ...o, virtualNodes: [] })).toBeUndefined();
  });
});
