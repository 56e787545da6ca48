import { describe, expect, it } from 'vitest';
import { DnsRecordsError, publishRecords, type PublishInput } from '../../../src/discovery/dns/records.js';

const ID = 'ff5aa14a-dd6e-4fd2-80fe-eaecb827cf55';
const base: PublishInput = { domain: 'example.com', instanceName: 'liqo-cluster', clusterID: ID, namespace: 'liqo', apiUrl: 'https://198.18.0.10:6443' };
const records = (text: string) => text.split('\n').filter((l) => l && !l.startsWith(';')).map((l) => l.split(/\s+/));

function fails(input: Partial<PublishInput>, reason: string): void {
  let err: unknown;
  try {
    publishRecords({ ...base, ...input });
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(DnsRecordsError);
  expect((err as DnsRecordsError).reason).toBe(reason);
}

describe('publishRecords', () => {
  it('publishes both PTR layouts, SRV, TXT, and an A record under a made-up name for an IP URL', () => {
    expect(records(publishRecords(base))).toEqual([
      ['example.com.', '300', 'IN', 'PTR', 'liqo-cluster._liqo._tcp.example.com.'],
      ['_liqo._tcp.example.com.', '300', 'IN', 'PTR', 'liqo-cluster._liqo._tcp.example.com.'],
      ['liqo-cluster._liqo._tcp.example.com.', '300', 'IN', 'SRV', '0', '0', '6443', 'liqo-cluster-api.example.com.'],
      ['liqo-cluster._liqo._tcp.example.com.', '300', 'IN', 'TXT', `"id=${ID}"`, '"namespace=liqo"'],
      ['liqo-cluster-api.example.com.', '300', 'IN', 'A', '198.18.0.10'],
    ]);
  });

  it('starts with comments saying where to paste the records', () => {
    const text = publishRecords(base);
    expect(text.split('\n')[0]).toMatch(/^; kubepeer: DNS records that make cluster .* discoverable in example\.com\./);
    expect(text).toContain('; Paste them into the zone file of example.com.');
  });

  it('uses AAAA for an IPv6 URL and 443 when the URL has no port', () => {
    const r = records(publishRecords({ ...base, apiUrl: 'https://[2001:2::10]' }));
    expect(r).toContainEqual(['liqo-cluster._liqo._tcp.example.com.', '300', 'IN', 'SRV', '0', '0', '443', 'liqo-cluster-api.example.com.']);
    expect(r).toContainEqual(['liqo-cluster-api.example.com.', '300', 'IN', 'AAAA', '2001:2::10']);
  });

  it('keeps a host name as SRV target, adding given addresses, and comments out addresses outside the domain', () => {
    const inZone = records(publishRecords({ ...base, apiUrl: 'https://API.example.com:6443', addresses: ['198.18.0.20', '2001:2::20'] }));
    expect(inZone).toContainEqual(['liqo-cluster._liqo._tcp.example.com.', '300', 'IN', 'SRV', '0', '0', '6443', 'api.example.com.']);
    expect(inZone).toContainEqual(['api.example.com.', '300', 'IN', 'A', '198.18.0.20']);
    expect(inZone).toContainEqual(['api.example.com.', '300', 'IN', 'AAAA', '2001:2::20']);
    const outside = publishRecords({ ...base, apiUrl: 'https://api.other.org:6443', addresses: ['198.18.0.20'] });
    expect(records(outside).some((r) => r[0] === 'api.other.org.')).toBe(false);
    expect(outside).toMatch(/^; api\.other\.org\. +300 IN A +198\.18\.0\.20$/m);
  });

  it('adds name and a lower-cased ca pin, escaping quotes, backslashes and non-ASCII bytes', () => {
    const text = publishRecords({ ...base, clusterName: 'Lab "A" \\ Zürich', caFingerprint: `SHA256:${'AB'.repeat(32)}`, ttl: 60 });
    expect(text).toContain(`"name=Lab \\"A\\" \\\\ Z\\195\\188rich" "ca=sha256:${'ab'.repeat(32)}"`);
    expect(text).toMatch(/^example\.com\. +60 IN PTR/m);
  });

  it('rejects input that would publish something peers cannot use', () => {
    fails({ domain: 'bad..com' }, 'InvalidDomain');
    fails({ instanceName: 'has.dot' }, 'InvalidInstanceName');
    fails({ instanceName: 'a'.repeat(60) }, 'InvalidInstanceName');
    fails({ clusterID: 'Not An ID' }, 'InvalidClusterID');
    fails({ namespace: 'Liqo' }, 'InvalidNamespace');
    fails({ clusterName: 'line\nbreak' }, 'InvalidClusterName');
    fails({ apiUrl: 'http://198.18.0.10:6443' }, 'InvalidApiUrl');
    fails({ apiUrl: 'https://198.18.0.10:6443/api' }, 'InvalidApiUrl');
    fails({ apiUrl: 'not a url' }, 'InvalidApiUrl');
    fails({ caFingerprint: 'sha256:abc' }, 'InvalidCAPin');
    fails({ addresses: ['198.18.0.300'] }, 'InvalidAddress');
    fails({ ttl: -1 }, 'InvalidTTL');
    fails({ clusterName: 'x'.repeat(252) }, 'TXTTooLarge');
  });
});
