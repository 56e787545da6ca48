/**
 * The webhook's socket with client authentication (local clusters, issue 12 Medium 5): only a
 * caller with a certificate of the webhook client CA, named kube-apiserver-webhook-client, is
 * answered; without one the TLS handshake fails, and a certificate of that CA with another name
 * gets 403. Without the CA (a user's cluster) any caller is answered, as before.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCA, issueCertificate, type CertificateAuthority, type KeyPairPem } from '../../../src/trust/pki.js';
import { PendingRequests } from '../../../src/peering/incoming/pendingRequests.js';
import { WebhookServer } from '../../../src/peering/incoming/webhookServer.js';
import { WEBHOOK_PATH } from '../../../src/install/manifests.js';
import { loadWebhookClientAuth, parseWebhookClientAuth, WebhookClientAuthError, type WebhookClientAuth } from '../../../src/peering/incoming/webhookClientAuth.js';
import { Defaults } from '../../../src/api/constants.js';
import { buildTokenKubeconfig } from '../../../src/peering/kubeconfig.js';

const OWN_ID = '11111111-2222-4333-8444-555555555555';
let servingCA: CertificateAuthority;
let serving: KeyPairPem;
let clientCA: CertificateAuthority;
let apiServer: KeyPairPem;
let otherName: KeyPairPem;
let strangerCA: CertificateAuthority;
let stranger: KeyPairPem;
const servers: WebhookServer[] = [];

beforeAll(async () => {
  servingCA = await createCA('webhook-serving-ca');
  serving = await issueCertificate(servingCA, { commonName: 'webhook', hosts: ['127.0.0.1'], usage: 'server' });
  clientCA = await createCA('webhook-client-ca');
  apiServer = await issueCertificate(clientCA, { commonName: Defaults.webhookClientName, usage: 'client' });
  otherName = await issueCertificate(clientCA, { commonName: 'someone-else', usage: 'client' });
  strangerCA = await createCA('stranger-ca');
  stranger = await issueCertificate(strangerCA, { commonName: Defaults.webhookClientName, usage: 'client' });
});

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

function review(name: string = randomUUID()): string {
  const apiUrl = 'https://198.18.0.10:6443';
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: randomUUID(),
      kind: { group: 'discovery.liqo.io', version: 'v1alpha1', kind: 'PeeringRequest' },
      resource: { group: 'discovery.liqo.io', version: 'v1alpha1', resource: 'peeringrequests' },
      operation: 'CREATE',
      name,
      userInfo: { username: 'system:anonymous' },
      object: { metadata: { name }, spec: { clusterID: name, apiUrl, kubeconfig: buildTokenKubeconfig({ server: apiUrl, caPem: strangerCA.certPem, token: `token-${name}` }) } },
    },
  });
}

async function start(clientAuth?: WebhookClientAuth, pending = new PendingRequests()): Promise<{ url: URL; pending: PendingRequests }> {
  const server = new WebhookServer({ policy: () => ({ ownClusterID: OWN_ID, acceptPolicy: 'Manual', maxPendingRequests: 1 }), pending }, { listen: '127.0.0.1:0', fallback: false, ...(clientAuth ? { clientAuth } : {}) });
  servers.push(server);
  const addr = await server.start({ caPem: servingCA.certPem, certPem: serving.certPem, keyPem: serving.keyPem });
  return { url: new URL(`https://127.0.0.1:${addr.port}${WEBHOOK_PATH}`), pending };
}

function post(url: URL, client?: KeyPairPem): Promise<{ status: number; text: string }> {
  const payload = review();
  return postRaw(url, payload, client);
}

function postRaw(url: URL, payload: string, client?: KeyPairPem): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', ca: servingCA.certPem, ...(client ? { cert: client.certPem, key: client.keyPem } : {}), headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error('no answer within 10 s')));
    req.on('error', reject);
    req.end(payload);
  });
}

describe('the webhook with client authentication', () => {
  const auth = () => ({ caPem: clientCA.certPem, commonName: Defaults.webhookClientName });

  it("answers the API server's certificate", async () => {
    const { url } = await start(auth());
    const r = await post(url, apiServer);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.text)).toMatchObject({ kind: 'AdmissionReview', response: { allowed: true } });
  });

  it('refuses a caller without a certificate in the TLS handshake: the review is never read', async () => {
    const { url } = await start(auth());
    await expect(post(url)).rejects.toThrow(/certificate|socket hang up|ECONNRESET|alert/i);
  });

  it('refuses a certificate of another CA with the right name in the TLS handshake', async () => {
    const { url } = await start(auth());
    await expect(post(url, stranger)).rejects.toThrow(/certificate|socket hang up|ECONNRESET|alert|unknown ca/i);
  });

  it('refuses a certificate of the CA with another name: 403', async () => {
    const { url } = await start(auth());
    const r = await post(url, otherName);
    expect(r.status).toBe(403);
    expect(r.text).toContain('only the API server may call this webhook');
    expect(r.text).toContain('someone-else');
  });

  it('counts an admission of the authenticated caller against the cap at once (it is the API server: nothing to prove first)', async () => {
    const { url } = await start(auth());
    const allowed = (r: { text: string }) => (JSON.parse(r.text) as { response: { allowed: boolean; status?: { code?: number } } }).response;
    expect(allowed(await post(url, apiServer))).toMatchObject({ allowed: true });
    // maxPendingRequests 1: the first admission holds the slot until the informer sees it
    expect(allowed(await post(url, apiServer))).toMatchObject({ allowed: false, status: { code: 429 } });
  });

  it('without it, a caller whose admissions never became stored objects holds no slot (forged calls are harmless)', async () => {
    const { url } = await start();
    for (let i = 0; i < 3; i++) expect(JSON.parse((await post(url)).text)).toMatchObject({ response: { allowed: true } });
  });

  it('without client authentication (a user cluster) answers any caller, as before', async () => {
    const { url } = await start();
    expect((await post(url)).status).toBe(200);
    expect((await post(url, stranger)).status).toBe(200);
  });
});

describe('loading the webhook client CA', () => {
  it('reads a PEM file and refuses a missing, empty or broken one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kubepeer-webhook-client-'));
    const good = join(dir, 'ca.crt');
    writeFileSync(good, clientCA.certPem);
    expect(loadWebhookClientAuth(good)).toEqual({ caPem: clientCA.certPem, commonName: Defaults.webhookClientName });
    expect(() => loadWebhookClientAuth(join(dir, 'missing.crt'))).toThrow(/cannot read the webhook client CA .*ENOENT/);
    const empty = join(dir, 'empty.crt');
    writeFileSync(empty, 'not a certificate');
    expect(() => loadWebhookClientAuth(empty)).toThrow(WebhookClientAuthError);
    expect(() => parseWebhookClientAuth('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', 'x', 'the ConfigMap')).toThrow(/does not parse/);
    expect(() => parseWebhookClientAuth(clientCA.certPem, '', 'the ConfigMap')).toThrow(/must not be empty/);
  });
});
