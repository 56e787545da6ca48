/**
 * Removing a peer ends both directions (issue 13): our ForeignCluster goes, so our outgoing
 * peering ends (the controller removes the virtual node, the Advertisement and our credential on
 * the peer), and its PeeringRequest to us is rejected, so the agent ends the incoming peering (it
 * tells the peer, deletes the request and the credential it holds). One function for every place a
 * person removes a peer: `kubepeer peer remove` and the dashboard's Remove. `join: false` stays
 * the per-direction way to stop using a peer. A discovered peer stays removed (peerRecords.ts).
 */
import { Annotations } from '../api/constants.js';
import { GVR, type DiscoveryType, type ForeignCluster, type GroupVersionResource } from '../api/crds.js';
import { discoveryWouldRecreate, removalPatch } from './peerRecords.js';
import { ApiError, isNotFound, resourcePath, type KubeClient } from '../k8s/rest.js';

export interface PeerToEnd {
  /** The ForeignCluster's name. */
  name: string;
  /** The peer's cluster ID: its PeeringRequest to us carries that name. */
  clusterID: string;
  /** How it was found: a LAN or WAN peer keeps a removal record (read from the ForeignCluster when not given). */
  discoveryType?: DiscoveryType;
}

export interface EndedPeering {
  /** Our ForeignCluster was there and is being deleted, or turned into a removal record. */
  outgoing: boolean;
  /** The peer had a PeeringRequest to us, now rejected (the agent ends it). */
  incoming: boolean;
  /** The ForeignCluster stays as a removal record (src/peering/peerRecords.ts): discovery does not join it again. */
  kept: boolean;
}

/** What a person needs the right for, when one of the two writes is refused. */
export interface EndingStep {
  verb: 'get' | 'delete' | 'patch';
  resource: GroupVersionResource;
}

/** The API server's answer to one of the two writes, with the write it was refused for. */
export class EndPeeringError extends ApiError {
  constructor(
    readonly step: EndingStep,
    cause: ApiError,
  ) {
    super(cause.code, cause.reason, cause.message, cause.details);
    this.name = 'EndPeeringError';
  }
}

/** The patch that asks the agent to end (or deny) a peer's request to us. */
const rejectRequestPatch = { metadata: { annotations: { [Annotations.approval]: 'rejected' } } };

async function step<T>(s: EndingStep, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    throw e instanceof ApiError ? new EndPeeringError(s, e) : e;
  }
}

/**
 * Ends both directions of a peering; needs no call to the peer (the agent tells it). The request
 * is rejected first, so that the agent ends it rather than making a ForeignCluster for it again.
 * A peer discovery would find again (LAN, WAN) keeps its ForeignCluster as a removal record
 * (`join: false`, annotation discovery.kubepeer.io/removed), unless `forget`: then it is deleted,
 * as every other peer's is.
 */
export async function endBothDirections(client: KubeClient, peer: PeerToEnd, opts: { forget?: boolean; now?: Date } = {}): Promise<EndedPeering> {
  const path = resourcePath(GVR.foreignCluster, { name: peer.name });
  const discoveryType = peer.discoveryType ?? (await step({ verb: 'get', resource: GVR.foreignCluster }, () => client.getOrNull<ForeignCluster>(path)))?.spec.discoveryType;
  const incoming = await step({ verb: 'patch', resource: GVR.peeringRequest }, () =>
    client.mergePatch(resourcePath(GVR.peeringRequest, { name: peer.clusterID }), rejectRequestPatch).then(
      () => true,
      (e: unknown) => {
        if (isNotFound(e)) return false;
        throw e;
      },
    ),
  );
  const kept = !opts.forget && !!discoveryType && discoveryWouldRecreate({ spec: { discoveryType } });
  const outgoing = kept
    ? await step({ verb: 'patch', resource: GVR.foreignCluster }, () => client.mergePatch(path, removalPatch(opts.now ?? new Date())).then(() => true))
    : await step({ verb: 'delete', resource: GVR.foreignCluster }, () => client.delete(path));
  return { outgoing, incoming, kept };
}
