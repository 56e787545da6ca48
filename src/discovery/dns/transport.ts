/**
 * Sends one question to one server and returns the answer, never throwing: UDP with EDNS0 first,
 * TCP when the UDP answer is truncated (TC bit), a per-attempt timeout and a bounded number of
 * attempts. Every datagram and TCP query sent is counted, so callers can report queries per browse.
 *
 * Each query gets its own random ID and its own connected UDP socket (random source port, and the
 * kernel drops datagrams from any other address); answers with the wrong ID or question are
 * ignored while waiting, as a stub resolver must to resist spoofing.
 */
import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import { logger } from '../../observability/logger.js';
import { decodeResponse, encodeQuery, type DnsResponse, type Question } from './message.js';
import { formatServer, type DnsServerAddress } from './server.js';

const log = logger('dns-transport');

export interface TransportOptions {
  /** How long to wait for each attempt, in ms (default 2000). */
  timeoutMs?: number;
  /** UDP sends per query before giving up (default 2); TCP gets the same number of tries. */
  attempts?: number;
}

export type QueryFailureKind = 'timeout' | 'refused' | 'network' | 'rcode' | 'malformed';

export interface QueryFailure {
  kind: QueryFailureKind;
  /** The server's RCODE when kind is `rcode` (SERVFAIL, REFUSED, ...). */
  rcode?: string;
  /** What happened, for a person: "timed out after 2 attempts of 2000 ms". */
  detail: string;
}

/** NOERROR and NXDOMAIN are answers (ok); every other outcome is a failure. */
export type QueryOutcome = { ok: true; response: DnsResponse; via: 'udp' | 'tcp' } | { ok: false; failure: QueryFailure };

export class DnsTransport {
  /** Queries sent so far (UDP datagrams, retries included, plus TCP queries). */
  queries = 0;
  readonly server: DnsServerAddress;
  private readonly timeoutMs: number;
  private readonly attempts: number;

  constructor(server: DnsServerAddress, options: TransportOptions = {}) {
    this.server = server;
    this.timeoutMs = options.timeoutMs ?? 2000;
    this.attempts = Math.max(1, options.attempts ?? 2);
  }

  get serverName(): string {
    return formatServer(this.server);
  }

  async query(question: Question): Promise<QueryOutcome> {
    let outcome = await this.overUdp(question, true);
    // RFC 6891 7: a server that does not understand EDNS answers FORMERR/NOTIMP; ask again without it.
    if (!outcome.ok && outcome.failure.kind === 'rcode' && (outcome.failure.rcode === 'FORMERR' || outcome.failure.rcode === 'NOTIMP')) {
      outcome = await this.overUdp(question, false);
    }
    if (outcome.ok && outcome.response.truncated) {
      log.debug({ question, server: this.serverName }, 'UDP answer truncated, retrying over TCP');
      const tcp = await this.overTcp(question);
      if (!tcp.ok) return { ok: false, failure: { ...tcp.failure, detail: `UDP answer was truncated and TCP failed: ${tcp.failure.detail}` } };
      return tcp;
    }
    return outcome;
  }

  private overUdp(question: Question, edns: boolean): Promise<QueryOutcome> {
    const id = randomInt(0, 0x10000);
    const packet = encodeQuery(question, id, { edns });
    return new Promise<QueryOutcome>((resolve) => {
      const socket = dgram.createSocket(this.server.family === 6 ? 'udp6' : 'udp4');
      let sent = 0;
      let timer: NodeJS.Timeout | undefined;
      let settled = false;
      let ignored: string | undefined;

      const finish = (outcome: QueryOutcome): void => {
        if (settled) return;
        settled = true;
        if (timer) clearTimeout(timer);
        socket.removeAllListeners('message');
        // close() throws if the socket never bound; an error here changes nothing for the caller.
        try {
          socket.close();
        } catch {
          /* already closed */
        }
        resolve(outcome);
      };

      const send = (): void => {
        if (settled) return;
        sent += 1;
        this.queries += 1;
        socket.send(packet, (err) => {
          if (err) finish(networkFailure(err, this.serverName));
        });
        timer = setTimeout(() => {
          if (sent < this.attempts) send();
          else {
            const extra = ignored ? ` (ignored a bad answer: ${ignored})` : '';
            finish({ ok: false, failure: { kind: 'timeout', detail: `no answer from ${this.serverName} after ${sent} attempts of ${this.timeoutMs} ms${extra}` } });
          }
        }, this.timeoutMs);
      };

      socket.on('error', (err) => finish(networkFailure(err, this.serverName)));
      socket.on('message', (msg) => {
        const decoded = decodeResponse(msg, question, id);
        if (!decoded.ok) {
          // Keep waiting: a stray or forged datagram must not end the query (RFC 5452).
          ignored = decoded.error;
          log.debug({ question, server: this.serverName, error: decoded.error }, 'ignored a UDP datagram');
          return;
        }
        finish(classify(decoded.response, 'udp'));
      });
      socket.connect(this.server.port, this.server.host, () => send());
    });
  }

  private async overTcp(question: Question): Promise<QueryOutcome> {
    let last: QueryOutcome | undefined;
    for (let attempt = 0; attempt < this.attempts; attempt++) {
      last = await this.tcpOnce(question);
      // Only a timeout or a broken connection is worth another try; an answer or a refusal is final.
      if (last.ok || (last.failure.kind !== 'timeout' && last.failure.kind !== 'network')) return last;
    }
    return last!;
  }

  private tcpOnce(question: Question): Promise<QueryOutcome> {
    const id = randomInt(0, 0x10000);
    const packet = encodeQuery(question, id);
    const framed = Buffer.alloc(packet.length + 2);
    framed.writeUInt16BE(packet.length, 0);
    packet.copy(framed, 2);
    this.queries += 1;
    return new Promise<QueryOutcome>((resolve) => {
      const chunks: Buffer[] = [];
      let received = 0;
      let settled = false;
      const socket = net.connect({ host: this.server.host, port: this.server.port });
      const finish = (outcome: QueryOutcome): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        resolve(outcome);
      };
      const timer = setTimeout(
        () => finish({ ok: false, failure: { kind: 'timeout', detail: `no TCP answer from ${this.serverName} within ${this.timeoutMs} ms` } }),
        this.timeoutMs,
      );
      socket.on('connect', () => socket.write(framed));
      socket.on('error', (err) => finish(networkFailure(err, this.serverName, 'TCP')));
      socket.on('close', () => finish({ ok: false, failure: { kind: 'network', detail: `${this.serverName} closed the TCP connection before answering` } }));
      socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        received += chunk.length;
        if (received < 2) return;
        const all = Buffer.concat(chunks);
        const length = all.readUInt16BE(0);
        if (all.length < length + 2) return;
        const decoded = decodeResponse(all.subarray(2, 2 + length), question, id);
        // Over TCP nobody else can inject into the stream, so a bad answer is the server's fault.
        if (!decoded.ok) finish({ ok: false, failure: { kind: 'malformed', detail: `${this.serverName} sent a bad TCP answer: ${decoded.error}` } });
        else finish(classify(decoded.response, 'tcp'));
      });
    });
  }
}

function classify(response: DnsResponse, via: 'udp' | 'tcp'): QueryOutcome {
  if (response.rcode === 'NOERROR' || response.rcode === 'NXDOMAIN') return { ok: true, response, via };
  return { ok: false, failure: { kind: 'rcode', rcode: response.rcode, detail: response.rcode } };
}

function networkFailure(err: Error, server: string, proto = 'UDP'): QueryOutcome {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ECONNREFUSED') {
    return { ok: false, failure: { kind: 'refused', detail: `connection refused by ${server} over ${proto} (is a DNS server listening there?)` } };
  }
  return { ok: false, failure: { kind: 'network', detail: `${proto} to ${server} failed: ${code ?? err.message}` } };
}
