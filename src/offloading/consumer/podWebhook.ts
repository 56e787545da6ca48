/**
 * Opt-in per namespace (docs/design.md §8): pods of a namespace labelled `liqo.io/enabled=true`
 * get the toleration for the virtual-node taint, so the standard scheduler may place them on a
 * virtual node; the taint stays on the node, so nothing else lands there.
 *
 * The API server only sends us pods of labelled namespaces (the MutatingWebhookConfiguration's
 * namespaceSelector), so the decision is a pure function of the pod: add the toleration unless one
 * already tolerates the taint. The answer is an AdmissionReview with a JSON Patch; anything we
 * cannot read is let through unchanged (a webhook with failurePolicy Ignore must never be the
 * reason a pod is refused).
 */
import { Counter } from 'prom-client';
import { registry } from '../../observability/metrics.js';
import { VIRTUAL_NODE_TAINT } from '../../virtualnode/virtualNode.js';
import { AdmissionDecodeError, decodeAdmissionReview } from '../../peering/incoming/admissionReview.js';
import { OFFLOADING_ENABLED_LABEL } from '../names.js';
import { Labels } from '../../api/constants.js';

/** Where the API server posts pod admissions (on the agent's webhook server). */
export const POD_WEBHOOK_PATH = '/mutate/pods';
export const POD_WEBHOOK_CONFIGURATION = 'kubepeer-offloading';
export const POD_WEBHOOK_NAME = 'pods.offloading.kubepeer.io';

export interface Toleration {
  key?: string;
  operator?: 'Equal' | 'Exists' | string;
  value?: string;
  effect?: string;
  tolerationSeconds?: number;
}

/** What the webhook adds: tolerate the virtual-node taint, for good (no tolerationSeconds). */
export const VIRTUAL_NODE_TOLERATION: Toleration = { key: VIRTUAL_NODE_TAINT.key, operator: 'Exists', effect: VIRTUAL_NODE_TAINT.effect };

/** Kubernetes' own rule (k8s.io/api/core/v1 Toleration.ToleratesTaint) for the virtual-node taint. */
export function toleratesVirtualNodeTaint(t: Toleration): boolean {
  if (t.effect && t.effect !== VIRTUAL_NODE_TAINT.effect) return false;
  // tolerationSeconds on a NoExecute toleration means "evicted after that long": not a toleration
  // that lets the pod stay on the virtual node.
  if (typeof t.tolerationSeconds === 'number') return false;
  if (t.key && t.key !== VIRTUAL_NODE_TAINT.key) return false;
  const op = t.operator || 'Equal';
  if (op === 'Exists') return true;
  // An empty key with Equal tolerates nothing (the API refuses it anyway).
  return op === 'Equal' && !!t.key && (t.value ?? '') === VIRTUAL_NODE_TAINT.value;
}

export function hasVirtualNodeToleration(pod: { spec?: { tolerations?: unknown } } | undefined): boolean {
  const list = pod?.spec?.tolerations;
  return Array.isArray(list) && list.some((t) => typeof t === 'object' && t !== null && toleratesVirtualNodeTaint(t as Toleration));
}

export type JsonPatchOp = { op: 'add'; path: string; value: unknown };

/** The JSON Patch that makes `pod` tolerate virtual nodes; empty when it already does. */
export function tolerationPatch(pod: unknown): JsonPatchOp[] {
  if (typeof pod !== 'object' || pod === null) return [];
  const spec = (pod as { spec?: unknown }).spec;
  if (typeof spec !== 'object' || spec === null) return [];
  const tolerations = (spec as { tolerations?: unknown }).tolerations;
  if (hasVirtualNodeToleration({ spec: { tolerations } })) return [];
  if (!Array.isArray(tolerations)) return [{ op: 'add', path: '/spec/tolerations', value: [VIRTUAL_NODE_TOLERATION] }];
  return [{ op: 'add', path: '/spec/tolerations/-', value: VIRTUAL_NODE_TOLERATION }];
}

const podAdmissions = new Counter({
  name: 'kubepeer_offloading_pod_admissions_total',
  help: 'Pods seen by the offloading webhook, by result (tolerated: toleration added; unchanged: it had one or is not a pod CREATE; bad_request).',
  labelNames: ['result'],
  registers: [registry],
});

export interface PodAdmissionAnswer {
  status: number;
  body: unknown;
  result: 'tolerated' | 'unchanged' | 'bad_request';
}

/**
 * With `kubepeer offload namespace NS --peer ID` the namespace's new pods go to that peer only: a
 * nodeSelector on its cluster ID, unless the pod already chose one.
 */
export function peerPinPatch(pod: unknown, peerID: string | undefined): JsonPatchOp[] {
  if (!peerID || typeof pod !== 'object' || pod === null) return [];
  const spec = (pod as { spec?: { nodeSelector?: Record<string, string> } }).spec;
  if (typeof spec !== 'object' || spec === null) return [];
  if (spec.nodeSelector && Labels.remoteClusterID in spec.nodeSelector) return [];
  if (!spec.nodeSelector) return [{ op: 'add', path: '/spec/nodeSelector', value: { [Labels.remoteClusterID]: peerID } }];
  return [{ op: 'add', path: `/spec/nodeSelector/${Labels.remoteClusterID.replace(/~/g, '~0').replace(/\//g, '~1')}`, value: peerID }];
}

/** One admission request, from body bytes to the answer (no sockets: tests call it directly). */
export function handlePodAdmission(body: Buffer, peerOfNamespace: (namespace: string) => string | undefined = () => undefined): PodAdmissionAnswer {
  const review = decodeAdmissionReview(body);
  if (review instanceof AdmissionDecodeError) {
    podAdmissions.inc({ result: 'bad_request' });
    return { status: 400, body: { error: review.message }, result: 'bad_request' };
  }
  const req = review.request;
  const isPodCreate = req.resource.group === '' && req.resource.resource === 'pods' && !req.subResource && req.operation === 'CREATE';
  const patch = isPodCreate ? [...tolerationPatch(req.object), ...peerPinPatch(req.object, req.namespace ? peerOfNamespace(req.namespace) : undefined)] : [];
  const response: Record<string, unknown> = { uid: req.uid, allowed: true };
  if (patch.length) {
    response.patchType = 'JSONPatch';
    response.patch = Buffer.from(JSON.stringify(patch)).toString('base64');
  }
  const result = patch.length ? 'tolerated' : 'unchanged';
  podAdmissions.inc({ result });
  return { status: 200, body: { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response }, result };
}

/** The MutatingWebhookConfiguration entry (clientConfig is a URL or the agent's Service). */
export function podWebhookEntry(clientConfig: Record<string, unknown>): Record<string, unknown> {
  return {
    name: POD_WEBHOOK_NAME,
    admissionReviewVersions: ['v1'],
    sideEffects: 'None',
    // No agent must not mean no pods: they are then created without the toleration and run
    // locally; the stuck-pod reporter (enabledNamespaces.ts) tells their owners what happened.
    failurePolicy: 'Ignore',
    reinvocationPolicy: 'Never',
    timeoutSeconds: 3,
    matchPolicy: 'Equivalent',
    namespaceSelector: { matchLabels: { [OFFLOADING_ENABLED_LABEL]: 'true' } },
    objectSelector: {},
    clientConfig,
    rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'], scope: 'Namespaced' }],
  };
}
