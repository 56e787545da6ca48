/**
 * Unicast DNS-SD browse of one domain (docs/design.md §4, "DNS"):
 *   1. `PTR <domain>` (the seeds' layout) and `PTR _liqo._tcp.<domain>` (RFC 6763), merged;
 *   2. per instance, SRV and TXT in parallel (bounded concurrency);
 *   3. A/AAAA of the chosen SRV target, following CNAMEs, unless the SRV answer carried them.
 * With a server that fills the additional section (bind9 does for SRV targets in its zones) that is
 * 2 queries per cluster plus 2 per domain.
 *
 * The domain-level PTR queries must both work: a failure there throws DnsDiscoveryError, because
 * half a listing would make the controller delete clusters that are merely unlisted by the failing
 * layout. Everything after that fails per instance.
 */
import { logger } from '../../observability/logger.js';
import { separateDuplicates } from './duplicates.js';
import { DnsDiscoveryError, type DnsDiscoveryReason } from './errors.js';
import { resolveInstance } from './instance.js';
import { mapWithConcurrency } from './limit.js';
import { DEFAULT_MAX_CNAME_DEPTH, RecordLookup, type LookupResult } from './lookup.js';
import { LIQO_SERVICE_TYPE, absoluteNameKey, toFqdn } from '../../mdns/index.js';
import { domainProblem, queryNameProblem } from './names.js';
import { formatServer, resolveDnsServer } from './server.js';
import type { Rng } from './srv.js';
import { DnsTransport } from './transport.js';
import type { BrowseResult, DiscoveredCluster, InstanceFailure } from './types.js';

export { DnsDiscoveryError } from './errors.js';
export type { DnsDiscoveryReason } from './errors.js';
export type { BrowseResult, DiscoveredCluster, InstanceFailure, InstanceFailureReason, SrvEndpoint } from './types.js';

export interface BrowseOptions {
  /** `host:port`, `[v6]:port`, bare host (port 53), or '' / undefined for the system resolver. */
  server?: string;
  /** Instances carrying this cluster ID are ours: skipped and counted in `skippedOwn`. */
  ownClusterID?: string;
  /** Per-attempt timeout in ms (default 2000). */
  timeoutMs?: number;
  /** UDP attempts per query (default 2). */
  attempts?: number;
  /** Instances resolved in parallel (default 32; each has up to 2 queries in flight). */
  concurrency?: number;
  /** Longest CNAME chain followed (default 8). */
  maxCnameDepth?: number;
  /** Instances resolved at most; the rest are reported as one TooManyInstances failure (default 4096). */
  maxInstances?: number;
  /** Random source for RFC 2782 weighted selection (default Math.random). */
  rng?: Rng;
  /** For tests: where the system resolver is read from (default /etc/resolv.conf). */
  resolvConfPath?: string;
}

const log = logger('dns-discovery');

export async function browse(domain: string, options: BrowseOptions = {}): Promise<BrowseResult> {
  const problem = domainProblem(domain);
  if (problem) throw new DnsDiscoveryError('InvalidDomain', `search domain "${domain}" is not valid: ${problem}`);
  const fqdn = toFqdn(domain);
  const server = await resolveDnsServer(options.server ?? '', options.resolvConfPath ? { resolvConfPath: options.resolvConfPath } : {});
  const transport = new DnsTransport(server, { timeoutMs: options.timeoutMs ?? 2000, attempts: options.attempts ?? 2 });
  const lookup = new RecordLookup(transport, fqdn, options.maxCnameDepth ?? DEFAULT_MAX_CNAME_DEPTH);
  const serverName = formatServer(server);

  const listings = await Promise.all([lookup.lookup(fqdn, 'PTR'), lookup.lookup(`${LIQO_SERVICE_TYPE}.${fqdn}`, 'PTR')]);
  const named = new Map<string, { instance: string; ttl: number }>();
  for (const listing of listings) {
    if (!listing.ok) throw listingError(listing, serverName);
    for (const ptr of listing.records) {
      if (ptr.target === '.') continue;
      const key = absoluteNameKey(ptr.target);
      const seen = named.get(key);
      named.set(key, { instance: seen?.instance ?? ptr.target, ttl: Math.min(seen?.ttl ?? Infinity, ptr.ttl) });
    }
  }

  const failures: InstanceFailure[] = [];
  const maxInstances = options.maxInstances ?? 4096;
  const listed = [...named.values()].sort((a, b) => a.instance.localeCompare(b.instance));
  const todo = listed.slice(0, maxInstances);
  if (listed.length > maxInstances) {
    failures.push({
      instance: fqdn,
      reason: 'TooManyInstances',
      message: `PTR ${fqdn}: ${listed.length} instances listed, only the first ${maxInstances} (by name) were resolved`,
    });
  }

  const rng = options.rng ?? Math.random;
  const outcomes = await mapWithConcurrency(todo, options.concurrency ?? 32, async ({ instance, ttl }) => {
    const bad = queryNameProblem(instance);
    if (bad) return { ok: false as const, failure: { instance, reason: 'InvalidInstanceName' as const, message: `PTR ${fqdn}: instance name ${instance} ${bad}` } };
    try {
      return await resolveInstance(instance, ttl, { lookup, rng });
    } catch (err) {
      // A bug must not hide the other clusters of the domain; it is reported like any failure.
      log.error({ err, instance }, 'unexpected error resolving a DNS-SD instance');
      return { ok: false as const, failure: { instance, reason: 'QueryFailed' as const, message: `${instance}: internal error: ${(err as Error).message}` } };
    }
  });

  const own = options.ownClusterID?.toLowerCase();
  let skippedOwn = 0;
  const found: DiscoveredCluster[] = [];
  for (const outcome of outcomes) {
    if (!outcome.ok) failures.push(outcome.failure);
    else if (own !== undefined && outcome.cluster.clusterID.toLowerCase() === own) skippedOwn += 1;
    else found.push(outcome.cluster);
  }
  const { unique, failures: duplicates } = separateDuplicates(found);
  failures.push(...duplicates);

  const result: BrowseResult = {
    domain: fqdn,
    server: serverName,
    instances: unique.sort((a, b) => a.instance.localeCompare(b.instance)),
    failures: failures.sort((a, b) => a.instance.localeCompare(b.instance)),
    queries: transport.queries,
    skippedOwn,
  };
  log.debug(
    { domain: fqdn, server: serverName, instances: result.instances.length, failures: result.failures.length, queries: result.queries, skippedOwn },
    'browsed DNS-SD domain',
  );
  return result;
}

function listingError(listing: Extract<LookupResult<'PTR'>, { ok: false }>, server: string): DnsDiscoveryError {
  let reason: DnsDiscoveryReason = 'QueryFailed';
  let hint = '';
  if (listing.reason === 'NotAuthoritative') {
    reason = 'NotAuthoritative';
    hint = ' (point dnsServer at a recursive resolver or at a server for this domain)';
  } else if (listing.failure) {
    switch (listing.failure.kind) {
      case 'timeout':
        reason = 'Timeout';
        hint = ' (is the DNS server reachable? check ClusterConfig dnsServer)';
        break;
      case 'refused':
        reason = 'ConnectionRefused';
        break;
      case 'malformed':
        reason = 'MalformedResponse';
        break;
      case 'rcode':
        if (listing.failure.rcode === 'SERVFAIL') {
          reason = 'ServerFailure';
          hint = ' (the server could not answer for this domain: zone not loaded, or its name servers unreachable)';
        } else if (listing.failure.rcode === 'REFUSED') {
          reason = 'Refused';
          hint = ' (the server does not serve this domain to us and does not recurse)';
        }
        break;
      default:
        break;
    }
  }
  return new DnsDiscoveryError(reason, `${listing.asked} @${server}: ${listing.detail}${hint}`);
}
