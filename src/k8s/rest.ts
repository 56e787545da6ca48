/**
 * A small REST client for the Kubernetes API. Credentials come from a ClusterAccess (kubeconfig.ts:
 * client certificates, tokens, and exec plugins through @kubernetes/client-node).
 *
 * Why not only the generated typed APIs: the agent needs the same handful of verbs on built-in and
 * custom resources alike (merge patch and server-side apply, the status subresource of CRs), a
 * watch it can resume from a resourceVersion with bookmarks, one error type with the API's reason
 * and message, keep-alive connections, and a count of requests per verb for the benchmarks.
 *
 * Every response body is read with a size cap, counted while it streams in (a body that never ends
 * is cut at the cap, not buffered until memory runs out). A client for a party we do not control
 * (a peer's or a requester's API server: `KubeClient.remoteParty`, `anonymous`) has a small cap, a
 * deadline for the whole call however slowly the bytes trickle, and accepts only JSON: a bad answer
 * fails that one call with an ApiError whose reason says why (docs/design.md §9).
 */
import { Agent, request as httpsRequest, type RequestOptions } from 'node:https';
import { request as httpRequest, Agent as HttpAgent, type IncomingMessage } from 'node:http';
import { createInterface } from 'node:readline';
import { isIP, type LookupFunction } from 'node:net';
import type { KubernetesObject } from '@kubernetes/client-node';
import { ClusterAccess, loadClusterAccess } from './kubeconfig.js';

export interface ResourceRef {
  group: string;
  version: string;
  plural: string;
  namespaced?: boolean;
}

export const Core = {
  namespaces: { group: '', version: 'v1', plural: 'namespaces' },
  configMaps: { group: '', version: 'v1', plural: 'configmaps', namespaced: true },
  secrets: { group: '', version: 'v1', plural: 'secrets', namespaced: true },
  serviceAccounts: { group: '', version: 'v1', plural: 'serviceaccounts', namespaced: true },
  nodes: { group: '', version: 'v1', plural: 'nodes' },
  pods: { group: '', version: 'v1', plural: 'pods', namespaced: true },
  events: { group: '', version: 'v1', plural: 'events', namespaced: true },
  leases: { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', namespaced: true },
  roles: { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'roles', namespaced: true },
  roleBindings: { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'rolebindings', namespaced: true },
  clusterRoles: { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterroles' },
  clusterRoleBindings: { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterrolebindings' },
  crds: { group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions' },
  validatingWebhooks: { group: 'admissionregistration.k8s.io', version: 'v1', plural: 'validatingwebhookconfigurations' },
} as const satisfies Record<string, ResourceRef>;

/** /api/v1/namespaces/ns/configmaps/name/status style paths. */
export function resourcePath(r: ResourceRef, opts: { namespace?: string; name?: string; subresource?: string } = {}): string {
  let p = r.group === '' ? `/api/${r.version}` : `/apis/${r.group}/${r.version}`;
  if (opts.namespace) p += `/namespaces/${encodeURIComponent(opts.namespace)}`;
  p += `/${r.plural}`;
  if (opts.name !== undefined) p += `/${encodeURIComponent(opts.name)}`;
  if (opts.subresource) p += `/${opts.subresource}`;
  return p;
}

export class ApiError extends Error {
  constructor(
    readonly code: number,
    /** The API's CamelCase reason (NotFound, Conflict, Forbidden, ...) or a network error code. */
    readonly reason: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
  get notFound(): boolean {
    return this.code === 404;
  }
  get conflict(): boolean {
    return this.code === 409;
  }
  get alreadyExists(): boolean {
    return this.code === 409 && this.reason === 'AlreadyExists';
  }
  get gone(): boolean {
    return this.code === 410;
  }
}

export const isNotFound = (e: unknown) => e instanceof ApiError && e.code === 404;
/** 409, or a failed JSON-patch `test` on metadata.resourceVersion (422): someone wrote first. */
export const isConflict = (e: unknown) => e instanceof ApiError && (e.code === 409 || (e.code === 422 && /test operation|testing value/i.test(JSON.stringify(e.details ?? '') + e.message)));
export const isAlreadyExists = (e: unknown) => e instanceof ApiError && e.alreadyExists;

export interface RequestOpts {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface ListResult<T> {
  apiVersion?: string;
  kind?: string;
  metadata: { resourceVersion?: string; continue?: string };
  items: T[];
}

export interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

/** How much of a response a client reads, and for how long. */
export interface ResponseLimits {
  /** Largest body read, in bytes; a longer one fails the call with reason ResponseTooLarge. */
  maxBodyBytes: number;
  /** Deadline for the whole call (connect, headers and body), in ms; reason ResponseTimeout. */
  deadlineMs?: number;
  /** A 2xx answer must be JSON (reason UnexpectedContentType) that parses (reason InvalidResponse). */
  jsonOnly: boolean;
}

/**
 * Our own API server: the cap only keeps a runaway answer from ending the process (V8 cannot make
 * a string much over 512 MiB); lists of a large cluster stay well under it.
 */
export const HomeLimits: ResponseLimits = { maxBodyBytes: 256 * 1024 * 1024, jsonOnly: false };
/**
 * A party someone else named (identity callback, cluster-info read, PeeringRequest, advertisement
 * and renewal on a peer): every answer kubepeer expects from it is one small object.
 */
export const RemotePartyLimits: ResponseLimits = { maxBodyBytes: 4 * 1024 * 1024, deadlineMs: 20_000, jsonOnly: true };

/** The reasons of a response refused by ResponseLimits (ApiError code 0, like a network failure). */
export const BadResponseReasons = ['ResponseTooLarge', 'ResponseTimeout', 'UnexpectedContentType', 'InvalidResponse'] as const;

export const MergePatch = 'application/merge-patch+json';
export const JsonPatch = 'application/json-patch+json';
export const ApplyPatch = 'application/apply-patch+yaml';

/**
 * The resource a request path is about: `configmaps`, `foreignclusters/status`, `leases`...
 * (discovery and non-resource paths give their first segment, e.g. `apis`, `version`).
 */
export function resourceOfPath(path: string): string {
  const parts = path.split('?')[0]!.split('/').filter(Boolean);
  // /api/v1/... or /apis/<group>/<version>/...
  let rest = parts[0] === 'api' ? parts.slice(2) : parts[0] === 'apis' ? parts.slice(3) : undefined;
  if (!rest) return parts[0] ?? '/';
  if (rest.length === 0) return parts[0]!;
  if (rest[0] === 'namespaces' && rest.length >= 3) rest = rest.slice(2);
  return rest.length >= 3 ? `${rest[0]}/${rest[2]}` : rest[0]!;
}

/** Called once per request with the verb and the resource (see resourceOfPath). */
export type RequestObserver = (verb: string, resource: string) => void;

export class KubeClient {
  readonly server: string;
  /** Requests sent, by verb (GET, LIST, WATCH, POST, PUT, PATCH, DELETE). */
  readonly requestCounts: Record<string, number> = {};
  /** Set by the agent on its home client: requests by verb and resource, for /metrics. */
  onRequest?: RequestObserver;
  private agent?: Agent | HttpAgent;

  constructor(
    readonly access: ClusterAccess,
    private readonly userAgent = 'kubepeer',
    readonly limits: ResponseLimits = HomeLimits,
  ) {
    this.server = access.server;
  }

  static fromFile(path?: string, context?: string): KubeClient {
    return new KubeClient(loadClusterAccess(path, context));
  }

  /** A client for the same API server with only a bearer token (a person's, or a peer's). */
  static withToken(server: string, token: string, caPem?: string, insecure = false, pinnedAddress?: string): KubeClient {
    return new KubeClient(new ClusterAccess({ server, token, caPem, skipTLSVerify: insecure, pinnedAddress }));
  }

  /**
   * A client for an API server someone else named (a peer, a requester), with a bearer token:
   * answers are read under RemotePartyLimits.
   */
  static remoteParty(server: string, token: string, caPem?: string, pinnedAddress?: string, limits: ResponseLimits = RemotePartyLimits): KubeClient {
    return new KubeClient(new ClusterAccess({ server, token, caPem, pinnedAddress }), 'kubepeer', limits);
  }

  /**
   * An anonymous client (no credentials) for `server`, verifying TLS against `caPem` unless
   * insecure. Only other clusters are called anonymously, so answers are read under RemotePartyLimits.
   * `pinnedAddress`: where to connect (an address checked by src/net/peerAddress.ts); TLS still
   * verifies the URL's host name.
   */
  static anonymous(server: string, caPem?: string, insecure = false, limits: ResponseLimits = RemotePartyLimits, pinnedAddress?: string): KubeClient {
    return new KubeClient(new ClusterAccess({ server, caPem, skipTLSVerify: insecure, pinnedAddress }), 'kubepeer', limits);
  }

  private count(verb: string, path: string): void {
    this.requestCounts[verb] = (this.requestCounts[verb] ?? 0) + 1;
    this.onRequest?.(verb, resourceOfPath(path));
  }

  totalRequests(): number {
    return Object.values(this.requestCounts).reduce((a, b) => a + b, 0);
  }

  private async options(method: string, path: string, opts: RequestOpts): Promise<{ url: URL; req: RequestOptions }> {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const creds = await this.access.credentials();
    if (!this.agent) {
      this.agent =
        url.protocol === 'https:'
          ? new Agent({
              keepAlive: true,
              maxSockets: 32,
              ca: this.access.caPem,
              cert: creds.cert,
              key: creds.key,
              servername: this.access.tlsServerName,
              rejectUnauthorized: !this.access.skipTLSVerify,
              ...pinnedLookup(this.access.pinnedAddress),
            })
          : new HttpAgent({ keepAlive: true, maxSockets: 32, ...pinnedLookup(this.access.pinnedAddress) });
    }
    const headers: Record<string, string> = { Accept: 'application/json', 'User-Agent': this.userAgent, ...creds.headers };
    if (opts.body !== undefined) headers['Content-Type'] = opts.contentType ?? 'application/json';
    return { url, req: { method, headers, agent: this.agent, signal: opts.signal } };
  }

  /**
   * One request; resolves with the parsed JSON body, rejects with ApiError. The 429 "storage is
   * (re)initializing" that an API server answers for a few seconds after a CRD is installed is
   * retried (five times, about 6 s in all): nothing was processed, so repeating it is safe, and a
   * person's `kubepeer peer add` right after `kubepeer install` must not fail on it. Other 429s (a
   * peer's webhook saying too many requests are pending) are answers, not retried here.
   */
  async request<T = unknown>(method: string, path: string, opts: RequestOpts = {}): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.requestOnce<T>(method, path, opts);
      } catch (e) {
        if (!(e instanceof ApiError) || e.code !== 429 || !/storage is \(re\)initializing/i.test(e.message) || attempt >= 4) throw e;
        await new Promise((r) => setTimeout(r, 1_000 + attempt * 250));
      }
    }
  }

  private async requestOnce<T = unknown>(method: string, path: string, opts: RequestOpts = {}): Promise<T> {
    this.count(method, path);
    const { url, req } = await this.options(method, path, opts);
    const payload = opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    // Node does not chunk DELETE bodies: without a Content-Length the server would read the body
    // as the start of the next request on this keep-alive connection.
    if (payload !== undefined) (req.headers as Record<string, string>)['Content-Length'] = String(Buffer.byteLength(payload));
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const limits = this.limits;
    const idleMs = opts.timeoutMs ?? 30_000;
    const deadlineMs = limits.deadlineMs === undefined ? undefined : Math.min(limits.deadlineMs, opts.timeoutMs ?? limits.deadlineMs);
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      let deadline: NodeJS.Timeout | undefined;
      const settle = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        fn();
      };
      // Refusing an answer also closes its connection: the rest of the body is never read.
      const refuse = (err: ApiError) =>
        settle(() => {
          r.destroy();
          reject(err);
        });
      const r = send(url, req, (res) => {
        const status = res.statusCode ?? 0;
        const ok = status >= 200 && status < 300;
        const declared = Number(res.headers['content-length']);
        if (Number.isFinite(declared) && declared > limits.maxBodyBytes) return refuse(tooLarge(method, url, limits));
        if (limits.jsonOnly && ok && !isJsonContentType(res.headers['content-type'])) {
          return refuse(new ApiError(0, 'UnexpectedContentType', `${method} ${url.pathname} on ${url.host}: expected JSON, got content type "${String(res.headers['content-type'] ?? 'none').slice(0, 100)}"`));
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > limits.maxBodyBytes) return refuse(tooLarge(method, url, limits));
          chunks.push(c);
        });
        res.on('error', (err) => settle(() => reject(networkError(err, url))));
        res.on('end', () =>
          settle(() => {
            // Whatever goes wrong here must reject this call: a throw in a stream handler would
            // be an uncaught exception, and end the process.
            try {
              const text = Buffer.concat(chunks).toString('utf8');
              if (!ok) return reject(apiErrorFrom(status, text, method, url, opts.body));
              if (!text) return resolve({} as T);
              try {
                resolve(JSON.parse(text) as T);
              } catch {
                if (limits.jsonOnly) reject(new ApiError(0, 'InvalidResponse', `${method} ${url.pathname} on ${url.host}: the answer is not valid JSON`));
                else resolve(text as T);
              }
            } catch (e) {
              reject(new ApiError(0, 'InvalidResponse', `${method} ${url.pathname} on ${url.host}: cannot read the answer (${(e as Error).message})`));
            }
          }),
        );
      });
      if (deadlineMs !== undefined) {
        deadline = setTimeout(
          () => refuse(new ApiError(0, 'ResponseTimeout', `${method} ${url.pathname} on ${url.host}: no complete answer within ${deadlineMs / 1000}s`)),
          deadlineMs,
        );
      }
      r.setTimeout(idleMs, () => r.destroy(Object.assign(new Error(`no answer from ${url.host} within ${idleMs / 1000}s`), { code: 'ETIMEDOUT' })));
      r.on('error', (err) => settle(() => reject(networkError(err, url))));
      if (payload !== undefined) r.write(payload);
      r.end();
    });
  }

  get<T>(path: string, opts?: RequestOpts): Promise<T> {
    return this.request<T>('GET', path, opts);
  }
  async getOrNull<T>(path: string, opts?: RequestOpts): Promise<T | null> {
    try {
      return await this.get<T>(path, opts);
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }
  list<T>(path: string, query?: RequestOpts['query']): Promise<ListResult<T>> {
    return this.request<ListResult<T>>('GET', path, { query });
  }
  create<T>(path: string, body: unknown, query?: RequestOpts['query']): Promise<T> {
    return this.request<T>('POST', path, { body, query });
  }
  replace<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PUT', path, { body });
  }
  mergePatch<T>(path: string, patch: unknown, query?: RequestOpts['query']): Promise<T> {
    return this.request<T>('PATCH', path, { body: patch, contentType: MergePatch, query });
  }
  jsonPatch<T>(path: string, ops: unknown[]): Promise<T> {
    return this.request<T>('PATCH', path, { body: ops, contentType: JsonPatch });
  }
  /** Server-side apply with a fixed field manager. */
  apply<T>(path: string, obj: unknown, fieldManager: string, force = true, dryRun = false): Promise<T> {
    return this.request<T>('PATCH', path, {
      body: JSON.stringify(obj),
      contentType: ApplyPatch,
      query: { fieldManager, force, dryRun: dryRun ? 'All' : undefined },
    });
  }
  async delete(path: string, opts: { propagationPolicy?: 'Background' | 'Foreground' | 'Orphan'; preconditionsUid?: string } = {}): Promise<boolean> {
    try {
      await this.request('DELETE', path, {
        body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: opts.propagationPolicy ?? 'Background', ...(opts.preconditionsUid ? { preconditions: { uid: opts.preconditionsUid } } : {}) },
      });
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
  }

  /**
   * A GET whose answer is a stream (a pod's log, followed): resolves with the response once a 2xx
   * status arrives, for the caller to pipe (backpressure bounds the memory); rejects with ApiError
   * otherwise, reading at most 64 KiB of the error body. No deadline on the body (a followed log
   * may stay quiet for hours): the headers must arrive within `headersTimeoutMs`, and aborting
   * `signal` (the reader went away) closes the connection.
   */
  async stream(path: string, query: RequestOpts['query'], opts: { signal?: AbortSignal; headersTimeoutMs?: number } = {}): Promise<IncomingMessage> {
    this.count('GET', path);
    const { url, req } = await this.options('GET', path, { query, signal: opts.signal });
    (req.headers as Record<string, string>).Accept = '*/*';
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const headersTimeoutMs = opts.headersTimeoutMs ?? 30_000;
    return new Promise<IncomingMessage>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => r.destroy(Object.assign(new Error(`no answer from ${url.host} within ${headersTimeoutMs / 1000}s`), { code: 'ETIMEDOUT' })), headersTimeoutMs);
      const r = send(url, req, (res) => {
        clearTimeout(timer);
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) {
          settled = true;
          return resolve(res);
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          if ((size += c.length) <= 64 * 1024) chunks.push(c);
          else res.destroy();
        });
        res.on('error', () => {});
        res.on('close', () => {
          settled = true;
          reject(apiErrorFrom(status, Buffer.concat(chunks).toString('utf8'), 'GET', url));
        });
      });
      r.on('error', (err) => {
        clearTimeout(timer);
        if (settled) return;
        settled = true;
        reject(opts.signal?.aborted ? new ApiError(0, 'Aborted', 'stream stopped') : networkError(err, url));
      });
      r.end();
    });
  }

  /**
   * Streams watch events until the server closes the stream (resolves) or an error happens
   * (rejects with ApiError; code 410 when the resourceVersion is too old).
   */
  async watch<T>(path: string, query: RequestOpts['query'], onEvent: (e: WatchEvent<T>) => void, signal?: AbortSignal): Promise<void> {
    this.count('WATCH', path);
    const { url, req } = await this.options('GET', path, { query: { ...query, watch: true }, signal });
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    await new Promise<void>((resolve, reject) => {
      const r = send(url, req, (res) => {
        if (res.statusCode !== 200) {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            // an error body is a Status: keep what fits in the cap, drop the rest
            if ((size += c.length) <= this.limits.maxBodyBytes) chunks.push(c);
            else res.destroy();
          });
          res.on('end', () => reject(apiErrorFrom(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'), 'WATCH', url)));
          res.on('error', (err) => reject(networkError(err, url)));
          return;
        }
        let failed: ApiError | undefined;
        // A connection cut mid-stream (API server restart) surfaces as an 'error' on res and
        // then 'close': the watch simply ends and the informer resumes it.
        res.on('error', () => {});
        const lines = createInterface({ input: res, crlfDelay: Infinity });
        lines.on('error', () => {}); // readline re-emits the input's error; 'close' follows
        lines.on('line', (line) => {
          if (!line || failed) return;
          let ev: WatchEvent<T>;
          try {
            ev = JSON.parse(line) as WatchEvent<T>;
          } catch {
            return;
          }
          if (ev.type === 'ERROR') {
            const st = ev.object as unknown as { code?: number; reason?: string; message?: string };
            failed = new ApiError(st.code ?? 500, st.reason ?? 'WatchError', st.message ?? 'watch error');
            res.destroy();
            return;
          }
          onEvent(ev);
        });
        res.on('close', () => (failed ? reject(failed) : resolve()));
      });
      // A watch that hears nothing (not even bookmarks) for this long is treated as dead.
      r.setTimeout(((Number(query?.timeoutSeconds) || 300) + 60) * 1000, () => r.destroy(Object.assign(new Error('watch stalled'), { code: 'ETIMEDOUT' })));
      r.on('error', (err) => reject(signal?.aborted ? new ApiError(0, 'Aborted', 'watch stopped') : networkError(err, url)));
      r.end();
    });
  }

  close(): void {
    this.agent?.destroy();
    this.agent = undefined;
  }
}

/** Connect to `address` whatever the URL's host name resolves to (TLS still verifies the name). */
function pinnedLookup(address: string | undefined): { lookup?: LookupFunction } {
  if (!address) return {};
  const family = isIP(address);
  const lookup = ((_host: string, opts: { all?: boolean }, cb: (err: Error | null, a: unknown, f?: number) => void) => {
    if (opts?.all) cb(null, [{ address, family }]);
    else cb(null, address, family);
  }) as unknown as LookupFunction;
  return { lookup };
}

function tooLarge(method: string, url: URL, limits: ResponseLimits): ApiError {
  return new ApiError(0, 'ResponseTooLarge', `${method} ${url.pathname} on ${url.host}: the answer is larger than ${limits.maxBodyBytes} bytes; not read`);
}

function isJsonContentType(v: string | string[] | undefined): boolean {
  const t = (Array.isArray(v) ? v[0] : v)?.split(';')[0]?.trim().toLowerCase();
  return t === 'application/json' || (!!t && /^application\/[a-z0-9.+-]*\+json$/.test(t));
}

type StatusDetails = { name?: string; kind?: string; causes?: Array<{ field?: string; message?: string; reason?: string }> };

/**
 * The API server's message, completed when it does not say what and where: some refusals (a JSON
 * patch that does not apply, a failed `test`) answer only "the server rejected our request due to
 * an error in our request" and put the object-free cause in details.causes. Then the request
 * (method and path: the object) and each cause (field: message) are added.
 */
export function statusMessage(st: { message?: string; details?: unknown }, method: string, url: URL, body?: unknown): string {
  const message = st.message ?? '';
  const details = (st.details ?? {}) as StatusDetails;
  const causes = (details.causes ?? [])
    .map((c) => [c.field, c.message].filter(Boolean).join(': '))
    .filter((c) => c && !message.includes(c));
  const named = !!details.name && message.includes(details.name);
  const generic = !message || /rejected our request|unknown reason/i.test(message);
  if (!generic && !causes.length) return message;
  // A JSON patch's operations name the fields it touched (the API server does not say which failed).
  const ops = Array.isArray(body) ? (body as Array<{ op?: unknown; path?: unknown }>).filter((o) => typeof o?.op === 'string' && typeof o?.path === 'string').map((o) => `${o.op as string} ${o.path as string}`) : [];
  const where = named ? '' : ` (${method} ${url.pathname}${ops.length ? `, JSON patch: ${ops.slice(0, 5).join(', ')}${ops.length > 5 ? ', ...' : ''}` : ''})`;
  return [message || 'the API server refused the request', where, causes.length ? `: ${causes.join('; ')}` : ''].join('');
}

function apiErrorFrom(status: number, text: string, method: string, url: URL, body?: unknown): ApiError {
  try {
    const st = JSON.parse(text) as { kind?: string; reason?: string; message?: string; details?: unknown };
    if (st.kind === 'Status') return new ApiError(status, st.reason ?? `HTTP${status}`, statusMessage(st, method, url, body), st.details);
  } catch {
    /* not JSON */
  }
  const reason = status === 401 ? 'Unauthorized' : status === 403 ? 'Forbidden' : status === 404 ? 'NotFound' : `HTTP${status}`;
  return new ApiError(status, reason, `${method} ${url.pathname}: HTTP ${status} ${text.slice(0, 300)}`);
}

function networkError(err: Error & { code?: string }, url: URL): ApiError {
  const code = err.code ?? 'NetworkError';
  const what =
    code === 'ECONNREFUSED'
      ? `connection refused by ${url.host} (is the API server running?)`
      : code === 'ETIMEDOUT'
        ? err.message
        : code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' || code === 'SELF_SIGNED_CERT_IN_CHAIN' || code === 'DEPTH_ZERO_SELF_SIGNED_CERT'
          ? `the certificate of ${url.host} is not signed by a trusted CA (${code})`
          : `${err.message} (${url.host})`;
  return new ApiError(0, code, what);
}

export type { KubernetesObject };
