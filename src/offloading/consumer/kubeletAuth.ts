/**
 * Who may call the virtual nodes' kubelet endpoint, decided as a kubelet decides it
 * (kubelet/server/auth.go, docs/design.md §8):
 *
 * - authentication: an x509 client certificate issued by the cluster's client CA (the API server
 *   presents its `--kubelet-client-certificate`); the CA is read from ConfigMap
 *   `kube-system/extension-apiserver-authentication`, key `client-ca-file`, and re-read every few
 *   minutes. Otherwise a bearer token, checked with a TokenReview. Neither: 401.
 * - authorization: a SubjectAccessReview on `nodes/<subresource>` named after the virtual node,
 *   with the kubelet's mapping of method to verb and of path to subresource (`/containerLogs`,
 *   `/exec`... are `proxy`; `/logs/` is `log`; `/stats` `stats`; `/metrics` `metrics`). Denied: 403.
 *
 * Reviews are cached for a few seconds (a followed log and a burst of `kubectl logs` are one review).
 */
import { createHash } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { IncomingMessage } from 'node:http';
import type { KubeClient } from '../../k8s/rest.js';
import type { Logger } from '../../observability/logger.js';
import { untilServing } from '../../k8s/untilServing.js';

export const CLIENT_CA_CONFIGMAP = { namespace: 'kube-system', name: 'extension-apiserver-authentication', key: 'client-ca-file' } as const;
const CLIENT_AUTH_OID = '1.3.6.1.5.5.7.3.2';
const CACHE_MS = 10_000;
const CACHE_MAX = 1000;

export interface Caller {
  user: string;
  groups: string[];
  uid?: string;
  extra?: Record<string, string[]>;
  via: 'x509' | 'token';
}

export interface NodeAttributes {
  verb: string;
  resource: 'nodes';
  subresource: string;
  name: string;
}

/** The kubelet's verb for an HTTP method. */
export function kubeletVerb(method: string | undefined): string {
  switch ((method ?? 'GET').toUpperCase()) {
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return 'delete';
    default:
      return 'get';
  }
}

const isSubpath = (path: string, prefix: string) => path === prefix || path.startsWith(prefix.endsWith('/') ? prefix : `${prefix}/`);

/** The kubelet's subresource of `nodes` for a request path (everything not listed is `proxy`). */
export function kubeletSubresource(path: string): string {
  if (isSubpath(path, '/stats')) return 'stats';
  if (isSubpath(path, '/metrics')) return 'metrics';
  if (isSubpath(path, '/logs')) return 'log';
  if (isSubpath(path, '/spec')) return 'spec';
  if (isSubpath(path, '/checkpoint')) return 'checkpoint';
  if (isSubpath(path, '/configz')) return 'configz';
  if (isSubpath(path, '/healthz')) return 'healthz';
  return 'proxy';
}

export function nodeAttributes(method: string | undefined, path: string, nodeName: string): NodeAttributes {
  return { verb: kubeletVerb(method), resource: 'nodes', subresource: kubeletSubresource(path), name: nodeName };
}

/** The user a verified client certificate names (CN the user, each O a group). */
export function callerOfCertificate(subject: { CN?: string | string[]; O?: string | string[] } | undefined): Caller | undefined {
  const cn = Array.isArray(subject?.CN) ? subject!.CN[0] : subject?.CN;
  if (!cn) return undefined;
  const o = subject?.O;
  return { user: cn, groups: [...(Array.isArray(o) ? o : o ? [o] : []), 'system:authenticated'], via: 'x509' };
}

/** The bearer token of an Authorization header, if any. */
export function bearerToken(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return m?.[1];
}

class TtlCache<V> {
  private items = new Map<string, { v: V; at: number }>();
  constructor(private readonly now: () => number) {}
  get(k: string): V | undefined {
    const e = this.items.get(k);
    if (!e) return undefined;
    if (this.now() - e.at > CACHE_MS) {
      this.items.delete(k);
      return undefined;
    }
    return e.v;
  }
  set(k: string, v: V): void {
    if (this.items.size >= CACHE_MAX) this.items.delete(this.items.keys().next().value!);
    this.items.set(k, { v, at: this.now() });
  }
}

export type AuthOutcome = { ok: true; caller: Caller } | { ok: false; status: 401 | 403; message: string };

export class KubeletAuth {
  private clientCA = '';
  private readonly tokens: TtlCache<Caller | null>;
  private readonly reviews: TtlCache<boolean>;

  constructor(
    private readonly client: KubeClient,
    private readonly log: Logger,
    now: () => number = Date.now,
  ) {
    this.tokens = new TtlCache(now);
    this.reviews = new TtlCache(now);
  }

  /** PEM bundle of the client CAs (empty until loaded, or when the cluster publishes none). */
  get clientCAPem(): string {
    return this.clientCA;
  }

  /**
   * Reads the client CA; true when it changed. A failure keeps the previous one. At start
   * (`waitMs`), an API server that is restarting is waited for: without the CA, the API server's
   * own calls (logs, exec) would be refused until the next periodic read.
   */
  async loadClientCA(waitMs = 0): Promise<boolean> {
    const { namespace, name, key } = CLIENT_CA_CONFIGMAP;
    try {
      const read = () => this.client.get<{ data?: Record<string, string> }>(`/api/v1/namespaces/${namespace}/configmaps/${name}`);
      const cm = waitMs > 0 ? await untilServing(read, { what: `read ConfigMap ${namespace}/${name}`, log: this.log, waitMs }) : await read();
      const pem = cm.data?.[key] ?? '';
      if (!pem) this.log.warn({ configMap: `${namespace}/${name}` }, `no ${key} in the API server's authentication ConfigMap: only bearer tokens can call the kubelet endpoint`);
      if (pem === this.clientCA) return false;
      this.clientCA = pem;
      return true;
    } catch (e) {
      this.log.warn({ err: (e as Error).message, configMap: `${namespace}/${name}` }, `cannot read the client CA (the agent needs the Role extension-apiserver-authentication-reader in ${namespace}); client certificates are refused until it can`);
      return false;
    }
  }

  /** Who is calling: a verified client certificate, else a bearer token the API server vouches for. */
  async authenticate(req: IncomingMessage): Promise<Caller | undefined> {
    const socket = req.socket as TLSSocket;
    if (this.clientCA && socket.authorized) {
      const cert = socket.getPeerCertificate?.();
      const eku = (cert as { ext_key_usage?: string[] } | undefined)?.ext_key_usage;
      if (cert && (!eku || eku.includes(CLIENT_AUTH_OID))) {
        const caller = callerOfCertificate(cert.subject as { CN?: string; O?: string | string[] });
        if (caller) return caller;
      }
    }
    const token = bearerToken(req.headers.authorization);
    return token ? this.reviewToken(token) : undefined;
  }

  private async reviewToken(token: string): Promise<Caller | undefined> {
    const key = createHash('sha256').update(token).digest('hex');
    const cached = this.tokens.get(key);
    if (cached !== undefined) return cached ?? undefined;
    const review = await this.client.create<{ status?: { authenticated?: boolean; user?: { username?: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> } } }>(
      '/apis/authentication.k8s.io/v1/tokenreviews',
      { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } },
    );
    const u = review.status?.user;
    const caller: Caller | null = review.status?.authenticated && u?.username ? { user: u.username, uid: u.uid, groups: u.groups ?? [], extra: u.extra, via: 'token' } : null;
    this.tokens.set(key, caller);
    return caller ?? undefined;
  }

  async authorize(caller: Caller, attrs: NodeAttributes): Promise<boolean> {
    const spec = { user: caller.user, groups: caller.groups, uid: caller.uid, extra: caller.extra, resourceAttributes: attrs };
    const key = JSON.stringify(spec);
    const cached = this.reviews.get(key);
    if (cached !== undefined) return cached;
    const review = await this.client.create<{ status?: { allowed?: boolean } }>('/apis/authorization.k8s.io/v1/subjectaccessreviews', {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec,
    });
    const allowed = review.status?.allowed === true;
    this.reviews.set(key, allowed);
    return allowed;
  }

  /** Both steps, with the kubelet's answers (401 Unauthorized, 403 with the attributes). */
  /**
   * `nodeName` is asked only once the caller is authenticated (it looks up the pod); an empty name
   * (the pod is on no virtual node of ours) asks for the right on every node, so that the 404 that
   * follows tells nothing to a caller without it.
   */
  async check(req: IncomingMessage, path: string, nodeName: () => Promise<string>): Promise<AuthOutcome> {
    const caller = await this.authenticate(req);
    if (!caller) return { ok: false, status: 401, message: 'Unauthorized' };
    const attrs = nodeAttributes(req.method, path, await nodeName());
    if (!(await this.authorize(caller, attrs))) {
      return { ok: false, status: 403, message: `Forbidden (user=${caller.user}, verb=${attrs.verb}, resource=${attrs.resource}, subresource=${attrs.subresource})` };
    }
    return { ok: true, caller };
  }
}
