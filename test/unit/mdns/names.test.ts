import { describe, expect, it } from 'vitest';
import {
  hostLabelFor,
  hostLabelWithSuffix,
  instanceLabelFor,
  instanceLabelOf,
  instanceLabelWithSuffix,
  isValidServiceType,
  namesEqual,
  splitName,
  utf8Length,
} from '../../../src/mdns/names.js';

describe('mDNS names', () => {
  it('builds <name>-<first 8 chars of the cluster ID> for instance and host', () => {
    expect(instanceLabelFor('MyLiqo', '1234abcd-ef00-4000-8000-000000000000')).toBe('MyLiqo-1234abcd');
    expect(hostLabelFor('My Liqo_01', '1234abcd-ef00')).toBe('My-Liqo-01-1234abcd');
  });

  it('renames after a conflict as "name (2)", "name (3)" and hosts as "host-2"', () => {
    expect(instanceLabelWithSuffix('MyLiqo-1234abcd', 1)).toBe('MyLiqo-1234abcd');
    expect(instanceLabelWithSuffix('MyLiqo-1234abcd', 2)).toBe('MyLiqo-1234abcd (2)');
    expect(instanceLabelWithSuffix('MyLiqo-1234abcd', 3)).toBe('MyLiqo-1234abcd (3)');
    expect(hostLabelWithSuffix('MyLiqo-1234abcd', 2)).toBe('MyLiqo-1234abcd-2');
  });

  it('keeps renamed labels within 63 bytes, without splitting UTF-8 characters', () => {
    const long = instanceLabelFor('é'.repeat(60), 'abcdefgh');
    expect(utf8Length(long)).toBeLessThanOrEqual(63);
    const renamed = instanceLabelWithSuffix(long, 12);
    expect(utf8Length(renamed)).toBeLessThanOrEqual(63);
    expect(renamed).not.toContain('\uFFFD');
  });

  it('compares names case-insensitively (ASCII) and ignores a trailing dot', () => {
    expect(namesEqual('MyLiqo._LIQO._tcp.local.', 'myliqo._liqo._tcp.local')).toBe(true);
    expect(splitName('a\\.b.local.')).toEqual(['a.b', 'local']);
  });

  it('extracts the instance label without splitting on escaped dots', () => {
    expect(instanceLabelOf('a\\.b._liqo._tcp.local', '_liqo._tcp.local')).toBe('a.b');
    expect(instanceLabelOf('x.y._liqo._tcp.local', '_liqo._tcp.local')).toBeUndefined();
    expect(instanceLabelOf('x._other._tcp.local', '_liqo._tcp.local')).toBeUndefined();
  });

  it('accepts _liqo._tcp and rejects _liqo_api._tcp (RFC 6335)', () => {
    expect(isValidServiceType('_liqo._tcp')).toBe(true);
    expect(isValidServiceType('_liqo_api._tcp')).toBe(false);
    expect(isValidServiceType('_a-very-long-name-over15._tcp')).toBe(false);
  });
});
