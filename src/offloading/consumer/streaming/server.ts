/**
 * exec, attach and port-forward on the virtual nodes' kubelet endpoint: the HTTP upgrade of
 * `/exec/...`, `/attach/...` and `/portForward/...` (the API server asks for `Upgrade: SPDY/3.1`
 * with `X-Stream-Protocol-Version`), authenticated and authorized exactly as logs are (the same
 * KubeletAuth: client certificate or TokenReview, SubjectAccessReview on nodes/proxy), then one SPDY
 * session relayed to the remote pod on the peer (exec.ts, portForward.ts).
 *
 * The kubelet server calls `handleUpgrade` from its https server's 'upgrade' event.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { Counter, Gauge } from 'prom-client';
import { acceptSpdyUpgrade, isSpdyUpgrade, type SpdySession } from '../../../spdy/index.js';
import { registry } from '../../../observability/metrics.js';
import type { Logger } from '../../../observability/logger.js';
import type { AuthOutcome } from '../kubeletAuth.js';
import type { RemotePodDirectory } from '../remotePods.js';
import { relayExec } from './exec.js';
import { DEFAULT_STREAMING_LIMITS, type StreamingLimits } from './limits.js';
import { relayPortForward } from './portForward.js';
import { clientProtocols, EXEC_PROTOCOLS, execOptions, negotiate, negotiationError, parseStreamingPath, PORT_FORWARD_PROTOCOLS } from './protocol.js';

const sessionsTotal = new Counter({
  name: 'kubepeer_virtual_kubelet_streaming_sessions_total',
  help: 'Upgrades to exec, attach and port-forward on the virtual nodes\' kubelet endpoint, by kind (exec, attach, portForward) and result (ok, unauthorized, forbidden, not_found, bad_request, too_many, error).',
  labelNames: ['kind', 'result'],
  registers: [registry],
});
const sessionsOpen = new Gauge({
  name: 'kubepeer_virtual_kubelet_streaming_sessions',
  help: 'exec, attach and port-forward sessions open on the virtual nodes\' kubelet endpoint.',
  registers: [registry],
});

export interface StreamingDeps {
  auth: { check(req: IncomingMessage, path: string, nodeName: () => Promise<string>): Promise<AuthOutcome> };
  directory: RemotePodDirectory;
  findPod(namespace: string, name: string): Promise<{ metadata?: { uid?: string }; spec?: { nodeName?: string } } | undefined>;
  log: Logger;
  limits?: Partial<StreamingLimits>;
}

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 429: 'Too Many Requests', 500: 'Internal Server Error' };

/** A plain HTTP answer on a socket that asked for an upgrade, then close. */
function refuse(socket: Duplex, status: number, message: string): void {
  const body = message.endsWith('\n') ? message : `${message}\n`;
  socket.end(`HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

export class StreamingServer {
  readonly limits: StreamingLimits;
  private readonly sessions = new Set<SpdySession>();

  constructor(private readonly deps: StreamingDeps) {
    this.limits = { ...DEFAULT_STREAMING_LIMITS, ...deps.limits };
  }

  get openSessions(): number {
    return this.sessions.size;
  }

  /** Ends every session (the agent stops). */
  closeAll(): void {
    for (const s of [...this.sessions]) s.destroy('kubelet endpoint stopped');
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => {});
    void this.upgrade(req, socket, head).catch((e: Error) => {
      this.deps.log.warn({ err: e.message, path: req.url }, 'kubelet streaming upgrade failed');
      if (!socket.destroyed) refuse(socket, 500, `internal error: ${e.message}`);
    });
  }

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://kubelet');
    const route = parseStreamingPath(url.pathname);
    const kind = route?.kind ?? 'other';
    const done = (result: string) => sessionsTotal.inc({ kind, result });
    let nodeName = '';
    let uid = '';
    const auth = await this.deps.auth.check(req, url.pathname, async () => {
      if (!route) return '';
      const pod = await this.deps.findPod(route.namespace, route.pod);
      uid = pod?.metadata?.uid ?? '';
      const node = pod?.spec?.nodeName;
      return (nodeName = node && this.deps.directory.tenant(node) ? node : '');
    });
    if (!auth.ok) {
      done(auth.status === 401 ? 'unauthorized' : 'forbidden');
      return refuse(socket, auth.status, auth.message);
    }
    if (!route) {
      done('not_found');
      return refuse(socket, 404, 'not found: streaming paths are /exec/{namespace}/{pod}/{container}, /attach/{namespace}/{pod}/{container}, /portForward/{namespace}/{pod}');
    }
    const who = `pod ${route.namespace}/${route.pod}`;
    const loc = nodeName ? this.deps.directory.locate(nodeName, route.namespace, route.pod) : undefined;
    if (!loc) {
      done('not_found');
      return refuse(socket, 404, `${who} is not on a virtual node served by this kubepeer agent (or not scheduled yet)`);
    }
    if (!isSpdyUpgrade(req)) {
      done('bad_request');
      return refuse(socket, 400, 'this endpoint speaks SPDY/3.1 (Connection: Upgrade, Upgrade: SPDY/3.1)');
    }
    if (this.sessions.size >= this.limits.maxSessions) {
      done('too_many');
      return refuse(socket, 429, `too many streaming sessions on this kubelet endpoint (${this.limits.maxSessions})`);
    }
    const offered = clientProtocols(req.headersDistinct['x-stream-protocol-version']);
    const supported = route.kind === 'portForward' ? PORT_FORWARD_PROTOCOLS : EXEC_PROTOCOLS;
    const protocol = negotiate(offered, supported);
    if (!protocol) {
      done('bad_request');
      return refuse(socket, 403, negotiationError(offered, supported));
    }
    const options = route.kind === 'portForward' ? undefined : execOptions(route.kind, url.searchParams);
    if (options && 'error' in options) {
      done('bad_request');
      return refuse(socket, 400, options.error);
    }
    const session = acceptSpdyUpgrade(socket, head, { 'X-Stream-Protocol-Version': protocol }, {
      idleTimeoutMs: this.limits.idleTimeoutMs,
      maxConcurrentStreams: route.kind === 'portForward' ? 2 * this.limits.maxPortForwardConnections : 5,
      maxBufferedPerStream: this.limits.maxBufferedPerStream,
    });
    this.sessions.add(session);
    sessionsOpen.inc();
    session.once('close', (reason) => {
      this.sessions.delete(session);
      sessionsOpen.dec();
      this.deps.log.debug({ pod: who, kind: route.kind, reason }, 'streaming session closed');
    });
    done('ok');
    if (route.kind === 'portForward') return relayPortForward(session, { name: route.pod, uid }, loc, this.limits, this.deps.log);
    await relayExec(session, { kind: route.kind, container: route.container, options: options!, who }, loc, this.limits, this.deps.log);
  }
}
