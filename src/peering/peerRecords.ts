/**
 * What a person sees and does about a peer as a whole, both directions at once (issue 13 item 2),
 * shared by the CLI (`peer list|remove`, `status`) and the dashboard:
 *
 *  - Removing a peer ends both directions. A peer that discovery would find and join again at once
 *    (LAN, a SearchDomain) keeps its ForeignCluster as a record of the removal: `join: false` and
 *    the annotation `discovery.kubepeer.io/removed=<time>`, which discovery never flips back and
 *    the peeringrequest controller reads as "not known" (no automatic acceptance) and as the end of
 *    any request older than it. A person's connect (`peer join`, `peer add`, the dashboard) clears
 *    it; `peer remove --forget` or deleting the ForeignCluster forgets the peer entirely. A record
 *    in the API server, on the object an operator already looks at: `kubectl get fc` lists it,
 *    `kubectl describe fc` says why it does not peer.
 *  - A peering that exists only because the peer asked us (its PeeringRequest) is a peer too: it
 *    shows even when its ForeignCluster is missing (not made yet, or deleted by hand).
 */
import { Annotations, Labels } from '../api/constants.js';
import { GVR, apiVersionOf, type ForeignCluster, type PeeringPhase, type PeeringRequest } from '../api/crds.js';

/** When a person removed this peer, if it is a removal record. */
export function removedAt(fc: Pick<ForeignCluster, 'metadata'> | undefined): string | undefined {
  return fc?.metadata.annotations?.[Annotations.removed] || undefined;
}

export const isRemoved = (fc: Pick<ForeignCluster, 'metadata'> | undefined): boolean => !!removedAt(fc);

/** Whether a request was made before the peer was removed (it is then ended by the removal). */
export function madeBeforeRemoval(fc: Pick<ForeignCluster, 'metadata'> | undefined, pr: Pick<PeeringRequest, 'metadata'>): boolean {
  const at = Date.parse(removedAt(fc) ?? '');
  const created = Date.parse(String(pr.metadata.creationTimestamp ?? ''));
  return Number.isFinite(at) && Number.isFinite(created) && created <= at;
}

/** A peer discovery finds by itself: removing it must leave a record, or it is joined again at once. */
export const discoveryWouldRecreate = (fc: { spec: Pick<ForeignCluster['spec'], 'discoveryType'> }): boolean => fc.spec.discoveryType === 'LAN' || fc.spec.discoveryType === 'WAN';

/** The patch that turns a ForeignCluster into a removal record (the autojoin mark goes: a person decided). */
export function removalPatch(now: Date): Record<string, unknown> {
  return { metadata: { annotations: { [Annotations.removed]: now.toISOString(), [Annotations.autojoin]: null } }, spec: { join: false } };
}

/** What the outgoing status says about a removal record. */
export function removedMessage(fc: Pick<ForeignCluster, 'metadata'>): string {
  const name = fc.metadata.name;
  return `removed by a person at ${removedAt(fc)}: discovery does not join it again; "kubepeer peer join ${name}" connects it, "kubepeer peer remove --forget ${name}" (or deleting this ForeignCluster) forgets it`;
}

const incomingPhaseOf = (pr: PeeringRequest): PeeringPhase => (pr.status?.phase === 'Accepted' ? 'Established' : pr.status?.phase === 'Denied' ? 'Denied' : 'Pending');

/**
 * The peers that exist only as a request to us, with no ForeignCluster (the agent makes one for an
 * accepted or waiting request; until it has, or when someone deleted it), as ForeignCluster-shaped
 * rows for lists: discoveryType IncomingPeering, join false, the incoming state from the request.
 * Not objects of the API server: for tables and summaries only.
 */
export function requestOnlyPeers(fcs: Pick<ForeignCluster, 'spec' | 'metadata'>[], requests: PeeringRequest[]): ForeignCluster[] {
  const known = new Set(fcs.filter((f) => !f.metadata.deletionTimestamp).map((f) => f.spec.clusterID));
  return requests
    .filter((pr) => !known.has(pr.spec.clusterID) && !pr.metadata.deletionTimestamp)
    .map((pr) => ({
      apiVersion: apiVersionOf(GVR.foreignCluster),
      kind: 'ForeignCluster',
      metadata: { name: pr.spec.clusterID, labels: { [Labels.clusterID]: pr.spec.clusterID }, ...(pr.metadata.creationTimestamp ? { creationTimestamp: pr.metadata.creationTimestamp } : {}) },
      spec: { clusterID: pr.spec.clusterID, clusterName: pr.spec.clusterName, namespace: pr.spec.namespace, apiUrl: pr.spec.apiUrl, discoveryType: 'IncomingPeering', join: false },
      status: {
        incoming: {
          phase: incomingPhaseOf(pr),
          reason: pr.status?.reason ?? 'RequestOnly',
          message: `peeringrequest/${pr.metadata.name} ${pr.status?.phase ?? 'Pending'}${pr.status?.message ? `: ${pr.status.message}` : ''} (no ForeignCluster for it)`,
        },
      },
    }) as unknown as ForeignCluster);
}

/** Every peer a person should see: the ForeignClusters, then the peers known only by their request to us. */
export function allPeers(fcs: ForeignCluster[], requests: PeeringRequest[]): ForeignCluster[] {
  return [...fcs, ...requestOnlyPeers(fcs, requests)];
}
