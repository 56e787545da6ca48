/**
 * One domain per behaviour, all on one real named: layouts, SRV selection, CNAMEs, IPv6, and the
 * ways an instance can be broken. Every broken instance sits next to a healthy one in the same
 * domain (cases.test), which shows that a failure stays with its own instance.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browse, type BrowseResult } from '../../../src/discovery/dns/resolver.js';
import { startNamed, type NamedServer } from '../../support/bind9.js';

const id = (n: number): string => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const OWN = id(99);

/** PTR (both layouts), SRV and TXT of one instance in cases.test. */
function instance(label: string, srv: string | string[], txt: string | undefined): string {
  const name = `${label}._liqo._tcp.cases.test.`;
  const lines = [`cases.test. PTR ${name}`];
  for (const s of Array.isArray(srv) ? srv : [srv]) lines.push(`${name} SRV ${s}`);
  if (txt !== undefined) lines.push(`${name} TXT ${txt}`);
  return lines.join('\n');
}

const oversized = Array.from({ length: 6 }, (_, i) => `"x${i}=${'a'.repeat(240)}"`).join(' ');

const casesZone = [
  instance('healthy', '0 0 6443 api-healthy.cases.test.', `"id=${id(1)}" "name=Healthy One" "ca=sha256:${'AB'.repeat(32)}"`),
  'api-healthy.cases.test. A 198.18.0.20',
  // RFC 2782: priority 10 wins over 20; within 10 the weights are 1 and 3.
  instance('weighted', ['10 1 6443 w1.cases.test.', '10 3 7443 w3.cases.test.', '20 0 8443 backup.cases.test.'], `"id=${id(2)}"`),
  'w1.cases.test. A 198.18.0.21',
  'w3.cases.test. A 198.18.0.23',
  'backup.cases.test. A 198.18.0.24',
  // The preferred target has no address: fall back to the next priority.
  instance('fallback', ['0 0 6443 nowhere.cases.test.', '5 0 6443 backup.cases.test.'], `"id=${id(3)}"`),
  // CNAME chain of three, ending in an AAAA-only host.
  instance('chained', '0 0 6443 hop1.cases.test.', `"id=${id(4)}"`),
  'hop1.cases.test. CNAME hop2.cases.test.',
  'hop2.cases.test. CNAME hop3.cases.test.',
  'hop3.cases.test. CNAME v6host.cases.test.',
  'v6host.cases.test. AAAA 2001:2::10',
  instance('dualstack', '0 0 6443 dual.cases.test.', `"id=${id(5)}"`),
  'dual.cases.test. A 198.18.0.25',
  'dual.cases.test. AAAA 2001:2::25',
  instance('looping', '0 0 6443 loop-a.cases.test.', `"id=${id(6)}"`),
  'loop-a.cases.test. CNAME loop-b.cases.test.',
  'loop-b.cases.test. CNAME loop-a.cases.test.',
  instance('longchain', '0 0 6443 c0.cases.test.', `"id=${id(7)}"`),
  ...Array.from({ length: 10 }, (_, i) => `c${i}.cases.test. CNAME c${i + 1}.cases.test.`),
  'c10.cases.test. A 198.18.0.26',
  instance('withdrawn', '0 0 0 .', `"id=${id(8)}"`),
  instance('noid', '0 0 6443 api-healthy.cases.test.', '"namespace=liqo"'),
  instance('badid', '0 0 6443 api-healthy.cases.test.', '"id=Not_A_Valid_ID"'),
  instance('ours', '0 0 6443 api-healthy.cases.test.', `"id=${OWN}"`),
  instance('badpin', '0 0 6443 api-healthy.cases.test.', `"id=${id(9)}" "ca=sha256:1234"`),
  instance('badkey', '0 0 6443 api-healthy.cases.test.', `"id=${id(10)}" "bad\\009key=1"`),
  instance('oversized', '0 0 6443 api-healthy.cases.test.', `"id=${id(11)}" ${oversized}`),
  instance('conflict', '0 0 6443 api-healthy.cases.test.', `"id=${id(12)}"`),
  `conflict._liqo._tcp.cases.test. TXT "id=${id(13)}"`,
  instance('notxt', '0 0 6443 api-healthy.cases.test.', undefined),
  'cases.test. PTR nosrv._liqo._tcp.cases.test.',
  `nosrv._liqo._tcp.cases.test. TXT "id=${id(14)}"`,
  // Same ID at two API servers: neither is used. Same ID at the same API server: one cluster.
  instance('twin-a', '0 0 6443 twin-a.cases.test.', `"id=${id(15)}"`),
  'twin-a.cases.test. A 198.18.0.27',
  instance('twin-b', '0 0 6443 twin-b.cases.test.', `"id=${id(15)}"`),
  'twin-b.cases.test. A 198.18.0.28',
  instance('alias-1', '0 0 6443 api-healthy.cases.test.', `"id=${id(16)}"`),
  instance('alias-2', '0 0 6443 api-healthy.cases.test.', `"id=${id(16)}"`),
  // Flags, case-insensitive keys, first occurrence wins, unknown keys ignored.
  instance('flags', '0 0 6443 api-healthy.cases.test.', `"txtvers=1" "ID=${id(17)}" "id=${id(18)}" "untrusted-ca=true" "NameSpace=team-a" "debug"`),
  // An instance whose records live in a zone that failed to load.
  'cases.test. PTR elsewhere._liqo._tcp.broken.test.',
].join('\n');

const rfcZone = `
_liqo._tcp.rfc.test.            PTR  east._liqo._tcp.rfc.test.
east._liqo._tcp.rfc.test.       SRV  0 0 6443 east-api.rfc.test.
east._liqo._tcp.rfc.test.       TXT  "id=${id(20)}"
east-api.rfc.test.              A    198.18.0.30
`;

// Both layouts list the same instance (with different case): one cluster, not two.
const bothZone = `
both.test.                      PTR  Alpha._liqo._tcp.both.test.
_liqo._tcp.both.test.           PTR  alpha._liqo._tcp.both.test.
_liqo._tcp.both.test.           PTR  beta._liqo._tcp.both.test.
alpha._liqo._tcp.both.test.     SRV  0 0 6443 api.both.test.
alpha._liqo._tcp.both.test.     TXT  "id=${id(21)}"
beta._liqo._tcp.both.test.      SRV  0 0 6443 api.both.test.
beta._liqo._tcp.both.test.      TXT  "id=${id(22)}"
api.both.test.                  A    198.18.0.31
`;

describe('DNS-SD browse against a real named', () => {
  let dns: NamedServer;
  let cases: BrowseResult;
  const failureOf = (label: string) => cases.failures.find((f) => f.instance === `${label}._liqo._tcp.cases.test.` || f.instance === `${label}.`);
  const clusterOf = (label: string) => cases.instances.find((c) => c.instance === `${label}._liqo._tcp.cases.test.`);

  beforeAll(async () => {
    dns = await startNamed({
      zones: [
        { origin: 'cases.test', records: casesZone },
        { origin: 'rfc.test', records: rfcZone },
        { origin: 'both.test', records: bothZone },
        { origin: 'broken.test', records: 'this is not a zone file', loadable: false },
      ],
    });
    // rng 0 picks the first weight-ordered record at every draw: deterministic SRV choices.
    cases = await browse('cases.test', { server: dns.address, ownClusterID: OWN, rng: () => 0 });
  });
  afterAll(async () => {
    await dns?.stop();
  });

  it('returns the healthy instance with its TXT name and normalised CA pin', () => {
    expect(clusterOf('healthy')).toEqual({
      instance: 'healthy._liqo._tcp.cases.test.',
      clusterID: id(1),
      namespace: 'liqo',
      clusterName: 'Healthy One',
      caFingerprint: `sha256:${'ab'.repeat(32)}`,
      apiUrl: 'https://api-healthy.cases.test:6443',
      target: 'api-healthy.cases.test.',
      port: 6443,
      addresses: ['198.18.0.20'],
      ttl: 300,
      endpoints: [{ target: 'api-healthy.cases.test.', port: 6443, priority: 0, weight: 0 }],
    });
  });

  it('chooses among SRV records by lowest priority, then by weight with the injected RNG', async () => {
    expect(clusterOf('weighted')).toMatchObject({ target: 'w1.cases.test.', port: 6443 });
    expect(clusterOf('weighted')!.endpoints.map((e) => e.target)).toEqual(['w1.cases.test.', 'w3.cases.test.', 'backup.cases.test.']);
    // A draw near 1 lands on the heavier record; the priority-20 backup is never chosen first.
    const heavy = await browse('cases.test', { server: dns.address, rng: () => 0.99 });
    expect(heavy.instances.find((c) => c.instance.startsWith('weighted.'))).toMatchObject({ target: 'w3.cases.test.', port: 7443, apiUrl: 'https://w3.cases.test:7443' });
  });

  it('falls back to the next SRV priority when the preferred target has no address', () => {
    expect(clusterOf('fallback')).toMatchObject({ target: 'backup.cases.test.', addresses: ['198.18.0.24'] });
  });

  it('follows a CNAME chain to an IPv6-only target and keeps the SRV name in apiUrl', () => {
    expect(clusterOf('chained')).toMatchObject({ apiUrl: 'https://hop1.cases.test:6443', addresses: ['2001:2::10'] });
  });

  it('returns both address families of a dual-stack target', () => {
    expect(clusterOf('dualstack')!.addresses.sort()).toEqual(['198.18.0.25', '2001:2::25']);
  });

  it('reports a CNAME loop and a chain longer than 8 as failures of their instances only', () => {
    expect(failureOf('looping')).toMatchObject({ reason: 'CNAMELoop' });
    expect(failureOf('looping')!.message).toMatch(/^A loop-a\.cases\.test\. \(CNAME -> loop-b\.cases\.test\. -> loop-a\.cases\.test\.\): CNAME loop/);
    expect(failureOf('longchain')).toMatchObject({ reason: 'CNAMEChainTooLong' });
  });

  it('treats SRV target "." as service decidedly not available', () => {
    expect(failureOf('withdrawn')).toMatchObject({ reason: 'ServiceNotAvailable' });
    expect(failureOf('withdrawn')!.message).toContain('SRV withdrawn._liqo._tcp.cases.test.');
  });

  it('reports a TXT without id, with a bad id, with a bad CA pin, with a bad key and oversized', () => {
    expect(failureOf('noid')).toMatchObject({ reason: 'MissingClusterID' });
    expect(failureOf('badid')).toMatchObject({ reason: 'InvalidClusterID' });
    expect(failureOf('badpin')).toMatchObject({ reason: 'InvalidCAPin' });
    expect(failureOf('badpin')!.message).toContain('TXT badpin._liqo._tcp.cases.test.: ca "sha256:1234" is not sha256:<64 hex digits>');
    expect(failureOf('badkey')).toMatchObject({ reason: 'InvalidTXT' });
    expect(failureOf('oversized')).toMatchObject({ reason: 'InvalidTXT' });
    expect(failureOf('oversized')!.message).toMatch(/more than 1300/);
    expect(failureOf('conflict')).toMatchObject({ reason: 'InvalidTXT' });
  });

  it('reports an instance listed without TXT or without SRV', () => {
    expect(failureOf('notxt')).toMatchObject({ reason: 'MissingTXT' });
    expect(failureOf('notxt')!.message).toMatch(/^TXT notxt\._liqo\._tcp\.cases\.test\.: NODATA/);
    expect(failureOf('nosrv')).toMatchObject({ reason: 'MissingSRV' });
    expect(failureOf('nosrv')!.message).toMatch(/^SRV nosrv\._liqo\._tcp\.cases\.test\.: NXDOMAIN|^SRV nosrv\._liqo\._tcp\.cases\.test\.: NODATA/);
  });

  it('skips our own cluster ID without calling it a failure', () => {
    expect(cases.skippedOwn).toBe(1);
    expect(clusterOf('ours')).toBeUndefined();
    expect(failureOf('ours')).toBeUndefined();
  });

  it('flags two instances claiming one cluster ID at different API servers, and returns neither', () => {
    expect(failureOf('twin-a')).toMatchObject({ reason: 'DuplicateClusterID' });
    expect(failureOf('twin-b')).toMatchObject({ reason: 'DuplicateClusterID' });
    expect(failureOf('twin-a')!.message).toContain('twin-b._liqo._tcp.cases.test. (https://twin-b.cases.test:6443)');
    expect(cases.instances.filter((c) => c.clusterID === id(15))).toEqual([]);
  });

  it('keeps one cluster when two instances publish the same ID and API server', () => {
    expect(cases.instances.filter((c) => c.clusterID === id(16)).map((c) => c.instance)).toEqual(['alias-1._liqo._tcp.cases.test.']);
  });

  it('reads TXT keys case-insensitively, first occurrence wins, flags and unknown keys ignored', () => {
    expect(clusterOf('flags')).toMatchObject({ clusterID: id(17), namespace: 'team-a' });
  });

  it('fails an instance whose records are in a zone the server cannot load, and only that one', () => {
    expect(failureOf('elsewhere._liqo._tcp.broken.test')).toMatchObject({ reason: 'QueryFailed' });
    expect(failureOf('elsewhere._liqo._tcp.broken.test')!.message).toMatch(/^SRV elsewhere\._liqo\._tcp\.broken\.test\.: SERVFAIL|^TXT elsewhere\._liqo\._tcp\.broken\.test\.: SERVFAIL/);
  });

  it('accounts for every listed instance exactly once', () => {
    const listed = casesZone.match(/^cases\.test\. PTR (\S+)/gm)!.length;
    const aliasesMerged = 1;
    expect(cases.instances.length + cases.failures.length + cases.skippedOwn + aliasesMerged).toBe(listed);
  });

  it('browses the RFC 6763 layout (PTR at _liqo._tcp.<domain>)', async () => {
    const result = await browse('rfc.test', { server: dns.address });
    expect(result.instances).toMatchObject([{ instance: 'east._liqo._tcp.rfc.test.', clusterID: id(20), apiUrl: 'https://east-api.rfc.test:6443' }]);
  });

  it('merges the two layouts, treating instance names case-insensitively', async () => {
    const result = await browse('both.test', { server: dns.address });
    expect(result.failures).toEqual([]);
    expect(result.instances.map((c) => c.clusterID)).toEqual([id(21), id(22)]);
  });
});
