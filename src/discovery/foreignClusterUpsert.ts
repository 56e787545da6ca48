/**
 * The one function every discovery source writes through (docs/design.md §4): create or update
 * the ForeignCluster of a cluster ID, and retire it when its source stops seeing it.
 *
 * Discovery owns only apiUrl, namespace, clusterName, the discovery labels and lastSeen. `join`
 * is set only when the ForeignCluster is created; a person's edits are never overwritten; a
 * sighting that would move a peered cluster to another URL is flagged, not followed. Discovery
 * answers are hints: identity and trust are settled by the handshake.
 */
import { Annotations, Labels, MANAGED_BY } from '../api/constants.js';
import { GVR, apiVersionOf, type DiscoveryType, type ForeignCluster, type ForeignClusterStatus } from '../api/crds.js';
import { isAlreadyExists, isNotFound, resourcePath } from '../k8s/rest.js';
import type { AgentContext } from '../agent/context.js';
import { applyForeignClusterStatus } from '../k8s/foreignClusterStatus.js';
import { isoSeconds } from '../k8s/time.js';
import { apiUrlProblem } from '../peering/apiUrl.js';
import { isRemoved } from '../peering/peerRecords.js';

export type DiscoverySource = 'LAN' | 'WAN';

export interface Sighting {
  clusterID: string;
  apiUrl: string;
  namespace?: string;
  clusterName?: string;
  source: DiscoverySource;
  /** `join` for a ForeignCluster created by this sighting. */
  join: boolean;
  /** `allowUntrustedCA` for a ForeignCluster created by this sighting (LAN autojoinUntrusted). */
  allowUntrustedCA?: boolean;
  caFingerprint?: string;
  /**
   * Annotations for a created ForeignCluster (the LAN autojoin decision). With `join`, they also
   * go on a LAN ForeignCluster that was only listed (autojoin: NotProven) and now joins.
   */
  annotations?: Record<string, string>;
  /** Extra labels (e.g. discovery.liqo.io/searchdomain). */
  labels?: Record<string, string>;
  /**
   * Owner of a created ForeignCluster (e.g. its SearchDomain). On a ForeignCluster of the same
   * source it is added when missing, so a cluster several SearchDomains list is owned by each.
   */
  owner?: { apiVersion: string; kind: string; name: string; uid: string };
  /** Free-form origin for messages, e.g. "SearchDomain example.com" or "mDNS on eth0". */
  via: string;
  /**
   * What the DNS server that listed the cluster resolved the apiUrl host to: recorded in status
   * (dnsAddresses) for the outgoing peering, which connects there, as the system resolver may not
   * know a name only that server serves. Only on a ForeignCluster whose apiUrl is this sighting's.
   */
  dnsAddresses?: NonNullable<ForeignClusterStatus['dnsAddresses']>;
}

/** `refused`: the announced URL breaks the outbound address policy (src/net/addressPolicy.ts); nothing written. */
export type UpsertResult = 'created' | 'updated' | 'unchanged' | 'own' | 'conflict' | 'refused';

/** lastSeen is refreshed at most this often, so an unchanged resync writes nothing. */
export const LAST_SEEN_REFRESH_MS = 5 * 60_000;

const managerFor = (source: DiscoverySource) => `kubepeer-discovery-${source.toLowerCase()}`;

export function findForeignCluster(ctx: Pick<AgentContext, 'informers'>, clusterID: string): ForeignCluster | undefined {
  const all = ctx.informers.foreignClusters.list().filter((f) => f.spec.clusterID === clusterID && !f.metadata.deletionTimestamp);
  // Oldest first: duplicates are flagged by the peering controller; discovery updates the first.
  return all.sort((a, b) => String(a.metadata.creationTimestamp ?? '').localeCompare(String(b.metadata.creationTimestamp ?? '')))[0];
}

/**
 * A ForeignCluster that the peeringrequest controller created only because a request arrived
 * before any source saw the peer (IncomingPeering, join false, no outgoing peering). The first
 * discovery sighting at the same URL (or a SearchDomain's that pins the CA, at its own URL) adopts
 * it as if it had created it: discoveryType, `join`, `allowUntrustedCA` and the pin come from the
 * sighting (otherwise the peer would stay "unknown" for AutoAcceptKnown and never be joined by
 * autojoin, only because of the order of two events).
 */
export function isAdoptable(fc: ForeignCluster): boolean {
  return fc.spec.discoveryType === 'IncomingPeering' && !fc.spec.join && (fc.status?.outgoing?.phase ?? 'None') === 'None';
}

/** Whether a ForeignCluster has any peering state worth keeping (a person's removal record is such state). */
export function isPeered(fc: ForeignCluster): boolean {
  return fc.spec.join || isRemoved(fc) || (fc.status?.outgoing?.phase ?? 'None') !== 'None' || (fc.status?.incoming?.phase ?? 'None') !== 'None';
}

export async function upsertDiscovered(ctx: AgentContext, s: Sighting, now = new Date()): Promise<UpsertResult> {
  if (s.clusterID === ctx.clusterID) return 'own';
  // An announced URL is someone else's word: the same policy as a PeeringRequest's apiUrl.
  const problem = apiUrlProblem(s.apiUrl, `the apiUrl announced via ${s.via}`, ctx.apiUrl, ctx.config().peeringConfig.allowedPeerCIDRs);
  if (problem) {
    ctx.log.warn({ clusterID: s.clusterID, via: s.via, problem }, 'discovered cluster ignored: its URL breaks the address policy');
    return 'refused';
  }
  const existing = findForeignCluster(ctx, s.clusterID);
  const nowIso = isoSeconds(now);
  if (!existing) {
    let created: ForeignCluster;
    try {
      created = await ctx.client.create<ForeignCluster>(resourcePath(GVR.foreignCluster), {
        apiVersion: apiVersionOf(GVR.foreignCluster),
        kind: 'ForeignCluster',
        metadata: {
          name: s.clusterID,
          labels: { [Labels.clusterID]: s.clusterID, [Labels.discoveryType]: s.source, [Labels.managedBy]: MANAGED_BY, ...(s.labels ?? {}) },
          ...(s.annotations ? { annotations: s.annotations } : {}),
          ...(s.owner ? { ownerReferences: [{ ...s.owner, blockOwnerDeletion: false }] } : {}),
        },
        spec: {
          clusterID: s.clusterID,
          apiUrl: s.apiUrl,
          namespace: s.namespace ?? 'liqo',
          ...(s.clusterName ? { clusterName: s.clusterName } : {}),
          discoveryType: s.source,
          join: s.join,
          ...(s.allowUntrustedCA ? { allowUntrustedCA: true } : {}),
          ...(s.caFingerprint ? { caFingerprint: s.caFingerprint } : {}),
        },
      });
    } catch (e) {
      if (isAlreadyExists(e)) return 'unchanged'; // a concurrent sighting won; the next one updates
      throw e;
    }
    await applyForeignClusterStatus(ctx, created, managerFor(s.source), { lastSeen: { [s.source]: nowIso }, ...(s.dnsAddresses ? { dnsAddresses: s.dnsAddresses } : {}) }, [
      { type: 'Discovered', status: 'True', reason: `${s.source}Discovery`, message: `seen via ${s.via} at ${s.apiUrl}` },
    ], now);
    void ctx.events.record(created, 'Normal', 'Discovered', `cluster ${s.clusterName ?? s.clusterID} discovered via ${s.via} at ${s.apiUrl} (join: ${s.join})`);
    return 'created';
  }

  const fc = existing;
  const urlDiffers = !!fc.spec.apiUrl && fc.spec.apiUrl !== s.apiUrl;
  // A requester's apiUrl is its own word, and often not the name a private DNS zone publishes for
  // it: a SearchDomain that pins its CA adopts the record at the zone's URL (the pin is checked
  // over TLS before anything is sent, and makes the requester known only if it is its CA).
  const adoptByPin = urlDiffers && isAdoptable(fc) && s.source === 'WAN' && !!s.caFingerprint;
  const adopt = isAdoptable(fc) && (!urlDiffers || adoptByPin);
  const sameSource = fc.spec.discoveryType === s.source || adopt;
  if (urlDiffers && !adoptByPin && (!sameSource || isPeered(fc))) {
    // Never redirect a person's or a peered ForeignCluster on the word of a discovery answer.
    const msg = `${s.via} announces cluster ${s.clusterID} at ${s.apiUrl}, but this ForeignCluster uses ${fc.spec.apiUrl}; not followed (if the cluster really moved, edit spec.apiUrl)`;
    const changed = await applyForeignClusterStatus(ctx, fc, managerFor(s.source), { lastSeen: { ...(fc.status?.lastSeen ?? {}), [s.source]: lastSeenValue(fc, s.source, now) }, ...keptAddresses(fc, s.source) }, [
      { type: 'Discovered', status: 'True', reason: 'URLConflict', message: msg },
    ], now);
    if (changed) void ctx.events.record(fc, 'Warning', 'URLConflict', msg);
    return 'conflict';
  }

  // Spec fields discovery owns, only on ForeignClusters discovery created (same source).
  const specPatch: Record<string, unknown> = {};
  if (adopt) {
    specPatch.discoveryType = s.source;
    if (s.join) specPatch.join = true;
    if (s.allowUntrustedCA) specPatch.allowUntrustedCA = true;
    if (s.caFingerprint && !fc.spec.caFingerprint) specPatch.caFingerprint = s.caFingerprint;
  }
  // A cluster discovery only listed (no person decided) that now proves it belongs: join it.
  // Never one a person removed: that stays removed until a person connects it.
  const promote = sameSource && !fc.spec.join && s.join && fc.metadata.annotations?.[Annotations.autojoin] === 'NotProven' && !isRemoved(fc);
  if (promote) {
    specPatch.join = true;
    if (s.allowUntrustedCA) specPatch.allowUntrustedCA = true;
  }
  if (sameSource) {
    if (s.apiUrl !== fc.spec.apiUrl) specPatch.apiUrl = s.apiUrl;
    if ((s.namespace ?? 'liqo') !== fc.spec.namespace) specPatch.namespace = s.namespace ?? 'liqo';
    if (s.clusterName && s.clusterName !== fc.spec.clusterName) specPatch.clusterName = s.clusterName;
  } else if (!fc.spec.clusterName && s.clusterName) {
    specPatch.clusterName = s.clusterName;
  }
  const wantLabels = { [Labels.clusterID]: s.clusterID, ...(adopt ? { [Labels.discoveryType]: s.source } : {}), ...(s.labels ?? {}) };
  const labelsPatch = Object.fromEntries(Object.entries(wantLabels).filter(([k, v]) => fc.metadata.labels?.[k] !== v));
  // A merge patch replaces the whole list, so it is guarded by resourceVersion (409 on a race).
  const owners = fc.metadata.ownerReferences ?? [];
  const addOwner = sameSource && s.owner && !owners.some((o) => o.uid === s.owner!.uid);
  const metaPatch: Record<string, unknown> = {
    ...(Object.keys(labelsPatch).length ? { labels: labelsPatch } : {}),
    ...(promote || (adopt && s.annotations) ? { annotations: { [Annotations.autojoin]: null, ...(s.annotations ?? {}) } } : {}),
    ...(addOwner ? { ownerReferences: [...owners, { ...s.owner!, blockOwnerDeletion: false }], resourceVersion: fc.metadata.resourceVersion } : {}),
  };
  let result: UpsertResult = 'unchanged';
  if (Object.keys(specPatch).length || Object.keys(metaPatch).length) {
    try {
      await ctx.client.mergePatch(resourcePath(GVR.foreignCluster, { name: fc.metadata.name }), {
        ...(Object.keys(metaPatch).length ? { metadata: metaPatch } : {}),
        ...(Object.keys(specPatch).length ? { spec: specPatch } : {}),
      });
    } catch (e) {
      if (isNotFound(e)) return 'unchanged';
      throw e;
    }
    result = 'updated';
  }
  // The addresses go with the URL they resolve: only where this sighting's URL is the one in use.
  const urlInUse = (specPatch.apiUrl as string | undefined) ?? fc.spec.apiUrl;
  const addresses = s.dnsAddresses && urlInUse === s.apiUrl ? { dnsAddresses: s.dnsAddresses } : keptAddresses(fc, s.source);
  const changed = await applyForeignClusterStatus(ctx, fc, managerFor(s.source), { lastSeen: { ...(fc.status?.lastSeen ?? {}), [s.source]: lastSeenValue(fc, s.source, now) }, ...addresses }, [
    { type: 'Discovered', status: 'True', reason: `${s.source}Discovery`, message: `seen via ${s.via} at ${s.apiUrl}` },
  ], now);
  return changed && result === 'unchanged' ? 'updated' : result;
}

/**
 * The addresses DNS discovery recorded before, for a status apply that brings no new ones: the
 * apply would otherwise drop them (DNS discovery owns the field), and a peered cluster that the
 * server stopped listing, or that is flagged for a URL conflict, would turn to the system resolver.
 */
function keptAddresses(fc: ForeignCluster, source: DiscoverySource): Pick<ForeignClusterStatus, 'dnsAddresses'> {
  return source === 'WAN' && fc.status?.dnsAddresses ? { dnsAddresses: fc.status.dnsAddresses } : {};
}

function lastSeenValue(fc: ForeignCluster, source: DiscoverySource, now: Date): string {
  const prev = fc.status?.lastSeen?.[source];
  if (prev && now.getTime() - Date.parse(prev) < LAST_SEEN_REFRESH_MS) return prev;
  return isoSeconds(now);
}

/**
 * The source no longer sees the cluster: a discovered-only, never-peered ForeignCluster of this
 * source is deleted; anything else is kept and marked Discovered=False (and Reachable=False for
 * LAN, where absence means the host left the link).
 */
export async function retireDiscovered(ctx: AgentContext, clusterID: string, source: DiscoverySource, why: string, now = new Date()): Promise<'deleted' | 'marked' | 'absent'> {
  const fc = findForeignCluster(ctx, clusterID);
  if (!fc) return 'absent';
  if (fc.spec.discoveryType === source && !isPeered(fc)) {
    await ctx.client.delete(resourcePath(GVR.foreignCluster, { name: fc.metadata.name }), { preconditionsUid: fc.metadata.uid });
    return 'deleted';
  }
  const conds = [{ type: 'Discovered', status: 'False' as const, reason: 'NoLongerSeen', message: why }];
  if (source === 'LAN') conds.push({ type: 'Reachable', status: 'False' as const, reason: 'LeftTheLAN', message: why });
  const changed = await applyForeignClusterStatus(ctx, fc, managerFor(source), { lastSeen: fc.status?.lastSeen ?? {}, ...keptAddresses(fc, source) }, conds, now);
  if (changed) void ctx.events.record(fc, 'Warning', 'NoLongerSeen', why);
  return 'marked';
}
