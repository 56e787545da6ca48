/**
 * Reading the answer to "TYPE name" out of an answer section: start at the question name, follow
 * CNAME records (RFC 1034 3.6.2: the server puts the chain in the answer), and take the records of
 * the wanted type at the end. Only records on that path are used; anything else in the section is
 * ignored. Pure, so loops and odd orders are unit tested without a server.
 */
import type { QueryType, Rr } from './message.js';
import { absoluteNameKey } from '../../mdns/index.js';

export interface ChainResult<T extends Rr = Rr> {
  /** The name the records were found at (the question name when there was no CNAME). */
  terminal: string;
  /** Records of the wanted type owned by `terminal`. */
  records: T[];
  /** The CNAME records followed, in order. */
  cnames: Extract<Rr, { type: 'CNAME' }>[];
  /** Set when the chain came back to a name already visited. */
  loop?: string;
}

/**
 * Follows `start` through the CNAMEs of `answers`. `visited` carries names seen in earlier queries
 * of the same lookup so a loop spread over several answers is still found.
 */
export function followChain<T extends QueryType>(
  start: string,
  type: T,
  answers: readonly Rr[],
  visited: Set<string> = new Set(),
): ChainResult<Extract<Rr, { type: T }>> {
  const cnames: Extract<Rr, { type: 'CNAME' }>[] = [];
  let current = start;
  visited.add(absoluteNameKey(current));
  for (;;) {
    const key = absoluteNameKey(current);
    const records = answers.filter((r): r is Extract<Rr, { type: T }> => r.type === type && absoluteNameKey(r.name) === key);
    // A CNAME query asks for the alias itself; for other types, data at the name wins over an alias.
    if (records.length > 0 || type === 'CNAME') return { terminal: current, records, cnames };
    const alias = answers.find((r): r is Extract<Rr, { type: 'CNAME' }> => r.type === 'CNAME' && absoluteNameKey(r.name) === key);
    if (!alias) return { terminal: current, records: [], cnames };
    cnames.push(alias);
    const next = absoluteNameKey(alias.target);
    if (visited.has(next)) return { terminal: alias.target, records: [], cnames, loop: alias.target };
    visited.add(next);
    current = alias.target;
  }
}
