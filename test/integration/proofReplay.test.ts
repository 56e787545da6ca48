/**
 * The LAN peering secret's proofs cannot be replayed by a stranger (issue 12 High 2), on real API
 * servers: B publishes in liqo-cluster-info an HMAC of the secret over its cluster ID and CA
 * fingerprint, and a requester's PeeringRequest carries an HMAC over both IDs and its own CA
 * fingerprint. A stranger S (a cluster of its own, with its own CA, and no secret) copies them:
 *
 *  (a) S announces B's cluster ID on the LAN and publishes B's proof in its own liqo-cluster-info,
 *      first with its own CA, then with B's CA copied too. A, which holds the secret, lists it as
 *      an available peer (join false, NotProven) and sends nothing: the proof does not match S's
 *      CA, and with B's CA S cannot pass the TLS check that proof is bound to.
 *  (b) S sends B a PeeringRequest in A's name with A's proof: with its own CA in the credential the
 *      proof does not match and the request waits for a person; with A's CA copied the proof
 *      matches, but B's identity callback, verified with that CA, never reaches S's API server, so
 *      nothing is accepted. The same proof with A's own CA and server is accepted with no typing
 *      (the control that the proof is what is being tested). And once A is accepted, S claiming
 *      A's ID again does not replace A's request (B knows A only from it; S has another CA).
 *
 * a and s are network-namespace hosts on one bridge (mDNS); b runs on loopback, off the LAN, so
 * that it is S alone that claims B's ID there. Needs root; skipped otherwise.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { GVR, apiVersionOf, type ForeignCluster, type PeeringRequest } from '../../src/api/crds.js';
import { Annotations, Names } from '../../src/api/constants.js';
import { Core, KubeClient, isAlreadyExists, resourcePath } from '../../src/k8s/rest.js';
import type { LocalCluster } from '../../src/localcluster/localCluster.js';
import { buildTokenKubeconfig } from '../../src/peering/kubeconfig.js';
import { certificateFingerprint } from '../../src/trust/pki.js';
import { AUTOJOIN_NOT_PROVEN, requestProof } from '../../src/trust/peeringSecret.js';
import { generatePeeringSecret, setPeeringSecret } from '../../src/trust/peeringSecretStore.js';
import { startAgent, startCluster, type AgentProcess } from '../support/clusters.js';
import { canUseNetns, createTestLab, NetnsJsonProcess, type NetnsHost, type NetnsLab } from '../support/netns.js';
import { clusterIDOf, foreignClusterByID, setClusterConfig } from '../support/peering.js';
import { waitFor } from '../support/wait.js';

const FIXTURE = 'test/integration/lan/fixtures/lanPeer.ts';
const SECRET = generatePeeringSecret();
const TTL = 5;
const ns = 'liqo';

interface Side {
  cluster: LocalCluster;
  client: KubeClient;
  caPem: string;
  id: string;
  host?: NetnsHost;
  agent?: AgentProcess;
}

describe.skipIf(!canUseNetns)('a stranger replaying the LAN peering secret proofs', () => {
  let lab: NetnsLab;
  let a: Side;
  let b: Side;
  let s: Side;
  let announcer: NetnsJsonProcess | undefined;
  /** What B publishes in liqo-cluster-info (read anonymously, as anyone can). */
  let published: Record<string, string>;

  const configMap = (name: string) => resourcePath(Core.configMaps, { namespace: ns, name });

  async function put(client: KubeClient, name: string, data: Record<string, string>): Promise<void> {
    const body = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: ns }, data };
    try {
      await client.create(resourcePath(Core.configMaps, { namespace: ns }), body);
    } catch (e) {
      if (!isAlreadyExists(e)) throw e;
      await client.replace(configMap(name), body);
    }
  }

  /** S's liqo-cluster-info, as S chooses to publish it. */
  const publishOnS = (data: Record<string, string>) => put(s.client, Names.clusterInfoConfigMap, data);

  function announce(clusterID: string): NetnsJsonProcess {
    const args = { config: { clusterID, url: s.cluster.apiUrl, ttl: TTL }, options: { interfacePollMs: 500 } };
    announcer = NetnsJsonProcess.start(s.host!, `stranger(${clusterID.slice(0, 8)})`, 'node', ['--import', 'tsx', FIXTURE, JSON.stringify(args)]);
    return announcer;
  }

  /** A's debug lines for the TLS probe of `id` since `since`: what A decided, and when. */
  function probesOnA(id: string, since: number): Array<{ proven?: boolean; mode?: string }> {
    return readFileSync(a.agent!.logFile, 'utf8')
      .split('\n')
      .filter((l) => l.includes('LAN peer: TLS probe') && l.includes(id))
      .map((l) => JSON.parse(l) as { time: string | number; proven?: boolean; mode?: string })
      .filter((l) => (typeof l.time === 'number' ? l.time : Date.parse(l.time)) >= since);
  }

  const describeA = async () => ({
    foreignClusters: (await a.client.list<ForeignCluster>(resourcePath(GVR.foreignCluster))).items.map((f) => ({ id: f.spec.clusterID, apiUrl: f.spec.apiUrl, join: f.spec.join, ann: f.metadata.annotations, out: f.status?.outgoing })),
    agentLog: readFileSync(a.agent!.logFile, 'utf8').split('\n').filter((l) => !l.includes('"level":"debug"')).slice(-8),
  });

  /** A sends nothing to the stranger: no credential minted for that ID, no request on S. */
  async function expectNothingSent(id: string): Promise<void> {
    expect(await a.client.getOrNull(resourcePath(Core.secrets, { namespace: ns, name: `${Names.remoteCredentialPrefix}${id}` }))).toBeNull();
    expect((await s.client.list(resourcePath(GVR.peeringRequest))).items).toEqual([]);
    const fc = await foreignClusterByID(a.client, id);
    expect(fc?.spec.join).toBe(false);
    expect(fc?.metadata.annotations?.[Annotations.autojoin]).toBe(AUTOJOIN_NOT_PROVEN);
  }

  /** A token of a ServiceAccount on `side` that may read liqo/cluster-id there: what a requester sends. */
  async function readerToken(side: Side, name: string): Promise<string> {
    const c = side.client;
    const meta = { name, namespace: ns };
    await c.create(resourcePath(Core.serviceAccounts, { namespace: ns }), { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta });
    await c.create(resourcePath(Core.roles, { namespace: ns }), { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: meta, rules: [{ apiGroups: [''], resources: ['configmaps'], resourceNames: [Names.clusterIDConfigMap], verbs: ['get'] }] });
    await c.create(resourcePath(Core.roleBindings, { namespace: ns }), {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: meta,
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: [{ kind: 'ServiceAccount', name, namespace: ns }],
    });
    const tr = await c.create<{ status: { token: string } }>(resourcePath(Core.serviceAccounts, { namespace: ns, name, subresource: 'token' }), { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } });
    return tr.status.token;
  }

  /** A PeeringRequest created on B as the anonymous user, as every requester does. */
  async function requestToB(o: { clusterID: string; apiUrl: string; caPem: string; token: string; proof: string }): Promise<void> {
    const anon = KubeClient.anonymous(b.cluster.apiUrl, b.caPem);
    try {
      await anon.create(resourcePath(GVR.peeringRequest), {
        apiVersion: apiVersionOf(GVR.peeringRequest),
        kind: 'PeeringRequest',
        metadata: { name: o.clusterID },
        spec: { clusterID: o.clusterID, clusterName: 'a', namespace: ns, apiUrl: o.apiUrl, peeringProof: o.proof, kubeconfig: buildTokenKubeconfig({ server: o.apiUrl, caPem: o.caPem, token: o.token }, 'a') },
      });
    } finally {
      anon.close();
    }
  }

  const requestOnB = (id: string) => b.client.getOrNull<PeeringRequest>(resourcePath(GVR.peeringRequest, { name: id }));
  const describeB = (id: string) => async () => ({ request: (await requestOnB(id))?.status, log: readFileSync(b.agent!.logFile, 'utf8').split('\n').filter((l) => !l.includes('"level":"debug"')).slice(-8) });

  async function deleteRequestOnB(id: string): Promise<void> {
    await b.client.delete(resourcePath(GVR.peeringRequest, { name: id }));
    await waitFor(`B: request ${id} gone`, async () => (await requestOnB(id)) === null);
  }

  /** A's proof for its request to B: what A's agent computes (ownRequestProof) and sends. */
  const proofOfA = () => requestProof(Buffer.from(SECRET, 'utf8'), a.id, b.id, certificateFingerprint(a.caPem));

  beforeAll(async () => {
    lab = createTestLab();
    const [hostA, hostS] = await Promise.all([lab.addHost('a'), lab.addHost('s')]);
    const start = async (name: string, host?: NetnsHost): Promise<Side> => {
      const cluster = await startCluster(`replay-${name}`, host ? { address: host.address, netns: host.netns } : {});
      return { cluster, client: cluster.client(), caPem: readFileSync(cluster.caCert, 'utf8'), id: '', ...(host ? { host } : {}) };
    };
    const started = await Promise.allSettled([start('a', hostA), start('b'), start('s', hostS)]);
    for (const r of started) if (r.status === 'rejected') throw r.reason;
    [a, b, s] = started.map((r) => (r as PromiseFulfilledResult<Side>).value) as [Side, Side, Side];
    await setClusterConfig(a.client, { discoveryConfig: { ttl: TTL } });
    // b belongs with a (same secret) but is not on this LAN; it publishes its proof all the same
    await setClusterConfig(b.client, { discoveryConfig: { enableDiscovery: false, enableAdvertisement: false } });
    for (const x of [a, b]) await setPeeringSecret(x.client, ns, SECRET);
    a.agent = startAgent({ ...a.cluster, netns: hostA.netns });
    b.agent = startAgent(b.cluster);
    [a.id, b.id] = await Promise.all([clusterIDOf(a.client), clusterIDOf(b.client)]);
    const anon = KubeClient.anonymous(b.cluster.apiUrl, b.caPem);
    try {
      published = await waitFor('B publishes its proof', async () => {
        const cm = await anon.getOrNull<{ data?: Record<string, string> }>(configMap(Names.clusterInfoConfigMap));
        return cm?.data?.['peering-proof'] ? cm.data : undefined;
      });
    } finally {
      anon.close();
    }
    // The stranger: kubepeer's CRDs and anonymous grants (so that it looks like a cluster), no
    // agent, no secret; what it publishes is the test's choice.
    s.id = randomUUID();
  });

  afterAll(async () => {
    await announcer?.kill();
    await Promise.allSettled([a?.agent?.stop(), b?.agent?.stop()]);
    await Promise.allSettled([a, b, s].map((x) => x?.cluster.stop()));
    await lab?.destroy();
  });

  it("(a) S announcing B's ID with B's published proof, under its own CA, then under B's CA, is listed on A and never joined", async () => {
    expect(published['cluster-id']).toBe(b.id);
    expect(published['ca.crt']).toBe(b.caPem);

    // 1. B's proof, S's own CA: the proof names B's CA fingerprint, not S's
    await publishOnS({ 'cluster-id': b.id, 'cluster-name': 'b', namespace: ns, 'ca.crt': s.caPem, 'peering-proof': published['peering-proof']! });
    let since = Date.now();
    announce(b.id);
    await waitFor("A: the stranger listed under B's ID", async () => {
      const fc = await foreignClusterByID(a.client, b.id);
      return fc?.spec.apiUrl === s.cluster.apiUrl && fc.metadata.annotations?.[Annotations.autojoin] === AUTOJOIN_NOT_PROVEN ? fc : undefined;
    }, { timeoutMs: 90_000, describe: describeA });
    expect(probesOnA(b.id, since)).toContainEqual(expect.objectContaining({ mode: 'Untrusted', proven: false }));
    await new Promise((r) => setTimeout(r, 10_000)); // time enough to send something, if it would
    await expectNothingSent(b.id);

    // 2. B's proof and B's CA, copied whole: the proof matches what S publishes, but S's API
    //    server has no certificate of B's CA, and that is what A checks the proof against
    await announcer!.kill();
    await waitFor("A: the stranger's record gone after it left", async () => (await foreignClusterByID(a.client, b.id)) === undefined, { timeoutMs: 90_000, describe: describeA });
    await publishOnS({ 'cluster-id': b.id, 'cluster-name': 'b', namespace: ns, 'ca.crt': b.caPem, 'peering-proof': published['peering-proof']! });
    since = Date.now();
    announce(b.id);
    await waitFor('A: the stranger listed again', async () => {
      const fc = await foreignClusterByID(a.client, b.id);
      return fc?.metadata.annotations?.[Annotations.autojoin] === AUTOJOIN_NOT_PROVEN ? fc : undefined;
    }, { timeoutMs: 90_000, describe: describeA });
    expect(probesOnA(b.id, since)).toContainEqual(expect.objectContaining({ mode: 'Untrusted', proven: false }));
    await new Promise((r) => setTimeout(r, 10_000));
    await expectNothingSent(b.id);
    await announcer!.kill();
    announcer = undefined;
  });

  it("(b) S replaying A's request proof to B is not accepted, with its own CA or with A's; A's own request with it is, and S cannot replace it", async () => {
    // S stands in for A as far as it can: its API server says it is A, and gives a token that reads it.
    await put(s.client, Names.clusterIDConfigMap, { [Names.clusterIDKey]: a.id });
    const sToken = await readerToken(s, 'stranger');
    const proof = proofOfA();

    // 1. S's own CA and server, A's ID and proof: the proof names A's CA, so S is not "known";
    //    its identity checks out at its own server (it says it is A), and it waits for a person
    await requestToB({ clusterID: a.id, apiUrl: s.cluster.apiUrl, caPem: s.caPem, token: sToken, proof });
    const waiting = await waitFor('B: the replayed request waiting for approval', async () => {
      const pr = await requestOnB(a.id);
      return pr?.status?.reason === 'WaitingForApproval' ? pr : undefined;
    }, { timeoutMs: 90_000, describe: describeB(a.id) });
    expect(waiting.status?.phase).toBe('Pending');
    await new Promise((r) => setTimeout(r, 5_000));
    expect((await requestOnB(a.id))?.status?.phase).toBe('Pending');
    await deleteRequestOnB(a.id);

    // 2. A's CA copied into S's credential: now the proof matches, but B calls S back verified
    //    with A's CA, which S's API server cannot satisfy: never verified, never accepted
    await requestToB({ clusterID: a.id, apiUrl: s.cluster.apiUrl, caPem: a.caPem, token: sToken, proof });
    const unreachable = await waitFor('B: the callback to S refused by TLS', async () => {
      const pr = await requestOnB(a.id);
      return pr?.status?.reason === 'RequesterUnreachable' ? pr : undefined;
    }, { timeoutMs: 90_000, describe: describeB(a.id) });
    expect(unreachable.status?.message).toMatch(/certificate|verify|self.signed|issuer/i);
    await new Promise((r) => setTimeout(r, 10_000));
    const still = await requestOnB(a.id);
    expect(still?.status?.phase).toBe('Pending');
    expect(still?.status?.conditions?.find((c) => c.type === 'IdentityVerified')?.status).not.toBe('True');
    await deleteRequestOnB(a.id);

    // 3. the control: the same proof from A itself (its CA, its server, a token of its own) is
    //    accepted with no typing
    await requestToB({ clusterID: a.id, apiUrl: a.cluster.apiUrl, caPem: a.caPem, token: await readerToken(a, 'requester'), proof });
    const accepted = await waitFor("B: A's own request accepted", async () => {
      const pr = await requestOnB(a.id);
      return pr?.status?.phase === 'Accepted' ? pr : undefined;
    }, { timeoutMs: 90_000, describe: describeB(a.id) });
    expect(accepted.status?.reason).toBe('AutoAcceptKnown');

    // 4. S claims A's ID again now that A is accepted: its create meets AlreadyExists, and its
    //    identity would check out at its own server, but B knows A only from A's request, so a
    //    newcomer with another CA and no proof over it does not replace A's accepted request
    //    (before the fix it did: A's credential was deleted and S's request took its place)
    const sent = await requestToB({ clusterID: a.id, apiUrl: s.cluster.apiUrl, caPem: s.caPem, token: sToken, proof }).then(() => 'created', (e: Error) => e.message);
    expect(sent).toMatch(/already exists/);
    await new Promise((r) => setTimeout(r, 15_000));
    const kept = await requestOnB(a.id);
    expect(kept?.metadata.uid).toBe(accepted.metadata.uid);
    expect(kept?.spec.apiUrl).toBe(a.cluster.apiUrl);
    expect(kept?.status?.phase).toBe('Accepted');
    expect(readFileSync(b.agent!.logFile, 'utf8')).not.toContain('it replaces the stored one');
  });
});
