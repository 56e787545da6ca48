import { describe, expect, it } from 'vitest';
import type { ForeignCluster } from '../../../src/api/crds.js';
import { offloadingView, peerViews } from '../../../src/dashboard/peerView.js';
import { offloadingByPeer } from '../../../src/offloading/usage.js';

const A = 'aaaaaaaa-0000-4000-8000-000000000001';
const B = 'bbbbbbbb-0000-4000-8000-000000000002';

const fc = (name: string, clusterID: string): ForeignCluster =>
  ({
    metadata: { name },
    spec: { clusterID, clusterName: name, discoveryType: 'Manual', join: true, apiUrl: `https://${name}:6443` },
    status: { outgoing: { phase: 'Established' }, incoming: { phase: 'Established' } },
  }) as unknown as ForeignCluster;

/** What the dashboard reads on A when A runs 3 pods on B and B runs 1 pod on A. */
const observed = offloadingByPeer({
  nodes: [{ metadata: { name: `liqo-${B}`, labels: { 'liqo.io/remote-cluster-id': B } }, status: { allocatable: { cpu: '2', memory: '4026532Ki', pods: '110' } } }],
  pods: [
    ...[1, 2, 3].map((i) => ({
      metadata: { name: `web-${i}`, namespace: 'apps' },
      spec: { nodeName: `liqo-${B}`, containers: [{ resources: { requests: { cpu: '1m', memory: '4Mi' } } }] },
      status: { phase: i === 3 ? 'Pending' : 'Running' },
    })),
    { metadata: { name: 'job-x', namespace: `liqo-tenant-${B}` }, spec: { containers: [{ resources: { requests: { cpu: '10m', memory: '16Mi' } } }] }, status: { phase: 'Running' } },
  ],
  quotas: [{ metadata: { namespace: `liqo-tenant-${B}`, labels: { 'offloading.kubepeer.io/consumer': B } }, spec: { hard: { pods: '20', 'requests.cpu': '1', 'requests.memory': '2Gi' } } }],
});

describe('the dashboard: offloading on a peer card', () => {
  it('says what we run there against its offer and what it runs here against its quota', () => {
    const v = offloadingView(observed[0]);
    expect(v?.weRunThere?.text).toBe('We run there: 3 pods (cpu 3m/2, memory 12Mi/3.8Gi, 1 pending)');
    expect(v?.itRunsHere?.text).toBe('It runs here: 1 pod (quota 1/20 pods, cpu 10m/1, memory 16Mi/2Gi)');
    expect(v?.weRunThere).toMatchObject({ pods: 3, running: 2, pending: 1 });
  });

  it('leaves a direction out when it does not exist, and the whole part when neither does', () => {
    expect(offloadingView({ peerID: B, outgoing: { pods: 0, running: 0, pending: 0, cpu: '0', memory: '0' } })).toEqual({
      weRunThere: { pods: 0, running: 0, pending: 0, cpu: '0', memory: '0', text: 'We run there: 0 pods (cpu 0, memory 0)' },
    });
    expect(offloadingView({ peerID: B, incoming: { pods: 2, running: 2, pending: 0, cpu: '0', memory: '0' } })?.itRunsHere?.text).toBe('It runs here: 2 pods (no quota)');
    expect(offloadingView({ peerID: B })).toBeUndefined();
    expect(offloadingView(undefined)).toBeUndefined();
  });

  it('puts each peer\'s figures on its own card, by cluster ID', () => {
    const views = peerViews({ fcs: [fc('peer-b', B), fc('peer-a', A)], advertisements: [], nodes: [], requests: [], domains: [], offloading: observed }, new Date());
    expect(views.find((p) => p.clusterID === B)?.offloading?.weRunThere?.pods).toBe(3);
    expect(views.find((p) => p.clusterID === A)?.offloading).toBeUndefined();
  });
});
