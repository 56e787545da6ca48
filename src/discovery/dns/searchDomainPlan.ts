/**
 * The decisions of the SearchDomain controller, as pure functions of what it observed (a browse
 * result, the ForeignClusters and the other SearchDomains in the cache, the SearchDomain's own
 * status), so that tests can call them with plain objects:
 *
 *   planSync    found clusters -> sightings for upsertDiscovered; clusters that left -> retire
 *   nextStatus  what status should say after a sync (or after a failed one)
 *   statusPatch the merge patch to write, or null: an unchanged resync writes nothing, and
 *               lastSync alone is refreshed at most every LAST_SYNC_REFRESH_MS
 *   planEvents  Events worth recording for a status change (new clusters, new failures, Synced flips)
 */
import { isDeepStrictEqual } from 'node:util';
import { Labels } from '../../api/constants.js';
import { GVR, apiVersionOf, type Condition, type ForeignCluster, type SearchDomain, type SearchDomainStatus } from '../../api/crds.js';
import { setCondition, type ConditionInput } from '../../k8s/conditions.js';
import type { Sighting } from '../foreignClusterUpsert.js';
import { stripTrailingDot } from '../../mdns/index.js';
import { urlHost } from '../../net/hosts.js';
import { autojoinDecision } from './caPin.js';
import type { BrowseResult, DiscoveredCluster, InstanceFailure, InstanceFailureReason } from './types.js';
import { isoSeconds } from '../../k8s/time.js';

export type FoundCluster = NonNullable<SearchDomainStatus['clusters']>[number];
export type FoundFailure = NonNullable<SearchDomainStatus['failures']>[number];

/** lastSync alone is rewritten at most this often (same period as ForeignCluster lastSeen). */
export const LAST_SYNC_REFRESH_MS = 5 * 60_000;

export const SYNCED = 'Synced';

/**
 * Instance failures that say "the server could not tell us right now" or "we cannot tell which
 * record is right", not "this cluster is gone": the cluster found there before is kept.
 */
const INCONCLUSIVE: ReadonlySet<InstanceFailureReason> = new Set(['QueryFailed', 'DuplicateClusterID']);

export interface SyncInput {
  sd: SearchDomain;
  result: BrowseResult;
  /** Every ForeignCluster in the cache. */
  foreignClusters: readonly ForeignCluster[];
  /** The ForeignCluster discovery writes to for a cluster ID (findForeignCluster's choice). */
  find: (clusterID: string) => ForeignCluster | undefined;
  /** The other SearchDomains in the cache. */
  otherDomains: readonly SearchDomain[];
}

export interface PlannedSighting {
  sighting: Sighting;
  instance: string;
  /** Name of the ForeignCluster this sighting updates or creates. */
  foreignCluster: string;
}

export type Release =
  /** No SearchDomain lists it any more: retireDiscovered (deleted unless peered). */
  | { kind: 'retire'; clusterID: string; why: string }
  /** Not a WAN ForeignCluster (a person's, LAN's): only our label comes off. */
  | { kind: 'unlabel'; clusterID: string; foreignCluster: string };

export interface SyncPlan {
  sightings: PlannedSighting[];
  releases: Release[];
  /** Entries of the previous status kept because their instance failed inconclusively. */
  carried: FoundCluster[];
}

export function ownerOf(sd: SearchDomain): NonNullable<Sighting['owner']> {
  return { apiVersion: apiVersionOf(GVR.searchDomain), kind: 'SearchDomain', name: sd.metadata.name, uid: sd.metadata.uid ?? '' };
}

export function listsCluster(sd: SearchDomain | undefined, clusterID: string): boolean {
  return !!sd && !sd.metadata.deletionTimestamp && !!sd.status?.clusters?.some((c) => c.clusterID === clusterID);
}

/**
 * The apiUrl to use for a found cluster. RFC 2782 weighted selection is random per browse, so an
 * unchanged zone with two equal-priority targets would move the URL at every resync; the current
 * URL is kept while it is still one of the SRV endpoints at the chosen priority.
 */
export function stableApiUrl(found: DiscoveredCluster, currentUrl: string | undefined): string {
  if (!currentUrl || currentUrl === found.apiUrl) return found.apiUrl;
  const chosen = found.endpoints.find((e) => e.target === found.target && e.port === found.port);
  const same = found.endpoints.some((e) => `https://${stripTrailingDot(e.target)}:${e.port}` === currentUrl && (!chosen || e.priority === chosen.priority));
  return same ? currentUrl : found.apiUrl;
}

/** What the DNS server resolved the chosen SRV target to, when that target is the host of `apiUrl`. */
function resolvedFor(found: DiscoveredCluster, apiUrl: string, server: string, current: ForeignCluster | undefined): Sighting['dnsAddresses'] {
  if (apiUrl === found.apiUrl) return { host: stripTrailingDot(found.target), addresses: [...found.addresses].sort(), server };
  // The URL kept for stability is another SRV target of this browse: what was recorded for it stays.
  const kept = current?.status?.dnsAddresses;
  return kept && kept.host === urlHost(apiUrl) ? kept : undefined;
}

export function planSync(input: SyncInput): SyncPlan {
  const { sd, result, otherDomains } = input;
  const name = sd.metadata.name;
  const byName = new Map(otherDomains.map((o) => [o.metadata.name, o]));
  const owner = ownerOf(sd);

  const sightings = result.instances.map((found): PlannedSighting => {
    const fc = input.find(found.clusterID);
    // One label value per ForeignCluster: whoever holds it keeps it while it still lists the
    // cluster, so two SearchDomains listing one cluster do not relabel it at every resync.
    const holder = fc?.metadata.labels?.[Labels.searchDomain];
    const labelOwner = holder && holder !== name && listsCluster(byName.get(holder), found.clusterID) ? holder : name;
    const apiUrl = stableApiUrl(found, fc?.spec.apiUrl);
    const sighting: Sighting = {
      clusterID: found.clusterID,
      apiUrl,
      namespace: found.namespace,
      source: 'WAN',
      ...autojoinDecision(sd, found.caFingerprint),
      labels: labelOwner === name ? { [Labels.searchDomain]: name } : {},
      owner,
      via: `SearchDomain ${labelOwner}`,
    };
    if (found.clusterName !== undefined) sighting.clusterName = found.clusterName;
    if (found.caFingerprint !== undefined) sighting.caFingerprint = found.caFingerprint;
    const addresses = resolvedFor(found, apiUrl, result.server, fc);
    if (addresses) sighting.dnsAddresses = addresses;
    return { sighting, instance: found.instance, foreignCluster: fc?.metadata.name ?? found.clusterID };
  });

  const foundIDs = new Set(result.instances.map((c) => c.clusterID));
  const inconclusive = new Set(result.failures.filter((f) => INCONCLUSIVE.has(f.reason)).map((f) => f.instance));
  // Past maxInstances the listing was not resolved at all: nothing unresolved can be called gone.
  const truncated = result.failures.some((f) => f.reason === 'TooManyInstances');
  const carried = (sd.status?.clusters ?? []).filter(
    (c) => (truncated || (c.instance !== undefined && inconclusive.has(c.instance))) && !foundIDs.has(c.clusterID),
  );
  const kept = new Set([...foundIDs, ...carried.map((c) => c.clusterID)]);

  // Clusters this SearchDomain answered for before: its status, its ForeignClusters.
  const associated = new Set<string>((sd.status?.clusters ?? []).map((c) => c.clusterID));
  for (const fc of input.foreignClusters) {
    const ours = fc.metadata.labels?.[Labels.searchDomain] === name || (!!sd.metadata.uid && !!fc.metadata.ownerReferences?.some((o) => o.uid === sd.metadata.uid));
    if (ours && !fc.metadata.deletionTimestamp) associated.add(fc.spec.clusterID);
  }

  const releases: Release[] = [];
  for (const clusterID of [...associated].sort()) {
    if (kept.has(clusterID)) continue;
    const fc = input.find(clusterID);
    if (!fc) continue;
    // Another SearchDomain still lists it: that one keeps it (and takes over the label).
    if (otherDomains.some((o) => listsCluster(o, clusterID))) continue;
    if (fc.spec.discoveryType === 'WAN') {
      releases.push({ kind: 'retire', clusterID, why: `no longer listed in ${result.domain} (SearchDomain ${name})` });
    } else if (fc.metadata.labels?.[Labels.searchDomain] === name) {
      releases.push({ kind: 'unlabel', clusterID, foreignCluster: fc.metadata.name });
    }
  }
  return { sightings, releases, carried };
}

// ------------------------------------------------------------------------------ status

export interface StatusContent {
  clusters: FoundCluster[];
  failures: FoundFailure[];
  condition: ConditionInput;
}

const byInstance = <T extends { instance?: string; clusterID?: string }>(a: T, b: T): number =>
  (a.instance ?? '').localeCompare(b.instance ?? '') || (a.clusterID ?? '').localeCompare(b.clusterID ?? '');

/** What status says after a browse and its writes. `rejected`: sightings the API server refused (4xx). */
export function nextStatus(
  sd: SearchDomain,
  result: BrowseResult,
  plan: SyncPlan,
  outcome: { rejected?: ReadonlyMap<string, string>; writeErrors?: readonly string[] } = {},
): StatusContent {
  const rejected = outcome.rejected ?? new Map<string, string>();
  const clusters: FoundCluster[] = [
    ...plan.sightings
      .filter((p) => !rejected.has(p.sighting.clusterID))
      .map((p) => ({ clusterID: p.sighting.clusterID, foreignCluster: p.foreignCluster, apiUrl: p.sighting.apiUrl, instance: p.instance })),
    ...plan.carried,
  ].sort(byInstance);
  const failures: FoundFailure[] = [
    ...result.failures.map((f: InstanceFailure) => ({ instance: f.instance, reason: f.reason, message: f.message })),
    ...plan.sightings
      .filter((p) => rejected.has(p.sighting.clusterID))
      .map((p) => ({ instance: p.instance, reason: 'ForeignClusterRejected', message: `ForeignCluster ${p.foreignCluster}: ${rejected.get(p.sighting.clusterID)}` })),
  ].sort(byInstance);

  const domain = result.domain;
  const errors = outcome.writeErrors ?? [];
  if (errors.length > 0) {
    const more = errors.length > 3 ? ` (and ${errors.length - 3} more)` : '';
    return {
      clusters,
      failures,
      condition: {
        type: SYNCED,
        status: 'False',
        reason: 'ForeignClusterWriteFailed',
        message: `${domain} was read from ${result.server}, but ${errors.length} ForeignCluster write(s) failed: ${errors.slice(0, 3).join('; ')}${more}; retrying`,
      },
    };
  }
  const parts = [`${clusters.length} cluster(s) found in ${domain} (DNS server ${result.server})`];
  if (failures.length) parts.push(`${failures.length} instance(s) could not be used, see status.failures`);
  if (plan.carried.length) parts.push(`${plan.carried.length} kept from the previous sync because their records could not be read`);
  if (result.skippedOwn) parts.push("this cluster's own record was skipped");
  return { clusters, failures, condition: { type: SYNCED, status: 'True', reason: 'Synced', message: parts.join('; ') } };
}

/** Synced=False for a domain that could not be read: what was found before is kept, not retired. */
export function failedSyncCondition(sd: SearchDomain, reason: string, message: string): ConditionInput {
  const kept = sd.status?.clusters?.length ?? 0;
  return {
    type: SYNCED,
    status: 'False',
    reason,
    message: `${message}; the ${kept} cluster(s) found before are kept until the domain can be read again`,
  };
}

/**
 * The merge patch for the status subresource, or null when nothing needs writing. A successful
 * sync (content has clusters) stamps lastSync when anything else changed or when lastSync is older
 * than refreshMs; a failed one (content without clusters) touches only the condition.
 */
export function statusPatch(
  sd: SearchDomain,
  content: { condition: ConditionInput; clusters?: FoundCluster[]; failures?: FoundFailure[] },
  now: Date,
  refreshMs = LAST_SYNC_REFRESH_MS,
): Record<string, unknown> | null {
  const current = sd.status ?? {};
  const prevConditions: Condition[] = current.conditions ?? [];
  const conditions = setCondition(prevConditions, content.condition, sd.metadata.generation, now);
  const conditionChanged = conditions !== prevConditions;
  if (content.clusters === undefined) return conditionChanged ? { status: { conditions } } : null;

  const failures = content.failures ?? [];
  const changed =
    conditionChanged || !isDeepStrictEqual(current.clusters ?? [], content.clusters) || !isDeepStrictEqual(current.failures ?? [], failures);
  const last = current.lastSync ? Date.parse(current.lastSync) : NaN;
  const stale = Number.isNaN(last) || now.getTime() - last >= refreshMs;
  if (!changed && !stale) return null;
  return { status: { clusters: content.clusters, failures, lastSync: isoSeconds(now), conditions } };
}

// ------------------------------------------------------------------------------ events

export interface PlannedEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

/** At most this many per-instance failure Events per sync; the rest are summed up in one. */
export const MAX_FAILURE_EVENTS = 10;

/** Events for a status change: only what is new, so an unchanged resync records nothing. */
export function planEvents(sd: SearchDomain, next: { condition: ConditionInput; clusters?: FoundCluster[]; failures?: FoundFailure[] }): PlannedEvent[] {
  const events: PlannedEvent[] = [];
  const prevCond = sd.status?.conditions?.find((c) => c.type === SYNCED);
  const domain = sd.spec.domain;

  if (next.condition.status === 'False') {
    if (!prevCond || prevCond.status !== 'False' || prevCond.reason !== next.condition.reason || prevCond.message !== next.condition.message) {
      events.push({ type: 'Warning', reason: next.condition.reason === 'ForeignClusterWriteFailed' ? 'ForeignClusterWriteFailed' : 'SyncFailed', message: next.condition.message });
    }
  } else if (prevCond?.status === 'False') {
    events.push({ type: 'Normal', reason: 'SyncRecovered', message: `${domain} can be read again: ${next.condition.message}` });
  }

  if (next.clusters) {
    const before = new Set((sd.status?.clusters ?? []).map((c) => c.clusterID));
    const added = next.clusters.filter((c) => !before.has(c.clusterID));
    if (added.length) {
      const list = added.slice(0, 10).map((c) => `${c.clusterID} at ${c.apiUrl}`).join(', ');
      const more = added.length > 10 ? ` and ${added.length - 10} more` : '';
      events.push({ type: 'Normal', reason: 'ClustersDiscovered', message: `${added.length} new cluster(s) in ${domain}: ${list}${more}` });
    }
  }
  if (next.failures) {
    const before = sd.status?.failures ?? [];
    const fresh = next.failures.filter((f) => !before.some((b) => isDeepStrictEqual(b, f)));
    for (const f of fresh.slice(0, MAX_FAILURE_EVENTS)) {
      events.push({ type: 'Warning', reason: f.reason, message: `${f.instance}: ${f.message}` });
    }
    if (fresh.length > MAX_FAILURE_EVENTS) {
      events.push({ type: 'Warning', reason: 'InstancesFailed', message: `${fresh.length - MAX_FAILURE_EVENTS} more instance(s) of ${domain} could not be used; see status.failures` });
    }
  }
  return events;
}
