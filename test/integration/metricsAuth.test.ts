/**
 * The agent's /metrics names its peers: off loopback (the in-cluster Deployment) it is served only
 * to a bearer token the cluster allows to get the non-resource URL /metrics, as kube-rbac-proxy
 * does (TokenReview, then SubjectAccessReview); health probes stay unauthenticated on their own
 * port. The agent runs here with --metrics-auth (what a non-loopback listen address turns on).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import type { LocalCluster } from '../../src/localcluster/localCluster.js';
import { Core, KubeClient, resourcePath } from '../../src/k8s/rest.js';
import { agentMetricsUrl, startAgent, startCluster, type AgentProcess } from '../support/clusters.js';
import { waitFor } from '../support/wait.js';

let a: LocalCluster;
let A: KubeClient;
let agent: AgentProcess;
let metricsUrl: string;
let healthUrl: string;

async function tokenFor(name: string, clusterRole?: string): Promise<string> {
  await A.create(resourcePath(Core.serviceAccounts, { namespace: 'default' }), { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name } });
  if (clusterRole) {
    await A.create(resourcePath(Core.clusterRoleBindings), {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: `${name}-metrics` },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: clusterRole },
      subjects: [{ kind: 'ServiceAccount', name, namespace: 'default' }],
    });
  }
  const tr = await A.create<{ status: { token: string } }>(resourcePath(Core.serviceAccounts, { namespace: 'default', name, subresource: 'token' }), { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } });
  return tr.status.token;
}

beforeAll(async () => {
  a = await startCluster('metricsauth-a');
  A = a.client();
  agent = startAgent(a, ['--no-dashboard', '--metrics-auth', '--health-listen', '127.0.0.1:0']);
  metricsUrl = await agentMetricsUrl(agent);
  healthUrl = await waitFor('the agent to log its health URL', () => /"healthUrl":"([^"]+)"/.exec(readFileSync(agent.logFile, 'utf8'))?.[1]);
});
afterAll(async () => {
  await agent?.stop();
  await a?.stop();
});

describe('/metrics with --metrics-auth', () => {
  it('answers 401 without a token, 403 to a token without the permission, and the metrics to one bound to kubepeer-metrics-reader', async () => {
    const anonymous = await fetch(`${metricsUrl}/metrics`);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.text()).not.toContain('kubepeer_');

    const bogus = await fetch(`${metricsUrl}/metrics`, { headers: { Authorization: 'Bearer not-a-token' } });
    expect(bogus.status).toBe(401);

    const nobody = await fetch(`${metricsUrl}/metrics`, { headers: { Authorization: `Bearer ${await tokenFor('nobody')}` } });
    expect(nobody.status).toBe(403);
    expect(await nobody.text()).toContain('kubepeer-metrics-reader');

    const scraper = await tokenFor('scraper', 'kubepeer-metrics-reader');
    const allowed = await fetch(`${metricsUrl}/metrics`, { headers: { Authorization: `Bearer ${scraper}` } });
    expect(allowed.status).toBe(200);
    expect(await allowed.text()).toContain('kubepeer_reconcile_total');
  });

  it('keeps the health probes unauthenticated, on their own port (and on the metrics port)', async () => {
    for (const base of [healthUrl, metricsUrl]) {
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect((await fetch(`${base}/livez`)).status).toBe(200);
      expect([200, 503]).toContain((await fetch(`${base}/readyz`)).status);
    }
    expect((await fetch(`${healthUrl}/metrics`)).status).toBe(404);
  });
});
