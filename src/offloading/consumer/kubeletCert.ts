/**
 * The serving certificate of the virtual nodes' kubelet endpoint, one the API server can verify
 * where it is configured to (`--kubelet-certificate-authority`, normally the cluster CA): obtained
 * like a kubelet's, through the CSR API (certificates.k8s.io/v1, signer
 * `kubernetes.io/kubelet-serving`, subject `system:node:<name>` in `system:nodes`, the endpoint's
 * address as subjectAltName), approved by the agent itself and signed by kube-controller-manager's
 * csrsigning controller.
 *
 * All virtual nodes share the endpoint, and the API server checks only the chain and the address,
 * so one certificate serves them all; its CN names this agent's kubelet,
 * `system:node:kubepeer-virtual-kubelet-<cluster ID>`.
 *
 * When nothing signs the request within the timeout (no csrsigning controller, or no signing key
 * configured), a self-signed certificate is served instead, with a warning: the API server then
 * refuses it if it verifies kubelets, and accepts it if it does not.
 */
import { X509Certificate } from 'node:crypto';
import { createCA, createCertificateRequest, issueCertificate } from '../../trust/pki.js';
import type { KubeClient } from '../../k8s/rest.js';
import type { Logger } from '../../observability/logger.js';

export const KUBELET_SERVING_SIGNER = 'kubernetes.io/kubelet-serving';
const CSR_PATH = '/apis/certificates.k8s.io/v1/certificatesigningrequests';

export interface KubeletServingCert {
  certPem: string;
  keyPem: string;
  source: 'csr' | 'self-signed';
  /** Epoch ms. */
  notAfter: number;
  notBefore: number;
}

export const kubeletCommonName = (clusterID: string) => `system:node:kubepeer-virtual-kubelet-${clusterID}`.slice(0, 253);

interface Csr {
  metadata: { name: string };
  status?: { certificate?: string; conditions?: Array<{ type: string; status?: string; reason?: string; message?: string }> };
}

/** The CSR object for a PEM request (what `kubectl get csr` shows). */
export function kubeletServingCsr(csrPem: string, clusterID: string): Record<string, unknown> {
  return {
    apiVersion: 'certificates.k8s.io/v1',
    kind: 'CertificateSigningRequest',
    metadata: { generateName: 'kubepeer-kubelet-serving-', labels: { 'app.kubernetes.io/managed-by': 'kubepeer', 'kubepeer.io/cluster-id': clusterID } },
    spec: { request: Buffer.from(csrPem).toString('base64'), signerName: KUBELET_SERVING_SIGNER, usages: ['digital signature', 'server auth'] },
  };
}

function validity(certPem: string): { notBefore: number; notAfter: number } {
  const c = new X509Certificate(certPem);
  return { notBefore: Date.parse(c.validFrom), notAfter: Date.parse(c.validTo) };
}

/**
 * Requests, approves and waits for a kubelet serving certificate for `hosts`; falls back to a
 * self-signed one after `timeoutMs`.
 */
export async function obtainKubeletServingCert(
  client: KubeClient,
  o: { clusterID: string; hosts: string[]; timeoutMs?: number; log: Logger; signal?: AbortSignal },
): Promise<KubeletServingCert> {
  const commonName = kubeletCommonName(o.clusterID);
  const timeoutMs = o.timeoutMs ?? 30_000;
  try {
    const { csrPem, keyPem } = await createCertificateRequest({ commonName, organizations: ['system:nodes'], hosts: o.hosts });
    const created = await client.create<Csr>(CSR_PATH, kubeletServingCsr(csrPem, o.clusterID));
    const name = created.metadata.name;
    await client.replace(`${CSR_PATH}/${name}/approval`, {
      ...created,
      status: {
        conditions: [{ type: 'Approved', status: 'True', reason: 'KubepeerVirtualKubelet', message: `the kubepeer agent approves the serving certificate of its own virtual-node kubelet endpoint (${o.hosts.join(', ')})` }],
      },
    });
    const deadline = Date.now() + timeoutMs;
    let wait = 200;
    while (Date.now() < deadline && !o.signal?.aborted) {
      const csr = await client.get<Csr>(`${CSR_PATH}/${name}`);
      const failed = csr.status?.conditions?.find((c) => (c.type === 'Failed' || c.type === 'Denied') && c.status !== 'False');
      if (failed) throw new Error(`CSR ${name} ${failed.type}: ${failed.reason ?? ''} ${failed.message ?? ''}`.trim());
      if (csr.status?.certificate) {
        const certPem = Buffer.from(csr.status.certificate, 'base64').toString('utf8');
        o.log.info({ csr: name, hosts: o.hosts }, 'kubelet endpoint: serving a certificate signed through the CSR API (kubernetes.io/kubelet-serving)');
        return { certPem, keyPem, source: 'csr', ...validity(certPem) };
      }
      // The signer answers within a second on a healthy cluster: poll gently until it does.
      await new Promise((r) => setTimeout(r, wait));
      wait = Math.min(wait * 2, 2_000);
    }
    o.log.warn(
      { csr: name, timeoutMs },
      `kubelet endpoint: CSR ${name} was not signed within ${timeoutMs / 1000}s (is kube-controller-manager running the csrsigning controller with --cluster-signing-cert-file/--cluster-signing-key-file?); serving a self-signed certificate, which an API server started with --kubelet-certificate-authority refuses (kubectl logs on offloaded pods then fails)`,
    );
  } catch (e) {
    o.log.warn({ err: (e as Error).message }, 'kubelet endpoint: could not obtain a certificate through the CSR API; serving a self-signed certificate, which an API server started with --kubelet-certificate-authority refuses');
  }
  const ca = await createCA(`${commonName} (self-signed)`, 365);
  const leaf = await issueCertificate(ca, { commonName, organizations: ['system:nodes'], hosts: o.hosts, usage: 'server' });
  return { certPem: leaf.certPem + ca.certPem, keyPem: leaf.keyPem, source: 'self-signed', ...validity(leaf.certPem) };
}

/** When to get the next certificate: at 70 % of its lifetime (as the kubelet's rotation roughly does). */
export function renewAtMs(cert: Pick<KubeletServingCert, 'notBefore' | 'notAfter' | 'source'>, now: number): number {
  if (cert.source === 'self-signed') return now + 10 * 60_000; // try the CSR API again soon
  return Math.max(now + 60_000, cert.notBefore + 0.7 * (cert.notAfter - cert.notBefore));
}
