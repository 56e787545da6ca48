/**
 * One service instance from PTR to a usable cluster: SRV and TXT in parallel, then the address of
 * the chosen SRV target. Returns a failure instead of throwing, so a broken instance fails only
 * itself. Each failure message starts with the query that went wrong and says what to fix.
 */
import type { LookupResult, RecordLookup } from './lookup.js';
import type { QueryType } from './message.js';
import { absoluteNameKey, apiUrlFor, readClusterTxt } from '../../mdns/index.js';
import { isNoService, orderSrv, type Rng } from './srv.js';
import type { DiscoveredCluster, InstanceFailure, InstanceFailureReason, SrvEndpoint } from './types.js';

export interface InstanceContext {
  lookup: RecordLookup;
  rng: Rng;
}

export type InstanceOutcome = { ok: true; cluster: DiscoveredCluster } | { ok: false; failure: InstanceFailure };

export async function resolveInstance(instance: string, ptrTtl: number, ctx: InstanceContext): Promise<InstanceOutcome> {
  const fail = (reason: InstanceFailureReason, message: string): InstanceOutcome => ({ ok: false, failure: { instance, reason, message } });
  const [srv, txt] = await Promise.all([ctx.lookup.lookup(instance, 'SRV'), ctx.lookup.lookup(instance, 'TXT')]);

  if (!srv.ok) return fail(lookupReason(srv.reason), `${srv.asked}: ${srv.detail}`);
  if (srv.records.length === 0) {
    return fail('MissingSRV', `${srv.asked}: ${srv.negative} (a PTR record lists this instance but it has no SRV record; publish "${instance} SRV 0 0 <port> <api-server-name>.")`);
  }
  const usable = srv.records.filter((r) => !isNoService(r));
  if (usable.length === 0) {
    return fail('ServiceNotAvailable', `SRV ${instance}: the target is "." (RFC 2782: the publisher declares this cluster decidedly not available)`);
  }
  const badPort = usable.find((r) => r.port === 0);
  if (badPort) return fail('InvalidSRV', `SRV ${instance}: port 0 for ${badPort.target} (the API server port, e.g. 6443, is required)`);

  if (!txt.ok) return fail(lookupReason(txt.reason), `${txt.asked}: ${txt.detail}`);
  if (txt.records.length === 0) {
    return fail('MissingTXT', `${txt.asked}: ${txt.negative} (every instance needs a TXT record with "id=<cluster ID>", RFC 6763 6)`);
  }
  const meta = readClusterTxt(txt.records.map((r) => r.strings));
  if (!meta.ok) return fail(meta.reason, `TXT ${instance}: ${meta.problem}`);

  const endpoints: SrvEndpoint[] = orderSrv(
    usable.map((r) => ({ target: absoluteNameKey(r.target), port: r.port, priority: r.priority, weight: r.weight })),
    ctx.rng,
  );

  // RFC 2782: try targets in order and move on only when one fails. Usually the first has an
  // address, and often the SRV answer already carried it, so this costs no query at all.
  const problems: { reason: InstanceFailureReason; message: string }[] = [];
  for (const endpoint of endpoints) {
    const resolved = await resolveAddresses(endpoint.target, ctx.lookup);
    if (!resolved.ok) {
      problems.push(resolved);
      continue;
    }
    const apiUrl = apiUrlFor(endpoint.target, endpoint.port);
    if (!URL.canParse(apiUrl)) {
      problems.push({ reason: 'InvalidSRV', message: `SRV ${instance}: target ${endpoint.target} cannot be used in a URL` });
      continue;
    }
    const cluster: DiscoveredCluster = {
      instance,
      clusterID: meta.value.clusterID,
      namespace: meta.value.namespace,
      apiUrl,
      target: endpoint.target,
      port: endpoint.port,
      addresses: resolved.addresses,
      ttl: Math.min(ptrTtl, srv.ttl, txt.ttl, resolved.ttl),
      endpoints,
    };
    if (meta.value.clusterName !== undefined) cluster.clusterName = meta.value.clusterName;
    if (meta.value.caFingerprint !== undefined) cluster.caFingerprint = meta.value.caFingerprint;
    return { ok: true, cluster };
  }
  const first = problems[0]!;
  const rest = problems.length > 1 ? `; other SRV targets also failed: ${problems.slice(1).map((p) => p.message).join('; ')}` : '';
  return fail(first.reason, `${first.message}${first.reason === 'TargetHasNoAddress' ? ` (the SRV of ${instance} points to a name with no address; publish an A or AAAA record for it, or fix the SRV target)` : ''}${rest}`);
}

type AddressOutcome = { ok: true; addresses: string[]; ttl: number } | { ok: false; reason: InstanceFailureReason; message: string };

/** A and AAAA of `target`, unless an earlier answer (the SRV's additional section) already gave them. */
async function resolveAddresses(target: string, lookup: RecordLookup): Promise<AddressOutcome> {
  const known = [...(lookup.peek(target, 'A') ?? []), ...(lookup.peek(target, 'AAAA') ?? [])];
  if (known.length > 0) {
    // Servers add both families when they have them; one present family is enough for a hint.
    return { ok: true, addresses: known.map((r) => r.address), ttl: Math.min(...known.map((r) => r.ttl)) };
  }
  const [a, aaaa] = await Promise.all([lookup.lookup(target, 'A'), lookup.lookup(target, 'AAAA')]);
  const found = [a, aaaa].filter((r) => r.ok && r.records.length > 0) as Extract<LookupResult<QueryType>, { ok: true }>[];
  if (found.length > 0) {
    const addresses = found.flatMap((r) => r.records.map((x) => (x as { address: string }).address));
    return { ok: true, addresses, ttl: Math.min(...found.map((r) => r.ttl)) };
  }
  for (const r of [a, aaaa]) {
    if (!r.ok) return { ok: false, reason: lookupReason(r.reason), message: `${r.asked}: ${r.detail}` };
  }
  const describe = (r: LookupResult<QueryType>): string => (r.ok ? `${r.asked}: ${r.negative ?? 'no records'}` : '');
  return { ok: false, reason: 'TargetHasNoAddress', message: `${describe(a)}; ${describe(aaaa)}` };
}

function lookupReason(reason: 'QueryFailed' | 'NotAuthoritative' | 'CNAMELoop' | 'CNAMEChainTooLong'): InstanceFailureReason {
  return reason === 'NotAuthoritative' ? 'QueryFailed' : reason;
}
