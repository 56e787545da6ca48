/**
 * The two DNS examples of the seed documents, served by a real named and browsed by the library.
 * Placeholders are filled in (cluster IDs, 198.18.0.0/15 addresses); the only other change is the
 * one bind9 needs to load them at all: a record continued on the next line must be wrapped in
 * parentheses (the first test shows named refusing the text as printed).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browse } from '../../../src/discovery/dns/resolver.js';
import { startNamed, type NamedServer } from '../../support/bind9.js';

const ID1 = 'ff5aa14a-dd6e-4fd2-80fe-eaecb827cf55';
const ID2 = '9a596a4b-591c-4ac6-8fd6-80258b4b3bf9';
const ID3 = '3f2b8c9d-1e4a-4b6c-8d7e-9f0a1b2c3d4e';

// "Register the home cluster" (Peer to a foreign cluster), with ${YOUR_CLUSTER_ID} and 1.2.3.4 filled in.
const seed1AsPrinted = `
example.com.                           PTR     liqo-cluster._liqo._tcp.example.com.

liqo-cluster._liqo._tcp.example.com.   SRV     0 0 6443 liqo-cluster-api.server.example.com.

liqo-cluster._liqo._tcp.example.com.   TXT     "id=${ID1}"
                                               "namespace=liqo"

liqo-cluster-api-server.example.com.   A       198.18.0.10
`;
const seed1 = `
example.com.                           PTR     liqo-cluster._liqo._tcp.example.com.

liqo-cluster._liqo._tcp.example.com.   SRV     0 0 6443 liqo-cluster-api.server.example.com.

liqo-cluster._liqo._tcp.example.com.   TXT     ( "id=${ID1}"
                                               "namespace=liqo" )

liqo-cluster-api-server.example.com.   A       198.18.0.10
`;

// "DNS Discovery" (Discovery), liqo1 with the A option and liqo2 with the CNAME option.
const seed2 = `
mydomain.com.                    PTR     liqo1._liqo._tcp.mydomain.com.
mydomain.com.                    PTR     liqo2._liqo._tcp.mydomain.com.



liqo1._liqo._tcp.mydomain.com.   SRV     0 0 6443 apiserver1.mydomain.com.

liqo1._liqo._tcp.mydomain.com.   TXT     ( "id=${ID2}"
                                         "namespace=liqo" )

apiserver1.mydomain.com.         A       198.18.0.11


liqo2._liqo._tcp.mydomain.com.   SRV     0 0 6443 apiserver2.mydomain.com.

liqo2._liqo._tcp.mydomain.com.   TXT     ( "id=${ID3}"
                                         "namespace=liqo-system" )

apiserver2.mydomain.com.         CNAME   node7.mydomain.com.
node7.mydomain.com.              A       198.18.0.12
`;

// What a person who "fixes" the seed by repeating the owner name gets: two TXT records.
const seed1TwoTxtRecords = `
example.net.                          PTR  liqo-cluster._liqo._tcp.example.net.
liqo-cluster._liqo._tcp.example.net.  SRV  0 0 6443 liqo-cluster-api-server.example.net.
liqo-cluster._liqo._tcp.example.net.  TXT  "id=${ID1}"
liqo-cluster._liqo._tcp.example.net.  TXT  "namespace=liqo"
liqo-cluster-api-server.example.net.  A    198.18.0.10
`;

describe('DNS discovery of the seed examples (real named)', () => {
  let dns: NamedServer;
  beforeAll(async () => {
    dns = await startNamed({
      zones: [
        { origin: 'example.com', records: seed1 },
        { origin: 'mydomain.com', records: seed2 },
        { origin: 'example.net', records: seed1TwoTxtRecords },
      ],
    });
  });
  afterAll(async () => {
    await dns?.stop();
  });

  it('the harness refuses the first seed as printed, naming the line bind9 cannot parse', async () => {
    await expect(startNamed({ zones: [{ origin: 'example.com', records: seed1AsPrinted }] })).rejects.toThrow(/named-checkzone rejected zone example\.com\.[\s\S]*:1[0-9]:/);
  });

  it('reports the first seed instance as TargetHasNoAddress, because its SRV target differs from the A record name', async () => {
    const result = await browse('example.com', { server: dns.address });
    expect(result.instances).toEqual([]);
    expect(result.failures).toHaveLength(1);
    const failure = result.failures[0]!;
    expect(failure.instance).toBe('liqo-cluster._liqo._tcp.example.com.');
    expect(failure.reason).toBe('TargetHasNoAddress');
    expect(failure.message).toContain('A liqo-cluster-api.server.example.com.: NXDOMAIN');
    expect(failure.message).toContain('AAAA liqo-cluster-api.server.example.com.: NXDOMAIN');
    expect(failure.message).toContain('the SRV of liqo-cluster._liqo._tcp.example.com. points to a name with no address');
  });

  it('discovers both clusters of the second seed, one through an A record and one through a CNAME', async () => {
    const result = await browse('mydomain.com', { server: dns.address });
    expect(result.failures).toEqual([]);
    expect(result.instances.map((c) => ({ instance: c.instance, clusterID: c.clusterID, namespace: c.namespace, apiUrl: c.apiUrl, addresses: c.addresses }))).toEqual([
      { instance: 'liqo1._liqo._tcp.mydomain.com.', clusterID: ID2, namespace: 'liqo', apiUrl: 'https://apiserver1.mydomain.com:6443', addresses: ['198.18.0.11'] },
      { instance: 'liqo2._liqo._tcp.mydomain.com.', clusterID: ID3, namespace: 'liqo-system', apiUrl: 'https://apiserver2.mydomain.com:6443', addresses: ['198.18.0.12'] },
    ]);
    expect(result.instances[0]!.ttl).toBe(300);
  });

  it('skips the instance that carries our own cluster ID, as the seed says ("if local cluster has different clusterID")', async () => {
    const result = await browse('mydomain.com', { server: dns.address, ownClusterID: ID2.toUpperCase() });
    expect(result.instances.map((c) => c.clusterID)).toEqual([ID3]);
    expect(result.skippedOwn).toBe(1);
    expect(result.failures).toEqual([]);
  });

  it('reads a TXT split over two records as one', async () => {
    const result = await browse('example.net.', { server: dns.address });
    expect(result.failures).toEqual([]);
    expect(result.instances).toMatchObject([{ clusterID: ID1, namespace: 'liqo', apiUrl: 'https://liqo-cluster-api-server.example.net:6443' }]);
  });

  it('needs at most 4 queries per cluster for the second seed, plus the two PTR queries of the domain', async () => {
    const result = await browse('mydomain.com', { server: dns.address });
    // liqo1: SRV + TXT (bind adds the A of apiserver1 to the SRV answer); liqo2: SRV + TXT + A + AAAA (CNAME target).
    expect(result.queries).toBe(2 + 2 + 4);
  });
});
