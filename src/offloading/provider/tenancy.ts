/**
 * What a provider (cluster B) keeps for one consumer (cluster A) that may run pods here, as pure
 * functions: the tenant namespace with Pod Security enforced, a ResourceQuota equal to what B offers
 * A (with the LimitRange defaults a quota needs, so pods without requests are still admitted), A's
 * ServiceAccount and a Role of that namespace only, and the Secret A's token is bound to. Nothing
 * here grants anything outside the tenant namespace, and no pod there gets a token of B's own:
 * the namespace's `default` ServiceAccount does not mount one, and A's pods arrive with
 * `automountServiceAccountToken: false` (see the consumer's pod mapping).
 */
import { createHash } from 'node:crypto';
import { Labels, MANAGED_BY } from '../../api/constants.js';
import type { Offer } from '../../peering/incoming/resources.js';
import { CONSUMER_SERVICE_ACCOUNT, CONSUMER_TOKEN_SECRET, OffloadingAnnotations, OffloadingLabels, tenantNamespace } from '../names.js';

export interface TenancyInput {
  consumerID: string;
  consumerName?: string;
  offer: Offer;
  podSecurity: 'baseline' | 'restricted';
}

export interface TenancyObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [k: string]: unknown;
}

/** Verbs A needs on its pods: run them, read their logs and status, and the streams (exec, attach, port-forward). */
export const CONSUMER_RULES = [
  { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch', 'create', 'delete', 'deletecollection', 'patch', 'update'] },
  { apiGroups: [''], resources: ['pods/log', 'pods/status'], verbs: ['get'] },
  { apiGroups: [''], resources: ['pods/exec', 'pods/attach', 'pods/portforward'], verbs: ['get', 'create'] },
  { apiGroups: [''], resources: ['configmaps', 'secrets'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] },
  { apiGroups: [''], resources: ['events'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: [''], resources: ['resourcequotas'], verbs: ['get', 'list', 'watch'] },
];

export function tenancyLabels(consumerID: string): Record<string, string> {
  return { [OffloadingLabels.consumer]: consumerID, [Labels.managedBy]: MANAGED_BY };
}

/** The objects of the tenancy, namespace first. */
export function tenancyObjects(t: TenancyInput): TenancyObject[] {
  const ns = tenantNamespace(t.consumerID);
  const labels = tenancyLabels(t.consumerID);
  const meta = (name: string) => ({ name, namespace: ns, labels });
  return [
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: ns,
        labels: {
          ...labels,
          'pod-security.kubernetes.io/enforce': t.podSecurity,
          'pod-security.kubernetes.io/enforce-version': 'latest',
          'pod-security.kubernetes.io/warn': 'restricted',
        },
        annotations: { 'offloading.kubepeer.io/consumer-name': t.consumerName ?? t.consumerID },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'ResourceQuota',
      metadata: meta('tenant-quota'),
      spec: { hard: { 'requests.cpu': nonNegative(t.offer.cpu), 'requests.memory': nonNegative(t.offer.memory), pods: nonNegative(t.offer.pods) } },
    },
    {
      apiVersion: 'v1',
      kind: 'LimitRange',
      metadata: meta('tenant-defaults'),
      spec: { limits: [{ type: 'Container', defaultRequest: { cpu: '10m', memory: '16Mi' } }] },
    },
    // The namespace's own default ServiceAccount mounts no token: a pod here never runs as B.
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta('default'), automountServiceAccountToken: false },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(CONSUMER_SERVICE_ACCOUNT), automountServiceAccountToken: false },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: meta(CONSUMER_SERVICE_ACCOUNT), rules: CONSUMER_RULES },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: meta(CONSUMER_SERVICE_ACCOUNT),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: CONSUMER_SERVICE_ACCOUNT },
      subjects: [{ kind: 'ServiceAccount', name: CONSUMER_SERVICE_ACCOUNT, namespace: ns }],
    },
    { apiVersion: 'v1', kind: 'Secret', type: 'Opaque', metadata: meta(CONSUMER_TOKEN_SECRET) },
  ];
}

/** A quantity the quota can take: a negative offer (B overcommitted) admits nothing new. */
function nonNegative(q: string): string {
  return q.startsWith('-') ? '0' : q;
}

/** Hash of what the tenancy should be: unchanged hash, no writes. */
export function tenancyHash(objects: TenancyObject[]): string {
  return createHash('sha256').update(JSON.stringify(objects)).digest('hex').slice(0, 16);
}

export interface TokenState {
  issuedAtMs?: number;
  expiresAtMs?: number;
}

/** A token is renewed at 80 % of its life, or when it was never issued. */
export function tokenRenewalDue(t: TokenState, nowMs: number): number {
  if (t.issuedAtMs === undefined || t.expiresAtMs === undefined) return 0;
  return t.issuedAtMs + 0.8 * (t.expiresAtMs - t.issuedAtMs) - nowMs;
}

export function tokenStateOf(annotations: Record<string, string> | undefined): TokenState {
  const issued = Date.parse(annotations?.[OffloadingAnnotations.tokenIssuedAt] ?? '');
  const expires = Date.parse(annotations?.[OffloadingAnnotations.tokenExpiresAt] ?? '');
  return { ...(Number.isFinite(issued) ? { issuedAtMs: issued } : {}), ...(Number.isFinite(expires) ? { expiresAtMs: expires } : {}) };
}
