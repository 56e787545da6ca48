/**
 * When the domain itself cannot be read, browse() throws DnsDiscoveryError with a reason and a
 * message naming the query and the server; an empty domain is not an error.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browse, DnsDiscoveryError } from '../../../src/discovery/dns/resolver.js';
import { startNamed, type NamedServer } from '../../support/bind9.js';

async function rejection(p: Promise<unknown>): Promise<DnsDiscoveryError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DnsDiscoveryError);
  return err as DnsDiscoveryError;
}

/** A port on 127.0.0.1 where nothing listens (UDP and TCP). */
async function deadPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe('DNS-SD browse failures (real named)', () => {
  let dns: NamedServer;
  beforeAll(async () => {
    dns = await startNamed({
      zones: [
        { origin: 'present.test', records: 'www.present.test. A 198.18.0.40' },
        // A delegation to servers that do not exist: named (not recursive) answers with a referral.
        { origin: 'parent.test', records: 'child.parent.test. NS ns1.unreachable.invalid.' },
        { origin: 'broken.test', records: '$ORIGIN broken.test.\n@ SOA garbage', loadable: false },
      ],
    });
  });
  afterAll(async () => {
    await dns?.stop();
  });

  it('returns zero instances for a name that does not exist (NXDOMAIN on both PTR queries)', async () => {
    const result = await browse('nothing-here.present.test', { server: dns.address });
    expect(result).toMatchObject({ instances: [], failures: [], skippedOwn: 0, queries: 2, domain: 'nothing-here.present.test.' });
  });

  it('returns zero instances for a domain without PTR records (NODATA)', async () => {
    const result = await browse('present.test', { server: dns.address });
    expect(result).toMatchObject({ instances: [], failures: [], queries: 2 });
  });

  it('throws ServerFailure naming the PTR query and server when the zone failed to load (SERVFAIL)', async () => {
    const err = await rejection(browse('broken.test', { server: dns.address }));
    expect(err.reason).toBe('ServerFailure');
    expect(err.message).toContain(`PTR broken.test. @${dns.address}: SERVFAIL`);
  });

  it('throws Refused for a domain the server does not serve and will not recurse for', async () => {
    const err = await rejection(browse('elsewhere.example', { server: dns.address }));
    expect(err.reason).toBe('Refused');
    expect(err.message).toContain(`PTR elsewhere.example. @${dns.address}: REFUSED`);
  });

  it('throws NotAuthoritative for a delegated domain instead of reading the referral as "no clusters"', async () => {
    const err = await rejection(browse('child.parent.test', { server: dns.address }));
    expect(err.reason).toBe('NotAuthoritative');
    expect(err.message).toMatch(/referral/);
  });

  it('throws ConnectionRefused at once when nothing listens on the server port', async () => {
    const port = await deadPort();
    const err = await rejection(browse('present.test', { server: `127.0.0.1:${port}`, timeoutMs: 5000 }));
    expect(err.reason).toBe('ConnectionRefused');
    expect(err.message).toContain(`@127.0.0.1:${port}`);
  });

  it('throws Timeout after the bounded retries when the server never answers', async () => {
    const silent = dgram.createSocket('udp4');
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', () => r()));
    const received: Buffer[] = [];
    silent.on('message', (m) => received.push(m));
    try {
      const err = await rejection(browse('present.test', { server: `127.0.0.1:${silent.address().port}`, timeoutMs: 150, attempts: 2 }));
      expect(err.reason).toBe('Timeout');
      expect(err.message).toMatch(/no answer from 127\.0\.0\.1:\d+ after 2 attempts of 150 ms/);
      // Two PTR queries, each sent twice: the retry bound holds.
      expect(received).toHaveLength(4);
    } finally {
      silent.close();
    }
  });

  it('rejects a malformed server string and a malformed domain before sending anything', async () => {
    expect((await rejection(browse('present.test', { server: '127.0.0.1:99999' }))).reason).toBe('InvalidServer');
    expect((await rejection(browse('bad..domain', { server: dns.address }))).reason).toBe('InvalidDomain');
    expect((await rejection(browse('spaces in.domain', { server: dns.address }))).reason).toBe('InvalidDomain');
  });
});
