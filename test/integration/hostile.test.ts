/**
 * Hostile input on the peering path: a requester claiming someone else's
 * cluster ID, and a CA swapped under a pinned peer. Each is refused with a clear reason and
 * nothing is written into the victim.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { LocalCluster } from '../../src/localcluster/localCluster.js';
import { Core, KubeClient, resourcePath } from '../../src/k8s/rest.js';
import { GVR, apiVersionOf, type PeeringRequest } from '../../src/api/crds.js';
import { createCA } from '../../src/trust/pki.js';
import { certificateFingerprint } from '../../src/trust/pki.js';
import { buildTokenKubeconfig } from '../../src/peering/kubeconfig.js';
import { remoteCAConfigMapName } from '../../src/trust/trustEvaluator.js';
import { agentMetricsUrl, startAgent, startCluster, type AgentProcess } from '../support/clusters.js';
import { clusterIDOf, describeFC, foreignCluster, setClusterConfig, virtualNode, waitForReadyNode } from '../support/peering.js';
import { waitFor } from '../support/wait.js';

let a: LocalCluster;
let b: LocalCluster;
let A: KubeClient;
let B: KubeClient;
let idA: string;
let idB: string;
const agents: AgentProcess[] = [];

beforeAll(async () => {
  [a, b] = await Promise.all([startCluster('hostile-a'), startCluster('hostile-b')]);
  A = a.client();
  B = b.client();
  await setClusterConfig(B, { peeringConfig: { acceptPolicy: 'AcceptAll', heartbeatSeconds: 2 } });
  agents.push(startAgent(a, ['--no-dashboard']), startAgent(b, ['--no-dashboard']));
  await Promise.all(agents.map(agentMetricsUrl));
  [idA, idB] = await Promise.all([clusterIDOf(A), clusterIDOf(B)]);
});

afterAll(async () => {
  await Promise.all(agents.map((x) => x.stop()));
  await Promise.all([a?.stop(), b?.stop()]);
});

describe('a requester claiming someone else\'s cluster ID', () => {
  it('is denied by the identity callback (IdentityMismatch) and nothing is written into the cluster it pointed at', async () => {
    // The attacker holds a real token of A (e.g. a leaked read credential) and claims to be X.
    await A.create(resourcePath(Core.serviceAccounts, { namespace: 'liqo' }), { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'leaked', namespace: 'liqo' } });
    await A.create(resourcePath(Core.roles, { namespace: 'liqo' }), { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'leaked', namespace: 'liqo' }, rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get'] }] });
    await A.create(resourcePath(Core.roleBindings, { namespace: 'liqo' }), { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'leaked', namespace: 'liqo' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'leaked' }, subjects: [{ kind: 'ServiceAccount', name: 'leaked', namespace: 'liqo' }] });
    const tr = await A.create<{ status: { token: string } }>(resourcePath(Core.serviceAccounts, { namespace: 'liqo', name: 'leaked', subresource: 'token' }), { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } });
    const impostor = randomUUID();
    const anon = KubeClient.anonymous(b.apiUrl, readFileSync(b.caCert, 'utf8'));
    await anon.create(resourcePath(GVR.peeringRequest), {
      apiVersion: apiVersionOf(GVR.peeringRequest),
      kind: 'PeeringRequest',
      metadata: { name: impostor },
      spec: { clusterID: impostor, namespace: 'liqo', apiUrl: a.apiUrl, kubeconfig: buildTokenKubeconfig({ server: a.apiUrl, caPem: readFileSync(a.caCert, 'utf8'), token: tr.status.token }) },
    });
    anon.close();
    const denied = await waitFor('the impostor request denied', async () => {
      const pr = await B.getOrNull<PeeringRequest>(resourcePath(GVR.peeringRequest, { name: impostor }));
      return pr?.status?.phase === 'Denied' ? pr : undefined;
    });
    expect(denied.status?.reason).toBe('IdentityMismatch');
    expect(denied.status?.message).toContain(idA);
    // Nothing written into A, the cluster the request pointed at.
    expect(await A.getOrNull(resourcePath(GVR.advertisement, { name: `advertisement-${idB}` }))).toBeNull();
    expect(await virtualNode(A, idB)).toBeNull();
    // And B created no ForeignCluster for the impostor.
    expect((await B.list<{ spec: { clusterID: string } }>(resourcePath(GVR.foreignCluster))).items.filter((f) => f.spec.clusterID === impostor)).toEqual([]);
  });
});

describe('a CA swapped under a pinned peer', () => {
  it('stops the peering with TrustEstablished=False/CAChanged and revokes the credential until trust reset', async () => {
    await A.create(resourcePath(GVR.foreignCluster), {
      apiVersion: apiVersionOf(GVR.foreignCluster),
      kind: 'ForeignCluster',
      metadata: { name: 'pinned' },
      spec: { clusterID: idB, apiUrl: b.apiUrl, discoveryType: 'Manual', join: true, allowUntrustedCA: true },
    });
    await waitForReadyNode(A, idB, 120_000, describeFC(A, 'pinned'));
    const fc = await foreignCluster(A, 'pinned');
    expect(fc?.status?.caFingerprint).toBe(certificateFingerprint(readFileSync(b.caCert, 'utf8')));

    // Swap what we pinned for another CA: from A's point of view the peer's CA has changed.
    const other = await createCA('not-the-peers-ca');
    await A.replace(resourcePath(Core.configMaps, { namespace: 'liqo', name: remoteCAConfigMapName(idB) }), {
      apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: remoteCAConfigMapName(idB), namespace: 'liqo' }, data: { 'ca.crt': other.certPem },
    });
    await A.mergePatch(resourcePath(GVR.foreignCluster, { name: 'pinned', subresource: 'status' }), { status: { caFingerprint: certificateFingerprint(other.certPem) } });
    // Force a fresh trust evaluation (the agent caches a good one for a few minutes).
    await A.mergePatch(resourcePath(GVR.foreignCluster, { name: 'pinned' }), { metadata: { annotations: { 'discovery.liqo.io/trust-reset-at': 'test' } } });

    const cond = await waitFor('TrustEstablished=False CAChanged', async () => (await foreignCluster(A, 'pinned'))?.status?.conditions?.find((c) => c.type === 'TrustEstablished' && c.reason === 'CAChanged'), { describe: describeFC(A, 'pinned'), timeoutMs: 60_000 });
    expect(cond.message).toContain(`kubepeer trust reset ${idB}`);
    await waitFor('credential revoked', async () => (await A.getOrNull(resourcePath(Core.secrets, { namespace: 'liqo', name: `liqo-remote-${idB}` }))) === null);
  });
});

describe('an API server that does not publish liqo-cluster-info', () => {
  it('is reported as NoClusterInfo in the status, not as the last probe said (the reason a person can act on)', async () => {
    // B's API server, asked for the cluster info in a namespace where kubepeer is not installed
    const id = randomUUID();
    await A.create(resourcePath(GVR.foreignCluster), {
      apiVersion: apiVersionOf(GVR.foreignCluster),
      kind: 'ForeignCluster',
      metadata: { name: 'no-info' },
      spec: { clusterID: id, apiUrl: b.apiUrl, namespace: 'not-kubepeer', discoveryType: 'Manual', join: true, allowUntrustedCA: true },
    });
    try {
      const cond = await waitFor('TrustEstablished=False NoClusterInfo', async () => (await foreignCluster(A, 'no-info'))?.status?.conditions?.find((c) => c.type === 'TrustEstablished' && c.status === 'False' && c.reason === 'NoClusterInfo'), { describe: describeFC(A, 'no-info'), timeoutMs: 60_000 });
      expect(cond.message).toContain('does not publish not-kubepeer/liqo-cluster-info');
      expect((await foreignCluster(A, 'no-info'))?.status?.outgoing).toMatchObject({ phase: 'Pending', reason: 'NoClusterInfo' });
    } finally {
      await A.delete(resourcePath(GVR.foreignCluster, { name: 'no-info' })).catch(() => {});
    }
  });
});
