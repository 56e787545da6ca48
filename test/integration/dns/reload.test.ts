/**
 * Nothing is cached between browses: after the zone changes (new SOA serial, named reloaded), the
 * next browse sees the new records.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browse } from '../../../src/discovery/dns/resolver.js';
import { startNamed, type NamedServer } from '../../support/bind9.js';

const ID_A = '11111111-1111-4111-8111-111111111111';
const ID_B = '22222222-2222-4222-8222-222222222222';

const before = `
_liqo._tcp.change.test.       PTR  one._liqo._tcp.change.test.
one._liqo._tcp.change.test.   SRV  0 0 6443 api-one.change.test.
one._liqo._tcp.change.test.   TXT  "id=${ID_A}"
api-one.change.test.          A    198.18.0.50
`;
const after = `
_liqo._tcp.change.test.       PTR  one._liqo._tcp.change.test.
_liqo._tcp.change.test.       PTR  two._liqo._tcp.change.test.
one._liqo._tcp.change.test.   SRV  0 0 7443 api-one.change.test.
one._liqo._tcp.change.test.   TXT  "id=${ID_A}" "namespace=moved"
api-one.change.test.          A    198.18.0.51
two._liqo._tcp.change.test.   SRV  0 0 6443 api-two.change.test.
two._liqo._tcp.change.test.   TXT  "id=${ID_B}"
api-two.change.test.          AAAA 2001:2::51
`;

describe('DNS-SD browse after a zone reload (real named)', () => {
  let dns: NamedServer;
  beforeAll(async () => {
    dns = await startNamed({ zones: [{ origin: 'change.test', records: before }] });
  });
  afterAll(async () => {
    await dns?.stop();
  });

  it('sees the changed port, namespace and address and the added instance on the next browse', async () => {
    const first = await browse('change.test', { server: dns.address });
    expect(first.instances.map((c) => [c.clusterID, c.apiUrl, c.namespace, c.addresses])).toEqual([[ID_A, 'https://api-one.change.test:6443', 'liqo', ['198.18.0.50']]]);

    await dns.reload([{ origin: 'change.test', records: after }]);

    const second = await browse('change.test', { server: dns.address });
    expect(second.failures).toEqual([]);
    expect(second.instances.map((c) => [c.clusterID, c.apiUrl, c.namespace, c.addresses])).toEqual([
      [ID_A, 'https://api-one.change.test:7443', 'moved', ['198.18.0.51']],
      [ID_B, 'https://api-two.change.test:6443', 'liqo', ['2001:2::51']],
    ]);
  });

  it('sees an instance disappear after the next reload', async () => {
    await dns.reload([{ origin: 'change.test', records: before.replace(/^_liqo.*$/m, '') }]);
    const result = await browse('change.test', { server: dns.address });
    expect(result.instances).toEqual([]);
    expect(result.failures).toEqual([]);
  });
});
