/**
 * An Advertisement is written by another cluster: numbers that a Node cannot carry (negative),
 * that no cluster has, a heartbeat from the future or an unbounded timeToLive refuse it with
 * InvalidAdvertisement instead of a Node write that fails forever (or a node that never expires).
 */
import { describe, expect, it } from 'vitest';
import type { Advertisement, ForeignCluster } from '../../../src/api/crds.js';
import { plan, type Observed } from '../../../src/virtualnode/plan.js';
import { advertisementProblem } from '../../../src/virtualnode/advertisementLimits.js';

const ID = '9a596a4b-591c-4ac6-8fd6-80258b4b3bf9';
const NOW = new Date('2026-03-01T10:00:00.000Z');

function adv(spec: Partial<Advertisement['spec']> = {}): Advertisement {
  return {
    apiVersion: 'sharing.liqo.io/v1alpha1',
    kind: 'Advertisement',
    metadata: { name: `advertisement-${ID}`, uid: 'adv-uid' },
    spec: { clusterID: ID, resources: { cpu: '4', memory: '8Gi', pods: '110' }, heartbeat: NOW.toISOString(), timeToLive: 30, ...spec },
  };
}
const fc: ForeignCluster = {
  apiVersion: 'discovery.liqo.io/v1',
  kind: 'ForeignCluster',
  metadata: { name: 'peer-b', generation: 1, labels: { 'discovery.liqo.io/cluster-id': ID } },
  spec: { clusterID: ID, namespace: 'liqo', join: true, discoveryType: 'Manual', allowUntrustedCA: false, apiUrl: 'https://198.18.0.10:6443' },
};
const observed = (a: Advertisement, o: Partial<Observed> = {}): Observed => ({ key: a.metadata.name, advertisement: a, foreignClusters: [fc], localClusterID: 'local', now: NOW, ...o });

describe('advertised numbers', () => {
  it.each([
    ['a negative CPU', { resources: { cpu: '-4', memory: '8Gi', pods: '110' } }, /resources.cpu -4 is negative/],
    ['a negative integer memory', { resources: { cpu: '4', memory: -1, pods: '110' } }, /resources.memory -1 is negative/],
    ['negative pods in exponent form', { resources: { cpu: '4', memory: '8Gi', pods: '-1e3' } }, /resources.pods -1e3 is negative/],
    ['512 million CPUs', { resources: { cpu: '512M', memory: '8Gi', pods: '110' } }, /resources.cpu 512M is more than/],
    ['an exabyte times a thousand of memory', { resources: { cpu: '4', memory: '1000Ei', pods: '110' } }, /resources.memory 1000Ei is more than/],
    ['ten million pods', { resources: { cpu: '4', memory: '8Gi', pods: '10M' } }, /resources.pods 10M is more than/],
    ['not a quantity', { resources: { cpu: 'lots', memory: '8Gi', pods: '110' } }, /is not a quantity/],
    ['a heartbeat an hour ahead', { heartbeat: new Date(NOW.getTime() + 3600_000).toISOString() }, /heartbeat .* is in the future/],
    ['a timeToLive of a year', { timeToLive: 365 * 86400 }, /timeToLive 31536000 is outside 1..3600/],
    ['a timeToLive of zero', { timeToLive: 0 }, /timeToLive 0 is outside/],
  ] as const)('refuses %s with InvalidAdvertisement and makes no node', (_what, spec, message) => {
    const p = plan(observed(adv(spec as Partial<Advertisement['spec']>)));
    expect(p.accepted).toBe(false);
    expect(p.applyNode).toBeUndefined();
    expect(p.nodeStatus).toBeUndefined();
    expect(p.advertisementStatus).toMatchObject({ phase: 'Refused', reason: 'InvalidAdvertisement' });
    expect(p.foreignClusterConditions[0]?.condition).toMatchObject({ type: 'VirtualNodeReady', status: 'False', reason: 'InvalidAdvertisement' });
    expect(p.foreignClusterConditions[0]?.condition.message).toMatch(message);
  });

  it('accepts a large real cluster, a heartbeat a few seconds ahead (clock skew) and the bounds themselves', () => {
    expect(advertisementProblem(adv({ resources: { cpu: '100000', memory: '64Pi', pods: '1000000' } }).spec, NOW)).toBeUndefined();
    expect(advertisementProblem(adv({ heartbeat: new Date(NOW.getTime() + 5000).toISOString(), timeToLive: 3600 }).spec, NOW)).toBeUndefined();
    expect(plan(observed(adv())).accepted).toBe(true);
  });

  it('deletes the node it had made once the same Advertisement turns invalid', () => {
    const node = { metadata: { name: `liqo-${ID}`, uid: 'node-uid', labels: { 'liqo.io/remote-cluster-id': ID, type: 'virtual-node' }, ownerReferences: [{ apiVersion: 'sharing.liqo.io/v1alpha1', kind: 'Advertisement', name: `advertisement-${ID}`, uid: 'adv-uid' }] } };
    const p = plan(observed(adv({ resources: { cpu: '-1', memory: '8Gi', pods: '110' } }), { node: node as Observed['node'] }));
    expect(p.accepted).toBe(false);
    expect(p.deleteNode).toEqual({ name: `liqo-${ID}`, uid: 'node-uid' });
  });
});
