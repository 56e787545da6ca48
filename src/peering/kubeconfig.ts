/**
 * The kubeconfig a requester hands to its peer: one https cluster with an inline CA, one user with
 * only a bearer token, at most one context. It comes from a stranger (the anonymous user creates
 * PeeringRequests), so the parser refuses anything that would make this cluster read a local file
 * (certificate-authority, tokenFile), run a program (exec), talk through a proxy, skip TLS
 * verification or present a client certificate. The admission webhook and the peering controller
 * use the same parser, so there is no parser differential between what is admitted and what is used.
 */
import { X509Certificate } from 'node:crypto';
import { parseDocument, stringify } from 'yaml';
import { PeeringRequestLimits } from '../api/crds.js';
import { apiUrlProblem } from './apiUrl.js';
import { shapeProblem } from './kubeconfigShape.js';
import { firstLine, isObj, namespaceRe, show } from './untrustedInput.js';

export interface TokenKubeconfig {
  server: string;
  caPem: string;
  token: string;
}

export function buildTokenKubeconfig(k: TokenKubeconfig, name = 'peer'): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name, cluster: { server: k.server, 'certificate-authority-data': Buffer.from(k.caPem).toString('base64') } }],
    users: [{ name, user: { token: k.token } }],
    contexts: [{ name, context: { cluster: name, user: name } }],
    'current-context': name,
  });
}

/**
 * Reads a peer's kubeconfig with the same bounded parser and rules as the admission webhook (a
 * crafted YAML document cannot exhaust the agent here either).
 */
export function parseTokenKubeconfig(text: string): TokenKubeconfig {
  const r = parsePeerKubeconfig(text);
  if (!r.ok) throw new Error(r.message);
  return { server: r.value.server, caPem: r.value.caPem, token: r.value.token };
}

export interface PeerKubeconfig {
  clusterName: string;
  server: string;
  /** PEM of the requester's API server CA (from certificate-authority-data). */
  caPem: string;
  tlsServerName?: string;
  userName: string;
  token: string;
  contextName?: string;
  contextNamespace?: string;
}

export type PeerKubeconfigResult = { ok: true; value: PeerKubeconfig } | { ok: false; message: string; tooLarge?: boolean };

const TOP_LEVEL_KEYS = new Set(['apiVersion', 'kind', 'clusters', 'users', 'contexts', 'current-context', 'preferences', 'extensions']);
const CLUSTER_KEYS = new Set(['server', 'certificate-authority-data', 'tls-server-name']);
const USER_KEYS = new Set(['token']);
const CONTEXT_KEYS = new Set(['cluster', 'user', 'namespace']);
const TOKEN_RE = /^[\x21-\x7e]+$/;

/**
 * Parses and checks the kubeconfig of a PeeringRequest: exactly one https cluster with an inline
 * CA, exactly one user with only a token, at most one context referencing them. The handshake
 * controller can use the result as is (no second parser, so no parser differential).
 */
export function parsePeerKubeconfig(text: string): PeerKubeconfigResult {
  const fail = (message: string): PeerKubeconfigResult => ({ ok: false, message: `spec.kubeconfig: ${message}` });
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > PeeringRequestLimits.kubeconfigBytes) {
    return { ok: false, tooLarge: true, message: `spec.kubeconfig is ${bytes} bytes; at most ${PeeringRequestLimits.kubeconfigBytes} are accepted (a kubeconfig with one cluster, one token user and one context is a few kilobytes)` };
  }
  const shape = shapeProblem(text);
  if (shape) return fail(shape);
  let data: unknown;
  try {
    const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true, version: '1.2', strict: true, stringKeys: true });
    if (doc.errors.length) return fail(`not valid YAML or JSON (${firstLine(doc.errors[0]!.message)})`);
    data = doc.toJS({ maxAliasCount: 0 });
  } catch (e) {
    const message = (e as Error)?.message ?? String(e);
    if (/alias/i.test(message)) return fail('YAML anchors and aliases are not accepted; write the kubeconfig out in full');
    return fail(`not valid YAML or JSON (${firstLine(message)})`);
  }
  if (!isObj(data)) return fail('must be a kubeconfig: a mapping with clusters, users and contexts');
  for (const k of Object.keys(data)) if (!TOP_LEVEL_KEYS.has(k)) return fail(`the top-level field ${show(k)} is not accepted`);
  if (data.apiVersion !== undefined && data.apiVersion !== 'v1') return fail(`apiVersion must be v1, not ${show(data.apiVersion)}`);
  if (data.kind !== undefined && data.kind !== 'Config') return fail(`kind must be Config, not ${show(data.kind)}`);

  // --- the cluster
  const clusters = data.clusters;
  if (!Array.isArray(clusters) || clusters.length !== 1) {
    return fail(`must contain exactly one cluster (the requester's API server); found ${Array.isArray(clusters) ? clusters.length : 'none'}`);
  }
  const c = clusters[0];
  if (!isObj(c) || typeof c.name !== 'string' || c.name === '' || !isObj(c.cluster)) return fail('clusters[0] must have a name and a cluster with server and certificate-authority-data');
  for (const k of Object.keys(c)) if (k !== 'name' && k !== 'cluster') return fail(`clusters[0].${k} is not accepted`);
  const cluster = c.cluster;
  for (const k of Object.keys(cluster)) {
    if (!CLUSTER_KEYS.has(k)) {
      return fail(`clusters[0].cluster.${k} is not accepted; only server, certificate-authority-data and tls-server-name are (file paths, proxies and insecure-skip-tls-verify are refused)`);
    }
  }
  const server = cluster.server;
  const serverProblem = apiUrlProblem(server, 'the cluster server');
  if (serverProblem) return fail(serverProblem);
  const caData = cluster['certificate-authority-data'];
  if (typeof caData !== 'string' || caData === '') {
    return fail('the cluster must carry certificate-authority-data (the base64 PEM of the CA of the requester\'s API server) so that this cluster can verify it');
  }
  const caPem = decodeCA(caData);
  if (!caPem) return fail('certificate-authority-data is not a base64-encoded PEM certificate');
  const tlsServerName = cluster['tls-server-name'];
  if (tlsServerName !== undefined && (typeof tlsServerName !== 'string' || tlsServerName.length > 253 || !/^[A-Za-z0-9.-]+$/.test(tlsServerName))) {
    return fail('tls-server-name must be a DNS name');
  }

  // --- the user
  const users = data.users;
  if (!Array.isArray(users) || users.length !== 1) return fail(`must contain exactly one user (a bearer token); found ${Array.isArray(users) ? users.length : 'none'}`);
  const u = users[0];
  if (!isObj(u) || typeof u.name !== 'string' || u.name === '' || !isObj(u.user)) return fail('users[0] must have a name and a user with a token');
  for (const k of Object.keys(u)) if (k !== 'name' && k !== 'user') return fail(`users[0].${k} is not accepted`);
  for (const k of Object.keys(u.user)) {
    if (!USER_KEYS.has(k)) {
      return fail(
        `user ${show(u.name)} must carry only a bearer token; ${show(k)} is not accepted (client certificates, exec and auth-provider plugins, token files, username/password and impersonation are refused)`,
      );
    }
  }
  const token = u.user.token;
  if (typeof token !== 'string' || token === '') return fail(`user ${show(u.name)} must have a non-empty token`);
  if (!TOKEN_RE.test(token)) return fail(`the token of user ${show(u.name)} must be printable ASCII without spaces or line breaks`);

  // --- the context (optional)
  const contexts = data.contexts ?? [];
  if (!Array.isArray(contexts) || contexts.length > 1) return fail(`must contain at most one context; found ${Array.isArray(contexts) ? contexts.length : show(contexts)}`);
  let contextName: string | undefined;
  let contextNamespace: string | undefined;
  if (contexts.length === 1) {
    const x = contexts[0];
    if (!isObj(x) || typeof x.name !== 'string' || x.name === '' || !isObj(x.context)) return fail('contexts[0] must have a name and a context');
    for (const k of Object.keys(x)) if (k !== 'name' && k !== 'context') return fail(`contexts[0].${k} is not accepted`);
    for (const k of Object.keys(x.context)) if (!CONTEXT_KEYS.has(k)) return fail(`contexts[0].context.${k} is not accepted; only cluster, user and namespace are`);
    if (x.context.cluster !== c.name || x.context.user !== u.name) {
      return fail(`context ${show(x.name)} must reference cluster ${show(c.name)} and user ${show(u.name)}`);
    }
    if (x.context.namespace !== undefined && (typeof x.context.namespace !== 'string' || !namespaceRe.test(x.context.namespace) || x.context.namespace.length > 63)) {
      return fail(`context ${show(x.name)} has an invalid namespace`);
    }
    contextName = x.name;
    contextNamespace = x.context.namespace as string | undefined;
  }
  const current = data['current-context'];
  if (current !== undefined && current !== '' && current !== contextName) return fail(`current-context ${show(current)} names no context of the kubeconfig`);

  return {
    ok: true,
    value: { clusterName: c.name, server: server as string, caPem, tlsServerName: tlsServerName as string | undefined, userName: u.name, token, contextName, contextNamespace },
  };
}

/** Recently seen CA data (a burst of requests from one requester repeats it): base64 -> PEM or null. */
const recentCAs = new Map<string, string | null>();

function decodeCA(b64: string): string | undefined {
  const seen = recentCAs.get(b64);
  if (seen !== undefined) return seen ?? undefined;
  const pem = parseCA(b64);
  if (recentCAs.size >= 64) recentCAs.delete(recentCAs.keys().next().value!);
  recentCAs.set(b64, pem ?? null);
  return pem;
}

function parseCA(b64: string): string | undefined {
  if (!/^[A-Za-z0-9+/=\s]+$/.test(b64)) return undefined;
  const pem = Buffer.from(b64, 'base64').toString('utf8');
  const first = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem)?.[0];
  if (!first) return undefined;
  try {
    new X509Certificate(first);
    return pem;
  } catch {
    return undefined;
  }
}
