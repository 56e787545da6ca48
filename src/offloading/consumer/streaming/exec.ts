/**
 * exec and attach on an offloaded pod: the API server's SPDY streams (error, stdin, stdout,
 * stderr, resize; protocol v4.channel.k8s.io) relayed to one WebSocket to the remote pod on the peer
 * (v5.channel.k8s.io, or v4). The error stream ends with the Status JSON a kubelet writes: the
 * peer's own (its kubelet's exit code and message, passed on byte for byte), or ours when the peer
 * cannot be reached.
 */
import type WebSocket from 'ws';
import { RstStatus, type SpdySession, type SpdyStream } from '../../../spdy/index.js';
import type { Logger } from '../../../observability/logger.js';
import type { RemotePodLocation } from '../remotePods.js';
import { Channel, channelMessage, closeSignal, expectedStreams, internalErrorStatus, REMOTE_EXEC_PROTOCOLS, remoteExecQuery, ResizeDecoder, SUCCESS_STATUS, type ExecOptions } from './protocol.js';
import { dialRemote, onMessages, RemoteDialError } from './remote.js';
import type { StreamingLimits } from './limits.js';

export interface ExecRequest {
  kind: 'exec' | 'attach';
  container: string;
  options: ExecOptions;
  /** Home pod, for messages. */
  who: string;
}

/** Waits for the client's streams; on a timeout or a session end, resolves undefined. */
export function collectStreams(session: SpdySession, expected: string[], timeoutMs: number): Promise<Map<string, SpdyStream> | undefined> {
  const got = new Map<string, SpdyStream>();
  return new Promise((resolve) => {
    const finish = (v: Map<string, SpdyStream> | undefined) => {
      clearTimeout(timer);
      session.off('stream', onStream);
      session.off('close', onClose);
      resolve(v);
    };
    const onStream = (s: SpdyStream) => {
      const type = s.headers['streamtype'] ?? '';
      if (!expected.includes(type) || got.has(type)) return s.reset(RstStatus.PROTOCOL_ERROR);
      s.reply();
      got.set(type, s);
      if (got.size === expected.length) finish(got);
    };
    const onClose = () => finish(undefined);
    const timer = setTimeout(() => {
      // As the kubelet: say so on the error stream if there is one.
      got.get('error')?.end(internalErrorStatus('timed out waiting for client to create streams'));
      finish(undefined);
    }, timeoutMs);
    session.on('stream', onStream);
    session.on('close', onClose);
  });
}

/**
 * Ends our side of every stream, then the session: once everything we wrote has gone out (FIN
 * included), GOAWAY, and the session closes when the client is done with every stream, or 2 s
 * later. GOAWAY is a frame written at once, so sent any earlier it overtook the output still queued
 * in the streams (a `kubectl cp` tar's last frames) and the API server dropped what came after it:
 * kubectl read an unexpected EOF. A client that stops reading is cut after `maxDrainMs`.
 */
function finishSession(session: SpdySession, streams: Iterable<SpdyStream>, maxDrainMs = 60_000): void {
  const all = [...streams];
  for (const s of all) if (!s.destroyed && !s.writableEnded) s.end();
  const flushed = all.map((s) => (s.destroyed || s.writableFinished ? Promise.resolve() : new Promise<void>((r) => (s.once('finish', r), s.once('close', r)))));
  const cap = setTimeout(() => session.destroy('relay finished: the client did not read the rest'), maxDrainMs);
  cap.unref();
  void Promise.all(flushed).then(() => {
    clearTimeout(cap);
    session.goAway();
    setTimeout(() => session.destroy('relay finished'), 2000).unref();
  });
}

export async function relayExec(session: SpdySession, req: ExecRequest, loc: RemotePodLocation, limits: StreamingLimits, log: Logger): Promise<void> {
  const streams = await collectStreams(session, expectedStreams(req.options), limits.streamCreationTimeoutMs);
  if (!streams) return void finishSession(session, []);
  const errorStream = streams.get('error')!;
  for (const s of streams.values()) s.on('error', () => {});
  let ws: WebSocket;
  try {
    ws = await dialRemote(loc.client, `/api/v1/namespaces/${encodeURIComponent(loc.namespace)}/pods/${encodeURIComponent(loc.name)}/${req.kind}`, remoteExecQuery(req.kind, req.container, req.options), REMOTE_EXEC_PROTOCOLS, {
      maxPayload: limits.maxMessageBytes,
      handshakeTimeoutMs: limits.dialTimeoutMs,
    });
  } catch (e) {
    const err = e as RemoteDialError;
    const what = req.kind === 'exec' ? 'error executing command in container' : 'error attaching to container';
    errorStream.write(internalErrorStatus(`${what}: remote pod ${loc.namespace}/${loc.name} on cluster ${loc.providerID}: ${err.message}`));
    log.debug({ pod: req.who, err: err.message, status: err.status }, `${req.kind}: the peer refused or could not be reached`);
    return finishSession(session, streams.values());
  }
  if (session.isClosed) {
    ws.terminate();
    return;
  }
  const v5 = ws.protocol === 'v5.channel.k8s.io';
  let lastActivity = Date.now();
  const errorBytes: Buffer[] = [];
  let errorSize = 0;

  const stdout = streams.get('stdout');
  const stderr = streams.get('stderr');
  // Backpressure from the API server's side: stop reading the peer while a stream's buffer is full.
  const writeOut = (s: SpdyStream | undefined, data: Buffer) => {
    if (!s || s.destroyed || s.writableEnded) return;
    if (!s.write(data)) {
      ws.pause();
      s.once('drain', () => ws.resume());
    }
  };
  onMessages(ws, (msg: Buffer) => {
    lastActivity = Date.now();
    if (msg.length < 1) return;
    const data = msg.subarray(1);
    switch (msg[0]) {
      case Channel.stdout:
        return writeOut(stdout, data);
      case Channel.stderr:
        return writeOut(stderr ?? stdout, data);
      case Channel.error:
        if (errorSize + data.length <= 64 * 1024) errorBytes.push(data);
        errorSize += data.length;
        return;
      default:
        return;
    }
  });

  // Client to peer: stdin, resize; the peer's send buffer bounds how much we take in.
  const send = (msg: Buffer, from?: SpdyStream) => {
    if (ws.readyState !== ws.OPEN) return;
    ws.send(msg, { binary: true });
    if (from && ws.bufferedAmount > limits.maxBufferedBytes) {
      from.pause();
      const check = () => (ws.bufferedAmount <= limits.maxBufferedBytes / 2 || ws.readyState !== ws.OPEN ? from.resume() : setTimeout(check, 10).unref());
      setTimeout(check, 10).unref();
    }
  };
  const stdin = streams.get('stdin');
  if (stdin) {
    stdin.on('data', (d: Buffer) => send(channelMessage(Channel.stdin, d), stdin));
    // v5 can say "no more input" (kubectl cp into the pod needs tar to see the end); v4 cannot.
    stdin.on('end', () => v5 && send(closeSignal(Channel.stdin)));
  }
  const resize = streams.get('resize');
  if (resize) {
    const dec = new ResizeDecoder();
    resize.on('data', (d: Buffer) => {
      for (const size of dec.push(d)) send(channelMessage(Channel.resize, Buffer.from(JSON.stringify(size))));
    });
  }

  let finished = false;
  const finish = (code?: number) => {
    if (finished) return;
    finished = true;
    clearInterval(idle);
    if (!errorStream.destroyed && !errorStream.writableEnded) {
      if (errorBytes.length) errorStream.write(Buffer.concat(errorBytes));
      else if (code === 1000 || code === undefined) errorStream.write(SUCCESS_STATUS);
      else errorStream.write(internalErrorStatus(`the connection to remote pod ${loc.namespace}/${loc.name} on cluster ${loc.providerID} ended abnormally (WebSocket close code ${code})`));
    }
    finishSession(session, streams.values());
  };
  ws.on('close', (code: number) => finish(code));
  ws.on('error', (err) => log.debug({ pod: req.who, err: err.message }, `${req.kind}: peer connection error`));
  // The API server went away (kubectl interrupted): close the peer's side too.
  session.once('close', () => {
    finished = true;
    clearInterval(idle);
    ws.terminate();
  });

  // Idle: no byte either way for the limit ends both sides.
  const touch = () => (lastActivity = Date.now());
  for (const s of streams.values()) s.on('data', touch);
  const idle = setInterval(() => {
    if (Date.now() - lastActivity > limits.idleTimeoutMs) {
      log.debug({ pod: req.who }, `${req.kind}: idle for ${limits.idleTimeoutMs} ms, closing`);
      ws.close(1000);
      ws.terminate();
    }
  }, Math.min(limits.idleTimeoutMs, 30_000));
  idle.unref();
}
