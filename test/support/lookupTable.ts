/** A resolver for unit tests: answers from a table, and ENOTFOUND (as getaddrinfo) for any other name. */
import type { LookupAll } from '../../src/net/peerAddress.js';

export const lookupTable =
  (table: Record<string, string[]>): LookupAll =>
  async (host) => {
    const a = table[host];
    if (!a) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return a;
  };
