import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DnsDiscoveryError } from '../../../src/discovery/dns/errors.js';
import { firstNameserver, formatServer, parseDnsServer, resolveDnsServer } from '../../../src/discovery/dns/server.js';
import { scratchDir } from '../../support/scratch.js';

describe('parseDnsServer', () => {
  it.each([
    ['8.8.8.8:53', '8.8.8.8', 53],
    ['127.0.0.1:5353', '127.0.0.1', 5353],
    ['8.8.8.8', '8.8.8.8', 53],
    [' 9.9.9.9 ', '9.9.9.9', 53],
    ['[2001:2::1]:5300', '2001:2::1', 5300],
    ['[2001:2::1]', '2001:2::1', 53],
    ['2001:2::1', '2001:2::1', 53],
    ['::1', '::1', 53],
    ['dns.example.com:53', 'dns.example.com', 53],
    ['resolver', 'resolver', 53],
  ])('reads %j as host %s port %d', (spec, host, port) => {
    expect(parseDnsServer(spec)).toEqual({ kind: 'explicit', host, port });
  });

  it('reads the empty string as the system resolver', () => {
    expect(parseDnsServer('')).toEqual({ kind: 'system' });
    expect(parseDnsServer('   ')).toEqual({ kind: 'system' });
  });

  it.each([
    ['8.8.8.8:', /port "" is not a number/],
    ['8.8.8.8:0', /outside 1-65535/],
    ['8.8.8.8:65536', /outside 1-65535/],
    ['8.8.8.8:53x', /not a number/],
    [':53', /host is missing/],
    ['[2001:2::1', /bracketed IPv6/],
    ['[8.8.8.8]:53', /not an IPv6 address/],
    ['2001:2::1:53:xyz', /needs brackets/],
    ['udp://8.8.8.8:53', /needs brackets|not valid/],
    ['999.1.1.1', /neither an IP address nor a host name/],
    ['bad_host!:53', /neither an IP address nor a host name/],
  ])('rejects %j with a reason', (spec, why) => {
    let err: unknown;
    try {
      parseDnsServer(spec);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DnsDiscoveryError);
    expect((err as DnsDiscoveryError).reason).toBe('InvalidServer');
    expect((err as Error).message).toMatch(why);
    expect((err as Error).message).toContain(`"${spec}"`);
  });
});

describe('system resolver', () => {
  it('takes the first nameserver line of resolv.conf, skipping comments and options', () => {
    expect(firstNameserver('# generated\noptions ndots:5\nsearch a.b\nnameserver 10.0.0.2\nnameserver 10.0.0.3\n')).toBe('10.0.0.2');
    expect(firstNameserver('search only\n')).toBeUndefined();
  });

  it('resolves "" to the first nameserver of the given resolv.conf, IPv4 and IPv6', async () => {
    const dir = scratchDir('resolv-');
    writeFileSync(join(dir, 'v4'), 'nameserver 198.18.0.53\n');
    writeFileSync(join(dir, 'v6'), 'nameserver 2001:2::53\n');
    await expect(resolveDnsServer('', { resolvConfPath: join(dir, 'v4') })).resolves.toEqual({ host: '198.18.0.53', port: 53, family: 4 });
    await expect(resolveDnsServer('', { resolvConfPath: join(dir, 'v6') })).resolves.toEqual({ host: '2001:2::53', port: 53, family: 6 });
  });

  it('resolves a host name with the system resolver', async () => {
    await expect(resolveDnsServer('localhost:5300')).resolves.toMatchObject({ port: 5300 });
  });

  it('formats servers with brackets for IPv6', () => {
    expect(formatServer({ host: '127.0.0.1', port: 53 })).toBe('127.0.0.1:53');
    expect(formatServer({ host: '2001:2::1', port: 53 })).toBe('[2001:2::1]:53');
  });
});
