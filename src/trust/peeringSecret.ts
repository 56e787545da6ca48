/**
 * The LAN peering secret (docs/design.md §5, "Who joins by itself"): a random value in a Secret
 * named by the ClusterConfig (`discoveryConfig.peeringSecretRef`), shared by the clusters of one
 * LAN and never sent or announced. Like a Wi-Fi password, it turns "seen on the LAN" into "belongs
 * here": only clusters that prove it are joined and accepted with no person involved.
 *
 * The proofs are static HMACs bound to what TLS already proves, since an anonymous caller can only
 * read liqo-cluster-info and create a PeeringRequest (no round trip for a nonce):
 *  - B publishes in liqo-cluster-info HMAC(secret, "cluster-info", B's ID, B's CA fingerprint);
 *    A checks it over a TLS connection verified with that very CA before it sends anything;
 *  - A's PeeringRequest carries HMAC(secret, "peering-request", A's ID, B's ID, A's CA
 *    fingerprint); B checks it against the CA in A's credential, which B's identity callback
 *    then verifies A's API server with.
 * Copying B's proof is useless without B's CA key (the TLS check fails); A's proof names B, so it
 * is worth nothing at any other cluster, and names A's CA, so it is worth nothing for another
 * requester. Nothing here is secret but the key, which is 32 random bytes by default (an
 * offline guess of a published proof is then hopeless; a short typed phrase is the weak point).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { Annotations, Names } from '../api/constants.js';
import type { ForeignCluster } from '../api/crds.js';
import type { AgentContext } from '../agent/context.js';
import { certificateFingerprint } from './pki.js';

/** The key of the peering secret inside its Secret. */
export const PEERING_SECRET_KEY = 'secret';
/** Fewer bytes than this are refused: the proofs are public, so a short secret can be guessed offline. */
export const MIN_PEERING_SECRET_BYTES = 16;

const hmac = (secret: Buffer, parts: string[]) => createHmac('sha256', secret).update(parts.join('\n')).digest('hex');

/** What B publishes in liqo-cluster-info. */
export function clusterInfoProof(secret: Buffer, clusterID: string, caFingerprint: string): string {
  return hmac(secret, ['kubepeer/cluster-info/v1', clusterID, caFingerprint]);
}

/** What A puts in its PeeringRequest to B. */
export function requestProof(secret: Buffer, requesterID: string, targetID: string, requesterCAFingerprint: string): string {
  return hmac(secret, ['kubepeer/peering-request/v1', requesterID, targetID, requesterCAFingerprint]);
}

/** Constant-time comparison of a proof with the expected one (false for anything malformed). */
export function proofMatches(expected: string, got: string | undefined): boolean {
  if (!got || got.length !== expected.length || !/^[0-9a-f]+$/.test(got)) return false;
  return timingSafeEqual(Buffer.from(expected), Buffer.from(got));
}

/** The secret's Secret name from the ClusterConfig, or undefined when none is configured. */
export function peeringSecretName(ctx: Pick<AgentContext, 'config'>): string | undefined {
  return ctx.config().discoveryConfig.peeringSecretRef?.name || undefined;
}

/** The peering secret, or undefined when none is configured, its Secret is missing, or it is too short. */
export function peeringSecret(ctx: Pick<AgentContext, 'config' | 'informers' | 'namespace'>): Buffer | undefined {
  const name = peeringSecretName(ctx);
  if (!name) return undefined;
  const b64 = ctx.informers.secrets.get(`${ctx.namespace}/${name}`)?.data?.[PEERING_SECRET_KEY];
  if (!b64) return undefined;
  const value = Buffer.from(b64, 'base64');
  return value.length >= MIN_PEERING_SECRET_BYTES ? value : undefined;
}

export const AUTOJOIN_PEERING_SECRET = 'PeeringSecret';
export const AUTOJOIN_NOT_PROVEN = 'NotProven';

/**
 * Whether the outgoing peering of this ForeignCluster waits for the peer to prove the secret:
 * LAN discovery joined it only because its liqo-cluster-info proved it, so the proof is checked
 * again over the TLS connection verified with the CA we pin. A person's "connect" (`kubepeer peer
 * join`, the dashboard) removes the mark: then it is the person's decision.
 */
export function joinedByPeeringSecret(fc: Pick<ForeignCluster, 'metadata'>): boolean {
  return fc.metadata.annotations?.[Annotations.autojoin] === AUTOJOIN_PEERING_SECRET;
}

/**
 * Whether a requester with this ForeignCluster is known without a proof: a person made it
 * (Manual) or a person set join on it. A ForeignCluster that LAN or DNS discovery created carries
 * the autojoin mark until a person decides, so it is never known by being seen (a proof, a trusted
 * CA or a SearchDomain's matching `ca=` pin is then what makes the requester known).
 */
export function knownWithoutProof(fc: Pick<ForeignCluster, 'metadata' | 'spec'> | undefined): boolean {
  if (!fc || fc.spec.discoveryType === 'IncomingPeering' || fc.metadata.annotations?.[Annotations.removed]) return false;
  if (fc.spec.discoveryType === 'Manual') return true;
  return fc.spec.join && !fc.metadata.annotations?.[Annotations.autojoin];
}

/** The Secret name that the CLI and the demo use. */
export const DEFAULT_PEERING_SECRET_NAME = Names.peeringSecret;

/** The proof our PeeringRequest to `targetID` carries, or undefined without a peering secret. */
export function ownRequestProof(ctx: Pick<AgentContext, 'config' | 'informers' | 'namespace' | 'clusterID' | 'caPem'>, targetID: string): string | undefined {
  const secret = peeringSecret(ctx);
  return secret ? requestProof(secret, ctx.clusterID, targetID, certificateFingerprint(ctx.caPem)) : undefined;
}

/**
 * The patch of a person's "connect" or "disconnect" (`kubepeer peer join|leave`, the dashboard):
 * it is the person's decision from then on, so the autojoin mark goes; connecting a cluster that
 * LAN discovery, or a SearchDomain with autojoin (no `ca=` pin), only listed also accepts its CA
 * on first use, as joining an open Wi-Fi network does (it is pinned, and a later change stops the
 * peering).
 */
export function joinPatch(fc: Pick<ForeignCluster, 'metadata' | 'spec'> | undefined, join: boolean): Record<string, unknown> {
  const mark = fc?.metadata.annotations?.[Annotations.autojoin];
  const listedOnly = (fc?.spec.discoveryType === 'LAN' && !!mark) || (fc?.spec.discoveryType === 'WAN' && mark === AUTOJOIN_NOT_PROVEN);
  return {
    // Connecting also ends a removal (src/peering/peerRecords.ts): the person wants the peer back.
    metadata: { annotations: { [Annotations.autojoin]: null, ...(join ? { [Annotations.removed]: null } : {}) } },
    spec: { join, ...(join && listedOnly ? { allowUntrustedCA: true } : {}) },
  };
}
