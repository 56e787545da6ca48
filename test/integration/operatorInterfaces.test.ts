/**
 * Issue 16, the operator's side on a real kube-apiserver with the real kubectl: the cluster ID
 * right after install, the kubectl plugin on PATH, dashboard tokens bound to the right rights, a
 * truthful `kubepeer status` (what the agent runs, not what ClusterConfig asks for), API
 * refusals that name the object and field, and why a SearchDomain is not synced.
 */
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../src/localcluster/localCluster.js';
import { controlPlaneBinDir } from '../../src/localcluster/binaries.js';
import { GVR, type SearchDomain } from '../../src/api/crds.js';
import { Names } from '../../src/api/constants.js';
import { ApiError, Core, resourcePath } from '../../src/k8s/rest.js';
import { kubectl, kubepeer, startAgent, startCluster, type AgentProcess } from '../support/clusters.js';
import { KubeClient } from '../../src/k8s/rest.js';
import { details } from '../../src/dashboard/handlers.js';
import { waitFor } from '../support/wait.js';
import { scratchDir } from '../support/scratch.js';

let cluster: LocalCluster;
let agent: AgentProcess | undefined;
const kp = (...args: string[]) => kubepeer([...args, '--kubeconfig', cluster.kubeconfig]);

beforeAll(async () => {
  cluster = await startCluster('ops');
});

afterAll(async () => {
  await agent?.stop();
  await cluster?.stop();
});

describe('install', () => {
  it('creates the cluster ID: kubectl reads it right after install, before any agent runs', () => {
    const r = kubectl(cluster, ['get', 'configmap', '-n', 'liqo', 'cluster-id', '-o', 'jsonpath={.data.cluster-id}']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^[0-9a-f-]{36}$/);
    expect(kp('cluster-id').stdout.trim()).toBe(r.stdout);
  });
});

describe('kubepeer plugin install', () => {
  it('puts an executable kubectl-peer where kubectl finds it, and kubectl peer list answers from the cluster', async () => {
    const dir = scratchDir('kubepeer-plugin-');
    const env = { PATH: `${dir}:${process.env.PATH}` };
    const r = kubepeer(['plugin', 'install', '--dir', dir, '-o', 'json'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ path: join(dir, 'kubectl-peer'), onPath: true });
    expect(statSync(join(dir, 'kubectl-peer')).mode & 0o111).toBe(0o111);

    const kubectlBin = join(controlPlaneBinDir(), 'kubectl');
    const run = (args: string[]) => spawnSync(kubectlBin, args, { encoding: 'utf8', env: { ...process.env, ...env } });
    const list = run(['plugin', 'list']);
    expect(list.stdout).toContain(join(dir, 'kubectl-peer'));

    const add = kp('peer', 'add', 'edge-z', '--api-url', 'https://203.0.113.9:6443');
    expect(add.code, add.stderr).toBe(0);
    const peers = run(['peer', 'list', '--kubeconfig', cluster.kubeconfig]);
    expect(peers.stderr).toBe('');
    expect(peers.status).toBe(0);
    expect(peers.stdout).toMatch(/^NAME/);
    expect(peers.stdout).toContain('edge-z');
    // It runs as the plugin: its help says "kubectl peer".
    expect(run(['peer', '--help']).stdout).toContain('Usage: kubectl peer');
  });

  it('says when the folder is not on PATH', () => {
    const dir = scratchDir('kubepeer-plugin-off-path-');
    const r = kubepeer(['plugin', 'install', '--dir', dir]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`${dir} is not on PATH`);
  });
});

describe('kubepeer dashboard token', () => {
  // Only the token speaks: the test's kubeconfig holds an admin client certificate, which the
  // API server would prefer to a --token given beside it.
  const can = (token: string, verb: string, resource: string) =>
    spawnSync(join(controlPlaneBinDir(), 'kubectl'), ['--kubeconfig', '/dev/null', '--server', cluster.apiUrl, '--insecure-skip-tls-verify', '--token', token, 'auth', 'can-i', verb, resource], { encoding: 'utf8' }).stdout.trim();

  it('makes a token that can do what the dashboard does, and a --read-only one that can only look', () => {
    const full = kp('dashboard', 'token', '--duration', '15m');
    expect(full.code, full.stderr).toBe(0);
    const token = full.stdout.trim();
    expect(full.stderr).toContain(`liqo/${Names.dashboardServiceAccount}`);
    for (const [verb, res] of [['list', 'foreignclusters.discovery.liqo.io'], ['patch', 'foreignclusters.discovery.liqo.io'], ['create', 'searchdomains.discovery.liqo.io'], ['patch', 'peeringrequests.discovery.liqo.io'], ['list', 'events'], ['watch', 'nodes']])
      expect(can(token, verb!, res!), `${verb} ${res}`).toBe('yes');
    expect(can(token, 'get', 'secrets')).toBe('no');

    const ro = kp('dashboard', 'token', '--read-only', '-o', 'json');
    expect(ro.code, ro.stderr).toBe(0);
    const view = JSON.parse(ro.stdout) as { serviceAccount: string; token: string; expirationTimestamp: string };
    expect(view.serviceAccount).toBe(`liqo/${Names.dashboardViewerServiceAccount}`);
    expect(Date.parse(view.expirationTimestamp) - Date.now()).toBeGreaterThan(7 * 3600_000);
    expect(can(view.token, 'list', 'foreignclusters.discovery.liqo.io')).toBe('yes');
    expect(can(view.token, 'list', 'events')).toBe('yes');
    expect(can(view.token, 'patch', 'foreignclusters.discovery.liqo.io')).toBe('no');
    expect(can(view.token, 'delete', 'foreignclusters.discovery.liqo.io')).toBe('no');
  });

  it('refuses a duration the API server would refuse', () => {
    const r = kp('dashboard', 'token', '--duration', '5m');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('at least 10m');
  });
});

describe('API refusals name the object and the field', () => {
  it('a JSON patch that does not apply says which request and which path', async () => {
    const path = resourcePath(Core.configMaps, { namespace: 'liqo', name: Names.clusterIDConfigMap });
    const err = await cluster
      .client()
      .request('PATCH', path, { body: [{ op: 'remove', path: '/data/no-such-key' }], contentType: 'application/json-patch+json' })
      .then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    const msg = (err as ApiError).message;
    // The API server itself says only "the server rejected our request due to an error in our
    // request", with no object, field or cause.
    expect(msg).toContain('the server rejected our request');
    expect(msg).toContain(`PATCH ${path}`);
    expect(msg).toContain('JSON patch: remove /data/no-such-key');
  });
});

describe('truthful status, with an agent whose API server URL is loopback', () => {
  beforeAll(async () => {
    agent = startAgent(cluster, ['--dashboard-http']);
    await waitFor('the agent to publish what it runs (ConfigMap kubepeer-agent-status)', async () =>
      (await cluster.client().getOrNull<{ data?: Record<string, string> }>(resourcePath(Core.configMaps, { namespace: 'liqo', name: Names.agentStatusConfigMap })))?.data?.['lan-discovery'],
    );
  });

  it('kubepeer status says LAN discovery is inactive and why, and prints the dashboard URL', () => {
    const r = kp('status');
    expect(r.stdout).toContain('LAN INACTIVE (ClusterConfig asks for: LAN on, advertise on)');
    expect(r.stdout).toContain('is a loopback address that no other host can reach');
    expect(r.stdout).toMatch(/Dashboard: +http:\/\/127\.0\.0\.1:\d+/);
    const json = JSON.parse(kp('status', '-o', 'json').stdout) as { discovery: { lanState: string; lanReason: string }; dashboardUrl: string };
    expect(json.discovery.lanState).toBe('Inactive');
    expect(json.dashboardUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+/);
  });

  it('domain list shows why a domain whose server refuses is not synced', async () => {
    // A DNS server that refuses: nothing listens on this loopback port, so every query fails.
    expect(kubectl(cluster, ['patch', 'clusterconfig', Names.clusterConfig, '--type', 'merge', '-p', '{"spec":{"discoveryConfig":{"dnsServer":"127.0.0.1:1"}}}']).code).toBe(0);
    const add = kp('domain', 'add', 'refusing.example.');
    expect(add.code, add.stderr).toBe(0);
    const sd = await waitFor('the SearchDomain to be marked not synced', async () => {
      const all = (await cluster.client().list<SearchDomain>(resourcePath(GVR.searchDomain))).items;
      const d = all.find((x) => x.spec.domain.startsWith('refusing.example'));
      return d?.status?.conditions?.find((c) => c.type === 'Synced' && c.status === 'False') ? d : undefined;
    });
    const reason = sd.status!.conditions!.find((c) => c.type === 'Synced')!.reason;
    const table = kp('domain', 'list').stdout;
    expect(table.split('\n')[0]).toMatch(/SYNCED +REASON/);
    expect(table).toContain(reason);
  });

  it('with the agent stopped: status says since when, and what it last published (dashboard URL, LAN state) is no longer shown as current', async () => {
    await agent!.stop();
    agent = undefined;
    const r = kp('status');
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/Agent: +NOT RUNNING since \d{4}-\d\d-\d\dT[\d:.]+Z \(\d+s ago\): what it last published is from then/);
    expect(r.stdout).toMatch(/Dashboard: +not served: the agent that served it at http:\/\/127\.0\.0\.1:\d+\/? is not running since/);
    expect(r.stdout).not.toContain('LAN INACTIVE');
    expect(r.stdout).toMatch(/no agent has run since .*; LAN discovery was Inactive then/);
    const json = JSON.parse(kp('status', '-o', 'json').stdout) as { dashboardUrl: string | null; agent: { notRunningSince: string | null } };
    expect(json.dashboardUrl).toBeNull();
    expect(json.agent.notRunningSince).toMatch(/^\d{4}-/);
    const token = kp('dashboard', 'token', '--duration', '10m');
    expect(token.code, token.stderr).toBe(0);
    expect(token.stderr).toContain('the kubepeer agent is not running since');
    expect(token.stderr).not.toContain('dashboard: http');
  });
});

describe('kubepeer local up --agent', () => {
  // Its own state folder, so that these local clusters are not mixed with a person's.
  const env = { KUBEPEER_STATE_DIR: scratchDir('kubepeer-state-') };
  afterAll(() => {
    kubepeer(['local', 'down', '--all'], env);
  });

  it('returns once the agent leads: dns records and status work at once, and the dashboard URL is printed', () => {
    const up = kubepeer(['local', 'up', 'ops-up', '--agent'], env);
    expect(up.code, up.stderr).toBe(0);
    const kubeconfig = up.stdout.trim();
    expect(up.stderr).toMatch(/dashboard: https:\/\/127\.0\.0\.1:\d+/);
    // Run right away, no waiting: the agent is up and the cluster ID exists.
    const records = kubepeer(['dns', 'records', '--domain', 'example.org', '--kubeconfig', kubeconfig], env);
    expect(records.stderr).not.toContain('no cluster ID yet');
    expect(records.code, records.stderr).toBe(0);
    const status = kubepeer(['status', '--kubeconfig', kubeconfig], env);
    expect(status.code, status.stdout + status.stderr).toBe(0);
    expect(status.stdout).toMatch(/Agent: +healthy/);
    expect(status.stdout).toMatch(/Dashboard: +https:\/\/127\.0\.0\.1:\d+/);
  });
});

describe('dashboard: events about cluster-scoped objects', () => {
  it('says that events in "default" are not shown when the token may list events only in liqo', async () => {
    const admin = cluster.client();
    const name = 'dash-events-liqo-only';
    const rbac = { apiVersion: 'rbac.authorization.k8s.io/v1' };
    await admin.create(resourcePath(Core.serviceAccounts, { namespace: 'liqo' }), { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: 'liqo' } });
    // Peers readable everywhere (the viewer ClusterRole without its events rule), events only in liqo.
    await admin.create(resourcePath(Core.clusterRoleBindings), { ...rbac, kind: 'ClusterRoleBinding', metadata: { name }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' }, subjects: [{ kind: 'ServiceAccount', name, namespace: 'liqo' }] });
    await admin.create(resourcePath(Core.clusterRoles), { ...rbac, kind: 'ClusterRole', metadata: { name }, rules: [{ apiGroups: ['discovery.liqo.io'], resources: ['foreignclusters'], verbs: ['get', 'list'] }] });
    await admin.create(resourcePath(Core.clusterRoleBindings), { ...rbac, kind: 'ClusterRoleBinding', metadata: { name: `${name}-fc` }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name }, subjects: [{ kind: 'ServiceAccount', name, namespace: 'liqo' }] });
    const tr = await admin.create<{ status: { token: string } }>(resourcePath(Core.serviceAccounts, { namespace: 'liqo', name, subresource: 'token' }), { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 600 } });
    const user = KubeClient.withToken(cluster.apiUrl, tr.status.token, undefined, true);
    try {
      // "view" lists events in a namespace only through a RoleBinding there: none in default.
      await admin.create(resourcePath(Core.roleBindings, { namespace: 'liqo' }), { ...rbac, kind: 'RoleBinding', metadata: { name, namespace: 'liqo' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' }, subjects: [{ kind: 'ServiceAccount', name, namespace: 'liqo' }] });
      await admin.delete(resourcePath(Core.clusterRoleBindings, { name }));
      const add = kp('peer', 'add', 'edge-events', '--api-url', 'https://203.0.113.11:6443');
      expect(add.code, add.stderr).toBe(0);
      const d = await waitFor('the RBAC to apply', async () => {
        const r = await details(user, { clusterID: 'x', clusterName: 'x', namespace: 'liqo' }, 'edge-events');
        return r.warnings.some((w) => w.includes('"default"')) ? r : undefined;
      });
      expect(d.warnings.join('\n')).toContain('forbidden: you may not list events in namespace "default", where Kubernetes keeps the events about cluster-scoped objects');
    } finally {
      user.close();
    }
  });
});

