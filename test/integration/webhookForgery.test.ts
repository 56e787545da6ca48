/**
 * A user's cluster, whose API server kubepeer cannot configure (modelled by a local cluster without
 * ConfigMap kube-system/kubepeer-webhook-client, so the agent does not ask for the API server's
 * client certificate; local clusters proper: webhookCaller.test.ts).
 * Forged AdmissionReviews posted straight to the webhook port, from an address that is not the
 * API server's, take no pending slot: the cap counts what the API server stored, and only a caller
 * whose admissions become stored objects (the API server) holds slots during a burst. And one
 * source address cannot take every connection of the webhook: the API server's calls still get in
 * while another host holds a thousand connections open.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { connect, type Socket } from 'node:net';
import type { LocalCluster } from '../../src/localcluster/localCluster.js';
import { Core, KubeClient, resourcePath } from '../../src/k8s/rest.js';
import { GVR } from '../../src/api/crds.js';
import { Names } from '../../src/api/constants.js';
import { buildTokenKubeconfig } from '../../src/peering/kubeconfig.js';
import { createCA } from '../../src/trust/pki.js';
import { agentMetricsUrl, startAgent, startCluster, type AgentProcess } from '../support/clusters.js';
import { waitFor } from '../support/wait.js';
import { peeringRequestCreateReview, postJson, type JsonAnswer } from '../support/webhookCalls.js';

let b: LocalCluster;
let admin: KubeClient;
let caPem: string;
let requesterCA: string;
let agent: AgentProcess;
let webhookUrl: URL;
let metricsUrl: string;
/** Another loopback address: the forger is a different host than the API server (127.0.0.1). */
const FORGER = '127.0.0.2';
const httpsAgent = new Agent({ keepAlive: true, maxSockets: 16 });

function peeringRequest(id: string = randomUUID()) {
  const apiUrl = 'https://127.0.0.1:1';
  return {
    apiVersion: 'discovery.liqo.io/v1alpha1',
    kind: 'PeeringRequest',
    metadata: { name: id },
    spec: { clusterID: id, namespace: 'liqo', apiUrl, kubeconfig: buildTokenKubeconfig({ server: apiUrl, caPem: requesterCA, token: `token-${id}` }) },
  };
}


/** A create through the API server as the anonymous user, the way a requester sends it. */
const anonymousCreate = (obj: unknown) => postJson(new URL(`${b.apiUrl}${resourcePath(GVR.peeringRequest)}`), JSON.stringify(obj), { ca: caPem, agent: httpsAgent });

/** An AdmissionReview for a CREATE, posted straight to the webhook from the forger's address. */
function forgedReview(): Promise<{ status: number; body: { response?: { allowed?: boolean } } }> {
  const pr = peeringRequest();
  const review = peeringRequestCreateReview(pr);
  return postJson(webhookUrl, JSON.stringify(review), { localAddress: FORGER, rejectUnauthorized: false });
}

async function deleteAllPRs(): Promise<void> {
  const list = async () => (await admin.list<{ metadata: { name: string } }>(resourcePath(GVR.peeringRequest))).items;
  for (const pr of await list()) await admin.delete(resourcePath(GVR.peeringRequest, { name: pr.metadata.name }));
  await waitFor('all PeeringRequests gone', async () => (await list()).length === 0);
}

beforeAll(async () => {
  b = await startCluster('forgery-b');
  admin = b.client();
  caPem = readFileSync(b.caCert, 'utf8');
  requesterCA = (await createCA('requester-ca')).certPem;
  await admin.mergePatch(resourcePath(GVR.clusterConfig, { name: Names.clusterConfig }), { spec: { peeringConfig: { maxPendingRequests: 2, acceptPolicy: 'Manual' } } });
  // a user's cluster: nothing tells the agent who the API server is
  await admin.delete(resourcePath(Core.configMaps, { namespace: 'kube-system', name: Names.webhookClientConfigMap }));
  agent = startAgent(b, ['--no-dashboard']);
  metricsUrl = await agentMetricsUrl(agent);
  webhookUrl = new URL(await waitFor('the agent to log its webhook URL', () => /"webhookUrl":"([^"]+)"/.exec(readFileSync(agent.logFile, 'utf8'))?.[1]));
  // the webhook answers the API server: a real create is admitted
  await waitFor('a real request admitted', async () => ((await anonymousCreate(peeringRequest())).status === 201 ? true : undefined));
  await deleteAllPRs();
});

afterAll(async () => {
  await agent?.stop();
  httpsAgent.destroy();
  await b?.stop();
});

describe('the webhook, called by someone other than the API server', () => {
  it('takes no pending slot for forged AdmissionReviews: a real request is still admitted under maxPendingRequests 2', async () => {
    // A real create first: the API server's address (127.0.0.1) is now known to the webhook.
    expect((await anonymousCreate(peeringRequest())).status).toBe(201);
    // Fifty forged creates, each "allowed" by the webhook (they are well-formed), none stored.
    const forged = await Promise.all(Array.from({ length: 50 }, () => forgedReview()));
    expect(forged.every((f) => f.status === 200)).toBe(true);
    // One slot of two is taken by the stored request: the next real one gets the other.
    const real = await anonymousCreate(peeringRequest());
    expect(real.status, JSON.stringify(real.body)).toBe(201);
    // and the cap still holds for real requests
    const third = await anonymousCreate(peeringRequest());
    expect(third.status).toBe(429);
    expect(third.body.reason ?? third.body.message).toMatch(/TooManyPendingRequests|pending/);
    await deleteAllPRs();
  });

  it('closes connections past one source address\'s share: with 1100 connections held open from one host, the API server\'s calls get in', async () => {
    const held: Socket[] = [];
    try {
      await Promise.all(
        Array.from({ length: 1100 }, () =>
          new Promise<void>((resolve) => {
            const s = connect({ host: webhookUrl.hostname, port: Number(webhookUrl.port), localAddress: FORGER });
            held.push(s);
            s.on('error', () => resolve());
            s.on('connect', () => resolve());
          }),
        ),
      );
      // every connection past the share (64) is closed as the server accepts it
      const refused = async () => Number(/kubepeer_webhook_connections_refused_total (\d+)/.exec(await (await fetch(`${metricsUrl}/metrics`)).text())?.[1] ?? 0);
      await waitFor('the connections past the share closed', async () => (await refused()) >= 1100 - 64, { describe: refused });
      const real = await anonymousCreate(peeringRequest());
      expect(real.status, JSON.stringify(real.body)).toBe(201);
    } finally {
      for (const s of held) s.destroy();
      await deleteAllPRs();
    }
  });
});
