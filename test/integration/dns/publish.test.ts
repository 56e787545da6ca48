/**
 * publishRecords output is what a person pastes into a zone: a real named loads it (after
 * named-checkzone) and browsing the domain gives back exactly the cluster that was published.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishRecords, type PublishInput } from '../../../src/discovery/dns/records.js';
import { browse } from '../../../src/discovery/dns/resolver.js';
import { startNamed, type NamedServer } from '../../support/bind9.js';

const pin = `sha256:${'0123456789abcdef'.repeat(4)}`;
const published: Record<string, PublishInput> = {
  ipv4: { domain: 'pub.test', instanceName: 'edge-v4', clusterID: 'aaaaaaaa-0000-4000-8000-000000000001', namespace: 'liqo', apiUrl: 'https://198.18.0.60:6443' },
  ipv6: {
    domain: 'pub.test',
    instanceName: 'edge-v6',
    clusterID: 'aaaaaaaa-0000-4000-8000-000000000002',
    namespace: 'kubepeer',
    clusterName: 'Edge "six" – Zürich \\ lab',
    apiUrl: 'https://[2001:2::60]:443',
    caFingerprint: pin.toUpperCase().replace('SHA256', 'sha256'),
  },
  named: {
    domain: 'pub.test.',
    instanceName: 'Core',
    clusterID: 'core-cluster',
    namespace: 'liqo',
    apiUrl: 'https://k8s.pub.test:16443',
    addresses: ['198.18.0.61', '2001:2::61'],
  },
};

describe('publishRecords loaded into a real named', () => {
  let dns: NamedServer;
  beforeAll(async () => {
    const records = Object.values(published).map(publishRecords).join('\n');
    dns = await startNamed({ zones: [{ origin: 'pub.test', records }] });
  });
  afterAll(async () => {
    await dns?.stop();
  });

  it('browses back every published cluster with its ID, namespace, name, pin, URL and addresses', async () => {
    const result = await browse('pub.test', { server: dns.address });
    expect(result.failures).toEqual([]);
    const byID = new Map(result.instances.map((c) => [c.clusterID, c]));
    expect(byID.get(published.ipv4!.clusterID)).toMatchObject({
      instance: 'edge-v4._liqo._tcp.pub.test.',
      namespace: 'liqo',
      apiUrl: 'https://edge-v4-api.pub.test:6443',
      addresses: ['198.18.0.60'],
    });
    expect(byID.get(published.ipv6!.clusterID)).toMatchObject({
      namespace: 'kubepeer',
      clusterName: 'Edge "six" – Zürich \\ lab',
      caFingerprint: pin,
      apiUrl: 'https://edge-v6-api.pub.test:443',
      addresses: ['2001:2::60'],
    });
    const core = byID.get('core-cluster')!;
    expect(core).toMatchObject({ instance: 'Core._liqo._tcp.pub.test.', apiUrl: 'https://k8s.pub.test:16443' });
    expect(core.addresses.sort()).toEqual(['198.18.0.61', '2001:2::61']);
  });

  it('lists every cluster in both browse layouts', async () => {
    // Two PTR queries, then SRV and TXT per cluster; the SRV answers carry the addresses.
    const result = await browse('pub.test', { server: dns.address });
    expect(result.instances).toHaveLength(3);
    expect(result.queries).toBe(2 + 3 * 2);
  });
});
