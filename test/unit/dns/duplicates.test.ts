import { describe, expect, it } from 'vitest';
import { separateDuplicates } from '../../../src/discovery/dns/duplicates.js';
import type { DiscoveredCluster } from '../../../src/discovery/dns/types.js';

const cluster = (instance: string, clusterID: string, apiUrl: string): DiscoveredCluster => ({
  instance,
  clusterID,
  namespace: 'liqo',
  apiUrl,
  target: 'x.',
  port: 6443,
  addresses: [],
  ttl: 60,
  endpoints: [],
});

describe('separateDuplicates', () => {
  it('keeps clusters with distinct IDs', () => {
    const r = separateDuplicates([cluster('a.', 'id-a', 'https://a:1'), cluster('b.', 'id-b', 'https://b:1')]);
    expect(r.unique.map((c) => c.instance)).toEqual(['a.', 'b.']);
    expect(r.failures).toEqual([]);
  });

  it('keeps one of several instances that publish the same ID and API server', () => {
    const r = separateDuplicates([cluster('z.', 'id', 'https://a:1'), cluster('m.', 'id', 'https://a:1')]);
    expect(r.unique.map((c) => c.instance)).toEqual(['m.']);
    expect(r.failures).toEqual([]);
  });

  it('flags every instance of an ID claimed by different API servers, comparing IDs case-insensitively', () => {
    const id = 'FF5AA14A-DD6E-4FD2-80FE-EAECB827CF55';
    const r = separateDuplicates([cluster('a.', id, 'https://a:1'), cluster('b.', id.toLowerCase(), 'https://b:1'), cluster('c.', 'other', 'https://c:1')]);
    expect(r.unique.map((c) => c.instance)).toEqual(['c.']);
    expect(r.failures.map((f) => [f.instance, f.reason])).toEqual([
      ['a.', 'DuplicateClusterID'],
      ['b.', 'DuplicateClusterID'],
    ]);
    expect(r.failures[0]!.message).toContain('b. (https://b:1)');
  });
});
