/**
 * Which condition each failure reason of the peering path belongs to, in one place: a reason
 * (a CamelCase word a person can search for) always lands in the same condition, whoever raises it.
 */

/** Conditions of the ForeignCluster (outgoing side) and of the PeeringRequest (incoming side). */
export type PeeringConditionType = 'Reachable' | 'TrustEstablished' | 'PeeringRequested' | 'PeeringAccepted' | 'IdentityVerified' | 'Accepted';

const conditionByReason: Record<string, PeeringConditionType> = {
  // trust in the peer's API server (trust/trustEvaluator.ts)
  Unreachable: 'Reachable',
  // the apiUrl, or an address its host resolves to, breaks the address policy: never called
  ForbiddenAddress: 'Reachable',
  MissingApiUrl: 'TrustEstablished',
  IdentityMismatch: 'TrustEstablished',
  CAPinMismatch: 'TrustEstablished',
  CAChanged: 'TrustEstablished',
  CertificateInvalid: 'TrustEstablished',
  NoPublishedCA: 'TrustEstablished',
  // liqo-cluster-info refused or missing (kubepeer not installed there, or its agent never ran)
  NoClusterInfo: 'TrustEstablished',
  UntrustedCA: 'TrustEstablished',
  PeeringSecretNotProven: 'TrustEstablished',
  TrustedModeUntrustedCA: 'TrustEstablished',
  // sending our PeeringRequest
  PeerUnreachable: 'PeeringRequested',
  RequestRefused: 'PeeringRequested',
  PeerAgentDown: 'PeeringRequested',
  RequestFailed: 'PeeringRequested',
  // the identity callback to a requester
  InvalidApiUrl: 'IdentityVerified',
  SelfReferentialApiUrl: 'IdentityVerified',
  ForbiddenApiUrl: 'IdentityVerified',
  RequesterUnreachable: 'IdentityVerified',
  // the requester's host name does not resolve (yet): retried, never a reason to drop a request
  RequesterUnresolvable: 'IdentityVerified',
  CredentialRejected: 'IdentityVerified',
  // our Advertisement on the requester
  AdvertisementConflict: 'PeeringAccepted',
  AdvertisementForbidden: 'PeeringAccepted',
  AdvertisementFailed: 'PeeringAccepted',
};

/** The condition a failure reason is reported in (PeeringRequested for a reason not listed). */
export function conditionOf(reason: string): PeeringConditionType {
  return conditionByReason[reason] ?? 'PeeringRequested';
}
