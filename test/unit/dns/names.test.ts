import { describe, expect, it } from 'vitest';
import { absoluteNameKey } from '../../../src/mdns/index.js';
import { domainProblem, isAtOrBelow, queryNameProblem, stripTrailingDot, toFqdn } from '../../../src/discovery/dns/names.js';

describe('DNS names', () => {
  it('normalises to absolute lower-case keys', () => {
    expect(toFqdn('Example.COM')).toBe('Example.COM.');
    expect(toFqdn('.')).toBe('.');
    expect(absoluteNameKey('Example.COM')).toBe('example.com.');
    expect(absoluteNameKey('.')).toBe('.');
    expect(stripTrailingDot('a.b.')).toBe('a.b');
  });

  it('checks bailiwick by whole labels, not by string suffix', () => {
    expect(isAtOrBelow('api.example.com.', 'example.com')).toBe(true);
    expect(isAtOrBelow('EXAMPLE.com', 'example.com.')).toBe(true);
    expect(isAtOrBelow('badexample.com.', 'example.com.')).toBe(false);
    expect(isAtOrBelow('example.org.', 'example.com.')).toBe(false);
  });

  it('accepts ordinary search domains and explains bad ones', () => {
    for (const ok of ['example.com', 'example.com.', 'mydomain.com', 'xn--zrich-kva.ch', '_sub.example.com']) expect(domainProblem(ok)).toBeUndefined();
    expect(domainProblem('')).toMatch(/root/);
    expect(domainProblem('a..b')).toMatch(/empty label/);
    expect(domainProblem(`${'a'.repeat(64)}.com`)).toMatch(/63 bytes/);
    expect(domainProblem('has space.com')).toMatch(/only letters/);
    expect(domainProblem(' example.com')).toMatch(/spaces/);
    expect(domainProblem(`${'a.'.repeat(127)}com`)).toMatch(/253/);
  });

  it('allows spaces and UTF-8 in instance names but not oversized labels', () => {
    expect(queryNameProblem('My Cluster Zürich._liqo._tcp.example.com.')).toBeUndefined();
    expect(queryNameProblem(`${'ü'.repeat(32)}._liqo._tcp.example.com.`)).toMatch(/63 bytes/);
  });
});
