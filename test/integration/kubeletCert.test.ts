/**
 * The serving certificate of the virtual nodes' kubelet endpoint, against a real control plane:
 * requested through the CSR API, approved by the agent's credential, signed by
 * kube-controller-manager with the cluster CA (what the API server's --kubelet-certificate-authority
 * trusts); and the self-signed fallback when nothing signs in time.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../src/localcluster/localCluster.js';
import { KubeClient } from '../../src/k8s/rest.js';
import { logger } from '../../src/observability/logger.js';
import { obtainKubeletServingCert } from '../../src/offloading/consumer/kubeletCert.js';
import { startCluster } from '../support/clusters.js';

let cluster: LocalCluster;
let client: KubeClient;
const log = logger('test');

beforeAll(async () => {
  cluster = await startCluster('kcert', { install: false });
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
