/**
 * The dashboard's HTTP server: the web app's files and a small JSON API (see api.ts) under /api/.
 *
 * Who may do what is decided by the API server, never here: the browser sends the person's
 * Kubernetes bearer token in the Authorization header and every API read, write and watch is made
 * with that token (userClients.ts). No token, no data (401).
 *
 * Hardening: the token travels in a header, never in a cookie or URL, so another site cannot make
 * the browser use it (CSRF); cross-site and foreign-Origin requests to /api/ are refused and no CORS
 * headers are ever sent; bodies must be JSON and small; a strict Content-Security-Policy allows
 * only this origin's scripts and styles; the token is never logged.
 *
 * Served over HTTPS with a certificate from a throwaway CA made at start-up, or over plain HTTP
 * when asked, on loopback addresses only.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { hostname } from 'node:os';
import { isIP } from 'node:net';
import { listenWithFallback, parseListen } from '../agent/listen.js';
import { createCA, issueCertificate } from '../trust/pki.js';
import type { Logger } from '../observability/logger.js';
import type { KubeClient } from '../k8s/rest.js';
import { HttpError } from './errors.js';
import { addDomain, addPeer, decide, details, listedPeers, removeDomain, removePeer, session, setJoin, state, type DashboardIdentity } from './handlers.js';
import { LiveFeed, sseFrame } from './liveUpdates.js';
import { StaticFiles, defaultWebRoot } from './staticFiles.js';
import { UserClients, bearerToken } from './userClients.js';
import type { LiveEvent } from './api.js';
import { isWildcardHost, stripBrackets } from '../net/hosts.js';

export interface DashboardServerOptions {
  /** host:port; see listenWithFallback. */
  listen: string;
  /** Take a free port when `listen`'s is taken (the default address only). */
  fallback: boolean;
  /** Plain HTTP; refused unless `listen` is a loopback address. */
  insecureHttp: boolean;
  /** Directory of the built web app (default: dist/dashboard-web). */
  webRoot?: string;
  maxBodyBytes?: number;
  /** Live-update streams open at once, in total and per token. */
  maxStreams?: number;
  maxStreamsPerToken?: number;
  /** Debounce of live "changed" messages. */
  liveDebounceMs?: number;
}

export interface DashboardDeps {
  identity(): DashboardIdentity;
  /** URL of the API server that the person's token is sent to. */
  apiServer(): string;
  /** CA that signs the API server's certificate ('' = system roots). */
  caPem(): string;
  /**
   * The serving certificate for these hosts (the agent keeps it in a Secret, so a browser that
   * trusted the dashboard's CA keeps trusting it across restarts and replicas). Without it, a
   * throwaway CA is made at each start.
   */
  servingTls?(hosts: string[]): Promise<{ caPem: string; certPem: string; keyPem: string }>;
  log: Logger;
}

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Permissions-Policy': 'camera=(), microphone=(), geolocation=(), usb=()',
};


export function isLoopback(host: string): boolean {
  const h = stripBrackets(host).toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

const NAME = /^[A-Za-z0-9]([-A-Za-z0-9._]{0,251}[A-Za-z0-9])?$/;

function param(raw: string, what: string): string {
  let v: string;
  try {
    v = decodeURIComponent(raw);
  } catch {
    throw new HttpError(400, 'Invalid', `Bad ${what} in the URL.`);
  }
  if (!NAME.test(v)) throw new HttpError(400, 'Invalid', `"${v.slice(0, 80)}" is not a valid ${what}.`);
  return v;
}

interface Ctx {
  kube: KubeClient;
  params: string[];
  body: unknown;
}

type Route = { method: string; pattern: RegExp; run: (c: Ctx) => Promise<unknown>; status?: number };

export class DashboardServer {
  private server?: HttpServer;
  private readonly clients: UserClients;
  private readonly files: StaticFiles;
  private readonly streams = new Set<{ tokenId: string; close(): void }>();
  private readonly routes: Route[];
  private scheme: 'http' | 'https' = 'https';
  address?: { host: string; port: number };
  url?: string;

  constructor(
    private readonly deps: DashboardDeps,
    private readonly opts: DashboardServerOptions,
  ) {
    this.clients = new UserClients(deps.apiServer, deps.caPem);
    this.files = new StaticFiles(opts.webRoot ?? defaultWebRoot());
    const id = () => deps.identity();
    this.routes = [
      { method: 'GET', pattern: /^\/api\/session$/, run: (c) => session(c.kube) },
      { method: 'GET', pattern: /^\/api\/state$/, run: (c) => state(c.kube, id()) },
      { method: 'GET', pattern: /^\/api\/overview$/, run: async (c) => (await state(c.kube, id())).overview },
      {
        method: 'GET',
        pattern: /^\/api\/peers$/,
        run: async (c) => {
          const s = await state(c.kube, id());
          return { peers: listedPeers(s.peers), warnings: s.warnings, now: s.now };
        },
      },
      {
        method: 'GET',
        pattern: /^\/api\/requests$/,
        run: async (c) => {
          const s = await state(c.kube, id());
          return { requests: s.requests, warnings: s.warnings, now: s.now };
        },
      },
      {
        method: 'GET',
        pattern: /^\/api\/domains$/,
        run: async (c) => {
          const s = await state(c.kube, id());
          return { domains: s.domains, warnings: s.warnings, now: s.now };
        },
      },
      { method: 'GET', pattern: /^\/api\/peers\/([^/]+)$/, run: (c) => details(c.kube, id(), param(c.params[0]!, 'peer name')) },
      { method: 'POST', pattern: /^\/api\/peers$/, run: (c) => addPeer(c.kube, id(), c.body), status: 201 },
      { method: 'PATCH', pattern: /^\/api\/peers\/([^/]+)$/, run: (c) => setJoin(c.kube, param(c.params[0]!, 'peer name'), c.body) },
      { method: 'DELETE', pattern: /^\/api\/peers\/([^/]+)$/, run: async (c) => ({ ok: true, ended: await removePeer(c.kube, param(c.params[0]!, 'peer name')) }) },
      // Also the record a removed discovered peer leaves: discovery may then find and join it again.
      { method: 'DELETE', pattern: /^\/api\/peers\/([^/]+)\/forget$/, run: async (c) => ({ ok: true, ended: await removePeer(c.kube, param(c.params[0]!, 'peer name'), { forget: true }) }) },
      { method: 'POST', pattern: /^\/api\/domains$/, run: (c) => addDomain(c.kube, c.body), status: 201 },
      { method: 'DELETE', pattern: /^\/api\/domains\/([^/]+)$/, run: async (c) => (await removeDomain(c.kube, param(c.params[0]!, 'domain name')), { ok: true }) },
      {
        method: 'POST',
        pattern: /^\/api\/requests\/([^/]+)\/(accept|reject)$/,
        run: async (c) => (await decide(c.kube, param(c.params[0]!, 'cluster ID'), c.params[1] === 'accept'), { ok: true }),
      },
    ];
  }

  get webAppAvailable(): boolean {
    return this.files.available;
  }

  async start(): Promise<{ host: string; port: number; url: string }> {
    const { host } = parseListen(this.opts.listen);
    const handler = (req: IncomingMessage, res: ServerResponse) => void this.handle(req, res);
    if (this.opts.insecureHttp) {
      if (!isLoopback(host)) {
        throw new Error(`the dashboard serves plain HTTP only on a loopback address (127.0.0.1, ::1, localhost), not on ${host}: drop --dashboard-http or listen on 127.0.0.1`);
      }
      this.scheme = 'http';
      this.server = createHttpServer(handler);
    } else {
      this.scheme = 'https';
      // The machine's name is one a person may browse to; a pod's (POD_NAME, set by the in-cluster
      // manifest) is not, and differs per replica: with it, each replica would need a CA that
      // permits its own name, and replicas would replace each other's CA (name constraints).
      const machineName = process.env.POD_NAME ? [] : [hostname()];
      const names = [...new Set(['127.0.0.1', 'localhost', '::1', ...machineName, stripBrackets(host)].filter((h) => !isWildcardHost(h)))];
      const tls = this.deps.servingTls ? await this.deps.servingTls(names) : await throwawayServingTls(names);
      this.server = createHttpsServer({ cert: tls.certPem + tls.caPem, key: tls.keyPem, minVersion: 'TLSv1.2' }, handler);
    }
    this.server.headersTimeout = 20_000;
    this.server.requestTimeout = 60_000;
    this.address = await listenWithFallback(this.server, this.opts.listen, this.opts.fallback);
    const urlHost = isWildcardHost(this.address.host) ? 'localhost' : this.address.host.includes(':') ? `[${stripBrackets(this.address.host)}]` : this.address.host;
    this.url = `${this.scheme}://${urlHost}:${this.address.port}/`;
    return { ...this.address, url: this.url };
  }

  async stop(): Promise<void> {
    for (const s of [...this.streams]) s.close();
    this.clients.close();
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  // ---------------------------------------------------------------- requests

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = Date.now();
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    // No Strict-Transport-Security: on localhost it would force HTTPS on every port of the host.
    const path = (req.url ?? '/').split('?')[0]!;
    let tokenId: string | undefined;
    try {
      if (path === '/api' || path.startsWith('/api/')) {
        this.refuseCrossSite(req);
        if (path === '/api/events') {
          if (req.method !== 'GET') throw new HttpError(405, 'MethodNotAllowed', 'Use GET for /api/events.');
          const token = bearerToken(req.headers.authorization);
          tokenId = UserClients.idOf(token);
          await this.stream(req, res, token, tokenId);
          return;
        }
        const match = this.match(req.method ?? 'GET', path);
        const token = bearerToken(req.headers.authorization);
        tokenId = UserClients.idOf(token);
        const body = req.method === 'POST' || req.method === 'PATCH' ? await this.readJson(req) : undefined;
        const lease = this.clients.acquire(token);
        try {
          const out = await match.route.run({ kube: lease.client, params: match.params, body });
          this.json(res, match.route.status ?? 200, out);
        } finally {
          lease.release();
        }
      } else {
        this.serveFile(req, res, path);
      }
    } catch (e) {
      const err = e instanceof HttpError ? e : new HttpError(500, 'InternalError', `Unexpected error: ${(e as Error).message}`);
      if (err.status >= 500) this.deps.log.warn({ method: req.method, path, status: err.status, err: err.message }, 'dashboard request failed');
      if (!res.headersSent) {
        if (err.status === 401) res.setHeader('WWW-Authenticate', 'Bearer realm="kubepeer"');
        this.json(res, err.status, err.body());
      } else res.end();
    } finally {
      this.deps.log.debug({ method: req.method, path, status: res.statusCode, ms: Date.now() - started, user: tokenId }, 'dashboard request');
    }
  }

  /** Another site may link here but never call the API from a page of its own. */
  private refuseCrossSite(req: IncomingMessage): void {
    const site = req.headers['sec-fetch-site'];
    if (site === 'cross-site') throw new HttpError(403, 'CrossSite', 'Cross-site requests to the dashboard API are refused.');
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== `${this.scheme}://${req.headers.host}`) {
      throw new HttpError(403, 'CrossOrigin', 'Requests from another origin are refused (the dashboard API sends no CORS headers).');
    }
  }

  private match(method: string, path: string): { route: Route; params: string[] } {
    let pathKnown = false;
    for (const route of this.routes) {
      const m = route.pattern.exec(path);
      if (!m) continue;
      pathKnown = true;
      if (route.method === method) return { route, params: m.slice(1) };
    }
    if (pathKnown) throw new HttpError(405, 'MethodNotAllowed', `${method} is not allowed on ${path}.`);
    throw new HttpError(404, 'NotFound', `No API endpoint ${path}.`);
  }

  private async readJson(req: IncomingMessage): Promise<unknown> {
    const limit = this.opts.maxBodyBytes ?? 16 * 1024;
    const declared = Number(req.headers['content-length'] ?? 0);
    // No body at all (accept, reject): nothing to parse, whatever the type says.
    if (declared === 0 && req.headers['transfer-encoding'] === undefined) return {};
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json') throw new HttpError(415, 'UnsupportedMediaType', 'Send the body as application/json.');
    if (declared > limit) throw new HttpError(413, 'TooLarge', `The body is larger than ${limit} bytes.`);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > limit) throw new HttpError(413, 'TooLarge', `The body is larger than ${limit} bytes.`);
      chunks.push(chunk as Buffer);
    }
    const text = Buffer.concat(chunks).toString('utf8');
    if (!text) return {};
    try {
      return JSON.parse(text);
    } catch {
      throw new HttpError(400, 'Invalid', 'The body is not valid JSON.');
    }
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }

  private serveFile(req: IncomingMessage, res: ServerResponse, path: string): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'MethodNotAllowed', 'Only GET here.');
    if (!this.files.available) {
      const text = 'The dashboard web app is not built. Run: npm run build:web (the JSON API under /api/ works without it).\n';
      res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' }).end(text);
      return;
    }
    const file = this.files.lookup(path);
    if (!file) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found\n');
      return;
    }
    res.writeHead(200, { 'Content-Type': file.type, 'Cache-Control': file.cacheControl, 'Content-Length': file.body.length });
    res.end(req.method === 'HEAD' ? undefined : file.body);
  }

  // ---------------------------------------------------------------- live updates

  private async stream(req: IncomingMessage, res: ServerResponse, token: string, tokenId: string): Promise<void> {
    const perToken = [...this.streams].filter((s) => s.tokenId === tokenId).length;
    if (this.streams.size >= (this.opts.maxStreams ?? 64) || perToken >= (this.opts.maxStreamsPerToken ?? 8)) {
      throw new HttpError(429, 'TooManyStreams', 'Too many live-update streams are open; close some dashboard tabs.');
    }
    const kube = this.clients.dedicated(token);
    const queued: LiveEvent[] = [];
    let open = false;
    let closed = false;
    let keepAlive: NodeJS.Timeout | undefined;
    const entry = { tokenId, close: () => finish() };
    const send = (ev: LiveEvent) => {
      if (closed) return;
      if (!open) {
        queued.push(ev);
        return;
      }
      res.write(sseFrame(ev));
      if (ev.type === 'unauthorized') finish();
    };
    const feed = new LiveFeed(kube, send, this.deps.log, { debounceMs: this.opts.liveDebounceMs });
    const finish = () => {
      if (closed) return;
      closed = true;
      feed.stop();
      kube.close();
      if (keepAlive) clearInterval(keepAlive);
      this.streams.delete(entry);
      if (!res.writableEnded) res.end();
    };
    this.streams.add(entry);
    // The response's 'close' (not the request's): it fires when the browser goes away.
    res.on('close', finish);
    try {
      await feed.start();
    } catch (e) {
      closed = true;
      feed.stop();
      kube.close();
      this.streams.delete(entry);
      throw e;
    }
    if (closed) return;
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no' });
    res.flushHeaders();
    open = true;
    res.write(': kubepeer live updates\n\n');
    for (const ev of queued.splice(0)) send(ev);
    keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 20_000);
    keepAlive.unref();
  }
}

async function throwawayServingTls(hosts: string[]): Promise<{ caPem: string; certPem: string; keyPem: string }> {
  // name-constrained like the shared one (trust/servingSecret.ts): it can vouch for these hosts only
  const ca = await createCA('kubepeer dashboard CA', 825, hosts);
  const leaf = await issueCertificate(ca, { commonName: 'kubepeer dashboard', hosts, usage: 'server', days: 825 });
  return { caPem: ca.certPem, ...leaf };
}
