/**
 * Local clusters (issue 12 Medium 5): kubepeer sets the API server's admission configuration, so
 * the API server presents a client certificate to webhooks (CN kube-apiserver-webhook-client, a CA
 * of its own, published in ConfigMap kube-system/kubepeer-webhook-client), and the agent answers no
 * other caller. A forged AdmissionReview posted straight to the webhook port, even from the API
 * server's own address (loopback, where the address proves nothing), is refused in the TLS
 * handshake and reserves nothing; a real create through the API server (anonymous, and kubectl)
 * is admitted as before. (A user's cluster, where kubepeer cannot configure the API server:
 * webhookForgery.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { stringify } from 'yaml';
import type { LocalCluster } from '../../src/localcluster/localCluster.js';
import { Core, resourcePath, type KubeClient } from '../../src/k8s/rest.js';
import { GVR } from '../../src/api/crds.js';
import { Defaults, Names } from '../../src/api/constants.js';
import { buildTokenKubeconfig } from '../../src/peering/kubeconfig.js';
import { createCA, issueCertificate, type KeyPairPem } from '../../src/trust/pki.js';
import { agentMetricsUrl, kubectl, startAgent, startCluster, type AgentProcess } from '../support/clusters.js';
import { waitFor } from '../support/wait.js';
import { peeringRequestCreateReview, postJson, type JsonAnswer } from '../support/webhookCalls.js';

let b: LocalCluster;
let admin: KubeClient;
let caPem: string;
let requesterCA: string;
let agent: AgentProcess;
let webhookUrl: URL;
let metricsUrl: string;
const httpsAgent = new Agent({ keepAlive: true, maxSockets: 16 });

function peeringRequest(id: string = randomUUID(), apiUrl = 'https://127.0.0.1:1') {
  return {
    apiVersion: 'discovery.liqo.io/v1alpha1',
    kind: 'PeeringRequest',
    metadata: { name: id },
    spec: { clusterID: id, namespace: 'liqo', apiUrl, kubeconfig: buildTokenKubeconfig({ server: apiUrl, caPem: requesterCA, token: `token-${id}` }) },
  };
}


const anonymousCreate = (obj: unknown, dryRun = false) => postJson(new URL(`${b.apiUrl}${resourcePath(GVR.peeringRequest)}${dryRun ? '?dryRun=All' : ''}`), JSON.stringify(obj), { ca: caPem, agent: httpsAgent });

/** A CREATE review posted straight to the webhook (from loopback, the API server's address too). */
function forgedReview(client?: KeyPairPem): Promise<JsonAnswer> {
  const pr = peeringRequest();
  const review = peeringRequestCreateReview(pr);
  return postJson(webhookUrl, JSON.stringify(review), { rejectUnauthorized: false, ...(client ? { cert: client.certPem, key: client.keyPem } : {}) });
}

const listPRs = async () => (await admin.list<{ metadata: { name: string } }>(resourcePath(GVR.peeringRequest))).items;

async function deleteAllPRs(): Promise<void> {
  for (const pr of await listPRs()) await admin.delete(resourcePath(GVR.peeringRequest, { name: pr.metadata.name }));
  await waitFor('all PeeringRequests gone', async () => (await listPRs()).length === 0);
}

const metric = async (re: RegExp) => Number(re.exec(await (await fetch(`${metricsUrl}/metrics`)).text())?.[1] ?? 0);

beforeAll(async () => {
  b = await startCluster('caller-b');
  admin = b.client();
  caPem = readFileSync(b.caCert, 'utf8');
  requesterCA = (await createCA('requester-ca')).certPem;
  await admin.mergePatch(resourcePath(GVR.clusterConfig, { name: Names.clusterConfig }), { spec: { peeringConfig: { maxPendingRequests: 2, acceptPolicy: 'Manual' } } });
  agent = startAgent(b, ['--no-dashboard']);
  metricsUrl = await agentMetricsUrl(agent);
  webhookUrl = new URL(await waitFor('the agent to log its webhook URL', () => /"webhookUrl":"([^"]+)"/.exec(readFileSync(agent.logFile, 'utf8'))?.[1]));
  await waitFor('a real request admitted', async () => ((await anonymousCreate(peeringRequest())).status === 201 ? true : undefined));
  await deleteAllPRs();
});

afterAll(async () => {
  await agent?.stop();
  httpsAgent.destroy();
  await b?.stop();
});

describe('a local cluster: only the API server calls the webhook', () => {
  it('publishes the webhook client CA, and the agent requires the certificate', async () => {
    const cm = await admin.get<{ data: Record<string, string> }>(resourcePath(Core.configMaps, { namespace: 'kube-system', name: Names.webhookClientConfigMap }));
    expect(cm.data['client-name']).toBe(Defaults.webhookClientName);
    expect(cm.data['ca.crt']).toContain('BEGIN CERTIFICATE');
    expect(readFileSync(agent.logFile, 'utf8')).toMatch(/"callerAuthenticated":true/);
  });

  it('refuses forged reviews from loopback in the TLS handshake, and they reserve nothing: real requests fill the cap of 2', async () => {
    // one real request stored: the API server's address (127.0.0.1) has shown it is the API server
    expect((await anonymousCreate(peeringRequest())).status).toBe(201);
    const before = await metric(/kubepeer_webhook_callers_refused_total\{stage="handshake"\} (\d+)/);
    // fifty forged creates from the same address: without client authentication each one would
    // be "allowed" and, from a proven address, hold a slot for 15 s (the cap of 2 would be full)
    const forged = await Promise.allSettled(Array.from({ length: 50 }, () => forgedReview()));
    expect(forged.filter((f) => f.status === 'fulfilled')).toEqual([]);
    for (const f of forged) expect(String((f as PromiseRejectedResult).reason)).toMatch(/certificate|socket hang up|ECONNRESET|alert/i);
    expect(await metric(/kubepeer_webhook_callers_refused_total\{stage="handshake"\} (\d+)/)).toBeGreaterThanOrEqual(before + 50);
    // the second slot is free for a real request, and the cap still holds for real requests
    const real = await anonymousCreate(peeringRequest());
    expect(real.status, JSON.stringify(real.body)).toBe(201);
    const third = await anonymousCreate(peeringRequest());
    expect(third.status).toBe(429);
    await deleteAllPRs();
  });

  it('refuses a certificate of another CA that claims the name', async () => {
    const other = await createCA('forger-ca');
    const cert = await issueCertificate(other, { commonName: Defaults.webhookClientName, usage: 'client' });
    await expect(forgedReview(cert)).rejects.toThrow(/certificate|socket hang up|ECONNRESET|alert/i);
  });

  it('admits what a person applies with kubectl through the API server', async () => {
    const pr = peeringRequest();
    const r = kubectl(b, ['apply', '-f', '-'], stringify(pr));
    expect(r.code, r.stderr).toBe(0);
    expect(await admin.getOrNull(resourcePath(GVR.peeringRequest, { name: pr.metadata.name }))).not.toBeNull();
    // and the webhook still judges it: a request named after this cluster is refused
    const own = (await admin.get<{ data: Record<string, string> }>(resourcePath(Core.configMaps, { namespace: 'liqo', name: Names.clusterIDConfigMap }))).data[Names.clusterIDKey]!;
    const refused = kubectl(b, ['apply', '-f', '-'], stringify(peeringRequest(own)));
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/OwnClusterID|own ID|cannot peer with itself/);
    await deleteAllPRs();
  });

  it("refuses an apiUrl outside the ClusterConfig's allowedPeerCIDRs, as the identity callback would", async () => {
    const clusterConfig = resourcePath(GVR.clusterConfig, { name: Names.clusterConfig });
    const outside = () => peeringRequest(randomUUID(), 'https://203.0.113.10:6443');
    expect((await anonymousCreate(outside(), true)).status).toBe(201);
    await admin.mergePatch(clusterConfig, { spec: { peeringConfig: { allowedPeerCIDRs: ['198.18.0.0/15'] } } });
    try {
      const refused = await waitFor('the allowlist applied by the webhook', async () => {
        const r = await anonymousCreate(outside(), true);
        return r.status === 400 ? r : undefined;
      });
      expect(refused.body.reason).toBe('InvalidApiUrl');
      expect(refused.body.message).toContain('outside the allowed CIDRs (peeringConfig.allowedPeerCIDRs: 198.18.0.0/15)');
      expect((await anonymousCreate(peeringRequest(randomUUID(), 'https://198.18.3.4:6443'), true)).status).toBe(201);
    } finally {
      await admin.mergePatch(clusterConfig, { spec: { peeringConfig: { allowedPeerCIDRs: null } } });
    }
  });
});
