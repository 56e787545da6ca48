import { describe, expect, it } from 'vitest';
import { OffloadingAnnotations, remoteName, tenantNamespace } from '../../../src/offloading/names.js';
import { OFFLOADED_CONDITION, remotePodFor, type Pod } from '../../../src/offloading/consumer/podMapping.js';
import { planPod, type PodObserved } from '../../../src/offloading/consumer/podPlan.js';
import { planTenancy, type TenancyObserved } from '../../../src/offloading/provider/tenancyController.js';
import { tenancyHash, tenancyObjects, tokenRenewalDue } from '../../../src/offloading/provider/tenancy.js';
import { computeOffer } from '../../../src/peering/incoming/resources.js';

const A = 'aaaaaaaa-0000-4000-8000-000000000001';
const TENANT = tenantNamespace(A);
const now = '2026-11-30T08:00:00Z';

function home(over: Partial<Pod['metadata']> = {}, spec: Record<string, unknown> = {}, status?: Pod['status']): Pod {
  return {
    metadata: { name: 'web-1', namespace: 'apps', uid: 'uid-1', labels: { app: 'web' }, ...over },
    spec: {
      nodeName: 'liqo-b',
      serviceAccountName: 'builder',
      nodeSelector: { 'liqo.io/remote-cluster-id': 'b' },
      tolerations: [{ key: 'virtual-node.liqo.io/not-allowed', operator: 'Exists' }],
      priorityClassName: 'high',
      hostNetwork: true,
      containers: [
        {
          name: 'main',
          image: 'busybox',
          env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'x' } } }, { name: 'P', valueFrom: { secretKeyRef: { name: 'pw', key: 'p' } } }],
          volumeMounts: [
            { name: 'cfg', mountPath: '/cfg' },
            { name: 'kube-api-access-abcde', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' },
          ],
        },
      ],
      volumes: [
        { name: 'cfg', configMap: { name: 'cfg' } },
        { name: 'kube-api-access-abcde', projected: { sources: [{ serviceAccountToken: { path: 'token' } }, { configMap: { name: 'kube-root-ca.crt' } }] } },
      ],
      ...spec,
    },
    ...(status ? { status } : {}),
  };
}

const base = (o: Partial<PodObserved>): PodObserved => ({ consumerID: A, providerName: 'cluster-b', tenantNamespace: TENANT, now, ...o });

describe('remote pod mapping', () => {
  it('drops what refers to the home cluster, the service-account token and host namespaces; renames referenced ConfigMaps and Secrets', () => {
    const r = remotePodFor(home(), A, TENANT);
    if (!r.ok) throw new Error(r.message);
    const spec = r.pod.spec;
    expect(r.pod.metadata.name).toBe(remoteName('apps', 'web-1'));
    expect(r.pod.metadata.namespace).toBe(TENANT);
    expect(r.pod.metadata.annotations?.[OffloadingAnnotations.homeUID]).toBe('uid-1');
    for (const f of ['nodeName', 'nodeSelector', 'tolerations', 'priorityClassName', 'affinity']) expect(spec[f]).toBeUndefined();
    expect(spec.serviceAccountName).toBe('default');
    expect(spec.automountServiceAccountToken).toBe(false);
    expect(spec.hostNetwork).toBe(false);
    expect(spec.enableServiceLinks).toBe(false);
    expect(spec.hostname).toBe('web-1');
    expect(spec.volumes).toEqual([{ name: 'cfg', configMap: { name: remoteName('apps', 'cfg') } }]);
    expect(spec.containers[0].volumeMounts).toEqual([{ name: 'cfg', mountPath: '/cfg' }]);
    expect(spec.containers[0].env[0].valueFrom.configMapKeyRef.name).toBe(remoteName('apps', 'cfg'));
    expect(spec.containers[0].env[1].valueFrom.secretKeyRef.name).toBe(remoteName('apps', 'pw'));
    expect(r.configMaps).toEqual(['cfg']);
    expect(r.secrets).toEqual(['pw']);
  });

  it('refuses volumes that cannot follow a pod, with the volume and its type in the message', () => {
    const r = remotePodFor(home({}, { volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'd' } }] }), A, TENANT);
    expect(r).toMatchObject({ ok: false, reason: 'OffloadingUnsupported' });
    if (!r.ok) expect(r.message).toContain('volume data is of type persistentVolumeClaim');
  });

  it('keeps the same names in two home namespaces apart', () => {
    expect(remoteName('a', 'web')).not.toBe(remoteName('b', 'web'));
    expect(remoteName('apps', 'x'.repeat(300)).length).toBeLessThanOrEqual(253);
  });
});

describe('virtual kubelet decisions', () => {
  const remoteOf = (p: Pod, status: Pod['status'] = { phase: 'Running' }, over: Partial<Pod['metadata']> = {}): Pod => {
    const r = remotePodFor(p, A, TENANT);
    if (!r.ok) throw new Error('unmappable');
    return { ...r.pod, metadata: { ...r.pod.metadata, uid: 'remote-uid', ...over }, status };
  };

  it('creates the remote pod when it is missing', () => {
    expect(planPod(base({ home: home() })).map((a) => a.type)).toEqual(['createRemote']);
  });

  it('mirrors the remote status, without its pod IP (kept out of EndpointSlices), and then writes nothing', () => {
    const h = home();
    const r = remoteOf(h, { phase: 'Running', podIP: '10.244.0.9', startTime: now, conditions: [{ type: 'Ready', status: 'True' }], containerStatuses: [{ name: 'main', ready: true, restartCount: 2 }] });
    const [a] = planPod(base({ home: h, remote: r }));
    if (a?.type !== 'writeHomeStatus') throw new Error(`expected a status write, got ${a?.type}`);
    expect(a.status.phase).toBe('Running');
    expect(a.status.podIP).toBeUndefined();
    expect(a.status.containerStatuses).toEqual([{ name: 'main', ready: true, restartCount: 2 }]);
    expect(a.status.conditions?.find((c) => c.type === OFFLOADED_CONDITION)?.message).toContain('10.244.0.9');
    expect(planPod(base({ home: { ...h, status: a.status }, remote: r }))).toEqual([]);
  });

  it("does not copy the resources B allocated into the home pod's container statuses (kubectl describe node panicked on them)", () => {
    const h = home();
    const r = remoteOf(h, { phase: 'Running', containerStatuses: [{ name: 'main', ready: true, restartCount: 0, allocatedResources: { cpu: '10m' }, resources: { requests: { cpu: '10m' } } }] });
    const [a] = planPod(base({ home: h, remote: r }));
    expect(a?.type === 'writeHomeStatus' && a.status.containerStatuses).toEqual([{ name: 'main', ready: true, restartCount: 0 }]);
  });

  it('deletes the remote pod with the home grace period, then finalizes the home pod', () => {
    const h = home({ deletionTimestamp: now, deletionGracePeriodSeconds: 7 });
    expect(planPod(base({ home: h, remote: remoteOf(h) }))).toMatchObject([{ type: 'deleteRemote', gracePeriodSeconds: 7 }]);
    expect(planPod(base({ home: h, remote: remoteOf(h, { phase: 'Running' }, { deletionTimestamp: now }) }))).toEqual([]);
    expect(planPod(base({ home: h }))).toEqual([{ type: 'finalizeHome' }]);
  });

  it('lets a pod that never started on the peer be deleted at home (Liqo #604)', () => {
    const h = home({ deletionTimestamp: now }, {}, { phase: 'Pending', reason: 'RemoteQuotaExceeded' });
    expect(planPod(base({ home: h }))).toEqual([{ type: 'finalizeHome' }]);
  });

  it('deletes a remote pod whose home pod is gone, or that belongs to an earlier pod of the same name', () => {
    const h = home();
    expect(planPod(base({ remote: remoteOf(h) }))).toMatchObject([{ type: 'deleteRemote' }]);
    const older = remoteOf({ ...h, metadata: { ...h.metadata, uid: 'uid-0' } });
    expect(planPod(base({ home: h, remote: older }))).toMatchObject([{ type: 'deleteRemote', gracePeriodSeconds: 0 }]);
  });

  it('fails the home pod when someone else deleted its remote pod, after confirming with a read', () => {
    const h = home({}, {}, { phase: 'Running', conditions: [{ type: OFFLOADED_CONDITION, status: 'True' }] });
    expect(planPod(base({ home: h }))).toEqual([{ type: 'confirmRemoteAbsent' }]);
    const actions = planPod(base({ home: h, remoteConfirmedAbsent: true }));
    expect(actions[0]).toMatchObject({ type: 'writeHomeStatus', status: { phase: 'Failed', reason: 'RemotePodDeleted' } });
    expect(actions[1]).toMatchObject({ type: 'event', reason: 'RemotePodDeleted' });
  });

  it('reports an unoffloadable pod once, on the pod, and then leaves it', () => {
    const h = home({}, { volumes: [{ name: 'h', hostPath: { path: '/' } }] });
    const actions = planPod(base({ home: h }));
    expect(actions.map((a) => a.type)).toEqual(['writeHomeStatus', 'event']);
    const written = actions[0]!.type === 'writeHomeStatus' ? actions[0].status : undefined;
    expect(written).toMatchObject({ phase: 'Pending', reason: 'OffloadingUnsupported' });
    expect(planPod(base({ home: { ...h, status: written } }))).toEqual([]);
  });
});

describe('provider tenancy decisions', () => {
  const desired = tenancyObjects({ consumerID: A, offer: { cpu: '1', memory: '1Gi', pods: '10' }, podSecurity: 'baseline' });
  const accepted = { metadata: { name: A }, spec: { clusterID: A, apiUrl: 'https://x:6443', namespace: 'liqo' }, status: { phase: 'Accepted' } } as unknown as TenancyObserved['request'];
  const o = (x: Partial<TenancyObserved>): TenancyObserved => ({
    consumerID: A,
    nowMs: 1_000_000,
    offloadingEnabled: true,
    desired,
    desiredHash: tenancyHash(desired),
    abandonAfterMs: 3_600_000,
    consumerSeenAtMs: 999_000,
    ...x,
  });
  const ns = (labels: Record<string, string>, annotations: Record<string, string> = {}) => ({ metadata: { name: TENANT, labels, annotations } });

  it('builds the tenancy and issues a token for an accepted request', () => {
    expect(planTenancy(o({ request: accepted })).map((a) => a.type)).toEqual(['applyTenancy', 'issueToken', 'requeue']);
  });

  it('writes nothing when the applied hash matches and the token is young', () => {
    const n = ns({ 'offloading.kubepeer.io/consumer': A }, { 'offloading.kubepeer.io/applied-hash': tenancyHash(desired) });
    expect(planTenancy(o({ request: accepted, namespace: n, token: { issuedAtMs: 900_000, expiresAtMs: 900_000 + 86_400_000 } })).map((a) => a.type)).toEqual(['requeue']);
  });

  it('renews the token at 80 % of its life', () => {
    expect(tokenRenewalDue({ issuedAtMs: 0, expiresAtMs: 100 }, 79)).toBeGreaterThan(0);
    expect(tokenRenewalDue({ issuedAtMs: 0, expiresAtMs: 100 }, 80)).toBeLessThanOrEqual(0);
  });

  it('removes the tenancy when the request is gone or offloading is off', () => {
    const n = ns({ 'offloading.kubepeer.io/consumer': A });
    expect(planTenancy(o({ namespace: n }))).toEqual([{ type: 'deleteTenancy', namespace: TENANT }]);
    expect(planTenancy(o({ namespace: n, request: accepted, offloadingEnabled: false }))).toEqual([{ type: 'deleteTenancy', namespace: TENANT }]);
  });

  it('checks now and then that the consumer still answers, and removes the tenancy of one that vanished', () => {
    const n = ns({ 'offloading.kubepeer.io/consumer': A }, { 'offloading.kubepeer.io/applied-hash': tenancyHash(desired) });
    const young = { issuedAtMs: 900_000, expiresAtMs: 900_000 + 86_400_000 };
    const base2 = { request: accepted, namespace: n, token: young };
    // Seen 10 minutes ago: time to ask.
    expect(planTenancy(o({ ...base2, nowMs: 999_000 + 600_000 }))).toEqual([{ type: 'probeConsumer' }]);
    expect(planTenancy(o({ ...base2, nowMs: 999_000 + 600_000, probe: { ok: true, message: 'answered' } }))[0]).toEqual({ type: 'markSeen' });
    // No answer, but not for long enough: nothing is removed.
    expect(planTenancy(o({ ...base2, nowMs: 999_000 + 600_000, probe: { ok: false, message: 'no answer' } })).map((a) => a.type)).toEqual(['requeue']);
    // No answer for over an hour: the tenancy goes, with the reason.
    const gone = planTenancy(o({ ...base2, nowMs: 999_000 + 3_700_000, probe: { ok: false, message: 'no answer' } }));
    expect(gone).toMatchObject([{ type: 'deleteTenancy', namespace: TENANT }]);
    expect(gone[0]!.type === 'deleteTenancy' && gone[0]!.why).toContain('has not answered for 62 min');
  });

  it('never adopts a namespace of that name it did not make', () => {
    expect(planTenancy(o({ request: accepted, namespace: ns({}) }))).toMatchObject([{ type: 'refuse', reason: 'TenantNamespaceTaken' }]);
  });

  it('gives the consumer rights in its namespace only, and a quota that is the offer', () => {
    const role = desired.find((d) => d.kind === 'Role')!;
    expect(role.metadata.namespace).toBe(TENANT);
    expect(desired.some((d) => d.kind === 'ClusterRole' || d.kind === 'ClusterRoleBinding')).toBe(false);
    expect(desired.find((d) => d.kind === 'ResourceQuota')).toMatchObject({ spec: { hard: { 'requests.cpu': '1', 'requests.memory': '1Gi', pods: '10' } } });
  });
});

describe('offer', () => {
  it("does not shrink because of the consumer's own offloaded pods", () => {
    const nodes = [{ metadata: { name: 'n' }, status: { allocatable: { cpu: '2', memory: '2Gi', pods: '100' } } }];
    const pod = (ns: string) => ({ metadata: { namespace: ns }, spec: { nodeName: 'n', containers: [{ resources: { requests: { cpu: '500m' } } }] }, status: { phase: 'Running' } });
    const offer = computeOffer(nodes, [pod(TENANT), pod('own')], 100, TENANT);
    expect(offer.cpu).toBe('1500m');
    expect(offer.pods).toBe('99');
  });
});

describe('pod webhook: --peer pin', () => {
  it('pins new pods of a namespace to its peer unless they chose one', async () => {
    const { peerPinPatch } = await import('../../../src/offloading/consumer/podWebhook.js');
    expect(peerPinPatch({ spec: {} }, 'b')).toEqual([{ op: 'add', path: '/spec/nodeSelector', value: { 'liqo.io/remote-cluster-id': 'b' } }]);
    expect(peerPinPatch({ spec: { nodeSelector: { disk: 'ssd' } } }, 'b')).toEqual([{ op: 'add', path: '/spec/nodeSelector/liqo.io~1remote-cluster-id', value: 'b' }]);
    expect(peerPinPatch({ spec: { nodeSelector: { 'liqo.io/remote-cluster-id': 'c' } } }, 'b')).toEqual([]);
    expect(peerPinPatch({ spec: {} }, undefined)).toEqual([]);
  });
});
