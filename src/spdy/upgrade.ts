/**
 * The HTTP/1.1 side of starting a SPDY session: a request with `Connection: Upgrade` and
 * `Upgrade: SPDY/3.1` is answered `101 Switching Protocols`, and the socket then carries frames.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { SpdySession, type SessionOptions } from './session.js';

export function isSpdyUpgrade(req: IncomingMessage): boolean {
  const connection = String(req.headers.connection ?? '').toLowerCase();
  const upgrade = String(req.headers.upgrade ?? '').toLowerCase();
  return connection.split(/\s*,\s*/).includes('upgrade') && upgrade.split(/\s*,\s*/).includes('spdy/3.1');
}

/** Answers 101 with `extraHeaders` and starts the session on the socket (`head`: bytes read past the request). */
export function acceptSpdyUpgrade(socket: Duplex, head: Buffer, extraHeaders: Record<string, string>, opts?: SessionOptions): SpdySession {
  const lines = ['HTTP/1.1 101 Switching Protocols', 'Connection: Upgrade', 'Upgrade: SPDY/3.1'];
  for (const [k, v] of Object.entries(extraHeaders)) {
    if (/[\r\n]/.test(k + v)) throw new Error(`header ${k} contains a line break`);
    lines.push(`${k}: ${v}`);
  }
  socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  return new SpdySession(socket, opts, head);
}
