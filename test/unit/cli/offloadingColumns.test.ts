import { describe, expect, it } from 'vitest';
import type { ForeignCluster } from '../../../src/api/crds.js';
import { GVR } from '../../../src/api/crds.js';
import { formatList, formatObject, kindName, parseOutput } from '../../../src/cli/output.js';
import { peerColumns, peerWideColumns } from '../../../src/cli/commands/peer.js';
import { statusReport, statusText, type StatusObserved } from '../../../src/cli/commands/status.js';
import type { PeerOffloading } from '../../../src/offloading/usage.js';

const B = 'bbbbbbbb-0000-4000-8000-000000000002';
const fc = (name: string, clusterID: string): ForeignCluster =>
  ({
    apiVersion: 'discovery.liqo.io/v1',
    kind: 'ForeignCluster',
    metadata: { name, creationTimestamp: '2026-01-01T00:00:00Z' },
    spec: { clusterID, clusterName: name, discoveryType: 'Manual', join: true, apiUrl: `https://${name}:6443`, namespace: 'liqo' },
    status: { outgoing: { phase: 'Established' }, incoming: { phase: 'Established' } },
  }) as unknown as ForeignCluster;

const offloading: PeerOffloading[] = [
  {
    peerID: B,
    outgoing: { pods: 3, running: 3, pending: 0, cpu: '3m', memory: '12Mi', cpuLimit: '2', memoryLimit: '4Gi', podsLimit: '110' },
    incoming: { pods: 1, running: 0, pending: 1, cpu: '10m', memory: '16Mi', cpuLimit: '1', memoryLimit: '2Gi', podsLimit: '20' },
  },
];

describe('peer list -o wide: offloading each way', () => {
  const printer = (o: PeerOffloading[] | undefined) => ({ columns: peerWideColumns(o), resource: kindName(GVR.foreignCluster) });

  it('adds what we run there and what it runs here, per peer', () => {
    const [header, row, other] = formatList(parseOutput('wide'), [fc('peer-b', B), fc('peer-c', 'cccc')], printer(offloading)).stdout.split('\n');
    expect(header).toMatch(/NODE READY\s+WE RUN THERE\s+IT RUNS HERE\s+API URL\s+MESSAGE/);
    expect(row).toContain('3/110 pods (3 running) · cpu 3m/2 · mem 12Mi/4Gi');
    expect(row).toContain('1/20 pods (0 running) · cpu 10m/1 · mem 16Mi/2Gi');
    // A peer with nothing either way says so rather than showing zeros it never had.
    expect(other).toMatch(/peer-c.*\s-\s+-\s/);
  });

  it('keeps the narrow table and the structured output as they were', () => {
    const narrow = formatList(parseOutput('table'), [fc('peer-b', B)], printer(offloading)).stdout;
    expect(narrow).toBe(formatList(parseOutput('table'), [fc('peer-b', B)], { columns: peerColumns, resource: kindName(GVR.foreignCluster) }).stdout);
    expect(JSON.parse(formatList(parseOutput('json'), [fc('peer-b', B)], printer(offloading)).stdout).items[0]).not.toHaveProperty('offloading');
  });

  it('shows "?" when the offloading could not be read (forbidden)', () => {
    const [, row] = formatList(parseOutput('wide'), [fc('peer-b', B)], printer(undefined)).stdout.split('\n');
    expect(row).toMatch(/\?\s+\?/);
  });
});

describe('status: the Offloading part', () => {
  const observed = (o: PeerOffloading[] | null | undefined): StatusObserved => ({
    clusterID: 'aaaaaaaa-0000-4000-8000-000000000001',
    server: 'https://127.0.0.1:6443',
    clusterConfig: null,
    lease: { spec: { holderIdentity: 'agent-1', renewTime: new Date(1_000_000).toISOString(), leaseDurationSeconds: 15 } },
    foreignClusters: [fc('peer-b', B)],
    peeringRequests: [],
    offloading: o,
  });

  it('says per peer, by its name, the pods each way with what they use of what is allowed', () => {
    const report = statusReport(observed(offloading), 1_004_000);
    expect(report.offloading).toEqual([{ peer: 'peer-b', peerID: B, outgoing: offloading[0]!.outgoing, incoming: offloading[0]!.incoming }]);
    expect(statusText(report)).toContain('Offloading:  peer-b: we run 3 pods there (3 running, cpu 3m of 2); it runs 1 here (0 running; quota 20 pods, cpu 10m of 1)');
  });

  it('aligns one line per peer, and names a peer with no ForeignCluster by its ID', () => {
    const text = statusText(statusReport(observed([...offloading, { peerID: 'cccc', incoming: { pods: 2, running: 2, pending: 0, cpu: '0', memory: '0' } }]), 1_004_000));
    expect(text).toContain('\n             cccc: we run nothing there (no virtual node); it runs 2 here (2 running)');
  });

  it('says when there is nothing offloaded, and when the user may not read it', () => {
    expect(statusText(statusReport(observed([]), 1_004_000))).toContain('Offloading:  none (no virtual node, no tenant here)');
    const forbidden = statusReport(observed(null), 1_004_000);
    expect(forbidden.offloading).toBeNull();
    expect(statusText(forbidden)).toContain('Offloading:  not shown: you may not list nodes, pods or resourcequotas');
  });

  it('-o json carries the same figures for programs', () => {
    const report = statusReport(observed(offloading), 1_004_000);
    expect(JSON.parse(formatObject(parseOutput('json'), report, { text: () => statusText(report) })).offloading[0].outgoing.pods).toBe(3);
  });
});
