/**
 * A hostile HTTPS server on loopback: whatever is asked, it answers the way a party we do not
 * control might, to check that kubepeer reads such answers bounded in size and time. Its
 * certificate is issued by a CA the test gets, so TLS succeeds and the answer itself is what fails.
 */
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { createCA, issueCertificate } from '../../src/trust/pki.js';

export type HostileMode =
  /** declares and sends a body of 600 MiB (more than a JavaScript string can hold) */
  | 'huge'
  /** a chunked JSON body that never ends, sent as fast as the client reads */
  | 'endless'
  /** a valid JSON head, then one byte every 200 ms, forever: never silent long enough for an idle timeout */
  | 'trickle'
  /** an HTML page with status 200 */
  | 'wrongContentType'
  /** application/json that is not JSON */
  | 'invalidJson';

export const hostileModes: HostileMode[] = ['huge', 'endless', 'trickle', 'wrongContentType', 'invalidJson'];

export interface HostileServer {
  url: string;
  caPem: string;
  /** Requests received, by path. */
  requests: string[];
  mode: HostileMode;
  close(): Promise<void>;
}

export async function startHostileServer(mode: HostileMode, host = '127.0.0.1'): Promise<HostileServer> {
  const ca = await createCA('hostile-test-ca', 1);
  const leaf = await issueCertificate(ca, { commonName: 'hostile', hosts: [host], usage: 'server', days: 1 });
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const state: HostileServer = {
    url: '',
    caPem: ca.certPem,
    requests: [],
    mode,
    close: async () => {
      for (const t of timers) clearInterval(t);
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const server: Server = createServer({ cert: leaf.certPem, key: leaf.keyPem }, (req, res) => {
    state.requests.push(req.url ?? '');
    req.resume();
    const chunk = Buffer.alloc(64 * 1024, 0x61); // 'aaaa...': inside a JSON string
    switch (state.mode) {
      case 'huge': {
        const total = 600 * 1024 * 1024;
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': String(total) });
        const head = '{"data":{"cluster-id":"';
        res.write(head);
        let sent = head.length;
        const pump = () => {
          while (sent < total - 3) {
            const n = Math.min(chunk.length, total - 3 - sent);
            sent += n;
            if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void res.once('drain', pump);
          }
          res.end('"}}');
        };
        pump();
        return;
      }
      case 'endless': {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.write('{"data":{"cluster-id":"');
        const pump = () => {
          while (!res.destroyed) if (!res.write(chunk)) return void res.once('drain', pump);
        };
        pump();
        return;
      }
      case 'trickle': {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.write('{"data":{"cluster-id":"');
        const t = setInterval(() => (res.destroyed ? clearInterval(t) : res.write('a')), 200);
        timers.add(t);
        return;
      }
      case 'wrongContentType':
        res.writeHead(200, { 'Content-Type': 'text/html' });
        res.end('<html><body>{"data":{"cluster-id":"x"}}</body></html>');
        return;
      case 'invalidJson':
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end('{"data":{"cluster-id": nope');
        return;
    }
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
  });
  server.on('clientError', () => {});
  await new Promise<void>((r) => server.listen(0, host, () => r()));
  state.url = `https://${host}:${(server.address() as AddressInfo).port}`;
  return state;
}
