/**
 * Serving certificates shared by every agent replica: the admission webhook's and the dashboard's.
 * The API server verifies the webhook against the caBundle of the ValidatingWebhookConfiguration,
 * and every replica must present a certificate that bundle trusts; a person's browser that accepted
 * the dashboard's CA should not meet a new one at each restart. So the CA and the certificate live
 * in one Secret per server (`kubepeer-webhook-tls`, `kubepeer-dashboard-tls` in the agent
 * namespace: ca.crt, ca.key, tls.crt, tls.key) that all replicas share. The first agent creates it;
 * the others read it (losing a create race just means reading the winner's). When a replica needs a
 * host the certificate does not name, or the certificate nears its expiry, it re-issues it from the
 * same CA with the union of the names, so the caBundle never changes under the other replicas.
 *
 * The dashboard's CA is one a person may add to their browser or system trust, so it must not be
 * able to vouch for anything else: it carries X.509 name constraints that permit only the names the
 * dashboard serves, and lives 825 days, not 10 years. A dashboard that needs a name its CA does not
 * permit gets a new CA (the person trusts the new one), and a dashboard Secret whose CA has no name
 * constraints (made by an earlier version) is replaced the same way.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { isIP } from 'node:net';
import { caFromPem, createCA, hasNameConstraints, issueCertificate, type CertificateAuthority } from './pki.js';
import { Core, isAlreadyExists, isConflict, type KubeClient, resourcePath } from '../k8s/rest.js';
import { Labels, MANAGED_BY } from '../api/constants.js';
import { DASHBOARD_TLS_SECRET, WEBHOOK_TLS_SECRET } from '../install/manifests.js';
import type { Logger } from '../observability/logger.js';
import { isWildcardHost, stripBrackets } from '../net/hosts.js';

/** Which server a serving Secret is for. */
export interface ServingSecretKind {
  secretName: string;
  caName: string;
  leafName: string;
  /** For log lines: "webhook", "dashboard". */
  what: string;
  /** The CA may sign only for the hosts it was made for (X.509 name constraints), and lives this many days. */
  nameConstrainedCA?: { days: number };
}

export const WEBHOOK_SERVING: ServingSecretKind = { secretName: WEBHOOK_TLS_SECRET, caName: 'kubepeer-webhook-ca', leafName: 'kubepeer-webhook', what: 'webhook' };
export const DASHBOARD_SERVING: ServingSecretKind = { secretName: DASHBOARD_TLS_SECRET, caName: 'kubepeer-dashboard-ca', leafName: 'kubepeer-dashboard', what: 'dashboard', nameConstrainedCA: { days: 825 } };

export interface ServingMaterial {
  caPem: string;
  certPem: string;
  keyPem: string;
}

const CA_UNCONSTRAINED = 'CA without name constraints';

/** Re-issue the serving certificate when it expires within this many days. */
const RENEW_BEFORE_DAYS = 30;
const DAY_MS = 86_400_000;

export interface ServingHostsOptions {
  /** The host the server listens on (wildcards are left out). */
  listenHost: string;
  /** The host registered in the webhook URL. */
  webhookHost?: string;
  /** The Service in front of the webhook (in-cluster). */
  service?: { namespace: string; name: string };
}


/** The names the serving certificate must carry. */
export function servingHosts(o: ServingHostsOptions): string[] {
  const hosts = ['127.0.0.1', 'localhost', '::1'];
  for (const h of [o.listenHost, o.webhookHost]) if (h && !isWildcardHost(h)) hosts.push(stripBrackets(h));
  if (o.service) {
    const { name, namespace } = o.service;
    hosts.push(`${name}.${namespace}.svc`, `${name}.${namespace}.svc.cluster.local`, `${name}.${namespace}`, name);
  }
  return [...new Set(hosts)];
}

/** The names a certificate carries in its subjectAltName. */
function sansOf(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? '')
    .split(', ')
    .map((e) => (e.startsWith('DNS:') ? e.slice(4) : e.startsWith('IP Address:') ? e.slice(11) : ''))
    .filter(Boolean);
}

const coversHost = (cert: X509Certificate, h: string) => (isIP(h) ? cert.checkIP(h) !== undefined : cert.checkHost(h) !== undefined);

/** Why this material cannot serve `hosts` (undefined when it can). */
export function servingProblem(m: Partial<ServingMaterial> & { caKeyPem?: string }, hosts: string[], now = Date.now(), kind?: ServingSecretKind): string | undefined {
  if (!m.caPem || !m.certPem || !m.keyPem) return 'incomplete';
  try {
    const ca = new X509Certificate(m.caPem);
    const leaf = new X509Certificate(m.certPem);
    if (!leaf.checkIssued(ca) || !leaf.verify(ca.publicKey)) return 'not issued by the CA';
    if (!leaf.checkPrivateKey(createPrivateKey(m.keyPem))) return 'key does not match';
    if (Date.parse(leaf.validTo) - now < RENEW_BEFORE_DAYS * DAY_MS) return 'expires soon';
    if (Date.parse(ca.validTo) - now < RENEW_BEFORE_DAYS * DAY_MS) return 'CA expires soon';
    if (kind?.nameConstrainedCA && !hasNameConstraints(m.caPem)) return CA_UNCONSTRAINED;
    const missing = hosts.filter((h) => !coversHost(leaf, h));
    if (missing.length) return `does not name ${missing.join(', ')}`;
    return undefined;
  } catch (e) {
    return `unreadable (${(e as Error).message})`;
  }
}

interface TlsSecret {
  metadata: { name: string; namespace: string; resourceVersion?: string; labels?: Record<string, string> };
  type?: string;
  data?: Record<string, string>;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
const unb64 = (s: string | undefined) => (s ? Buffer.from(s, 'base64').toString('utf8') : undefined);

/** The material stored in the Secret's data (base64 values), when all of it is there. */
export function materialOf(data: Record<string, string> | undefined): (ServingMaterial & { caKeyPem?: string }) | undefined {
  const caPem = unb64(data?.['ca.crt']);
  const certPem = unb64(data?.['tls.crt']);
  const keyPem = unb64(data?.['tls.key']);
  if (!caPem || !certPem || !keyPem) return undefined;
  return { caPem, certPem, keyPem, caKeyPem: unb64(data?.['ca.key']) };
}

function secretBody(kind: ServingSecretKind, namespace: string, ca: { certPem: string; keyPem: string }, leaf: { certPem: string; keyPem: string }, resourceVersion?: string): TlsSecret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: kind.secretName, namespace, labels: { [Labels.managedBy]: MANAGED_BY }, ...(resourceVersion ? { resourceVersion } : {}) },
    type: 'kubernetes.io/tls',
    data: { 'ca.crt': b64(ca.certPem), 'ca.key': b64(ca.keyPem), 'tls.crt': b64(leaf.certPem), 'tls.key': b64(leaf.keyPem) },
  } as TlsSecret;
}

async function issueLeaf(kind: ServingSecretKind, ca: CertificateAuthority, hosts: string[]) {
  return issueCertificate(ca, { commonName: kind.leafName, hosts, usage: 'server', days: 365 });
}

/**
 * Reads the shared Secret, creating it or re-issuing its certificate when needed, and returns what
 * this replica serves. Safe to call from every replica at once.
 */
export async function ensureServingSecret(client: KubeClient, namespace: string, hosts: string[], log?: Logger, kind: ServingSecretKind = WEBHOOK_SERVING): Promise<ServingMaterial> {
  const path = resourcePath(Core.secrets, { namespace, name: kind.secretName });
  for (let attempt = 0; attempt < 8; attempt++) {
    const secret = await client.getOrNull<TlsSecret>(path);
    const current = materialOf(secret?.data);
    const problem = current ? servingProblem(current, hosts, Date.now(), kind) : 'missing';
    if (current && !problem) return { caPem: current.caPem, certPem: current.certPem, keyPem: current.keyPem };

    // Keep the CA whenever we can: the registered caBundle (and the other replicas) rely on it.
    // A name-constrained CA cannot sign for a name it does not permit, nor be kept once it is
    // found unconstrained: then a new CA, for exactly the names needed.
    const constrained = kind.nameConstrainedCA;
    const keepCA = !constrained || (problem !== CA_UNCONSTRAINED && !problem?.startsWith('does not name'));
    let ca: CertificateAuthority | undefined;
    if (current?.caKeyPem && keepCA) {
      try {
        const caCert = new X509Certificate(current.caPem);
        if (Date.parse(caCert.validTo) - Date.now() > RENEW_BEFORE_DAYS * DAY_MS) ca = await caFromPem(current.caPem, current.caKeyPem);
      } catch {
        ca = undefined;
      }
    }
    const newCA = !ca;
    let names = hosts;
    if (constrained && newCA && current) {
      // the names the old certificate served stay served (other replicas may listen on them)
      try {
        names = [...new Set([...sansOf(new X509Certificate(current.certPem)), ...hosts])];
      } catch {
        names = hosts;
      }
    }
    ca ??= constrained ? await createCA(kind.caName, constrained.days, names) : await createCA(kind.caName);
    if (current && !newCA) {
      try {
        names = [...new Set([...sansOf(new X509Certificate(current.certPem)), ...hosts])];
      } catch {
        names = hosts;
      }
    }
    const leaf = await issueLeaf(kind, ca, names);
    try {
      if (!secret) {
        await client.create(resourcePath(Core.secrets, { namespace }), secretBody(kind, namespace, ca, leaf));
        log?.info({ secret: `${namespace}/${kind.secretName}`, hosts: names }, `created the ${kind.what} serving CA and certificate`);
      } else {
        await client.replace(path, secretBody(kind, namespace, ca, leaf, secret.metadata.resourceVersion));
        log?.info({ secret: `${namespace}/${kind.secretName}`, hosts: names, why: problem, newCA }, `renewed the ${kind.what} serving certificate`);
      }
      return { caPem: ca.certPem, certPem: leaf.certPem, keyPem: leaf.keyPem };
    } catch (e) {
      // Another replica wrote first: read what it wrote and start over.
      if (isAlreadyExists(e) || isConflict(e)) continue;
      throw e;
    }
  }
  throw new Error(`could not settle the ${kind.what} Secret ${namespace}/${kind.secretName} after 8 attempts (other writers keep changing it)`);
}
