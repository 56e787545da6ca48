/**
 * "Give me the TYPE records of NAME", for one browse: asks the transport, follows CNAME chains
 * (within one answer and across queries, bounded depth, loops detected), and remembers what servers
 * volunteer in the additional section so the next lookup can skip its query. Additional records
 * are believed only for names inside the browsed domain (bailiwick): a server for example.com must
 * not be able to plant an address for bank.com.
 *
 * The memory lives as long as one browse; nothing is cached between resyncs.
 */
import { followChain } from './chain.js';
import type { QueryType, Rr, RrOf } from './message.js';
import { absoluteNameKey } from '../../mdns/index.js';
import { isAtOrBelow } from './names.js';
import type { DnsTransport, QueryFailure } from './transport.js';

export const DEFAULT_MAX_CNAME_DEPTH = 8;

export type LookupFailureReason = 'QueryFailed' | 'NotAuthoritative' | 'CNAMELoop' | 'CNAMEChainTooLong';

export type LookupResult<T extends QueryType> =
  | {
      ok: true;
      /** Records found; empty for a negative answer. */
      records: RrOf<T>[];
      /** Where the records are (the name itself, or the end of its CNAME chain). */
      terminal: string;
      /** Smallest TTL of the records and CNAMEs used. */
      ttl: number;
      /** For an empty answer: the server said the name does not exist, or has no such record. */
      negative?: 'NXDOMAIN' | 'NODATA';
      /** "A www.example.com." or "A www.example.com. (CNAME -> web.example.com.)": for messages. */
      asked: string;
    }
  | { ok: false; reason: LookupFailureReason; failure?: QueryFailure; asked: string; detail: string };

const CACHEABLE = new Set<Rr['type']>(['A', 'AAAA', 'CNAME', 'SRV', 'TXT', 'PTR']);

export class RecordLookup {
  private readonly cache = new Map<string, Rr[]>();

  constructor(
    private readonly transport: DnsTransport,
    /** Only additional records at or below this domain are remembered. */
    private readonly bailiwick: string,
    private readonly maxCnameDepth = DEFAULT_MAX_CNAME_DEPTH,
  ) {}

  /** Records of `type` at `name` that an earlier answer already carried, without asking. */
  peek<T extends QueryType>(name: string, type: T): RrOf<T>[] | undefined {
    return this.cache.get(cacheKey(name, type)) as RrOf<T>[] | undefined;
  }

  async lookup<T extends QueryType>(name: string, type: T): Promise<LookupResult<T>> {
    const visited = new Set<string>();
    const cnames: RrOf<'CNAME'>[] = [];
    let current = name;
    const asked = (): string => (cnames.length === 0 ? `${type} ${name}` : `${type} ${name} (CNAME -> ${cnames.map((c) => c.target).join(' -> ')})`);
    const minTtl = (records: readonly Rr[]): number => {
      const ttls = [...records, ...cnames].map((r) => r.ttl);
      return ttls.length === 0 ? 0 : Math.min(...ttls);
    };

    for (;;) {
      const cached = this.peek(current, type);
      if (cached && cached.length > 0) return { ok: true, records: cached, terminal: current, ttl: minTtl(cached), asked: asked() };
      const cachedAlias = type === 'CNAME' ? undefined : this.peek(current, 'CNAME')?.[0];
      if (cachedAlias) {
        const step = this.followCachedAlias(visited, cnames, current, cachedAlias, asked);
        if (step) return step;
        current = cachedAlias.target;
        continue;
      }

      visited.add(absoluteNameKey(current));
      const outcome = await this.transport.query({ name: current, type });
      if (!outcome.ok) {
        // Servers answer SERVFAIL for a CNAME loop (bind9 and public resolvers do), which would tell
        // an operator nothing; walking the aliases one CNAME query at a time names the loop.
        if (outcome.failure.rcode === 'SERVFAIL' && type !== 'CNAME') {
          const loop = await this.traceAliases(current, visited, cnames);
          if (loop) return { ok: false, reason: loop, asked: asked(), detail: `${loopDetail(loop, cnames, this.maxCnameDepth)} (the server answered SERVFAIL)` };
        }
        return { ok: false, reason: 'QueryFailed', failure: outcome.failure, asked: `${type} ${current}`, detail: outcome.failure.detail };
      }
      const response = outcome.response;
      this.absorb(response.additionals);

      const chain = followChain(current, type, response.answers, visited);
      cnames.push(...chain.cnames);
      if (chain.loop) return { ok: false, reason: 'CNAMELoop', asked: asked(), detail: loopDetail('CNAMELoop', cnames, this.maxCnameDepth) };
      if (cnames.length > this.maxCnameDepth) {
        return { ok: false, reason: 'CNAMEChainTooLong', asked: asked(), detail: loopDetail('CNAMEChainTooLong', cnames, this.maxCnameDepth) };
      }
      if (chain.records.length > 0) {
        return { ok: true, records: chain.records, terminal: chain.terminal, ttl: minTtl(chain.records), asked: asked() };
      }
      const hasSoa = response.authorities.some((r) => r.type === 'SOA');
      if (response.rcode === 'NXDOMAIN') return { ok: true, records: [], terminal: chain.terminal, ttl: minTtl([]), negative: 'NXDOMAIN', asked: asked() };
      if (absoluteNameKey(chain.terminal) !== absoluteNameKey(current) && !hasSoa) {
        // The answer stopped at an alias the server does not serve: ask for the alias's target.
        current = chain.terminal;
        continue;
      }
      if (!hasSoa && response.authorities.some((r) => r.type === 'NS') && !response.authoritative) {
        // A referral: an authoritative-only server that does not hold this name. Reading it as
        // "no records" would make a whole domain's clusters vanish, so it is a failure.
        return {
          ok: false,
          reason: 'NotAuthoritative',
          asked: `${type} ${current}`,
          detail: `${this.transport.serverName} answered with a referral (it does not serve this name and does not recurse)`,
        };
      }
      return { ok: true, records: [], terminal: chain.terminal, ttl: minTtl([]), negative: 'NODATA', asked: asked() };
    }
  }

  private followCachedAlias(
    visited: Set<string>,
    cnames: RrOf<'CNAME'>[],
    current: string,
    alias: RrOf<'CNAME'>,
    asked: () => string,
  ): LookupResult<never> | undefined {
    visited.add(absoluteNameKey(current));
    cnames.push(alias);
    if (visited.has(absoluteNameKey(alias.target))) return { ok: false, reason: 'CNAMELoop', asked: asked(), detail: loopDetail('CNAMELoop', cnames, this.maxCnameDepth) };
    if (cnames.length > this.maxCnameDepth) return { ok: false, reason: 'CNAMEChainTooLong', asked: asked(), detail: loopDetail('CNAMEChainTooLong', cnames, this.maxCnameDepth) };
    return undefined;
  }

  /**
   * Follows `start` with CNAME queries only, adding to `cnames`. Returns the kind of broken chain
   * found, or undefined when the chain ends normally or cannot be read.
   */
  private async traceAliases(start: string, visited: Set<string>, cnames: RrOf<'CNAME'>[]): Promise<'CNAMELoop' | 'CNAMEChainTooLong' | undefined> {
    let name = start;
    for (;;) {
      const outcome = await this.transport.query({ name, type: 'CNAME' });
      if (!outcome.ok) return undefined;
      const alias = followChain(name, 'CNAME', outcome.response.answers).records[0];
      if (!alias) return undefined;
      cnames.push(alias);
      if (visited.has(absoluteNameKey(alias.target))) return 'CNAMELoop';
      if (cnames.length > this.maxCnameDepth) return 'CNAMEChainTooLong';
      visited.add(absoluteNameKey(alias.target));
      name = alias.target;
    }
  }

  /** Remembers in-bailiwick additional records, one RRset per name and type, first answer wins. */
  private absorb(additionals: readonly Rr[]): void {
    const sets = new Map<string, Rr[]>();
    for (const rr of additionals) {
      if (!CACHEABLE.has(rr.type) || !isAtOrBelow(rr.name, this.bailiwick)) continue;
      const key = cacheKey(rr.name, rr.type);
      if (this.cache.has(key)) continue;
      const set = sets.get(key) ?? [];
      set.push(rr);
      sets.set(key, set);
    }
    for (const [key, set] of sets) this.cache.set(key, set);
  }
}

function loopDetail(kind: 'CNAMELoop' | 'CNAMEChainTooLong', cnames: readonly RrOf<'CNAME'>[], max: number): string {
  return kind === 'CNAMELoop' ? `CNAME loop back to ${cnames[cnames.length - 1]!.target}` : `more than ${max} CNAMEs in a row`;
}

function cacheKey(name: string, type: string): string {
  return `${type} ${absoluteNameKey(name)}`;
}
