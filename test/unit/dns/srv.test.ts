import { describe, expect, it } from 'vitest';
import { isNoService, orderSrv, type SrvTarget } from '../../../src/discovery/dns/srv.js';

const srv = (priority: number, weight: number, target: string, port = 6443): SrvTarget => ({ priority, weight, port, target });

/** A deterministic RNG returning the given draws in turn. */
const draws = (...values: number[]) => {
  let i = 0;
  return () => values[i++ % values.length]!;
};

describe('RFC 2782 SRV ordering', () => {
  it('puts lower priorities first whatever the weights', () => {
    const ordered = orderSrv([srv(20, 100, 'c.'), srv(10, 0, 'b.'), srv(0, 0, 'a.')], () => 0.5);
    expect(ordered.map((r) => r.target)).toEqual(['a.', 'b.', 'c.']);
  });

  it('with all weights 0 keeps a stable order independent of the server order', () => {
    const one = orderSrv([srv(0, 0, 'b.'), srv(0, 0, 'a.'), srv(0, 0, 'c.')], Math.random);
    const two = orderSrv([srv(0, 0, 'c.'), srv(0, 0, 'b.'), srv(0, 0, 'a.')], Math.random);
    expect(one.map((r) => r.target)).toEqual(['a.', 'b.', 'c.']);
    expect(two).toEqual(one);
  });

  it('draws in [0, sum] and takes the first record whose running sum reaches the draw', () => {
    // Weights 1 and 3: sum 4, draw = floor(rng * 5). Draw 0 or 1 -> w1; 2..4 -> w3.
    const records = [srv(0, 3, 'w3.'), srv(0, 1, 'w1.')];
    expect(orderSrv(records, draws(0))[0]!.target).toBe('w1.');
    expect(orderSrv(records, draws(0.39))[0]!.target).toBe('w1.'); // floor(1.95) = 1
    expect(orderSrv(records, draws(0.4))[0]!.target).toBe('w3.'); // floor(2) = 2
    expect(orderSrv(records, draws(0.999))[0]!.target).toBe('w3.');
  });

  it('places weight-0 records first so they win only on a zero draw', () => {
    const records = [srv(0, 10, 'heavy.'), srv(0, 0, 'zero.')];
    expect(orderSrv(records, draws(0))[0]!.target).toBe('zero.');
    expect(orderSrv(records, draws(0.1))[0]!.target).toBe('heavy.'); // floor(1.1) = 1
  });

  it('removes each chosen record and repeats, so every record appears once', () => {
    const records = [srv(0, 1, 'a.'), srv(0, 2, 'b.'), srv(0, 3, 'c.'), srv(1, 0, 'd.')];
    const ordered = orderSrv(records, draws(0.99, 0.99, 0.99));
    expect(ordered.map((r) => r.target)).toEqual(['c.', 'b.', 'a.', 'd.']);
  });

  it('chooses in proportion to weight over many draws', () => {
    let seed = 42;
    const lcg = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const counts: Record<string, number> = { 'a.': 0, 'b.': 0 };
    for (let i = 0; i < 20_000; i++) counts[orderSrv([srv(0, 1, 'a.'), srv(0, 3, 'b.')], lcg)[0]!.target]! += 1;
    // The draw is uniform in {0..4}; running sums are a:1, b:4, so a wins draws 0 and 1: 2/5.
    expect(counts['a.']! / 20_000).toBeGreaterThan(0.37);
    expect(counts['a.']! / 20_000).toBeLessThan(0.43);
  });

  it('survives a broken RNG (NaN, out of range) without losing records', () => {
    const records = [srv(0, 1, 'a.'), srv(0, 2, 'b.')];
    expect(orderSrv(records, () => Number.NaN)).toHaveLength(2);
    expect(orderSrv(records, () => 7)).toHaveLength(2);
    expect(orderSrv(records, () => -1)).toHaveLength(2);
  });

  it('recognises target "." as no service', () => {
    expect(isNoService(srv(0, 0, '.'))).toBe(true);
    expect(isNoService(srv(0, 0, 'a.example.'))).toBe(false);
  });
});
