/**
 * The peer's side of a relay: a WebSocket to the peer's API server (`pods/<name>/exec|attach|
 * portforward`) with our tenant credential there, speaking the channel protocol (protocol.ts).
 */
import { isIP } from 'node:net';
import type { LookupFunction } from 'node:net';
import type WebSocket from 'ws';
import type { KubeClient } from '../../../k8s/rest.js';

export interface RemoteOptions {
  /** Largest message accepted from the peer. */
  maxPayload: number;
  /** Time for the TCP, TLS and HTTP upgrade together. */
  handshakeTimeoutMs: number;
}

export class RemoteDialError extends Error {
  constructor(
    message: string,
    /** The peer's HTTP status, 0 when it did not answer. */
    readonly status: number,
  ) {
    super(message);
  }
}

const early = new WeakMap<WebSocket, Buffer[]>();

/**
 * Hands the connection's messages to `handler`, first those that arrived before it was attached:
 * the peer's first messages (port-forward's port numbers, a quick command's output) often come in
 * the same read as the upgrade answer and are emitted before the dial's caller resumes.
 */
export function onMessages(ws: WebSocket, handler: (msg: Buffer) => void): void {
  const queued = early.get(ws) ?? [];
  early.delete(ws);
  ws.removeAllListeners('message');
  ws.on('message', (m: Buffer) => handler(m));
  for (const m of queued) handler(m);
}

/** Connects; resolves once the peer accepted the upgrade, rejects with RemoteDialError. Read messages with onMessages. */
export async function dialRemote(client: KubeClient, path: string, query: string, protocols: string[], opts: RemoteOptions): Promise<WebSocket> {
  const access = client.access;
  const creds = await access.credentials();
  const url = new URL(client.server + path);
  url.search = query;
  url.protocol = url.protocol === 'http:' ? 'ws:' : 'wss:';
  const pinned = access.pinnedAddress;
  const lookup: LookupFunction | undefined = pinned
    ? (((_h: string, o: { all?: boolean }, cb: (e: Error | null, a: unknown, f?: number) => void) => (o?.all ? cb(null, [{ address: pinned, family: isIP(pinned) }]) : cb(null, pinned, isIP(pinned)))) as unknown as LookupFunction)
    : undefined;
  // Loaded on the first dial: most agents never relay a stream, and loading ws costs ~70 ms of every
  // agent start (which LAN discovery's first announcement waits for).
  const { default: WebSocketClient } = await import('ws');
  const ws = new WebSocketClient(url, protocols, {
    headers: { 'User-Agent': 'kubepeer-virtual-kubelet', ...creds.headers },
    ca: access.caPem,
    cert: creds.cert,
    key: creds.key,
    // The TLS name to verify when it differs from the URL's host (passed through to tls.connect).
    ...((access.tlsServerName ? { servername: access.tlsServerName } : {}) as object),
    rejectUnauthorized: !access.skipTLSVerify,
    ...(lookup ? { lookup } : {}),
    handshakeTimeout: opts.handshakeTimeoutMs,
    maxPayload: opts.maxPayload,
    perMessageDeflate: false,
    followRedirects: false,
  });
  const queued: Buffer[] = [];
  early.set(ws, queued);
  ws.on('message', (m: Buffer) => queued.push(m));
  return new Promise<WebSocket>((resolve, reject) => {
    const fail = (e: RemoteDialError) => {
      ws.removeAllListeners('open');
      ws.on('error', () => {});
      ws.terminate();
      reject(e);
    };
    ws.once('open', () => {
      ws.removeAllListeners('unexpected-response');
      resolve(ws);
    });
    ws.once('error', (err) => fail(new RemoteDialError(err.message, 0)));
    ws.once('unexpected-response', (_req, res) => {
      // The peer's refusal (a Status, or a plain text such as "container not found"): read a bounded part of it.
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        if (size < 64 * 1024) chunks.push(c);
        size += c.length;
      });
      const done = () => {
        const body = Buffer.concat(chunks).toString('utf8').slice(0, 64 * 1024);
        let message = body.trim();
        try {
          message = (JSON.parse(body) as { message?: string }).message ?? message;
        } catch {
          // not JSON: the text as it is
        }
        fail(new RemoteDialError(message || `HTTP ${res.statusCode}`, res.statusCode ?? 0));
      };
      res.once('end', done);
      res.once('error', done);
    });
  });
}
