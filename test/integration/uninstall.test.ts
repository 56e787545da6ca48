/**
 * `kubepeer uninstall` on real clusters: with the agent running, the peerings end through it (the
 * peer's side is cleaned up too) and uninstall asks for the agent to be stopped; then everything
 * kubepeer made goes, CRDs and namespace included, and install works again. Without an agent,
 * nothing hangs on kubepeer's finalizers and the peers that were not told are named.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Core, resourcePath } from '../../src/k8s/rest.js';
import { GVR, apiVersionOf } from '../../src/api/crds.js';
import { Labels, MANAGED_BY } from '../../src/api/constants.js';
import { FINALIZER } from '../../src/peering/outgoing/plan.js';
import { kubepeer, kubectl } from '../support/clusters.js';
import { startClusterPair, type ClusterPair } from '../support/clusterPair.js';
import { describeFC, foreignCluster, virtualNode, waitForReadyNode } from '../support/peering.js';
import { waitFor } from '../support/wait.js';

let p: ClusterPair;

beforeAll(async () => {
  p = await startClusterPair(['uninst-a', 'uninst-b'], { peeringConfig: { acceptPolicy: 'AcceptAll', heartbeatSeconds: 2 } });
});
afterAll(async () => {
  await p?.stop();
});

const managed = `${Labels.managedBy}=${MANAGED_BY}`;
const MutatingWebhooks = { group: 'admissionregistration.k8s.io', version: 'v1', plural: 'mutatingwebhookconfigurations' };
const Policies = { group: 'admissionregistration.k8s.io', version: 'v1', plural: 'validatingadmissionpolicies' };

describe('kubepeer uninstall', () => {
  it('ends the peerings through the running agent, asks for it to stop, then removes everything; install works again', async () => {
    const { a, A, B, idA, idB } = p;
    await A.create(resourcePath(GVR.foreignCluster), {
      apiVersion: apiVersionOf(GVR.foreignCluster),
      kind: 'ForeignCluster',
      metadata: { name: 'to-b' },
      spec: { clusterID: idB, apiUrl: p.b.apiUrl, discoveryType: 'Manual', join: true, allowUntrustedCA: true },
    });
    await waitForReadyNode(A, idB, 120_000, describeFC(A, 'to-b'));

    // the agent runs: peerings ended through it, then uninstall stops and says why
    const first = kubepeer(['uninstall', '--kubeconfig', a.kubeconfig, '--timeout', '60']);
    expect(first.code, first.stderr).toBe(1);
    expect(first.stderr).toContain('the kubepeer agent still runs');
    expect(first.stderr).toContain('then run kubepeer uninstall again; the peerings with');
    expect(await foreignCluster(A, 'to-b')).toBeNull();
    expect(await virtualNode(A, idB)).toBeNull();
    // B was told: A's request and its credential there are gone
    await waitFor("A's PeeringRequest on B gone", async () => (await B.getOrNull(resourcePath(GVR.peeringRequest, { name: idA }))) === null, { timeoutMs: 60_000 });

    await p.agentA.stop();
    const second = kubepeer(['uninstall', '--kubeconfig', a.kubeconfig, '-o', 'json']);
    expect(second.code, second.stderr).toBe(0);
    const report = JSON.parse(second.stdout) as { deleted: string[]; remaining: string[]; peersNotTold: string[] };
    expect(report.remaining).toEqual([]);
    expect(report.peersNotTold).toEqual([]);
    expect(report.deleted).toEqual(expect.arrayContaining(['Namespace/liqo', 'CustomResourceDefinition/foreignclusters.discovery.liqo.io', 'ValidatingWebhookConfiguration/kubepeer-peeringrequest-validation']));
    // nothing of kubepeer is left
    expect(await A.getOrNull(resourcePath(Core.crds, { name: 'foreignclusters.discovery.liqo.io' }))).toBeNull();
    expect(await A.getOrNull(resourcePath(Core.namespaces, { name: 'liqo' }))).toBeNull();
    for (const ref of [Core.clusterRoles, Core.clusterRoleBindings, Core.validatingWebhooks, MutatingWebhooks, Policies]) {
      expect((await A.list<{ metadata: { name: string } }>(resourcePath(ref), { labelSelector: managed })).items.map((o) => o.metadata.name), ref.plural).toEqual([]);
    }
    expect((await A.list(resourcePath(Core.nodes), { labelSelector: Labels.remoteClusterID })).items).toEqual([]);
    expect(kubectl(a, ['get', 'rolebindings', '-n', 'kube-system', '-l', managed, '-o', 'name']).stdout.trim()).toBe('');

    // idempotent, and the cluster takes kubepeer again
    const again = kubepeer(['uninstall', '--kubeconfig', a.kubeconfig]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('(0 object(s) deleted)');
    const reinstall = kubepeer(['install', '--kubeconfig', a.kubeconfig]);
    expect(reinstall.code, reinstall.stderr).toBe(0);
    expect(kubectl(a, ['get', 'configmap', '-n', 'liqo', 'cluster-id', '-o', 'name']).stdout.trim()).toBe('configmap/cluster-id');
  }, 300_000);

  it('without an agent: nothing hangs on kubepeer finalizers, and the peers not told are named', async () => {
    const { b, B, idA } = p;
    // a ForeignCluster the agent has taken charge of (finalizer), then the agent gone
    await B.create(resourcePath(GVR.foreignCluster), {
      apiVersion: apiVersionOf(GVR.foreignCluster),
      kind: 'ForeignCluster',
      metadata: { name: 'to-a' },
      spec: { clusterID: idA, clusterName: 'cluster-a', apiUrl: p.a.apiUrl, discoveryType: 'Manual', join: true, allowUntrustedCA: true },
    });
    await waitFor('the finalizer on to-a', async () => (await foreignCluster(B, 'to-a'))?.metadata.finalizers?.includes(FINALIZER), { timeoutMs: 60_000 });
    await p.agentB.stop();

    const r = kubepeer(['uninstall', '--kubeconfig', b.kubeconfig, '--timeout', '90']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('no kubepeer agent runs');
    expect(r.stdout).toContain('peers not told (no agent ended these peerings): cluster-a');
    expect(r.stdout).not.toContain('still being removed');
    expect(await B.getOrNull(resourcePath(Core.crds, { name: 'foreignclusters.discovery.liqo.io' }))).toBeNull();
    expect(await B.getOrNull(resourcePath(Core.namespaces, { name: 'liqo' }))).toBeNull();
  }, 300_000);
});
