import { describe, expect, it } from 'vitest';
import { VIRTUAL_NODE_TOLERATION, handlePodAdmission, hasVirtualNodeToleration, podWebhookEntry, toleratesVirtualNodeTaint, tolerationPatch } from '../../../src/offloading/consumer/podWebhook.js';

const pod = (tolerations?: unknown[]) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'ns' }, spec: { containers: [{ name: 'c', image: 'busybox' }], ...(tolerations ? { tolerations } : {}) } });

function review(object: unknown, over: Record<string, unknown> = {}): Buffer {
  return Buffer.from(
    JSON.stringify({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: { uid: 'u-1', kind: { group: '', version: 'v1', kind: 'Pod' }, resource: { group: '', version: 'v1', resource: 'pods' }, operation: 'CREATE', userInfo: { username: 'alice' }, object, ...over },
    }),
  );
}

/** Applies the add operations of a JSON Patch the way the API server does (enough for these paths). */
function applyPatch(obj: ReturnType<typeof pod>, b64: string): ReturnType<typeof pod> {
  const out = structuredClone(obj) as ReturnType<typeof pod> & { spec: { tolerations?: unknown[] } };
  for (const op of JSON.parse(Buffer.from(b64, 'base64').toString()) as Array<{ op: string; path: string; value: unknown }>) {
    expect(op.op).toBe('add');
    if (op.path === '/spec/tolerations') out.spec.tolerations = op.value as unknown[];
    else if (op.path === '/spec/tolerations/-') out.spec.tolerations!.push(op.value);
    else throw new Error(`unexpected path ${op.path}`);
  }
  return out;
}

describe('the offloading pod webhook', () => {
  it('adds the virtual-node toleration to a pod without tolerations', () => {
    const r = handlePodAdmission(review(pod()));
    expect(r.status).toBe(200);
    const resp = (r.body as { response: { uid: string; allowed: boolean; patchType: string; patch: string } }).response;
    expect(resp).toMatchObject({ uid: 'u-1', allowed: true, patchType: 'JSONPatch' });
    expect(applyPatch(pod(), resp.patch).spec).toMatchObject({ tolerations: [{ key: 'virtual-node.liqo.io/not-allowed', operator: 'Exists', effect: 'NoExecute' }] });
  });

  it('appends to the tolerations a pod already has, keeping them', () => {
    const other = { key: 'dedicated', operator: 'Equal', value: 'gpu', effect: 'NoSchedule' };
    const r = handlePodAdmission(review(pod([other])));
    const resp = (r.body as { response: { patch: string } }).response;
    expect(applyPatch(pod([other]), resp.patch).spec).toMatchObject({ tolerations: [other, VIRTUAL_NODE_TOLERATION] });
  });

  it('is idempotent: a pod that already tolerates the taint is let through unchanged', () => {
    for (const t of [VIRTUAL_NODE_TOLERATION, { key: 'virtual-node.liqo.io/not-allowed', operator: 'Equal', value: 'true', effect: 'NoExecute' }, { key: 'virtual-node.liqo.io/not-allowed', operator: 'Exists' }, { operator: 'Exists' }]) {
      expect(tolerationPatch(pod([t]))).toEqual([]);
      const r = handlePodAdmission(review(pod([t])));
      expect((r.body as { response: Record<string, unknown> }).response).toEqual({ uid: 'u-1', allowed: true });
    }
    // The patched pod, reviewed again (a reinvocation), needs nothing more.
    const once = tolerationPatch(pod());
    expect(tolerationPatch({ spec: { tolerations: once[0]!.value } })).toEqual([]);
  });

  it('does not count a toleration that evicts after a while, or one for another value or effect', () => {
    expect(toleratesVirtualNodeTaint({ key: 'virtual-node.liqo.io/not-allowed', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 30 })).toBe(false);
    expect(toleratesVirtualNodeTaint({ key: 'virtual-node.liqo.io/not-allowed', operator: 'Equal', value: 'false', effect: 'NoExecute' })).toBe(false);
    expect(toleratesVirtualNodeTaint({ key: 'virtual-node.liqo.io/not-allowed', operator: 'Exists', effect: 'NoSchedule' })).toBe(false);
    expect(hasVirtualNodeToleration(pod([{ key: 'x', operator: 'Exists' }]))).toBe(false);
  });

  it('lets anything that is not a pod CREATE through unchanged, and answers 400 to what it cannot read', () => {
    const upd = handlePodAdmission(review(pod(), { operation: 'UPDATE', oldObject: pod() }));
    expect((upd.body as { response: Record<string, unknown> }).response).toEqual({ uid: 'u-1', allowed: true });
    const sub = handlePodAdmission(review(pod(), { subResource: 'status' }));
    expect(sub.result).toBe('unchanged');
    expect(handlePodAdmission(Buffer.from('{not json')).status).toBe(400);
    expect(handlePodAdmission(review('a string')).status).toBe(400);
  });

  it('is registered to fail open, for labelled namespaces only, on pod CREATE', () => {
    const e = podWebhookEntry({ url: 'https://127.0.0.1:9443/mutate/pods' });
    expect(e).toMatchObject({
      failurePolicy: 'Ignore',
      sideEffects: 'None',
      reinvocationPolicy: 'Never',
      namespaceSelector: { matchLabels: { 'liqo.io/enabled': 'true' } },
      rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }],
    });
    expect(e.timeoutSeconds).toBeLessThanOrEqual(5);
  });
});
