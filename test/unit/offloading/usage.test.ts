import { describe, expect, it } from 'vitest';
import { describeDirection, memoryText, offloadingByPeer } from '../../../src/offloading/usage.js';

const B = 'bbbbbbbb-0000-4000-8000-000000000002';
const C = 'cccccccc-0000-4000-8000-000000000003';
const A = 'aaaaaaaa-0000-4000-8000-000000000001';

const virtualNode = (id: string, allocatable: Record<string, string>) => ({
  metadata: { name: `liqo-${id}`, labels: { 'liqo.io/remote-cluster-id': id, type: 'virtual-node' } },
  status: { allocatable },
});
const pod = (name: string, ns: string, opts: { node?: string; phase?: string; cpu?: string; memory?: string } = {}) => ({
  metadata: { name, namespace: ns },
  spec: { nodeName: opts.node, containers: [{ name: 'c', resources: { requests: { ...(opts.cpu ? { cpu: opts.cpu } : {}), ...(opts.memory ? { memory: opts.memory } : {}) } } }] },
  status: { phase: opts.phase ?? 'Running' },
});
const quota = (consumer: string, hard: Record<string, string>) => ({
  metadata: { name: 'tenant-quota', namespace: `liqo-tenant-${consumer}`, labels: { 'offloading.kubepeer.io/consumer': consumer } },
  spec: { hard },
});

describe('offloading per peer', () => {
  it('counts what we run on a peer (pods bound to its virtual node) against what its node offers', () => {
    const [b] = offloadingByPeer({
      nodes: [virtualNode(B, { cpu: '2', memory: '4026532Ki', pods: '110' })],
      pods: [
        pod('web-1', 'apps', { node: `liqo-${B}`, cpu: '1m', memory: '4Mi' }),
        pod('web-2', 'apps', { node: `liqo-${B}`, cpu: '1m', memory: '4Mi' }),
        pod('web-3', 'apps', { node: `liqo-${B}`, cpu: '1m', memory: '4Mi', phase: 'Pending' }),
        pod('local', 'apps', { node: 'worker-1', cpu: '500m' }),
      ],
      quotas: [],
    });
    // Three 1m requests add up to 3m, not 2m (floating point sums floored).
    expect(b).toEqual({ peerID: B, outgoing: { pods: 3, running: 2, pending: 1, cpu: '3m', memory: '12Mi', cpuLimit: '2', memoryLimit: '4026532Ki', podsLimit: '110' } });
  });

  it('counts what a peer runs here (pods of its tenant namespace) against its quota', () => {
    const [a] = offloadingByPeer({
      nodes: [],
      pods: [pod('x-1', `liqo-tenant-${A}`, { cpu: '100m', memory: '64Mi' }), pod('mine', 'default', { cpu: '1' })],
      quotas: [quota(A, { pods: '20', 'requests.cpu': '1500m', 'requests.memory': '2Gi' })],
    });
    expect(a).toEqual({ peerID: A, incoming: { pods: 1, running: 1, pending: 0, cpu: '100m', memory: '64Mi', cpuLimit: '1500m', memoryLimit: '2Gi', podsLimit: '20' } });
  });

  it('gives one row per peer with both directions when the peering goes both ways, sorted by ID', () => {
    const rows = offloadingByPeer({
      nodes: [virtualNode(C, { cpu: '1', pods: '10' }), virtualNode(B, { cpu: '1', pods: '10' })],
      pods: [pod('p', `liqo-tenant-${B}`)],
      quotas: [quota(B, { pods: '5' })],
    });
    expect(rows.map((r) => [r.peerID, !!r.outgoing, !!r.incoming])).toEqual([
      [B, true, true],
      [C, true, false],
    ]);
  });

  it('leaves finished pods out: they hold no resources on the peer', () => {
    const [b] = offloadingByPeer({ nodes: [virtualNode(B, {})], pods: [pod('done', 'apps', { node: `liqo-${B}`, phase: 'Succeeded', cpu: '1' })], quotas: [] });
    expect(b!.outgoing).toMatchObject({ pods: 0, cpu: '0' });
  });

  it('counts pods being deleted apart (not as pods a person has), their requests still held until they are gone', () => {
    const gone = { ...pod('old-1', 'apps', { node: `liqo-${B}`, cpu: '100m' }), metadata: { name: 'old-1', namespace: 'apps', deletionTimestamp: '2026-11-30T12:00:00Z' } };
    const [b] = offloadingByPeer({ nodes: [virtualNode(B, { pods: '110' })], pods: [gone, pod('new-1', 'apps', { node: `liqo-${B}`, cpu: '100m' })], quotas: [] });
    expect(b!.outgoing).toMatchObject({ pods: 1, running: 1, terminating: 1, cpu: '200m' });
    expect(describeDirection(b!.outgoing)).toBe('1/110 pods (1 running, 1 terminating) · cpu 200m · mem 0');
  });

  it('ignores nodes that are no virtual node of a peer', () => {
    expect(offloadingByPeer({ nodes: [{ metadata: { name: 'worker-1', labels: { 'liqo.io/remote-cluster-id': B } } }], pods: [], quotas: [] })).toEqual([]);
  });
});

describe('how a direction reads', () => {
  it('shows pods of the limit, running, and cpu and memory used of what is offered, memory in Mi/Gi', () => {
    expect(describeDirection({ pods: 3, running: 2, pending: 1, cpu: '3m', memory: '12Mi', cpuLimit: '2', memoryLimit: '4026532Ki', podsLimit: '110' })).toBe(
      '3/110 pods (2 running) · cpu 3m/2 · mem 12Mi/3.8Gi',
    );
  });

  it('shows only what is used when the other side states no limit, and "-" when there is no such direction', () => {
    expect(describeDirection({ pods: 0, running: 0, pending: 0, cpu: '0', memory: '0' })).toBe('0 pods (0 running) · cpu 0 · mem 0');
    expect(describeDirection(undefined)).toBe('-');
  });

  it('writes memory as a quantity a person reads', () => {
    expect([0, 1000, 4 * 2 ** 20, 1.5 * 2 ** 30].map(memoryText)).toEqual(['0', '1Ki', '4Mi', '1.5Gi']);
  });
});
