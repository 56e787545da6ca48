/**
 * The agent as it runs in a real cluster: two replicas of deploy/agent.yaml's Deployment on a real
 * node, from the locally built agent image, on the pod network, with the webhook reached through its
 * Service; two such clusters peer. Needs root (real nodes); skipped otherwise.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GVR, apiVersionOf } from '../../src/api/crds.js';
import { resourcePath } from '../../src/k8s/rest.js';
import type { LocalCluster } from '../../src/localcluster/localCluster.js';
import { deployInClusterAgent } from '../../src/localcluster/inClusterAgent.js';
import { kubectl, kubepeer, startCluster } from '../support/clusters.js';
import { canUseNetns, createTestLab, execInNetns, waitUntil, type NetnsHost, type NetnsLab } from '../support/netns.js';
import { clusterIDOf, setClusterConfig, waitForReadyNode } from '../support/peering.js';

describe.skipIf(!canUseNetns)('agents running in-cluster as pods', () => {
  let lab: NetnsLab;
  let a: LocalCluster;
  let b: LocalCluster;
  let hostA: NetnsHost;

  beforeAll(async () => {
    lab = createTestLab();
    const [ha, hb] = await Promise.all([lab.addHost('ica'), lab.addHost('icb')]);
    hostA = ha;
    [a, b] = await Promise.all([
      startCluster('ica', { address: ha.address, netns: ha.netns, node: 'real' }),
      startCluster('icb', { address: hb.address, netns: hb.netns, node: 'real' }),
    ]);
    await Promise.all([deployInClusterAgent(a), deployInClusterAgent(b)]);
  });

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await lab?.destroy();
  });

  it('runs two ready replicas on one node, on the pod network, one of them leader', () => {
    const pods = JSON.parse(kubectl(a, ['-n', 'liqo', 'get', 'pods', '-l', 'app.kubernetes.io/name=kubepeer-agent', '-o', 'json']).stdout) as {
      items: Array<{ metadata: { name: string }; spec: { hostNetwork?: boolean; nodeName: string }; status: { podIP: string; conditions: Array<{ type: string; status: string }> } }>;
    };
    expect(pods.items).toHaveLength(2);
    for (const p of pods.items) {
      expect(p.spec.hostNetwork ?? false).toBe(false);
      expect(p.spec.nodeName).toBe('ica');
      expect(p.status.podIP).toMatch(/^10\.244\./);
      expect(p.status.conditions.find((c) => c.type === 'Ready')?.status).toBe('True');
    }
    const leader = kubectl(a, ['-n', 'liqo', 'get', 'lease', 'kubepeer-agent', '-o', 'jsonpath={.spec.holderIdentity}']).stdout;
    expect(pods.items.map((p) => p.metadata.name)).toContain(leader);
  });

  it('every replica serves the dashboard with a certificate from the one CA in Secret kubepeer-dashboard-tls', async () => {
    // Replicas once named their own pod in the certificate and replaced each other's
    // name-constrained CA: one of them then served a CA the Secret no longer held.
    const ca = Buffer.from(kubectl(a, ['-n', 'liqo', 'get', 'secret', 'kubepeer-dashboard-tls', '-o', 'jsonpath={.data.ca\\.crt}']).stdout, 'base64').toString('utf8');
    expect(ca).toContain('BEGIN CERTIFICATE');
    const ips = kubectl(a, ['-n', 'liqo', 'get', 'pods', '-l', 'app.kubernetes.io/name=kubepeer-agent', '-o', 'jsonpath={.items[*].status.podIP}']).stdout.split(' ').filter(Boolean);
    expect(ips).toHaveLength(2);
    for (const ip of ips) {
      // From the node's host (the pod network is routed there), verified as "localhost": a name the CA permits.
      const script = `require('https').get({ host: ${JSON.stringify(ip)}, port: 8443, path: '/healthz', servername: 'localhost', ca: process.env.CA, checkServerIdentity: (h, c) => require('tls').checkServerIdentity('localhost', c) }, (r) => { console.log(r.statusCode); r.resume(); }).on('error', (e) => { console.log('ERR ' + e.message); })`;
      const { stdout } = await execInNetns(hostA, 'env', [`CA=${ca}`, process.execPath, '-e', script]);
      expect(stdout.trim(), `replica ${ip}`).not.toMatch(/^ERR/);
    }
  });

  it('peers two clusters whose agents are pods: the webhook through its Service, a Ready virtual node', async () => {
    await setClusterConfig(b.client(), { peeringConfig: { acceptPolicy: 'AcceptAll', heartbeatSeconds: 2 } });
    const idB = await clusterIDOf(b.client());
    await a.client().create(resourcePath(GVR.foreignCluster), {
      apiVersion: apiVersionOf(GVR.foreignCluster),
      kind: 'ForeignCluster',
      metadata: { name: 'icb' },
      spec: { clusterID: idB, clusterName: 'icb', join: true, discoveryType: 'Manual', apiUrl: b.apiUrl, allowUntrustedCA: true },
    });
    await waitForReadyNode(a.client(), idB, 180_000, async () => kubectl(a, ['get', 'foreignclusters', '-o', 'yaml']).stdout);
    // B's webhook (served by B's agent pods behind their Service) admitted A's PeeringRequest.
    const idA = await clusterIDOf(a.client());
    const phase = await waitUntil(() => kubectl(b, ['get', 'peeringrequests', idA, '-o', 'jsonpath={.status.phase}']).stdout || undefined, { timeoutMs: 30_000, what: 'request on B' });
    expect(phase).toBe('Accepted');
  });

  it('kubepeer uninstall ends the peering through the agent pods, stops them (Deployment deleted, Lease released) and removes everything', async () => {
    const idA = kubectl(a, ['-n', 'liqo', 'get', 'configmap', 'cluster-id', '-o', 'jsonpath={.data.cluster-id}']).stdout;
    const r = kubepeer(['uninstall', '--kubeconfig', a.kubeconfig, '--timeout', '120', '-o', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { peeringsEnded: string[]; peersNotTold: string[]; deleted: string[]; remaining: string[] };
    expect(report).toMatchObject({ peeringsEnded: ['icb'], peersNotTold: [], remaining: [] });
    expect(report.deleted).toEqual(expect.arrayContaining(['Deployment/liqo/kubepeer-agent', 'Namespace/liqo', 'MutatingWebhookConfiguration/kubepeer-offloading']));
    // B was told (its next heartbeat is refused): A's request there goes
    await waitUntil(() => kubectl(b, ['get', 'peeringrequests', idA, '-o', 'name']).stderr.includes('NotFound') || undefined, { timeoutMs: 60_000, what: "A's request gone from B" });
    expect(kubectl(a, ['get', 'crd', 'foreignclusters.discovery.liqo.io']).code).not.toBe(0);
    expect(kubectl(a, ['get', 'nodes', '-l', 'liqo.io/remote-cluster-id', '-o', 'name']).stdout.trim()).toBe('');
  }, 300_000);
});
