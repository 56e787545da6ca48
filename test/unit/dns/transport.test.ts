/**
 * The transport against hostile local servers (plain sockets on 127.0.0.1 that answer with forged,
 * mutated or truncated packets): every query ends in an outcome, forged answers are ignored, TC
 * leads to TCP, and no promise rejection escapes.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { DnsTransport } from '../../../src/discovery/dns/transport.js';

type Reply = (query: dnsPacket.DecodedPacket, raw: Buffer) => Buffer[];

const closers: (() => void)[] = [];
afterEach(() => {
  while (closers.length) closers.pop()!();
});

function answerTo(query: dnsPacket.DecodedPacket, flags = dnsPacket.AUTHORITATIVE_ANSWER, count = 1): Buffer {
  const q = query.questions![0]!;
  return dnsPacket.encode({
    type: 'response',
    id: query.id,
    flags,
    questions: [q],
    answers: Array.from({ length: count }, (_, i) => ({ type: 'A' as const, name: q.name, ttl: 60, data: `198.18.0.${(i % 250) + 1}` })),
  });
}

/**
 * A UDP responder and a TCP listener on one port of 127.0.0.1. TCP is bound first on a free port and
 * UDP then takes the same number; when UDP finds it taken, both are retried on a new port.
 */
async function hostileServer(reply: Reply, onTcp: (socket: net.Socket) => void = (s) => s.destroy()): Promise<{ port: number; received: number }> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const tcp = net.createServer(onTcp);
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', () => r()));
    const port = (tcp.address() as net.AddressInfo).port;
    const udp = dgram.createSocket('udp4');
    const bound = await new Promise<boolean>((resolve) => {
      udp.once('error', () => resolve(false));
      udp.bind(port, '127.0.0.1', () => resolve(true));
    });
    if (!bound) {
      tcp.close();
      udp.close();
      continue;
    }
    const state = { port, received: 0 };
    udp.on('message', (msg, rinfo) => {
      state.received += 1;
      let query: dnsPacket.DecodedPacket;
      try {
        query = dnsPacket.decode(msg);
      } catch {
        return;
      }
      for (const out of reply(query, msg)) udp.send(out, rinfo.port, rinfo.address);
    });
    closers.push(() => {
      udp.close();
      tcp.close();
    });
    return state;
  }
  throw new Error('no port free for both UDP and TCP on 127.0.0.1');
}

const Q = { name: 'api.example.test.', type: 'A' as const };
const transportTo = (port: number, timeoutMs = 300, attempts = 2) => new DnsTransport({ host: '127.0.0.1', port, family: 4 }, { timeoutMs, attempts });

describe('DnsTransport against hostile servers', () => {
  it('ignores forged answers (wrong ID, wrong question, garbage) sent before the real one', async () => {
    const server = await hostileServer((query) => {
      const forgedID = dnsPacket.decode(answerTo(query));
      const wrongID = answerTo({ ...forgedID, id: (query.id! + 1) & 0xffff } as dnsPacket.DecodedPacket);
      const wrongQuestion = dnsPacket.encode({ type: 'response', id: query.id, questions: [{ type: 'A', name: 'bank.test' }], answers: [{ type: 'A', name: 'bank.test', ttl: 1, data: '198.18.9.9' }] });
      return [wrongID, wrongQuestion, Buffer.from('garbage'), answerTo(query)];
    });
    const t = transportTo(server.port);
    const outcome = await t.query(Q);
    expect(outcome).toMatchObject({ ok: true, via: 'udp', response: { answers: [{ type: 'A', address: '198.18.0.1' }] } });
    expect(t.queries).toBe(1);
  });

  it('times out after the bounded attempts when only garbage comes back, and says what was ignored', async () => {
    const server = await hostileServer((query, raw) => [raw, Buffer.from([0, 1, 2]), answerTo({ ...query, id: (query.id! + 7) & 0xffff } as dnsPacket.DecodedPacket)]);
    const t = transportTo(server.port, 100, 3);
    const outcome = await t.query(Q);
    expect(outcome).toMatchObject({ ok: false, failure: { kind: 'timeout' } });
    expect(!outcome.ok && outcome.failure.detail).toMatch(/after 3 attempts of 100 ms \(ignored a bad answer/);
    expect(server.received).toBe(3);
    expect(t.queries).toBe(3);
  });

  it('retries over TCP when the UDP answer is truncated, reading a length prefix split across segments', async () => {
    const server = await hostileServer((query) => [answerTo(query, dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.TRUNCATED_RESPONSE, 0)], (socket) => {
      let buffered = Buffer.alloc(0);
      socket.on('data', (chunk) => {
        buffered = Buffer.concat([buffered, chunk]);
        if (buffered.length < 2 || buffered.length < buffered.readUInt16BE(0) + 2) return;
        const answer = answerTo(dnsPacket.decode(buffered.subarray(2)), dnsPacket.AUTHORITATIVE_ANSWER, 200);
        const framed = Buffer.concat([Buffer.from([answer.length >> 8, answer.length & 0xff]), answer]);
        // Byte by byte for the prefix, then the rest in two pieces.
        socket.write(framed.subarray(0, 1));
        setImmediate(() => {
          socket.write(framed.subarray(1, 2));
          socket.write(framed.subarray(2, 300));
          socket.end(framed.subarray(300));
        });
      });
    });
    const t = transportTo(server.port);
    const outcome = await t.query(Q);
    expect(outcome.ok && outcome.via).toBe('tcp');
    expect(outcome.ok && outcome.response.answers).toHaveLength(200);
    expect(t.queries).toBe(2);
  });

  it('fails cleanly when the TCP side closes without answering', async () => {
    const server = await hostileServer((query) => [answerTo(query, dnsPacket.TRUNCATED_RESPONSE, 0)]);
    const outcome = await transportTo(server.port, 300, 1).query(Q);
    expect(outcome).toMatchObject({ ok: false });
    expect(!outcome.ok && outcome.failure.detail).toMatch(/^UDP answer was truncated and TCP failed/);
  });

  it('asks again without EDNS when the server answers FORMERR', async () => {
    const server = await hostileServer((query) => [answerTo(query, (query.additionals ?? []).some((a) => a.type === 'OPT') ? 1 : dnsPacket.AUTHORITATIVE_ANSWER)]);
    const t = transportTo(server.port);
    expect(await t.query(Q)).toMatchObject({ ok: true });
    expect(t.queries).toBe(2);
  });

  it('turns 2000 random and mutated replies into outcomes without an unhandled rejection', async () => {
    let seed = 7;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const server = await hostileServer((query) => {
      const good = answerTo(query, dnsPacket.AUTHORITATIVE_ANSWER | (rand(4) === 0 ? dnsPacket.TRUNCATED_RESPONSE : 0), 1 + rand(5));
      const bad = Buffer.from(good);
      for (let k = 0; k < 1 + rand(6); k++) bad[2 + rand(bad.length - 2)] = rand(256);
      return rand(3) === 0 ? [bad.subarray(0, rand(bad.length))] : [bad];
    }, (socket) => socket.end(Buffer.from([0, 40, 1, 2, 3])));
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const t = transportTo(server.port, 50, 1);
      const outcomes = [];
      for (let batch = 0; batch < 20; batch++) {
        outcomes.push(...(await Promise.all(Array.from({ length: 100 }, () => t.query(Q)))));
      }
      expect(outcomes).toHaveLength(2000);
      for (const o of outcomes) expect(typeof o.ok).toBe('boolean');
      await new Promise((r) => setImmediate(r));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
