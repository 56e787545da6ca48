/**
 * Who a SearchDomain joins by itself (docs/design.md §4, "Who joins automatically"): with
 * `autojoin: true`, a cluster whose TXT record pins its CA (`ca=sha256:<hex>`). The pin goes to
 * spec.caFingerprint, so the outgoing peering sends nothing unless the CA the peer's API server
 * presents over TLS is that one; and its PeeringRequest is "known" for AutoAcceptKnown only when
 * the CA of the request (which the identity callback then verifies its API server with) is that
 * one too. Without a pin a DNS record is a hint like a LAN sighting: the cluster is listed (join
 * false, marked NotProven) for a person to connect.
 */
import { Annotations } from '../../api/constants.js';
import type { ForeignCluster, SearchDomain } from '../../api/crds.js';
import { AUTOJOIN_NOT_PROVEN } from '../../trust/peeringSecret.js';
import type { Sighting } from '../foreignClusterUpsert.js';

/** The autojoin mark of a ForeignCluster a SearchDomain joined because its TXT record pins its CA. */
export const AUTOJOIN_CA_PIN = 'CAPin';

/** `join` and the autojoin mark for a cluster a SearchDomain lists, with or without a `ca=` pin. */
export function autojoinDecision(sd: Pick<SearchDomain, 'spec'>, caFingerprint: string | undefined): Pick<Sighting, 'join' | 'annotations'> {
  if (!sd.spec.autojoin) return { join: false };
  return caFingerprint
    ? { join: true, annotations: { [Annotations.autojoin]: AUTOJOIN_CA_PIN } }
    : { join: false, annotations: { [Annotations.autojoin]: AUTOJOIN_NOT_PROVEN } };
}

/**
 * Whether a requester is known because a SearchDomain with autojoin joined it on a `ca=` pin that
 * is the CA of its request (`requestCAFingerprint`).
 */
export function knownByCAPin(fc: Pick<ForeignCluster, 'metadata' | 'spec'> | undefined, requestCAFingerprint: string): boolean {
  return !!fc && fc.spec.join && fc.metadata.annotations?.[Annotations.autojoin] === AUTOJOIN_CA_PIN && fc.spec.caFingerprint === requestCAFingerprint;
}
