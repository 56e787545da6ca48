/**
 * The serving certificate of the virtual nodes' kubelet endpoint, against a real control plane:
 * requested through the CSR API, approved by the agent's credential, signed by
 * kube-controller-manager with the cluster CA (what the API server's --kubelet-certificate-authority
 * trusts); and the self-signed fallback when nothing signs in time. Also: what `kubepeer install`
 * grants the agent's ServiceAccount is enough for the endpoint (CSR, approval, client CA,
 * TokenReview, SubjectAccessReview).
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../src/localcluster/localCluster.js';
import { KubeClient } from '../../src/k8s/rest.js';
import { logger } from '../../src/observability/logger.js';
import { obtainKubeletServingCert } from '../../src/offloading/consumer/kubeletCert.js';
import { KubeletAuth } from '../../src/offloading/consumer/kubeletAuth.js';
import { kubectl, startCluster } from '../support/clusters.js';

let cluster: LocalCluster;
let client: KubeClient;
const log = logger('test');

beforeAll(async () => {
  cluster = await startCluster('kcert');
  client = cluster.client();
});

afterAll(async () => {
  client?.close();
  await cluster?.stop();
});

describe('the kubelet endpoint certificate', () => {
  it('is signed by the cluster CA through the CSR API, for system:node:… in system:nodes, with the address as SAN', async () => {
    const cert = await obtainKubeletServingCert(client, { clusterID: 'c1', hosts: ['127.0.0.1'], log, timeoutMs: 60_000 });
    expect(cert.source).toBe('csr');
    const x = new X509Certificate(cert.certPem);
    expect(x.verify(new X509Certificate(readFileSync(cluster.caCert, 'utf8')).publicKey)).toBe(true);
    expect(x.subject).toContain('CN=system:node:kubepeer-virtual-kubelet-c1');
    expect(x.subject).toContain('O=system:nodes');
    expect(x.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(x.checkPrivateKey(await import('node:crypto').then((c) => c.createPrivateKey(cert.keyPem)))).toBe(true);
    expect(cert.notAfter).toBeGreaterThan(Date.now());
  });

  it('falls back to a self-signed certificate when the CSR is not signed within the timeout', async () => {
    const cert = await obtainKubeletServingCert(client, { clusterID: 'c2', hosts: ['127.0.0.1'], log, timeoutMs: 0 });
    expect(cert.source).toBe('self-signed');
    const x = new X509Certificate(cert.certPem);
    expect(x.verify(new X509Certificate(readFileSync(cluster.caCert, 'utf8')).publicKey)).toBe(false);
    expect(x.subjectAltName).toContain('IP Address:127.0.0.1');
  });
});

describe("the agent's installed rights", () => {
  it('suffice to get the certificate, read the client CA and review tokens and access as a kubelet does', async () => {
    const token = kubectl(cluster, ['-n', 'liqo', 'create', 'token', 'kubepeer-agent']).stdout.trim();
    expect(token).not.toBe('');
    const asAgent = KubeClient.withToken(cluster.apiUrl, token, readFileSync(cluster.caCert, 'utf8'));
    try {
      const cert = await obtainKubeletServingCert(asAgent, { clusterID: 'c3', hosts: ['127.0.0.1'], log, timeoutMs: 60_000 });
      expect(cert.source).toBe('csr');
      const auth = new KubeletAuth(asAgent, log);
      expect(await auth.loadClientCA()).toBe(true);
      expect(auth.clientCAPem).toContain('BEGIN CERTIFICATE');
      // The agent's own token, reviewed by the agent: authenticated, and not allowed nodes/proxy.
      const req = { headers: { authorization: `Bearer ${token}` }, socket: {} } as unknown as import('node:http').IncomingMessage;
      const caller = await auth.authenticate(req);
      expect(caller?.user).toBe('system:serviceaccount:liqo:kubepeer-agent');
      expect(await auth.authorize(caller!, { verb: 'get', resource: 'nodes', subresource: 'proxy', name: 'liqo-x' })).toBe(false);
      expect(await auth.authorize({ user: 'kube-apiserver-kubelet-client', groups: ['system:masters'], via: 'x509' }, { verb: 'get', resource: 'nodes', subresource: 'proxy', name: 'liqo-x' })).toBe(true);
    } finally {
      asAgent.close();
    }
  });
});
