/**
 * The HTTPS endpoint the API server calls for every CREATE and UPDATE of a PeeringRequest. The
 * decision itself is in admission.ts, the decoding in admissionReview.ts; this file is the socket at the edge: it bounds what a
 * request may cost (body size, time, connections), answers an AdmissionReview, counts decisions, and
 * never lets bad input take the agent down (a body it cannot read gets a 400).
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, Histogram } from 'prom-client';
import type { AcceptPolicy } from '../../api/crds.js';
import { WEBHOOK_PATH } from '../../install/manifests.js';
import { listenWithFallback } from '../../agent/listen.js';
import { registry } from '../../observability/metrics.js';
import type { Logger } from '../../observability/logger.js';
import type { PendingRequests } from './pendingRequests.js';
import type { Socket } from 'node:net';
import type { ServingMaterial } from '../../trust/servingSecret.js';
import type { TLSSocket } from 'node:tls';
import { validatePeeringRequest, type AdmissionDecision } from './admission.js';
import { webhookCallerProblem, type WebhookClientAuth } from './webhookClientAuth.js';
import { AdmissionDecodeError, MAX_ADMISSION_REVIEW_BYTES, admissionResponse, decodeAdmissionReview, isPeeringRequestReview } from './admissionReview.js';

const requestsTotal = new Counter({
  name: 'kubepeer_webhook_requests_total',
  help: 'Admission requests answered by the PeeringRequest webhook, by result (allowed, denied, bad_request).',
  labelNames: ['result'],
  registers: [registry],
});
const deniedTotal = new Counter({
  name: 'kubepeer_webhook_denied_total',
  help: 'PeeringRequests refused by the webhook, by reason.',
  labelNames: ['reason'],
  registers: [registry],
});
const connectionsRefused = new Counter({
  name: 'kubepeer_webhook_connections_refused_total',
  help: 'Connections to the webhook closed at once because their source address already held its share.',
  registers: [registry],
});
const callersRefused = new Counter({
  name: 'kubepeer_webhook_callers_refused_total',
  help: 'Callers of the webhook refused because they are not the API server (with --webhook-client-ca): at the TLS handshake (no certificate of the webhook client CA) or after it (another name).',
  labelNames: ['stage'],
  registers: [registry],
});
const requestDuration = new Histogram({
  name: 'kubepeer_webhook_request_duration_seconds',
  help: 'Time from the last byte of an admission request to its answer.',
  buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
  registers: [registry],
});

/** What the webhook needs to know about this cluster, read fresh for every request. */
export interface WebhookPolicy {
  ownClusterID: string;
  ownApiUrl?: string;
  acceptPolicy: AcceptPolicy;
  maxPendingRequests: number;
  /** ClusterConfig peeringConfig.allowedPeerCIDRs, the allowlist of the one address policy. */
  allowedPeerCIDRs?: readonly string[];
  /** A peer we know at an address of our own passes the pending cap (admission.ts). */
  isKnownPeer?(clusterID: string): boolean;
}

export interface AdmissionHandlerDeps {
  policy(): WebhookPolicy;
  pending: PendingRequests;
  log?: Logger;
  /** Limits per-decision log lines, so that a flood does not flood the log too. */
  logBudget?: LogBudget;
  /** Each admitted create (not dry-run): a newcomer that may supersede a stored request of its name (candidates.ts). */
  admitted?(object: unknown): void;
}

/** Where an admission request came from, as far as the socket tells. */
export interface AdmissionCaller {
  /** The peer address of the connection. */
  address?: string;
  /** The caller proved in the TLS handshake that it is the API server (webhookClientAuth.ts). */
  authenticated?: boolean;
}

/** At most `perWindow` lines per window; the rest are counted and summed up in one line. */
export class LogBudget {
  private windowStart = 0;
  private used = 0;
  private suppressed = 0;

  constructor(
    private readonly perWindow = 20,
    private readonly windowMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** True when this line may be written; `summary` is called with the count suppressed in the last window. */
  take(summary: (suppressed: number) => void): boolean {
    const now = this.now();
    if (now - this.windowStart >= this.windowMs) {
      if (this.suppressed) summary(this.suppressed);
      this.windowStart = now;
      this.used = 0;
      this.suppressed = 0;
    }
    if (this.used < this.perWindow) {
      this.used++;
      return true;
    }
    this.suppressed++;
    return false;
  }
}

function logDecision(deps: AdmissionHandlerDeps, fields: Record<string, unknown>, msg: string): void {
  const log = deps.log;
  if (!log || !log.isLevelEnabled('debug')) return;
  if (deps.logBudget && !deps.logBudget.take((n) => log.info({ suppressed: n }, 'admission decisions not logged one by one (more than 20 in 10 s)'))) return;
  log.debug(fields, msg);
}

export interface HandlerAnswer {
  status: number;
  body: unknown;
  result: 'allowed' | 'denied' | 'bad_request';
  decision?: AdmissionDecision;
}

/** One admission request, from body bytes to the answer (no sockets: tests call it directly). */
export function handleAdmission(body: Buffer, deps: AdmissionHandlerDeps, caller: AdmissionCaller = {}): HandlerAnswer {
  const review = decodeAdmissionReview(body);
  if (review instanceof AdmissionDecodeError) {
    requestsTotal.inc({ result: 'bad_request' });
    logDecision(deps, { err: review.message }, 'unreadable admission request');
    return { status: 400, body: { error: review.message }, result: 'bad_request' };
  }
  const req = review.request;
  if (!isPeeringRequestReview(req) || (req.operation !== 'CREATE' && req.operation !== 'UPDATE')) {
    // Not ours to judge (a webhook registration broader than ours, or DELETE): let it through.
    requestsTotal.inc({ result: 'allowed' });
    return { status: 200, body: admissionResponse(req.uid, { allowed: true }), result: 'allowed', decision: { allowed: true } };
  }
  const name = (req.object as { metadata?: { name?: unknown } }).metadata?.name;
  const policy = deps.policy();
  const decision = validatePeeringRequest(req.object, {
    ...policy,
    pendingCount: deps.pending.count(typeof name === 'string' ? name : undefined),
    operation: req.operation,
    oldObject: req.oldObject,
    requesterUsername: req.userInfo.username,
  });
  if (decision.allowed) {
    // a slot is reserved only for a caller known to be the API server (pendingRequests.ts): one
    // that proved it with its client certificate, or whose admissions have become stored objects
    if (req.operation === 'CREATE' && !req.dryRun && typeof name === 'string') deps.pending.reserve(name, caller.authenticated ? undefined : caller.address);
    if (req.operation === 'CREATE' && !req.dryRun) deps.admitted?.(req.object);
    requestsTotal.inc({ result: 'allowed' });
    // Real admissions are few (at most maxPendingRequests wait at once): each one is worth a line.
    if (req.operation === 'CREATE' && !req.dryRun) deps.log?.info({ name, user: req.userInfo.username }, 'PeeringRequest admitted');
    else logDecision(deps, { name, operation: req.operation, user: req.userInfo.username, dryRun: req.dryRun }, 'PeeringRequest admitted');
  } else {
    requestsTotal.inc({ result: 'denied' });
    deniedTotal.inc({ reason: decision.reason });
    logDecision(deps, { name: typeof name === 'string' ? name.slice(0, 80) : undefined, operation: req.operation, reason: decision.reason, message: decision.message }, 'PeeringRequest refused');
  }
  return { status: 200, body: admissionResponse(req.uid, decision), result: decision.allowed ? 'allowed' : 'denied', decision };
}

export interface WebhookServerOptions {
  /** host:port to listen on. */
  listen: string;
  /** Take a free port when that one is in use (the default address only). */
  fallback: boolean;
  requestTimeoutMs?: number;
  maxConnections?: number;
  /** Open connections one source address may hold; more are closed at once (default 64). */
  maxConnectionsPerSource?: number;
  /**
   * Require the API server's client certificate (local clusters, where kubepeer sets the API
   * server's admission configuration): other callers are refused in the TLS handshake, or with 403
   * when their certificate names someone else. Without it, any caller is answered.
   */
  clientAuth?: WebhookClientAuth;
  /**
   * More admission paths served on the same HTTPS server (the offloading pod webhook), read at
   * each request; each gets the same bounds on body size and time as the PeeringRequest path.
   */
  routes?: ReadonlyMap<string, AdmissionRoute>;
}

/** Another admission endpoint: body bytes in, status and JSON answer out; must not throw. */
export type AdmissionRoute = (body: Buffer) => { status: number; body: unknown };

function reply(res: ServerResponse, status: number, body: unknown, close = false): void {
  if (res.headersSent || res.destroyed) return;
  const payload = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': typeof body === 'string' ? 'text/plain' : 'application/json',
    'Content-Length': Buffer.byteLength(payload),
    ...(close ? { Connection: 'close' } : {}),
  });
  res.end(payload);
}

/** Refuse an oversized body without reading the rest of it. */
function refuseTooLarge(req: IncomingMessage, res: ServerResponse): void {
  requestsTotal.inc({ result: 'bad_request' });
  res.once('finish', () => req.socket.destroy());
  reply(res, 413, `an AdmissionReview may be at most ${MAX_ADMISSION_REVIEW_BYTES} bytes\n`, true);
}

export class WebhookServer {
  private server?: Server;
  private address?: { host: string; port: number };

  constructor(
    private readonly deps: AdmissionHandlerDeps,
    private readonly opts: WebhookServerOptions,
  ) {}

  get listening(): { host: string; port: number } | undefined {
    return this.address;
  }

  async start(tls: ServingMaterial): Promise<{ host: string; port: number }> {
    const timeout = this.opts.requestTimeoutMs ?? 10_000;
    const clientAuth = this.opts.clientAuth;
    const server = createServer(
      {
        cert: tls.certPem,
        key: tls.keyPem,
        ...(clientAuth ? { ca: clientAuth.caPem, requestCert: true, rejectUnauthorized: true } : {}),
        minVersion: 'TLSv1.2',
        handshakeTimeout: timeout,
        requestTimeout: timeout,
        headersTimeout: Math.min(timeout, 5_000),
        keepAliveTimeout: 30_000,
        maxHeaderSize: 16 * 1024,
      },
      (req, res) => this.onRequest(req, res),
    );
    server.maxConnections = this.opts.maxConnections ?? 1024;
    // One address cannot take every connection (a flood from one host made the API server's own
    // calls fail): past its share, a new connection is closed before its TLS handshake.
    const perSource = this.opts.maxConnectionsPerSource ?? 64;
    const open = new Map<string, number>();
    server.on('connection', (socket: Socket) => {
      const source = socket.remoteAddress ?? '';
      const n = (open.get(source) ?? 0) + 1;
      if (n > perSource) {
        connectionsRefused.inc();
        socket.destroy();
        return;
      }
      open.set(source, n);
      socket.once('close', () => {
        const left = (open.get(source) ?? 1) - 1;
        if (left <= 0) open.delete(source);
        else open.set(source, left);
      });
    });
    server.on('clientError', (_err, socket) => socket.destroy());
    server.on('tlsClientError', (err) => {
      // with client authentication, a caller without the API server's certificate ends here
      if (clientAuth && /certificate/i.test(err.message)) callersRefused.inc({ stage: 'handshake' });
      this.deps.log?.debug({ err: err.message }, 'TLS handshake with a webhook client failed');
    });
    this.server = server;
    this.address = await listenWithFallback(server, this.opts.listen, this.opts.fallback);
    server.on('error', (err) => this.deps.log?.warn({ err: err.message }, 'webhook server error'));
    return this.address;
  }

  /** Serve a new certificate from the next connection on (the Secret changed). */
  setCertificate(tls: ServingMaterial): void {
    // the whole context is replaced: the client CA goes with it
    this.server?.setSecureContext({ cert: tls.certPem, key: tls.keyPem, ...(this.opts.clientAuth ? { ca: this.opts.clientAuth.caPem } : {}) });
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.address = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const clientAuth = this.opts.clientAuth;
    if (clientAuth) {
      const problem = webhookCallerProblem(req.socket as TLSSocket, clientAuth);
      if (problem) {
        callersRefused.inc({ stage: 'request' });
        this.deps.log?.debug({ source: req.socket.remoteAddress, problem }, 'webhook caller refused: not the API server');
        return reply(res, 403, `only the API server may call this webhook: ${problem}\n`, true);
      }
    }
    const path = (req.url ?? '').split('?', 1)[0] ?? '';
    const caller: AdmissionCaller = { address: req.socket.remoteAddress, authenticated: !!clientAuth };
    const route: AdmissionRoute | undefined = path === WEBHOOK_PATH ? (body) => handleAdmission(body, this.deps, caller) : this.opts.routes?.get(path);
    if (!route) return reply(res, 404, `not found: the admission webhook is at ${WEBHOOK_PATH}\n`);
    if (req.method !== 'POST') return reply(res, 405, 'POST an AdmissionReview\n');
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > MAX_ADMISSION_REVIEW_BYTES) {
      return refuseTooLarge(req, res);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (c: Buffer) => {
      if (tooLarge) return;
      size += c.length;
      if (size > MAX_ADMISSION_REVIEW_BYTES) {
        tooLarge = true;
        chunks.length = 0;
        refuseTooLarge(req, res);
        return;
      }
      chunks.push(c);
    });
    req.on('error', () => {
      /* the client went away; nothing to answer */
    });
    req.on('end', () => {
      if (tooLarge) return;
      const end = requestDuration.startTimer();
      try {
        const answer = route(Buffer.concat(chunks, size));
        reply(res, answer.status, answer.body);
      } catch (e) {
        // handleAdmission does not throw; if it ever does, the API server gets a 500 and
        // failurePolicy Fail refuses the request.
        this.deps.log?.error({ err: (e as Error).message }, 'admission request failed');
        reply(res, 500, 'internal error\n');
      } finally {
        end();
      }
    });
  }
}
