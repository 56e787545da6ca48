/**
 * Removing a peer ends both directions (issue 13): our ForeignCluster goes, so our outgoing
 * peering ends (the controller removes the virtual node, the Advertisement and our credential on
 * the peer), and its PeeringRequest to us is rejected, so the agent ends the incoming peering (it
 * tells the peer, deletes the request and the credential it holds). One function for every place a
 * person removes a peer: `kubepeer peer remove` and the dashboard's Remove. `join: false` stays
 * the per-direction way to stop using a peer.
 */
import { Annotations } from '../api/constants.js';
import { GVR, type GroupVersionResource } from '../api/crds.js';
import { ApiError, isNotFound, resourcePath, type KubeClient } from '../k8s/rest.js';

export interface PeerToEnd {
  /** The ForeignCluster's name. */
  name: string;
  /** The peer's cluster ID: its PeeringRequest to us carries that name. */
  clusterID: string;
}

export interface EndedPeering {
  /** Our ForeignCluster was there and is being deleted. */
  outgoing: boolean;
  /** The peer had a PeeringRequest to us, now rejected (the agent ends it). */
  incoming: boolean;
}

/** What a person needs the right for, when one of the two writes is refused. */
export interface EndingStep {
  verb: 'delete' | 'patch';
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

/** Ends both directions of a peering; needs no call to the peer (the agent tells it). */
export async function endBothDirections(client: KubeClient, peer: PeerToEnd): Promise<EndedPeering> {
  const outgoing = await step({ verb: 'delete', resource: GVR.foreignCluster }, () => client.delete(resourcePath(GVR.foreignCluster, { name: peer.name })));
  const incoming = await step({ verb: 'patch', resource: GVR.peeringRequest }, () =>
    client.mergePatch(resourcePath(GVR.peeringRequest, { name: peer.clusterID }), rejectRequestPatch).then(
      () => true,
      (e: unknown) => {
        if (isNotFound(e)) return false;
        throw e;
      },
    ),
  );
  return { outgoing, incoming };
}
