/**
 * The dashboard's CA is one a person may trust in their browser: it must not be able to vouch for
 * any other site. Its Secret on a real API server holds a CA with X.509 name constraints that
 * permit only the dashboard's names: a certificate it signs for another domain is refused by TLS
 * verification (OpenSSL, as browsers do). A Secret left by an earlier version (an unconstrained
 * CA) is replaced, and a name the CA does not permit brings a new CA.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { X509Certificate } from 'node:crypto';
import { connect, createServer, type Server } from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { LocalCluster } from '../../src/localcluster/localCluster.js';
import { Core, KubeClient, resourcePath } from '../../src/k8s/rest.js';
import { DASHBOARD_SERVING, ensureServingSecret, materialOf } from '../../src/trust/servingSecret.js';
import { DASHBOARD_TLS_SECRET } from '../../src/install/manifests.js';
import { caFromPem, createCA, hasNameConstraints, issueCertificate } from '../../src/trust/pki.js';
import { startCluster } from '../support/clusters.js';

let a: LocalCluster;
let A: KubeClient;
const ns = 'liqo';
const hosts = ['127.0.0.1', 'localhost', '::1'];
const secretPath = resourcePath(Core.secrets, { namespace: ns, name: DASHBOARD_TLS_SECRET });

beforeAll(async () => {
  a = await startCluster('dashca-a');
  A = a.client();
});
afterAll(async () => {
  await a?.stop();
});

async function storedMaterial() {
  const s = await A.get<{ data: Record<string, string> }>(secretPath);
  return materialOf(s.data)!;
}

/** Serves `leaf` on loopback and connects to it verifying against `caPem` as `servername`: the TLS verdict. */
async function verdict(leaf: { certPem: string; keyPem: string }, caPem: string, servername: string): Promise<{ ok: boolean; code?: string; message?: string }> {
  const server: Server = createServer({ cert: leaf.certPem, key: leaf.keyPem }, (s) => s.end());
  server.on('tlsClientError', () => {});
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  try {
    return await new Promise((resolve) => {
      const s = connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, ca: [caPem], servername, rejectUnauthorized: true });
      s.once('secureConnect', () => (s.destroy(), resolve({ ok: true })));
      s.once('error', (e: NodeJS.ErrnoException) => resolve({ ok: false, code: e.code, message: e.message }));
    });
  } finally {
    server.close();
  }
}

describe('the dashboard CA', () => {
  it('can sign for the dashboard\'s names only: a certificate it issues for another domain fails verification', async () => {
    await A.delete(secretPath);
    const served = await ensureServingSecret(A, ns, hosts, undefined, DASHBOARD_SERVING);
    expect(await verdict(served, served.caPem, 'localhost')).toEqual({ ok: true });

    // Whoever reads the Secret (ca.key) signs a certificate for a bank's domain with it.
    const { caPem, caKeyPem } = await storedMaterial();
    const ca = await caFromPem(caPem, caKeyPem!);
    const forged = await issueCertificate(ca, { commonName: 'www.bank.example', hosts: ['www.bank.example'], usage: 'server', days: 30 });
    const r = await verdict(forged, caPem, 'www.bank.example');
    expect(r.ok).toBe(false);
    expect(`${r.code} ${r.message}`).toMatch(/PERMITTED|subtree/i);

    // and it lives 825 days, not 10 years
    const days = (Date.parse(new X509Certificate(caPem).validTo) - Date.now()) / 86_400_000;
    expect(days).toBeLessThanOrEqual(826);
  });

  it('replaces a Secret made by an earlier version (CA without name constraints)', async () => {
    const oldCA = await createCA('kubepeer-dashboard-ca'); // what earlier versions made: 10 years, no constraints
    const oldLeaf = await issueCertificate(oldCA, { commonName: 'kubepeer-dashboard', hosts, usage: 'server', days: 365 });
    await A.delete(secretPath);
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    await A.create(resourcePath(Core.secrets, { namespace: ns }), {
      apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls', metadata: { name: DASHBOARD_TLS_SECRET, namespace: ns },
      data: { 'ca.crt': b64(oldCA.certPem), 'ca.key': b64(oldCA.keyPem), 'tls.crt': b64(oldLeaf.certPem), 'tls.key': b64(oldLeaf.keyPem) },
    });
    const served = await ensureServingSecret(A, ns, hosts, undefined, DASHBOARD_SERVING);
    expect(served.caPem).not.toBe(oldCA.certPem);
    expect(hasNameConstraints(served.caPem)).toBe(true);
    expect((await storedMaterial()).caPem).toBe(served.caPem);
  });

  it('gets a new CA when the dashboard needs a name its CA does not permit, and the new one permits it', async () => {
    const before = await ensureServingSecret(A, ns, hosts, undefined, DASHBOARD_SERVING);
    const after = await ensureServingSecret(A, ns, [...hosts, 'dashboard.example.internal'], undefined, DASHBOARD_SERVING);
    expect(after.caPem).not.toBe(before.caPem);
    expect(await verdict(after, after.caPem, 'dashboard.example.internal')).toEqual({ ok: true });
    expect(await verdict(after, after.caPem, 'localhost')).toEqual({ ok: true });
  });
});
