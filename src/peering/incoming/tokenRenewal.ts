/**
 * Renewal of the credential a requester handed us. The token is a TokenRequest token of the
 * requester's ServiceAccount `liqo-remote-<our id>`, bound to a Secret there: deleting that Secret
 * (unpeering) revokes every token bound to it. The requester's RBAC lets that ServiceAccount ask
 * for a fresh token for itself and nobody else, so we renew it once 80 % of its lifetime has
 * passed, with the same lifetime and the same binding, without any new round trip of the
 * handshake. Tokens minted before this rule existed (no permission) simply live out their term.
 */
import { Core, resourcePath, type KubeClient } from '../../k8s/rest.js';

/** Renew when this share of the token's lifetime has passed. */
export const RENEW_AT_FRACTION = 0.8;

export interface ServiceAccountTokenClaims {
  /** Seconds since the epoch. */
  exp: number;
  iat: number;
  namespace: string;
  serviceAccount: string;
  /** The object the token is bound to, when it is a Secret. */
  boundSecret?: { name: string; uid?: string };
}

/** The claims of a Kubernetes service-account JWT (not verified: it is ours to present, not to trust). */
export function serviceAccountClaims(token: string): ServiceAccountTokenClaims | undefined {
  const part = token.split('.')[1];
  if (!part) return undefined;
  let c: Record<string, unknown>;
  try {
    c = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const k8s = c['kubernetes.io'] as { namespace?: string; serviceaccount?: { name?: string }; secret?: { name?: string; uid?: string } } | undefined;
  if (typeof c.exp !== 'number' || typeof c.iat !== 'number' || !k8s?.namespace || !k8s.serviceaccount?.name) return undefined;
  return {
    exp: c.exp,
    iat: c.iat,
    namespace: k8s.namespace,
    serviceAccount: k8s.serviceaccount.name,
    ...(k8s.secret?.name ? { boundSecret: { name: k8s.secret.name, ...(k8s.secret.uid ? { uid: k8s.secret.uid } : {}) } } : {}),
  };
}

/** Whether the token should be renewed now (past 80 % of its lifetime); false for a token we cannot read. */
export function tokenRenewalDue(token: string, nowMs: number): boolean {
  const c = serviceAccountClaims(token);
  if (!c || c.exp <= c.iat) return false;
  return nowMs / 1000 >= c.iat + (c.exp - c.iat) * RENEW_AT_FRACTION;
}

/**
 * Asks the requester's API server, with the current token, for a new token of the same
 * ServiceAccount, lifetime and binding. Throws ApiError (403 for a credential minted without the
 * permission).
 */
export async function renewPeerToken(peer: KubeClient, token: string): Promise<{ token: string; expirationTimestamp: string }> {
  const c = serviceAccountClaims(token);
  if (!c) throw new Error('the token is not a Kubernetes service-account token; it cannot be renewed');
  const tr = await peer.create<{ status: { token: string; expirationTimestamp: string } }>(
    resourcePath(Core.serviceAccounts, { namespace: c.namespace, name: c.serviceAccount, subresource: 'token' }),
    {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: {
        expirationSeconds: c.exp - c.iat,
        ...(c.boundSecret ? { boundObjectRef: { apiVersion: 'v1', kind: 'Secret', ...c.boundSecret } } : {}),
      },
    },
  );
  return tr.status;
}
