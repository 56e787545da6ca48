/**
 * port-forward on an offloaded pod (protocol portforward.k8s.io): the client opens a pair of SPDY
 * streams per connection (streamtype error and data, same requestid, a port); each pair is relayed
 * over its own WebSocket to the peer's API server (`pods/<name>/portforward?ports=<port>`,
 * v4.channel.k8s.io: channel 0 data, channel 1 error, each starting with the port as two bytes).
 * An error (the peer's text, or ours when the peer cannot be reached) goes on the pair's error
 * stream, as the kubelet writes it; both streams end when the pod's side of the connection does.
 */
import type WebSocket from 'ws';
import { RstStatus, type SpdySession, type SpdyStream } from '../../../spdy/index.js';
import type { Logger } from '../../../observability/logger.js';
import type { RemotePodLocation } from '../remotePods.js';
import { channelMessage, portForwardError, portForwardHeaders, REMOTE_PORT_FORWARD_PROTOCOLS } from './protocol.js';
import { dialRemote, onMessages, type RemoteDialError } from './remote.js';
import type { StreamingLimits } from './limits.js';

interface Pair {
  port: number;
  data?: SpdyStream;
  error?: SpdyStream;
  timer: NodeJS.Timeout;
}

export function relayPortForward(session: SpdySession, pod: { name: string; uid: string }, loc: RemotePodLocation, limits: StreamingLimits, log: Logger): void {
  const pairs = new Map<string, Pair>();
  let active = 0;
  const sockets = new Set<WebSocket>();

  session.on('stream', (s) => {
    s.on('error', () => {});
    const h = portForwardHeaders(s.headers);
    if ('error' in h) {
      log.debug({ pod: pod.name, err: h.error }, 'port-forward: stream refused');
      return s.reset(RstStatus.PROTOCOL_ERROR);
    }
    s.reply();
    let p = pairs.get(h.requestID);
    if (!p) {
      if (active + pairs.size >= limits.maxPortForwardConnections) return s.reset(RstStatus.REFUSED_STREAM);
      const created: Pair = {
        port: h.port,
        timer: setTimeout(() => {
          // As the kubelet: the pair never completed.
          pairs.delete(h.requestID);
          created.error?.end(`timed out waiting for streams of request ${h.requestID}`);
          created.data?.reset(RstStatus.CANCEL);
        }, limits.streamCreationTimeoutMs),
      };
      p = created;
      pairs.set(h.requestID, p);
    }
    if (p[h.type] || p.port !== h.port) return s.reset(RstStatus.PROTOCOL_ERROR);
    p[h.type] = s;
    if (p.data && p.error) {
      clearTimeout(p.timer);
      pairs.delete(h.requestID);
      active++;
      void forward(p.port, p.data, p.error).finally(() => active--);
    }
  });
  session.once('close', () => {
    for (const p of pairs.values()) clearTimeout(p.timer);
    for (const ws of sockets) ws.terminate();
  });

  async function forward(port: number, data: SpdyStream, error: SpdyStream): Promise<void> {
    let ws: WebSocket;
    try {
      ws = await dialRemote(loc.client, `/api/v1/namespaces/${encodeURIComponent(loc.namespace)}/pods/${encodeURIComponent(loc.name)}/portforward`, `ports=${port}`, REMOTE_PORT_FORWARD_PROTOCOLS, {
        maxPayload: limits.maxMessageBytes,
        handshakeTimeoutMs: limits.dialTimeoutMs,
      });
    } catch (e) {
      log.debug({ pod: pod.name, port, err: (e as Error).message }, 'port-forward: cannot reach the remote pod');
      error.end(portForwardError(port, pod.name, pod.uid, `remote pod ${loc.namespace}/${loc.name} on cluster ${loc.providerID}: ${(e as RemoteDialError).message}`));
      data.end();
      return;
    }
    if (session.isClosed || data.destroyed) {
      ws.terminate();
      return;
    }
    sockets.add(ws);
    await new Promise<void>((resolve) => {
      // Each channel's first message is its port number (two bytes, little-endian).
      const seenPort = [false, false];
      let lastActivity = Date.now();
      onMessages(ws, (raw: Buffer) => {
        lastActivity = Date.now();
        const ch = raw[0];
        if (ch !== 0 && ch !== 1) return;
        if (!seenPort[ch]) {
          seenPort[ch] = true;
          return;
        }
        const payload = raw.subarray(1);
        if (ch === 1) {
          if (!error.writableEnded) error.write(payload);
          return;
        }
        if (data.writableEnded || data.destroyed) return;
        if (!data.write(payload)) {
          ws.pause();
          data.once('drain', () => ws.resume());
        }
      });
      data.on('data', (d: Buffer) => {
        lastActivity = Date.now();
        if (ws.readyState !== ws.OPEN) return;
        ws.send(channelMessage(0, d), { binary: true });
        if (ws.bufferedAmount > limits.maxBufferedBytes) {
          data.pause();
          const check = () => (ws.bufferedAmount <= limits.maxBufferedBytes / 2 || ws.readyState !== ws.OPEN ? data.resume() : setTimeout(check, 10).unref());
          setTimeout(check, 10).unref();
        }
      });
      // The client closed its side (its local connection ended). The v4 WebSocket protocol cannot
      // half-close, so the pod's side stays open until the pod closes it (or the idle limit).
      data.on('end', () => {});
      // Reset by the client (kubectl drops the connection): close the peer's side.
      data.on('close', () => {
        if (data.resetStatus !== undefined) ws.terminate();
      });
      const idle = setInterval(() => {
        if (Date.now() - lastActivity > limits.idleTimeoutMs) ws.terminate();
      }, Math.min(limits.idleTimeoutMs, 30_000));
      idle.unref();
      ws.on('error', (err) => log.debug({ pod: pod.name, port, err: err.message }, 'port-forward: peer connection error'));
      ws.on('close', (code: number) => {
        log.debug({ pod: pod.name, port, code }, 'port-forward: connection to the remote pod closed');
        clearInterval(idle);
        sockets.delete(ws);
        // The pod's side is done: end both streams (kubectl waits for the error stream's end).
        if (!data.destroyed && !data.writableEnded) data.end();
        if (!error.destroyed && !error.writableEnded) error.end();
        resolve();
      });
    });
  }
}
