import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import type { LocalCluster } from '../../src/localcluster/localCluster.js';
import { Core, resourcePath, type KubeClient } from '../../src/k8s/rest.js';
import { GVR, type Advertisement, type PeeringRequest } from '../../src/api/crds.js';
import { Labels, Names } from '../../src/api/constants.js';
import { parseQuantity } from '../../src/k8s/quantity.js';
import { kubectl, kubepeer, startAgent, startCluster, agentMetricsUrl, type AgentProcess } from '../support/clusters.js';
import { fillPlaceholders, seedManifests } from '../support/seeds.js';
import { clusterIDOf, describeFC, foreignCluster, foreignClusterByID, setClusterConfig, virtualNode, waitForReadyNode } from '../support/peering.js';
import { waitFor } from '../support/wait.js';
import { CREDENTIAL_REVISION } from '../../src/peering/outgoing/credentials.js';

let a: LocalCluster;
let b: LocalCluster;
let agentA: AgentProcess;
let agentB: AgentProcess;
let A: KubeClient;
let B: KubeClient;
let idA: string;
let idB: string;
/** A token B renewed for itself on A: unpeering must revoke it too. */
let renewedToken: string | undefined;

beforeAll(async () => {
  [a, b] = await Promise.all([startCluster('peer-a'), startCluster('peer-b')]);
  A = a.client();
  B = b.client();
  // Fast heartbeats so readiness changes show within seconds.
  await Promise.all([setClusterConfig(A, { peeringConfig: { heartbeatSeconds: 2 } }), setClusterConfig(B, { peeringConfig: { heartbeatSeconds: 2 } })]);
  agentA = startAgent(a);
  agentB = startAgent(b);
  await Promise.all([agentMetricsUrl(agentA), agentMetricsUrl(agentB)]);
  [idA, idB] = await Promise.all([clusterIDOf(A), clusterIDOf(B)]);
});

afterAll(async () => {
  await Promise.all([agentA?.stop(), agentB?.stop()]);
  await Promise.all([a?.stop(), b?.stop()]);
});

/** Deletes every ForeignCluster of `id` on a cluster (and waits), so a test starts from nothing. */
async function forgetPeer(client: KubeClient, id: string): Promise<void> {
  const { items } = await client.list<{ metadata: { name: string }; spec: { clusterID: string } }>(resourcePath(GVR.foreignCluster));
  for (const f of items.filter((x) => x.spec.clusterID === id)) await client.delete(resourcePath(GVR.foreignCluster, { name: f.metadata.name }));
  await waitFor(`no ForeignCluster for ${id}`, async () => !(await client.list<{ spec: { clusterID: string } }>(resourcePath(GVR.foreignCluster))).items.some((x) => x.spec.clusterID === id), { timeoutMs: 60_000 });
}

const seedFC = () => seedManifests().find((s) => s.kind === 'ForeignCluster' && s.apiVersion.endsWith('v1alpha1'))!;

describe('manual peering from the seed YAML', () => {
  it('waits for approval on the foreign side (AutoAcceptKnown), then ends with a Ready virtual node after kubepeer peer accept', async () => {
    const yaml = fillPlaceholders(seedFC().yaml, { clusterID: idB, address: '127.0.0.1' }).replace('https://127.0.0.1:6443', b.apiUrl);
    expect(kubectl(a, ['apply', '-f', '-'], yaml).code).toBe(0);

    const pending = await waitFor('outgoing Pending, waiting for approval', async () => {
      const fc = await foreignCluster(A, 'foreign-cluster');
      return fc?.status?.outgoing?.reason === 'WaitingForApproval' ? fc : undefined;
    }, { describe: describeFC(A, 'foreign-cluster') });
    expect(pending.status?.outgoing?.message).toContain(`kubepeer peer accept ${idA}`);
    expect(pending.status?.trustMode).toBe('Untrusted');
    expect(pending.status?.caFingerprint).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(pending.metadata.labels?.[Labels.clusterID]).toBe(idB);

    // B sees the request, with the credential moved out of it into a Secret.
    const pr = await waitFor('PeeringRequest on B', () => B.getOrNull<PeeringRequest>(resourcePath(GVR.peeringRequest, { name: idA })));
    expect(pr.spec.kubeconfig).toBeUndefined();
    expect(kubepeer(['peer', 'requests', '--kubeconfig', b.kubeconfig]).stdout).toContain('WaitingForApproval');

    const accepted = kubepeer(['peer', 'accept', idA, '--kubeconfig', b.kubeconfig]);
    expect(accepted.code, accepted.stderr).toBe(0);

    const node = await waitForReadyNode(A, idB, 90_000, describeFC(A, 'foreign-cluster'));
    expect(node.metadata.labels).toMatchObject({ type: 'virtual-node', 'kubernetes.io/role': 'agent', [Labels.remoteClusterID]: idB });
    expect(node.spec.taints).toContainEqual({ key: 'virtual-node.liqo.io/not-allowed', value: 'true', effect: 'NoExecute' });
    const nodes = kubectl(a, ['get', 'nodes']).stdout;
    expect(nodes).toMatch(new RegExp(`liqo-${idB}\\s+Ready\\s+agent`));

    // The offer is B's real allocatable times 30 %.
    const adv = await A.get<Advertisement>(resourcePath(GVR.advertisement, { name: `advertisement-${idB}` }));
    const hostB = (await B.list<{ status: { allocatable: Record<string, string> } }>(resourcePath(Core.nodes), { labelSelector: Labels.localNode + '=true' })).items[0]!;
    expect(parseQuantity(adv.spec.resources.cpu)).toBeCloseTo(parseQuantity(hostB.status.allocatable.cpu!) * 0.3, 2);
    expect(parseQuantity(adv.spec.resources.memory)).toBeGreaterThan(parseQuantity(hostB.status.allocatable.memory!) * 0.29);

    const fc = await waitFor('outgoing Established', async () => ((await foreignCluster(A, 'foreign-cluster'))?.status?.outgoing?.phase === 'Established' ? foreignCluster(A, 'foreign-cluster') : undefined), { describe: describeFC(A, 'foreign-cluster') });
    expect(fc!.status?.conditions?.map((c) => `${c.type}=${c.status}`)).toEqual(expect.arrayContaining(['TrustEstablished=True', 'PeeringRequested=True', 'PeeringAccepted=True', 'VirtualNodeReady=True', 'Reachable=True']));
    // B keeps an IncomingPeering ForeignCluster for A with incoming Established.
    const back = await waitFor('B: incoming Established', async () => {
      const f = await foreignClusterByID(B, idA);
      return f?.status?.incoming?.phase === 'Established' ? f : undefined;
    });
    expect(back.spec.discoveryType).toBe('IncomingPeering');
    expect(kubectl(a, ['get', 'foreignclusters']).stdout).toMatch(new RegExp(`foreign-cluster\\s+${idB}\\s+peer-b\\s+Manual\\s+Untrusted\\s+Established`));
  });

  it('the credential minted for the peer is scoped: it can write only its own Advertisement', async () => {
    const secret = await A.get<{ data: Record<string, string> }>(resourcePath(Core.secrets, { namespace: 'liqo', name: `liqo-remote-${idB}` }));
    const token = Buffer.from(secret.data.token!, 'base64').toString();
    const { KubeClient } = await import('../../src/k8s/rest.js');
    const peerClient = KubeClient.withToken(a.apiUrl, token, readFileSync(a.caCert, 'utf8'));
    const code = async (p: Promise<unknown>) => p.then(() => 200, (e: { code: number }) => e.code);
    expect(await code(peerClient.get(resourcePath(GVR.advertisement, { name: `advertisement-${idB}` })))).toBe(200);
    expect(await code(peerClient.get(resourcePath(Core.configMaps, { namespace: 'liqo', name: 'cluster-id' })))).toBe(200);
    expect(await code(peerClient.list(resourcePath(GVR.advertisement)))).toBe(403);
    expect(await code(peerClient.get(resourcePath(Core.secrets, { namespace: 'liqo' })))).toBe(403);
    expect(await code(peerClient.list(resourcePath(GVR.foreignCluster)))).toBe(403);
    expect(await code(peerClient.delete(resourcePath(GVR.advertisement, { name: `advertisement-${idB}` })))).toBe(403);
    // create is allowed by RBAC, but the admission policy refuses another peer's Advertisement.
    const other = await code(peerClient.create(resourcePath(GVR.advertisement), { apiVersion: 'sharing.liqo.io/v1alpha1', kind: 'Advertisement', metadata: { name: 'advertisement-someone-else' }, spec: { clusterID: 'someone-else', resources: { cpu: '1', memory: '1Gi', pods: '10' }, heartbeat: new Date().toISOString() } }));
    expect(other).toBeGreaterThanOrEqual(400);
    expect(await A.getOrNull(resourcePath(GVR.advertisement, { name: 'advertisement-someone-else' }))).toBeNull();
    peerClient.close();
  });

  it('the peer renews its own token before it expires, only its own, bound to the same Secret', async () => {
    const { KubeClient } = await import('../../src/k8s/rest.js');
    const { renewPeerToken, serviceAccountClaims } = await import('../../src/peering/incoming/tokenRenewal.js');
    const { parseTokenKubeconfig } = await import('../../src/peering/kubeconfig.js');
    // the credential as B holds it
    const held = await B.get<{ data: Record<string, string> }>(resourcePath(Core.secrets, { namespace: 'liqo', name: `liqo-peer-${idA}` }));
    const kc = parseTokenKubeconfig(Buffer.from(held.data.kubeconfig!, 'base64').toString());
    const asB = KubeClient.withToken(a.apiUrl, kc.token, kc.caPem);
    const renewed = await renewPeerToken(asB, kc.token);
    renewedToken = renewed.token;
    const before = serviceAccountClaims(kc.token)!;
    const after = serviceAccountClaims(renewed.token)!;
    expect(after).toMatchObject({ namespace: 'liqo', serviceAccount: `liqo-remote-${idB}`, boundSecret: before.boundSecret });
    expect(after.exp - after.iat).toBe(before.exp - before.iat);
    const withRenewed = KubeClient.withToken(a.apiUrl, renewed.token, kc.caPem);
    await expect(withRenewed.get(resourcePath(Core.configMaps, { namespace: 'liqo', name: 'cluster-id' }))).resolves.toBeTruthy();
    // nobody else's token: not the namespace's default ServiceAccount, not another peer's
    const code = async (p: Promise<unknown>) => p.then(() => 200, (e: { code: number }) => e.code);
    for (const other of ['default', 'liqo-remote-someone-else']) {
      expect(await code(asB.create(resourcePath(Core.serviceAccounts, { namespace: 'liqo', name: other, subresource: 'token' }), { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: {} }))).toBe(403);
    }
    asB.close();
    withRenewed.close();
  });

  it('brings a credential made by an earlier agent (no renewal permission) up to date, keeping its token', async () => {
    type Role = { metadata: { resourceVersion?: string; annotations?: Record<string, string> }; rules: Array<{ resources: string[] }> };
    const rolePath = resourcePath(Core.roles, { namespace: 'liqo', name: `liqo-remote-${idB}` });
    const secretPath = resourcePath(Core.secrets, { namespace: 'liqo', name: `liqo-remote-${idB}` });
    const canRenew = (r: Role) => r.rules.some((x) => x.resources.includes('serviceaccounts/token'));
    const role = await A.get<Role>(rolePath);
    expect(canRenew(role)).toBe(true);
    const tokenBefore = (await A.get<{ data: Record<string, string> }>(secretPath)).data.token;
    // what an earlier agent left: the Role without the rule, the Secret without the revision
    await A.replace(rolePath, { ...role, rules: role.rules.filter((x) => !x.resources.includes('serviceaccounts/token')) });
    await A.jsonPatch(secretPath, [{ op: 'remove', path: '/metadata/annotations/discovery.liqo.io~1credential-revision' }]);
    await A.mergePatch(resourcePath(GVR.foreignCluster, { name: 'foreign-cluster' }), { metadata: { annotations: { 'test.kubepeer.io/poke': String(Date.now()) } } });
    await waitFor('the Role lets the peer renew its token again', async () => canRenew(await A.get<Role>(rolePath)), { timeoutMs: 30_000 });
    const secret = await A.get<{ metadata: { annotations?: Record<string, string> }; data: Record<string, string> }>(secretPath);
    expect(secret.metadata.annotations?.['discovery.liqo.io/credential-revision']).toBe(CREDENTIAL_REVISION);
    expect(secret.data.token).toBe(tokenBefore);
  });

  it('marks the virtual node NotReady when heartbeats stop, keeps it, and recovers when they return', async () => {
    await agentB.kill();
    await waitFor('node NotReady', async () => {
      const n = await virtualNode(A, idB);
      return n?.status.conditions.some((c) => c.type === 'Ready' && c.status === 'False') ? n : undefined;
    }, { timeoutMs: 60_000 });
    expect(await virtualNode(A, idB)).not.toBeNull();
    agentB = startAgent(b);
    await waitForReadyNode(A, idB, 90_000);
  });

  it('unpeers on join: false without calling the peer, and the peer drops the request on its next heartbeat', async () => {
    const r = kubepeer(['peer', 'leave', 'foreign-cluster', '--kubeconfig', a.kubeconfig]);
    expect(r.code, r.stderr).toBe(0);
    await waitFor('virtual node gone', async () => (await virtualNode(A, idB)) === null);
    await waitFor('credential revoked', async () => (await A.getOrNull(resourcePath(Core.secrets, { namespace: 'liqo', name: `liqo-remote-${idB}` }))) === null);
    if (renewedToken) {
      const { KubeClient } = await import('../../src/k8s/rest.js');
      const renewed = KubeClient.withToken(a.apiUrl, renewedToken, readFileSync(a.caCert, 'utf8'));
      await waitFor('the renewed token revoked too (401)', () =>
        renewed.get(resourcePath(Core.configMaps, { namespace: 'liqo', name: 'cluster-id' })).then(() => undefined, (e: { code: number }) => (e.code === 401 ? true : undefined)), { timeoutMs: 30_000 });
      renewed.close();
    }
    // The Secret goes first (it alone revokes the token); the rest follows in the same reconcile.
    for (const [ref, ns] of [[Core.serviceAccounts, 'liqo'], [Core.roles, 'liqo'], [Core.roleBindings, 'liqo'], [Core.clusterRoles, undefined], [Core.clusterRoleBindings, undefined]] as const) {
      await waitFor(`${ref.plural} liqo-remote-<B> gone`, async () => (await A.getOrNull(resourcePath(ref, { namespace: ns, name: `liqo-remote-${idB}` }))) === null, { timeoutMs: 30_000 });
    }
    expect(await A.getOrNull(resourcePath(GVR.advertisement, { name: `advertisement-${idB}` }))).toBeNull();
    await waitFor('B drops the PeeringRequest (401 on heartbeat)', async () => (await B.getOrNull(resourcePath(GVR.peeringRequest, { name: idA }))) === null, { timeoutMs: 60_000 });
    await waitFor('B: the credential Secret goes with it', async () => (await B.getOrNull(resourcePath(Core.secrets, { namespace: 'liqo', name: `liqo-peer-${idA}` }))) === null, { timeoutMs: 60_000 });
    await waitFor('outgoing None', async () => (await foreignCluster(A, 'foreign-cluster'))?.status?.outgoing?.phase === 'None');
  });

  it('re-joins after an unpeer (AcceptAll on the foreign side accepts at once)', async () => {
    await setClusterConfig(B, { peeringConfig: { acceptPolicy: 'AcceptAll' } });
    const r = kubepeer(['peer', 'join', idB, '--wait', '--timeout', '90', '--kubeconfig', a.kubeconfig]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`node liqo-${idB} is Ready`);
    expect(r.stderr).toMatch(/Pending|Established/);
  });

  it('deleting the ForeignCluster unpeers too (the finalizer never needs the peer)', async () => {
    await agentB.stop(); // the peer is gone: unpeer must still complete
    expect(kubectl(a, ['delete', 'foreigncluster', 'foreign-cluster', '--timeout=60s']).code).toBe(0);
    expect(await virtualNode(A, idB)).toBeNull();
    expect(await A.getOrNull(resourcePath(Core.secrets, { namespace: 'liqo', name: `liqo-remote-${idB}` }))).toBeNull();
    agentB = startAgent(b);
    await agentMetricsUrl(agentB);
    // B notices the revoked credential (401 held for 2 s) and drops the old request.
    await waitFor('B drops the old PeeringRequest', async () => (await B.getOrNull(resourcePath(GVR.peeringRequest, { name: idA }))) === null, { timeoutMs: 60_000 });
  });
});

describe('both directions', () => {
  it('peering on both sides gives a virtual node on each side, and each direction ends on its own', async () => {
    await setClusterConfig(A, { peeringConfig: { acceptPolicy: 'AcceptAll' } });
    await setClusterConfig(B, { peeringConfig: { acceptPolicy: 'AcceptAll' } });
    await forgetPeer(A, idB);
    const addB = kubepeer(['peer', 'add', idB, '--name', 'to-b', '--api-url', b.apiUrl, '--allow-untrusted-ca', '--join', '--kubeconfig', a.kubeconfig]);
    expect(addB.code, addB.stderr).toBe(0);
    // B may already hold an IncomingPeering ForeignCluster for A (A's request arrived first):
    // `peer add` takes it over as the person's own.
    const addA = kubepeer(['peer', 'add', idA, '--name', 'to-a', '--api-url', a.apiUrl, '--allow-untrusted-ca', '--join', '--kubeconfig', b.kubeconfig]);
    expect(addA.code, addA.stderr).toBe(0);
    await Promise.all([waitForReadyNode(A, idB, 120_000, describeFC(A, 'to-b')), waitForReadyNode(B, idA, 120_000)]);
    // A leaves: A's node for B goes, B's node for A stays Ready.
    expect(kubepeer(['peer', 'leave', 'to-b', '--kubeconfig', a.kubeconfig]).code).toBe(0);
    await waitFor('A: node for B gone', async () => (await virtualNode(A, idB)) === null);
    await waitFor('B drops A\'s request', async () => (await B.getOrNull(resourcePath(GVR.peeringRequest, { name: idA }))) === null, { timeoutMs: 60_000 });
    await waitForReadyNode(B, idA, 30_000);
    const fcOnB = await foreignClusterByID(B, idA);
    expect(fcOnB?.status?.outgoing?.phase).toBe('Established');
    // Then B leaves too, and everything is gone on both sides.
    expect(kubepeer(['peer', 'leave', fcOnB!.metadata.name, '--kubeconfig', b.kubeconfig]).code).toBe(0);
    await waitFor('B: node for A gone', async () => (await virtualNode(B, idA)) === null);
    expect(kubectl(a, ['delete', 'foreigncluster', 'to-b', '--timeout=60s']).code).toBe(0);
    await setClusterConfig(A, { peeringConfig: { acceptPolicy: 'AutoAcceptKnown' } });
  });
});

describe('CLI bad input', () => {
  it('refuses an invalid cluster ID, a non-https URL, a duplicate peer and an unknown peer with a clear message and changes nothing', async () => {
    await forgetPeer(A, idB);
    const before = (await A.list(resourcePath(GVR.foreignCluster))).items.length;
    const badID = kubepeer(['peer', 'add', 'Not_An_ID', '--api-url', b.apiUrl, '--kubeconfig', a.kubeconfig]);
    expect(badID.code).toBe(2);
    expect(badID.stderr).toContain('is not a cluster ID');
    const http = kubepeer(['peer', 'add', idB, '--api-url', 'http://127.0.0.1:6443', '--kubeconfig', a.kubeconfig]);
    expect(http.code).toBe(2);
    expect(http.stderr).toContain('must be an https:// URL');
    expect(kubepeer(['peer', 'add', idB, '--name', 'first', '--api-url', b.apiUrl, '--kubeconfig', a.kubeconfig]).code).toBe(0);
    const dup = kubepeer(['peer', 'add', idB, '--name', 'second', '--api-url', b.apiUrl, '--kubeconfig', a.kubeconfig]);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toContain('already known as foreigncluster/first');
    const unknown = kubepeer(['peer', 'join', 'no-such-peer', '--kubeconfig', a.kubeconfig]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no peer "no-such-peer"');
    expect((await A.list(resourcePath(GVR.foreignCluster))).items.length).toBe(before + 1);
    expect(kubectl(a, ['delete', 'foreigncluster', 'first', '--timeout=60s']).code).toBe(0);
  });
});

describe('trust', () => {
  it('sends nothing to an untrusted peer without allowUntrustedCA, says how to fix it, and proceeds once its CA is trusted', async () => {
    await setClusterConfig(B, { peeringConfig: { acceptPolicy: 'AcceptAll' } });
    await forgetPeer(A, idB);
    await waitFor('B dropped earlier requests from A', async () => (await B.getOrNull(resourcePath(GVR.peeringRequest, { name: idA }))) === null, { timeoutMs: 60_000 });
    const add = kubepeer(['peer', 'add', idB, '--api-url', b.apiUrl, '--name', 'strict', '--join', '--kubeconfig', a.kubeconfig]);
    expect(add.code, add.stderr).toBe(0);
    const blocked = await waitFor('TrustEstablished=False UntrustedCA', async () => {
      const fc = await foreignCluster(A, 'strict');
      return fc?.status?.conditions?.find((c) => c.type === 'TrustEstablished' && c.reason === 'UntrustedCA');
    }, { describe: describeFC(A, 'strict') });
    expect(blocked.message).toContain('kubepeer trust add-ca');
    expect(blocked.message).toContain('allowUntrustedCA: true');
    expect(await B.getOrNull(resourcePath(GVR.peeringRequest, { name: idA }))).toBeNull();

    const trusted = kubepeer(['trust', 'add-ca', b.caCert, '--name', 'peer-b', '--kubeconfig', a.kubeconfig]);
    expect(trusted.code, trusted.stderr).toBe(0);
    await waitForReadyNode(A, idB, 120_000, describeFC(A, 'strict'));
    expect((await foreignCluster(A, 'strict'))?.status?.trustMode).toBe('Trusted');
  });
});
