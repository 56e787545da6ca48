import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import type { LocalCluster } from '../../src/localcluster/localCluster.js';
import { Core, KubeClient, resourcePath } from '../../src/k8s/rest.js';
import { GVR } from '../../src/api/crds.js';
import { Names } from '../../src/api/constants.js';
import { Informer } from '../../src/k8s/informer.js';
import { crdManifests, baseManifests, inClusterAgentManifests } from '../../src/install/manifests.js';
import { applyManifest, install } from '../../src/install/install.js';
import { agentMetricsUrl, kubectl, kubepeer, startAgent, startCluster, type AgentProcess } from '../support/clusters.js';
import { fillPlaceholders, seedManifests } from '../support/seeds.js';
import { waitFor } from '../support/wait.js';

let a: LocalCluster;
let admin: KubeClient;
const agents: AgentProcess[] = [];

beforeAll(async () => {
  a = await startCluster('found-a');
  admin = a.client();
});

afterAll(async () => {
  await Promise.all(agents.map((x) => x.stop()));
  await a?.stop();
});

const clusterIDOf = async () =>
  (await admin.getOrNull<{ data?: Record<string, string> }>(resourcePath(Core.configMaps, { namespace: 'liqo', name: 'cluster-id' })))?.data?.['cluster-id'];

describe('local control plane', () => {
  it('serves the Kubernetes version it was built at', async () => {
    const v = await admin.get<{ gitVersion: string }>('/version');
    expect(v.gitVersion).toMatch(/^v1\.\d+\.\d+$/);
  });

  it('registers the host as a Ready node with real CPU and memory and a fresh Lease', async () => {
    const nodes = await admin.list<{ metadata: { name: string; labels: Record<string, string> }; status: { capacity: Record<string, string>; conditions: Array<{ type: string; status: string }> } }>(
      resourcePath(Core.nodes),
      { labelSelector: 'kubepeer.io/local-node=true' },
    );
    expect(nodes.items).toHaveLength(1);
    const node = nodes.items[0]!;
    expect(Number(node.status.capacity.cpu)).toBeGreaterThan(0);
    expect(node.status.capacity.memory).toMatch(/^\d+Ki$/);
    expect(node.status.conditions.find((c) => c.type === 'Ready')?.status).toBe('True');
    const lease = await admin.get<{ spec: { renewTime: string } }>(resourcePath(Core.leases, { namespace: 'kube-node-lease', name: node.metadata.name }));
    expect(Date.now() - Date.parse(lease.spec.renewTime)).toBeLessThan(30_000);
  });

  it('runs the service-account controller (default ServiceAccount appears in new namespaces)', async () => {
    await waitFor('default ServiceAccount in liqo', () => admin.getOrNull(resourcePath(Core.serviceAccounts, { namespace: 'liqo', name: 'default' })));
  });
});

describe('install', () => {
  it('is idempotent and keeps a person\'s ClusterConfig edits', async () => {
    await admin.mergePatch(resourcePath(GVR.clusterConfig, { name: Names.clusterConfig }), { spec: { peeringConfig: { acceptPolicy: 'Manual' } } });
    const report = await install(admin, { clusterName: 'found-a' });
    expect(report.kept).toContain('ClusterConfig/liqo-configuration');
    const cc = await admin.get<{ spec: { peeringConfig: { acceptPolicy: string; heartbeatSeconds: number } } }>(resourcePath(GVR.clusterConfig, { name: Names.clusterConfig }));
    expect(cc.spec.peeringConfig.acceptPolicy).toBe('Manual');
    expect(cc.spec.peeringConfig.heartbeatSeconds).toBe(10); // schema default
    await admin.mergePatch(resourcePath(GVR.clusterConfig, { name: Names.clusterConfig }), { spec: { peeringConfig: { acceptPolicy: 'AutoAcceptKnown' } } });
  });

  it('the deploy/ manifests for an in-cluster agent pass a server-side dry run', async () => {
    for (const m of [...crdManifests(), ...baseManifests(), ...inClusterAgentManifests()]) {
      await applyManifest(admin, m, undefined, true);
    }
  });
});

describe('API', () => {
  const id = 'ff5aa14a-dd6e-4fd2-80fe-eaecb827cf55';

  it('applies every seed manifest unchanged, in both API versions, and lists them with kubectl', () => {
    // The seeds' ForeignCluster and SearchDomain examples (the ConfigMap shown for `kubectl edit` is not a manifest to apply).
    const seeds = seedManifests().filter((s) => s.kind !== 'ConfigMap');
    expect(seeds.map((s) => `${s.kind} ${s.apiVersion}`).sort()).toEqual([
      'ForeignCluster discovery.liqo.io/v1',
      'ForeignCluster discovery.liqo.io/v1alpha1',
      'SearchDomain discovery.liqo.io/v1',
      'SearchDomain discovery.liqo.io/v1alpha1',
    ]);
    for (const s of seeds) {
      const r = kubectl(a, ['apply', '-f', '-'], fillPlaceholders(s.yaml, { clusterID: id, address: '198.18.0.99' }));
      expect(r.stderr, `${s.file}: ${s.kind} ${s.apiVersion}`).toBe('');
      expect(r.code).toBe(0);
    }
    const fcs = kubectl(a, ['get', 'foreignclusters']);
    expect(fcs.stdout).toMatch(/^NAME\s+CLUSTERID\s+CLUSTER-NAME\s+DISCOVERY\s+TRUST\s+OUTGOING\s+INCOMING\s+AGE/);
    expect(fcs.stdout).toContain('foreign-cluster');
    expect(kubectl(a, ['get', 'foreignclusters', 'foreign-cluster', '--template={{.spec.join}}']).stdout).toBe('true');
    expect(kubectl(a, ['get', 'searchdomains.v1alpha1.discovery.liqo.io', 'remote.com', '-o', 'jsonpath={.spec.autojoin}']).stdout).toBe('true');
    expect(kubectl(a, ['get', 'fc.v1.discovery.liqo.io', 'foreign-cluster', '-o', 'jsonpath={.spec.namespace}']).stdout).toBe('liqo');
  });

  it('rejects invalid ForeignClusters with messages a person understands', () => {
    const bad = `apiVersion: discovery.liqo.io/v1alpha1
kind: ForeignCluster
metadata: { name: bad }
spec:
  clusterID: "Not A Valid ID!"
  apiUrl: http://1.2.3.4:6443
  discoveryType: Bogus
`;
    const r = kubectl(a, ['apply', '-f', '-'], bad);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('clusterID must be a UUID');
    expect(r.stderr).toContain('apiUrl must be an https:// URL');
    expect(r.stderr).toContain('discoveryType must be one of LAN, WAN, Manual, IncomingPeering');

    const noUrl = kubectl(a, ['apply', '-f', '-'], `apiVersion: discovery.liqo.io/v1\nkind: ForeignCluster\nmetadata: { name: no-url }\nspec: { clusterID: ${id.replace(/5$/, '6')} }\n`);
    expect(noUrl.stderr).toContain('apiUrl is required for a Manual ForeignCluster');

    const immutable = kubectl(a, ['patch', 'fc', 'foreign-cluster', '--type=merge', '-p', '{"spec":{"clusterID":"other-cluster"}}']);
    expect(immutable.stderr).toContain('clusterID is immutable');

    const pin = kubectl(a, ['patch', 'fc', 'foreign-cluster', '--type=merge', '-p', '{"spec":{"caFingerprint":"md5:abc"}}']);
    expect(pin.stderr).toContain('caFingerprint must look like sha256:');
  });

  it('rejects an invalid ClusterConfig and SearchDomain', () => {
    const r = kubectl(a, ['patch', 'clusterconfig', 'liqo-configuration', '--type=merge', '-p', '{"spec":{"peeringConfig":{"acceptPolicy":"Sometimes","resourceSharingPercentage":150}}}']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/acceptPolicy.*Unsupported value: "Sometimes"/);
    const sd = kubectl(a, ['apply', '-f', '-'], 'apiVersion: discovery.liqo.io/v1\nkind: SearchDomain\nmetadata: { name: bad-domain }\nspec: { domain: "not a domain!" }\n');
    expect(sd.stderr).toContain('domain must be a DNS name');
  });
});

describe('anonymous access', () => {
  it('allows exactly creating PeeringRequests and reading liqo-cluster-info, and nothing else', async () => {
    const anon = KubeClient.anonymous(a.apiUrl, readFileSync(a.caCert, 'utf8'));
    const status = async (method: string, path: string, body?: unknown) => {
      try {
        await anon.request(method, path, { body, contentType: method === 'PATCH' ? 'application/merge-patch+json' : undefined });
        return 200;
      } catch (e) {
        return (e as { code: number }).code;
      }
    };
    // The public ConfigMap exists once an agent has run; create it here if this suite has none yet.
    await admin.create(resourcePath(Core.configMaps, { namespace: 'liqo' }), { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: Names.clusterInfoConfigMap, namespace: 'liqo' }, data: { 'cluster-id': 'x' } }).catch(() => {});
    expect(await status('GET', resourcePath(Core.configMaps, { namespace: 'liqo', name: Names.clusterInfoConfigMap }))).toBe(200);
    const prPath = resourcePath(GVR.peeringRequest);
    // create is authorized: whatever happens next (webhook, validation), it is not a 403
    expect(await status('POST', prPath, { apiVersion: 'discovery.liqo.io/v1alpha1', kind: 'PeeringRequest', metadata: { name: 'x' }, spec: {} })).not.toBe(403);

    const forbidden: Array<[string, string, unknown?]> = [
      ['GET', prPath],
      ['GET', resourcePath(GVR.peeringRequest, { name: 'anything' })],
      ['DELETE', resourcePath(GVR.peeringRequest, { name: 'anything' })],
      ['PATCH', resourcePath(GVR.peeringRequest, { name: 'anything' }), { spec: {} }],
      ['PUT', resourcePath(GVR.peeringRequest, { name: 'anything', subresource: 'status' }), {}],
      ['GET', resourcePath(Core.configMaps, { namespace: 'liqo', name: Names.clusterIDConfigMap })],
      ['GET', resourcePath(Core.configMaps, { namespace: 'liqo' })],
      ['PATCH', resourcePath(Core.configMaps, { namespace: 'liqo', name: Names.clusterInfoConfigMap }), { data: { x: 'y' } }],
      ['DELETE', resourcePath(Core.configMaps, { namespace: 'liqo', name: Names.clusterInfoConfigMap })],
      ['GET', resourcePath(Core.secrets, { namespace: 'liqo' })],
      ['GET', resourcePath(GVR.foreignCluster)],
      ['POST', resourcePath(GVR.foreignCluster), { apiVersion: 'discovery.liqo.io/v1', kind: 'ForeignCluster', metadata: { name: 'evil' }, spec: { clusterID: 'evil', apiUrl: 'https://1.2.3.4' } }],
      ['POST', resourcePath(GVR.advertisement), {}],
      ['GET', resourcePath(Core.nodes)],
      ['GET', resourcePath(Core.namespaces)],
    ];
    for (const [method, path, body] of forbidden) {
      expect(await status(method, path, body), `${method} ${path}`).toBe(403);
    }
    anon.close();
  });
});

describe('identity and agent runtime', () => {
  it('creates the cluster ID once and keeps it across agent restarts and ConfigMap churn', async () => {
    const first = startAgent(a, ['--lease-duration', '4']);
    agents.push(first);
    await agentMetricsUrl(first);
    const id = await waitFor('cluster-id ConfigMap', clusterIDOf);
    const ns = await admin.get<{ metadata: { uid: string } }>(resourcePath(Core.namespaces, { name: 'kube-system' }));
    expect(id).toBe(ns.metadata.uid);
    expect(kubepeer(['cluster-id', '--kubeconfig', a.kubeconfig]).stdout.trim()).toBe(id);
    const info = await waitFor('liqo-cluster-info', async () =>
      (await admin.getOrNull<{ data: Record<string, string> }>(resourcePath(Core.configMaps, { namespace: 'liqo', name: Names.clusterInfoConfigMap })))?.data?.['ca.crt'] ? (await admin.get<{ data: Record<string, string> }>(resourcePath(Core.configMaps, { namespace: 'liqo', name: Names.clusterInfoConfigMap }))).data : undefined,
    );
    expect(info['cluster-id']).toBe(id);
    expect(info['ca.crt']).toBe(readFileSync(a.caCert, 'utf8'));
    expect(info.namespace).toBe('liqo');

    // Unrelated ConfigMap churn
    for (let i = 0; i < 5; i++) await admin.create(resourcePath(Core.configMaps, { namespace: 'liqo' }), { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `churn-${i}`, namespace: 'liqo' }, data: { i: String(i) } });
    // A person changes it, then deletes it: the agent restores the same ID both times.
    await admin.mergePatch(resourcePath(Core.configMaps, { namespace: 'liqo', name: 'cluster-id' }), { data: { 'cluster-id': 'someone-elses-id' } });
    await waitFor('cluster-id restored after an edit', async () => (await clusterIDOf()) === id);
    await admin.delete(resourcePath(Core.configMaps, { namespace: 'liqo', name: 'cluster-id' }));
    await waitFor('cluster-id re-created after deletion', async () => (await clusterIDOf()) === id);

    await first.stop();
    const second = startAgent(a, ['--lease-duration', '4']);
    agents.push(second);
    await agentMetricsUrl(second);
    await waitFor('second agent leads', async () => (await leaseHolder()) !== '');
    expect(await clusterIDOf()).toBe(id);
    await second.stop();
  });

  const leaseHolder = async () => (await admin.getOrNull<{ spec: { holderIdentity?: string } }>(resourcePath(Core.leases, { namespace: 'liqo', name: Names.agentLease })))?.spec.holderIdentity ?? '';

  it('exits with the reason when its start fails half-way, instead of lingering with caches and no webhook', async () => {
    // An unusable webhook client CA stops the start after the caches are running (the agent must
    // not serve its webhook open by mistake); before, the process stayed up, serving nothing.
    const cmPath = resourcePath(Core.configMaps, { namespace: 'kube-system', name: Names.webhookClientConfigMap });
    const original = await admin.get<{ data: Record<string, string> }>(cmPath);
    await admin.mergePatch(cmPath, { data: { 'ca.crt': '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' } });
    try {
      const broken = startAgent(a, ['--no-dashboard']);
      agents.push(broken);
      await waitFor('the agent to exit', () => broken.exited(), { timeoutMs: 60_000, describe: () => readFileSync(broken.logFile, 'utf8').slice(-2000) });
      expect(broken.proc.exitCode).not.toBe(0);
      expect(readFileSync(broken.logFile, 'utf8')).toMatch(/error: .*does not parse/);
    } finally {
      await admin.mergePatch(cmPath, { data: { 'ca.crt': original.data['ca.crt'] } });
    }
  });

  it('hands leadership over when the leader dies, and serves health and metrics', async () => {
    const one = startAgent(a, ['--lease-duration', '4', '--identity', 'replica-one']);
    const two = startAgent(a, ['--lease-duration', '4', '--identity', 'replica-two']);
    agents.push(one, two);
    const [m1, m2] = await Promise.all([agentMetricsUrl(one), agentMetricsUrl(two)]);
    expect(m1).not.toBe(m2); // two agents on one host, no extra flags
    const leader = await waitFor('a leader', async () => ((await leaseHolder()).startsWith('replica-') ? await leaseHolder() : undefined));
    const [dead, alive, aliveUrl] = leader === 'replica-one' ? [one, two, m2] : [two, one, m1];
    const health = await fetch(`${aliveUrl}/healthz`);
    expect(health.status).toBe(200);
    await waitFor('standby ready', async () => (await fetch(`${aliveUrl}/readyz`)).status === 200);
    const metrics = await (await fetch(`${aliveUrl}/metrics`)).text();
    expect(metrics).toContain('kubepeer_leader 0');
    const killedAt = Date.now();
    await dead.kill();
    const next = await waitFor('the standby to take over', async () => ((await leaseHolder()) !== leader ? await leaseHolder() : undefined), { timeoutMs: 30_000 });
    expect(next).toBe(leader === 'replica-one' ? 'replica-two' : 'replica-one');
    console.log(`leader handover after SIGKILL: ${Date.now() - killedAt} ms (lease 4 s)`);
    expect((await (await fetch(`${aliveUrl}/metrics`)).text())).toContain('kubepeer_leader 1');
    await alive.stop();
  });
});

describe('watches', () => {
  it('recover after the API server restarts, without losing events', async () => {
    const informer = new Informer<{ metadata: { name: string } }>(KubeClient.fromFile(a.kubeconfig), Core.configMaps, { namespace: 'default' });
    const seen = new Set<string>();
    informer.on('add', (o) => seen.add(o.metadata.name));
    informer.start();
    await informer.waitForSync();
    await admin.create(resourcePath(Core.configMaps, { namespace: 'default' }), { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'before-restart', namespace: 'default' } });
    await waitFor('event before restart', () => seen.has('before-restart'));
    await a.restart('kube-apiserver');
    // Writes as soon as the new API server answers, before the watch has come back.
    await waitFor('API server back', async () => (await admin.get('/readyz').then(() => true).catch(() => false)), { timeoutMs: 90_000 });
    for (let i = 0; i < 20; i++) await admin.create(resourcePath(Core.configMaps, { namespace: 'default' }), { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `after-${i}`, namespace: 'default' } });
    await waitFor('all 20 events after the restart', () => [...Array(20).keys()].every((i) => seen.has(`after-${i}`)), { timeoutMs: 60_000, describe: () => [...seen] });
    expect(informer.stats.errors + informer.stats.relistsAfterGone).toBeGreaterThan(0);
    informer.stop();
  });
});

describe('local control plane processes', () => {
  it('die with their supervisor even when it is SIGKILLed (no orphaned etcd or API server)', async () => {
    const { isAlive } = await import('../../src/localcluster/localCluster.js');
    const c = await startCluster('found-orphans', { install: false });
    try {
      const pids = Object.values(c.pids).filter((p) => p > 0);
      expect(pids.length).toBeGreaterThanOrEqual(3); // etcd, kube-apiserver, kube-controller-manager
      expect(pids.every(isAlive)).toBe(true);
      process.kill(c.supervisorPid, 'SIGKILL');
      await waitFor('etcd, kube-apiserver and kube-controller-manager to exit', () => (pids.every((p) => !isAlive(p)) ? true : undefined), {
        timeoutMs: 10_000,
        describe: () => `still alive: ${pids.filter(isAlive).join(', ')}`,
      });
    } finally {
      await c.stop();
    }
  });
});
