/**
 * How offloaded workloads are named on both sides (docs/design.md §8), the one source for the
 * consumer (home cluster A, whose virtual node `liqo-<B-id>` the pods are bound to) and the
 * provider (cluster B, where they run):
 *
 * - B keeps every workload of consumer A in ONE namespace, `liqo-tenant-<A-id>`: one ResourceQuota
 *   there is then exactly "what B offers A", which per-namespace quotas could not express. Cluster
 *   IDs are DNS labels, so the name is one too (hashed when a long ID would overflow 63 characters).
 *   The `liqo-tenant-` prefix is reserved: B refuses to adopt a namespace of that name it did not make.
 * - A pod, ConfigMap or Secret `NAME` of A's namespace `NS` is `NAME-<h>` on B, where `<h>` is the
 *   first 8 hex digits of sha256(NS): the same names in two home namespaces never collide. The
 *   pod's hostname stays `NAME` (spec.hostname).
 * - Every reflected object carries the consumer's ID and the home namespace, name and UID.
 */
import { createHash } from 'node:crypto';

export const TENANT_NAMESPACE_PREFIX = 'liqo-tenant-';
/** A's identity on B: a ServiceAccount of the tenant namespace, with a Role of that namespace only. */
export const CONSUMER_SERVICE_ACCOUNT = 'kubepeer-consumer';
/** The Secret (in the tenant namespace) that A's token is bound to: deleting it revokes the token. */
export const CONSUMER_TOKEN_SECRET = 'kubepeer-consumer-token';
/** On A, in the agent namespace: the kubeconfig B delivered for A's tenancy on B. */
export const tenantCredentialOnConsumer = (providerID: string) => `kubepeer-tenant-${providerID}`;

/** The namespace label that opts a namespace's pods in (as Liqo in 2020). */
export const OFFLOADING_ENABLED_LABEL = 'liqo.io/enabled';

export const OffloadingLabels = {
  /** On B's tenant namespace and every object in it: the consumer cluster ID. */
  consumer: 'offloading.kubepeer.io/consumer',
  /** On reflected objects: the home namespace's hash (the `<h>` of the names). */
  homeNamespaceHash: 'offloading.kubepeer.io/home-namespace-hash',
} as const;

export const OffloadingAnnotations = {
  /** On a home namespace (`kubepeer offload namespace NS --peer ID`): its new pods go to that peer only. */
  peer: 'offloading.kubepeer.io/peer',
  homeNamespace: 'offloading.kubepeer.io/home-namespace',
  homeName: 'offloading.kubepeer.io/home-name',
  homeUID: 'offloading.kubepeer.io/home-uid',
  /** On home pods: where the pod runs (B's namespace/name) and its IP there. */
  remotePod: 'offloading.kubepeer.io/remote-pod',
  remotePodIP: 'offloading.kubepeer.io/remote-pod-ip',
  /** On B's tenancy objects: the hash of what was last applied (skips no-op writes). */
  appliedHash: 'offloading.kubepeer.io/applied-hash',
  /** On B's token Secret: when the delivered token was issued and expires. */
  tokenIssuedAt: 'offloading.kubepeer.io/token-issued-at',
  tokenExpiresAt: 'offloading.kubepeer.io/token-expires-at',
  /** On B's tenant namespace: when the consumer last answered. */
  consumerSeenAt: 'offloading.kubepeer.io/consumer-seen-at',
} as const;

function sha256hex(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

export function tenantNamespace(consumerID: string): string {
  const name = `${TENANT_NAMESPACE_PREFIX}${consumerID}`;
  return name.length <= 63 ? name : `${TENANT_NAMESPACE_PREFIX}${sha256hex(consumerID).slice(0, 40)}`;
}

export function homeNamespaceHash(homeNamespace: string): string {
  return sha256hex(homeNamespace).slice(0, 8);
}

/** `NAME-<h>`, within the 253 characters of a DNS subdomain (names are trimmed, never the hash). */
export function remoteName(homeNamespace: string, name: string): string {
  const suffix = `-${homeNamespaceHash(homeNamespace)}`;
  return name.slice(0, 253 - suffix.length) + suffix;
}

/** The hostname a pod had at home: its name, as a DNS label (what the kubelet would derive). */
export function homeHostname(podName: string): string {
  return podName.slice(0, 63).replace(/[.-]+$/, '').replace(/\./g, '-');
}
