/**
 * Setting and reading the LAN peering secret (src/trust/peeringSecret.ts) through the API: the
 * Secret `kubepeer-peering-secret` (key "secret") in the agent namespace, named by the
 * ClusterConfig's discoveryConfig.peeringSecretRef. Used by `kubepeer trust secret` and the demo;
 * the agent picks the change up from its caches (no restart).
 */
import { createHash, randomBytes } from 'node:crypto';
import { MANAGED_BY, Labels, Names } from '../api/constants.js';
import { GVR, type ClusterConfig } from '../api/crds.js';
import { Core, isAlreadyExists, resourcePath, type KubeClient } from '../k8s/rest.js';
import { MIN_PEERING_SECRET_BYTES, PEERING_SECRET_KEY } from './peeringSecret.js';

export interface PeeringSecretInfo {
  /** The Secret the ClusterConfig names, or null when none is configured. */
  secretRef: string | null;
  /** Whether that Secret holds a usable secret. */
  configured: boolean;
  /** A short hash of the secret, to compare clusters without showing it (sha256:<first 16 hex>). */
  fingerprint: string | null;
}

/** A fresh random secret: 32 bytes, base64. */
export function generatePeeringSecret(): string {
  return randomBytes(32).toString('base64');
}

export const peeringSecretFingerprint = (value: Buffer) => `sha256:${createHash('sha256').update(value).digest('hex').slice(0, 16)}`;

/** Writes the secret (the exact bytes of `value`) and points the ClusterConfig at it. */
export async function setPeeringSecret(client: KubeClient, namespace: string, value: string): Promise<PeeringSecretInfo> {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length < MIN_PEERING_SECRET_BYTES) {
    throw new Error(`the peering secret must be at least ${MIN_PEERING_SECRET_BYTES} bytes (proofs of it are public, so a short one can be guessed); omit --value to generate one`);
  }
  const name = Names.peeringSecret;
  const body = {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: { name, namespace, labels: { [Labels.managedBy]: MANAGED_BY } },
    data: { [PEERING_SECRET_KEY]: bytes.toString('base64') },
  };
  try {
    await client.create(resourcePath(Core.secrets, { namespace }), body);
  } catch (e) {
    if (!isAlreadyExists(e)) throw e;
    await client.mergePatch(resourcePath(Core.secrets, { namespace, name }), { data: body.data });
  }
  await client.mergePatch(resourcePath(GVR.clusterConfig, { name: Names.clusterConfig }), { spec: { discoveryConfig: { peeringSecretRef: { name } } } });
  return { secretRef: name, configured: true, fingerprint: peeringSecretFingerprint(bytes) };
}

/** What is configured, and the secret itself when `reveal` (to set it on another cluster). */
export async function readPeeringSecret(client: KubeClient, namespace: string): Promise<PeeringSecretInfo & { value?: string }> {
  const cc = await client.getOrNull<ClusterConfig>(resourcePath(GVR.clusterConfig, { name: Names.clusterConfig }));
  const ref = cc?.spec.discoveryConfig?.peeringSecretRef?.name;
  if (!ref) return { secretRef: null, configured: false, fingerprint: null };
  const s = await client.getOrNull<{ data?: Record<string, string> }>(resourcePath(Core.secrets, { namespace, name: ref }));
  const b64 = s?.data?.[PEERING_SECRET_KEY];
  if (!b64) return { secretRef: ref, configured: false, fingerprint: null };
  const bytes = Buffer.from(b64, 'base64');
  return { secretRef: ref, configured: bytes.length >= MIN_PEERING_SECRET_BYTES, fingerprint: peeringSecretFingerprint(bytes), value: bytes.toString('utf8') };
}
