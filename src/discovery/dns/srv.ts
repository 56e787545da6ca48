/**
 * RFC 2782 target selection: lowest priority first; within a priority, a weighted random order
 * (weight-0 records first, draw in [0, sum of weights], take the first whose running sum reaches
 * the draw, remove it, repeat). The random source is injected so tests are exact.
 */

export interface SrvTarget {
  priority: number;
  weight: number;
  port: number;
  /** Absolute name; "." means the service is decidedly not available (RFC 2782). */
  target: string;
}

/** A number in [0, 1), like Math.random. */
export type Rng = () => number;

/** True when the SRV says "no service here": its target is the root. */
export function isNoService(srv: SrvTarget): boolean {
  return srv.target === '.' || srv.target === '';
}

/**
 * All records in the order a client should try them. Ties are broken by target and port before the
 * draw, so the result depends only on the data and the RNG, not on the order the server sent.
 */
export function orderSrv<T extends SrvTarget>(records: readonly T[], rng: Rng = Math.random): T[] {
  const byPriority = new Map<number, T[]>();
  for (const r of records) {
    const group = byPriority.get(r.priority) ?? [];
    group.push(r);
    byPriority.set(r.priority, group);
  }
  const out: T[] = [];
  for (const priority of [...byPriority.keys()].sort((a, b) => a - b)) {
    const pool = byPriority
      .get(priority)!
      .slice()
      .sort((a, b) => (a.weight === 0 ? 0 : 1) - (b.weight === 0 ? 0 : 1) || a.target.localeCompare(b.target) || a.port - b.port);
    while (pool.length > 0) {
      const sum = pool.reduce((s, r) => s + r.weight, 0);
      const draw = Math.min(sum, Math.floor(clamp01(rng()) * (sum + 1)));
      let running = 0;
      let index = pool.length - 1;
      for (let i = 0; i < pool.length; i++) {
        running += pool[i]!.weight;
        if (running >= draw) {
          index = i;
          break;
        }
      }
      out.push(pool.splice(index, 1)[0]!);
    }
  }
  return out;
}

function clamp01(x: number): number {
  return Number.isFinite(x) ? Math.min(Math.max(x, 0), 1 - Number.EPSILON) : 0;
}
