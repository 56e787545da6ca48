/**
 * The kubelet endpoint of the virtual nodes (docs/design.md §8): the API server sends
 * `kubectl logs` (and, later, exec, attach and port-forward) for a pod to the kubelet of the pod's
 * node, at the node's InternalIP and `daemonEndpoints.kubeletEndpoint.Port`. For a virtual node
 * that is this agent: one HTTPS server for every virtual node it manages, which finds the node from
 * the pod in the path (its spec.nodeName) and the remote pod through the RemotePodDirectory.
 *
 * - Every request is authenticated and authorized first (kubeletAuth.ts): 401, 403.
 * - `GET /containerLogs/{namespace}/{pod}/{container}` with follow, tailLines, sinceSeconds,
 *   sinceTime, timestamps, previous, limitBytes: streamed from the remote pod's log on the peer,
 *   with our tenant credential there; the upstream request is closed when the caller goes away.
 * - 404 with a message saying why for a pod that is on no virtual node of ours or not offloaded
 *   yet; exec, attach and port-forward arrive as upgrades and go to `deps.streaming`; a plain
 *   request for them (and run) gets 501.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline, type Duplex } from 'node:stream';
import { Counter, Gauge } from 'prom-client';
import { listenWithFallback } from '../../agent/listen.js';
import { ApiError, resourcePath, Core } from '../../k8s/rest.js';
import { registry } from '../../observability/metrics.js';
import type { Logger } from '../../observability/logger.js';
import type { KubeletAuth } from './kubeletAuth.js';
import type { RemotePodDirectory } from './remotePods.js';

const requestsTotal = new Counter({
  name: 'kubepeer_virtual_kubelet_requests_total',
  help: 'Requests to the virtual nodes\' kubelet endpoint, by path (containerLogs, exec, attach, portForward, run, other) and result (ok, unauthorized, forbidden, not_found, bad_request, not_implemented, upstream_error, error).',
  labelNames: ['path', 'result'],
  registers: [registry],
});

const openLogStreams = new Gauge({
  name: 'kubepeer_virtual_kubelet_log_streams',
  help: 'Log streams open from a peer through the kubelet endpoint (each closed when its reader goes away).',
  registers: [registry],
});

export type KubeletRoute =
  | { kind: 'containerLogs'; namespace: string; pod: string; container: string }
  | { kind: 'exec' | 'attach' | 'portForward' | 'run'; namespace?: string; pod?: string }
  | { kind: 'other' };

const NOT_IMPLEMENTED = new Set(['exec', 'attach', 'portForward', 'run']);

/** What a kubelet path asks for (segments URL-decoded); `other` for anything we do not serve. */
export function parseKubeletPath(path: string): KubeletRoute {
  const parts = path.split('/').slice(1);
  let seg: string[];
  try {
    seg = parts.map((p) => decodeURIComponent(p));
  } catch {
    return { kind: 'other' };
  }
  const [head, ns, pod, container] = seg;
  if (head === 'containerLogs') {
    return seg.length === 4 && ns && pod && container ? { kind: 'containerLogs', namespace: ns, pod, container } : { kind: 'other' };
  }
  if (head && NOT_IMPLEMENTED.has(head)) return { kind: head as 'exec', namespace: ns || undefined, pod: pod || undefined };
  return { kind: 'other' };
}

export type LogQuery = Record<string, string | number | boolean>;

/** The pod-log query for the peer's API server, or an error for a malformed parameter. */
export function logQuery(params: URLSearchParams, container: string): { query: LogQuery } | { error: string } {
  const q: LogQuery = { container };
  for (const b of ['follow', 'timestamps', 'previous']) {
    const v = params.get(b);
    if (v === null || v === '') continue;
    if (v !== 'true' && v !== 'false' && v !== '1' && v !== '0') return { error: `${b} must be true or false, not "${v.slice(0, 40)}"` };
    if (v === 'true' || v === '1') q[b] = true;
  }
  const ints: Array<[string, number]> = [
    ['tailLines', 0],
    ['sinceSeconds', 1],
    ['limitBytes', 1],
  ];
  for (const [k, min] of ints) {
    const v = params.get(k);
    if (v === null || v === '') continue;
    if (!/^\d{1,15}$/.test(v) || Number(v) < min) return { error: `${k} must be an integer of at least ${min}, not "${v.slice(0, 40)}"` };
    q[k] = Number(v);
  }
  const sinceTime = params.get('sinceTime');
  if (sinceTime) {
    if (Number.isNaN(Date.parse(sinceTime))) return { error: `sinceTime must be an RFC 3339 time, not "${sinceTime.slice(0, 40)}"` };
    if (q.sinceSeconds !== undefined) return { error: 'at most one of sinceTime or sinceSeconds may be given' };
    q.sinceTime = sinceTime;
  }
  return { query: q };
}

export interface PodRef {
  spec?: { nodeName?: string };
}

export interface KubeletServerDeps {
  auth: KubeletAuth;
  directory: RemotePodDirectory;
  /** The home pod (cache first; the API for pods the cache leaves out, e.g. finished ones). */
  findPod(namespace: string, name: string): Promise<PodRef | undefined>;
  log: Logger;
  /** exec, attach and port-forward (HTTP upgrades to SPDY): streaming/server.ts. Without it, upgrades are refused. */
  streaming?: { handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void; closeAll(): void };
}

function reply(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent || res.destroyed) return;
  const body = message.endsWith('\n') ? message : `${message}\n`;
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body) }).end(body);
}

export class KubeletServer {
  private server?: Server;
  private address?: { host: string; port: number };

  constructor(private readonly deps: KubeletServerDeps) {}

  get listening(): { host: string; port: number } | undefined {
    return this.address;
  }

  async start(listen: string, fallback: boolean, tls: { certPem: string; keyPem: string }, clientCAPem: string): Promise<{ host: string; port: number }> {
    const server = createServer(
      {
        cert: tls.certPem,
        key: tls.keyPem,
        // Ask every caller for a certificate, verify it against the client CA, and let the request
        // decide (a bearer token is the other way in).
        requestCert: true,
        rejectUnauthorized: false,
        ...(clientCAPem ? { ca: clientCAPem } : {}),
        minVersion: 'TLSv1.2',
        handshakeTimeout: 10_000,
        headersTimeout: 10_000,
        // A followed log stays open as long as its reader does.
        requestTimeout: 0,
        keepAliveTimeout: 30_000,
        maxHeaderSize: 16 * 1024,
      },
      (req, res) => void this.onRequest(req, res),
    );
    server.maxConnections = 1024;
    // exec, attach, port-forward: the API server upgrades the connection to SPDY/3.1.
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => (this.deps.streaming ? this.deps.streaming.handleUpgrade(req, socket, head) : socket.destroy()));
    server.on('clientError', (_err, socket) => socket.destroy());
    this.server = server;
    this.address = await listenWithFallback(server, listen, fallback);
    server.on('error', (err) => this.deps.log.warn({ err: err.message }, 'kubelet endpoint server error'));
    return this.address;
  }

  /** New serving certificate or client CA, from the next connection on. */
  setSecureContext(tls: { certPem: string; keyPem: string }, clientCAPem: string): void {
    this.server?.setSecureContext({ cert: tls.certPem, key: tls.keyPem, ...(clientCAPem ? { ca: clientCAPem } : {}) });
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    // Upgraded connections are no longer the server's: end them here.
    this.deps.streaming?.closeAll();
    this.address = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  /** The virtual node the pod is bound to, when this agent knows it ('' otherwise). */
  private async nodeOf(namespace: string | undefined, name: string | undefined): Promise<string> {
    if (!namespace || !name) return '';
    const pod = await this.deps.findPod(namespace, name);
    const node = pod?.spec?.nodeName;
    return node && this.deps.directory.tenant(node) ? node : '';
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://kubelet');
    const route = parseKubeletPath(url.pathname);
    const pathLabel = route.kind;
    const done = (result: string) => requestsTotal.inc({ path: pathLabel, result });
    try {
      const target = route.kind === 'other' ? {} : { namespace: route.namespace, pod: route.pod };
      let nodeName = '';
      const auth = await this.deps.auth.check(req, url.pathname, async () => (nodeName = await this.nodeOf(target.namespace, target.pod)));
      if (!auth.ok) {
        done(auth.status === 401 ? 'unauthorized' : 'forbidden');
        return reply(res, auth.status, auth.message);
      }
      if (route.kind === 'other') {
        done('not_found');
        return reply(res, 404, `not found: this kubelet endpoint (kubepeer virtual nodes) serves /containerLogs/{namespace}/{pod}/{container}`);
      }
      if (route.kind !== 'containerLogs') {
        done('not_implemented');
        return reply(res, 501, `${route.kind} is not implemented yet on kubepeer virtual nodes (only logs are)`);
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        done('bad_request');
        return reply(res, 405, 'containerLogs takes GET');
      }
      const who = `pod ${route.namespace}/${route.pod}`;
      const loc = nodeName ? this.deps.directory.locate(nodeName, route.namespace, route.pod) : undefined;
      if (!loc) {
        done('not_found');
        return reply(res, 404, `${who} is not on a virtual node served by this kubepeer agent (or not scheduled yet)`);
      }
      const parsed = logQuery(url.searchParams, route.container);
      if ('error' in parsed) {
        done('bad_request');
        return reply(res, 400, parsed.error);
      }
      await this.streamLogs(req, res, loc, parsed.query, who, nodeName, done);
    } catch (e) {
      this.deps.log.warn({ err: (e as Error).message, path: url.pathname }, 'kubelet endpoint request failed');
      done('error');
      reply(res, 500, `internal error: ${(e as Error).message}`);
    }
  }

  private async streamLogs(
    req: IncomingMessage,
    res: ServerResponse,
    loc: NonNullable<ReturnType<RemotePodDirectory['locate']>>,
    query: LogQuery,
    who: string,
    nodeName: string,
    done: (result: string) => void,
  ): Promise<void> {
    const abort = new AbortController();
    // The caller went away (kubectl interrupted, API server closed the stream): close the peer's too.
    const onClose = () => abort.abort();
    res.once('close', onClose);
    let upstream: IncomingMessage;
    try {
      upstream = await loc.client.stream(resourcePath(Core.pods, { namespace: loc.namespace, name: loc.name, subresource: 'log' }), query, { signal: abort.signal });
    } catch (e) {
      res.off('close', onClose);
      if (abort.signal.aborted) return void done('ok');
      const err = e as ApiError;
      const remote = `${loc.namespace}/${loc.name} on cluster ${loc.providerID}`;
      if (err instanceof ApiError && err.code === 404) {
        done('not_found');
        return reply(res, 404, `${who} is bound to virtual node ${nodeName} but is not offloaded (yet): no remote pod ${remote}`);
      }
      if (err instanceof ApiError && err.code >= 400 && err.code < 500) {
        // The peer's own answer (container not running yet, no previous instance...): pass it on.
        done('bad_request');
        return reply(res, err.code === 401 || err.code === 403 ? 502 : err.code, `${who} (remote pod ${remote}): ${err.message}`);
      }
      done('upstream_error');
      return reply(res, 502, `${who}: cannot read the log of remote pod ${remote}: ${err.message}`);
    }
    res.writeHead(200, { 'Content-Type': upstream.headers['content-type'] ?? 'text/plain', 'Cache-Control': 'no-cache' });
    if (req.method === 'HEAD') {
      upstream.destroy();
      res.end();
      return void done('ok');
    }
    // Flush each chunk as it comes (a followed log is read line by line).
    res.flushHeaders();
    openLogStreams.inc();
    pipeline(upstream, res, (err) => {
      openLogStreams.dec();
      res.off('close', onClose);
      if (err && !abort.signal.aborted) this.deps.log.debug({ err: err.message, pod: who }, 'log stream ended early');
    });
    done('ok');
  }
}
