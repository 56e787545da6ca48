import { describe, expect, it } from 'vitest';
import { followChain } from '../../../src/discovery/dns/chain.js';
import type { Rr } from '../../../src/discovery/dns/message.js';

const cname = (name: string, target: string, ttl = 300): Rr => ({ type: 'CNAME', name, target, ttl });
const a = (name: string, address: string, ttl = 300): Rr => ({ type: 'A', name, address, ttl });

describe('followChain', () => {
  it('takes records at the question name when there is no alias', () => {
    const r = followChain('api.example.', 'A', [a('api.example.', '198.18.0.1'), a('other.example.', '198.18.0.2')]);
    expect(r.records.map((x) => x.type === 'A' && x.address)).toEqual(['198.18.0.1']);
    expect(r.cnames).toEqual([]);
  });

  it('follows CNAMEs in any order and compares names case-insensitively', () => {
    const answers = [a('C.example.', '198.18.0.3'), cname('b.example.', 'c.example.'), cname('API.example.', 'B.example.')];
    const r = followChain('api.example.', 'A', answers);
    expect(r.terminal).toBe('c.example.');
    expect(r.cnames.map((c) => c.type === 'CNAME' && c.target)).toEqual(['B.example.', 'c.example.']);
    expect(r.records).toHaveLength(1);
  });

  it('ignores records that are not on the chain', () => {
    const r = followChain('api.example.', 'A', [cname('api.example.', 'b.example.'), a('evil.example.', '198.18.0.66')]);
    expect(r.records).toEqual([]);
    expect(r.terminal).toBe('b.example.');
  });

  it('detects a loop, including one through names visited in an earlier answer', () => {
    expect(followChain('a.', 'A', [cname('a.', 'b.'), cname('b.', 'a.')]).loop).toBe('a.');
    expect(followChain('a.', 'A', [cname('a.', 'a.')]).loop).toBe('a.');
    const visited = new Set(['x.']);
    expect(followChain('c.', 'A', [cname('c.', 'X.')], visited).loop).toBe('X.');
  });

  it('answers a CNAME question with the alias itself, without following it', () => {
    const r = followChain('a.', 'CNAME', [cname('a.', 'b.'), cname('b.', 'c.')]);
    expect(r.records).toHaveLength(1);
    expect(r.cnames).toEqual([]);
  });
});
