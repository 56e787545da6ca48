/**
 * A peer's card on A's dashboard through a peering's whole life, in a real browser (Debian's
 * Chromium) against real agents on real local control planes: B peers with A; A connects back and
 * waits for B's approval (B accepts by hand), so for a while one direction is pending while the
 * other is established; A leaves, re-joins, then B goes down (its agent killed, its control plane
 * stopped), and A removes it. At each step the card must show both directions' own states, and
 * the removal must end both (issue 13 items 2 and 7). B's dashboard, served by another replica
 * (a DashboardServer in this process, on B's API server), must say once B's agent stopped that no
 * agent runs (issue 16). Screenshots: test-output/screenshots/lifecycle-*.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import pino from 'pino';
import type { Browser, Page } from 'playwright-core';
import type { LocalCluster } from '../../src/localcluster/localCluster.js';
import { Annotations, Labels, Names } from '../../src/api/constants.js';
import { GVR, apiVersionOf, type PeeringRequest } from '../../src/api/crds.js';
import { Core, resourcePath, type KubeClient } from '../../src/k8s/rest.js';
import { agentMetricsUrl, startAgent, startCluster, type AgentProcess } from '../support/clusters.js';
import { clusterIDOf, describeFC, foreignClusterByID, setClusterConfig, virtualNode, waitForReadyNode } from '../support/peering.js';
import { waitFor } from '../support/wait.js';
import { DashboardServer } from '../../src/dashboard/dashboardServer.js';
import { dashboardUrlOf, launchBrowser, mintToken, screenshot, signIn } from './support/dashboard.js';

let a: LocalCluster;
let b: LocalCluster;
let agentA: AgentProcess;
let agentB: AgentProcess;
let A: KubeClient;
let B: KubeClient;
let idA: string;
let idB: string;
let urlA: string;
let dashboardB: DashboardServer;
let urlB: string;
let tokenB: string;
let browser: Browser;
let page: Page;
const pageProblems: string[] = [];

beforeAll(async () => {
  [a, b] = await Promise.all([startCluster('life-a'), startCluster('life-b')]);
  A = a.client();
  B = b.client();
  // A accepts every request; B asks a person, so A's request to B stays pending until B approves.
  await Promise.all([
    setClusterConfig(A, { peeringConfig: { heartbeatSeconds: 2, acceptPolicy: 'AcceptAll' } }),
    setClusterConfig(B, { peeringConfig: { heartbeatSeconds: 2, acceptPolicy: 'Manual' } }),
  ]);
  agentA = startAgent(a, ['--dashboard-http', '--dashboard-listen', '127.0.0.1:0']);
  agentB = startAgent(b, ['--no-dashboard']);
  await Promise.all([agentMetricsUrl(agentA), agentMetricsUrl(agentB)]);
  urlA = await dashboardUrlOf(agentA);
  [idA, idB] = await Promise.all([clusterIDOf(A), clusterIDOf(B)]);
  const token = await mintToken(A, 'lifecycle-admin', ['cluster-admin']);
  tokenB = await mintToken(B, 'lifecycle-admin', ['cluster-admin']);
  // B's dashboard as a replica other than the leading agent serves it: the same server, without the agent.
  dashboardB = new DashboardServer(
    { identity: () => ({ clusterID: idB, clusterName: 'life-b', namespace: 'liqo' }), apiServer: () => b.apiUrl, caPem: () => readFileSync(b.caCert, 'utf8'), log: pino({ level: 'silent' }) },
    { listen: '127.0.0.1:0', fallback: false, insecureHttp: true },
  );
  urlB = (await dashboardB.start()).url;
  browser = await launchBrowser();
  const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
  page = await context.newPage();
  page.on('pageerror', (e) => pageProblems.push(`pageerror: ${e.message}`));
  await signIn(page, urlA, token);
});

afterAll(async () => {
  await browser?.close();
  await dashboardB?.stop();
  await Promise.all([agentA?.stop(), agentB?.kill()]);
  await Promise.all([a?.stop(), b?.stop()]);
});

const connected = () => page.getByRole('list', { name: 'Connected peers' });
const available = () => page.getByRole('list', { name: 'Available peers' });
const cardOfB = () => connected().locator(`[data-cluster-id="${idB}"]`);

/** What A's card for B says about each direction ("Outgoing · Pending"), or why it cannot be read. */
async function directionsShown(): Promise<{ outgoing: string | null; incoming: string | null }> {
  const label = (d: string) => cardOfB().locator(`[data-direction="${d}"] strong`).textContent({ timeout: 1000 }).catch(() => null);
  return { outgoing: await label('outgoing'), incoming: await label('incoming') };
}

/** Waits until A's card for B, under Connected, shows both labels at once. */
async function expectCard(outgoing: string, incoming: string, timeoutMs = 120_000) {
  await waitFor(`A's card for B (under Connected) to show "${outgoing}" and "${incoming}"`, async () => {
    const shown = await directionsShown();
    return shown.outgoing === outgoing && shown.incoming === incoming;
  }, {
    timeoutMs,
    describe: async () => ({
      shown: await directionsShown(),
      card: await cardOfB().textContent({ timeout: 1000 }).catch(() => '(no card for B under Connected)'),
      fcOnA: await describeFC(A, (await foreignClusterByID(A, idB))?.metadata.name ?? idB)(),
    }),
  });
}

/** B's administrator approves A's request to B once it waits (acceptPolicy Manual on B). */
async function approveOnB() {
  await waitFor('A\'s PeeringRequest on B to wait for approval', async () => (await B.getOrNull<PeeringRequest>(resourcePath(GVR.peeringRequest, { name: idA })))?.status?.reason === 'WaitingForApproval', {
    timeoutMs: 90_000,
    describe: () => B.getOrNull(resourcePath(GVR.peeringRequest, { name: idA })),
  });
  await B.mergePatch(resourcePath(GVR.peeringRequest, { name: idA }), { metadata: { annotations: { [Annotations.approval]: 'accepted' } } });
}

describe('a peer card through join, leave, rejoin, peer down and remove', () => {
  afterEach(async () => {
    if (await page.getByRole('dialog').count()) await page.keyboard.press('Escape');
  });

  it('join: B peers with A, A connects back and waits for B\'s approval, then both directions are established', async () => {
    await B.create(resourcePath(GVR.foreignCluster), {
      apiVersion: apiVersionOf(GVR.foreignCluster),
      kind: 'ForeignCluster',
      metadata: { name: 'peer-a', labels: { [Labels.clusterID]: idA } },
      spec: { clusterID: idA, clusterName: 'life-a', apiUrl: a.apiUrl, discoveryType: 'Manual', allowUntrustedCA: true, join: true },
    });
    await expectCard('Outgoing · Not peered', 'Incoming · Established');
    expect(await available().locator(`[data-cluster-id="${idB}"]`).count()).toBe(0);
    await screenshot(page, 'lifecycle-01-incoming-established', { hideToasts: true });

    // A connects back. B's CA is not in A's trust store: the card says so on the outgoing half and
    // offers to pin it on first use (what "Add remote peer" and peer join --allow-untrusted-ca do).
    await cardOfB().getByRole('button', { name: 'Connect back' }).click();
    await expectCard('Outgoing · Pending', 'Incoming · Established');
    const pin = cardOfB().getByRole('button', { name: 'Pin its CA and connect' });
    await pin.waitFor({ timeout: 60_000 });
    expect(await cardOfB().locator('[data-direction="outgoing"]').getAttribute('title')).toContain('not signed by a trusted CA');
    await screenshot(page, 'lifecycle-01b-connect-back-untrusted-ca', { hideToasts: true });
    await pin.click();
    // B asks a person, so A's half waits while B's half is established.
    const outgoing = cardOfB().locator('[data-direction="outgoing"]');
    await waitFor('the outgoing half to wait for B\'s approval', async () => /approval/i.test((await outgoing.getAttribute('title', { timeout: 1000 })) ?? ''), {
      timeoutMs: 90_000,
      describe: () => outgoing.getAttribute('title', { timeout: 1000 }),
    });
    await expectCard('Outgoing · Pending', 'Incoming · Established');
    expect((await foreignClusterByID(A, idB))?.spec.allowUntrustedCA).toBe(true);
    await screenshot(page, 'lifecycle-02-outgoing-pending-incoming-established', { hideToasts: true });

    await approveOnB();
    await expectCard('Outgoing · Established', 'Incoming · Established');
    await waitForReadyNode(A, idB, 60_000);
    await cardOfB().locator('.badge.ok', { hasText: 'Ready' }).waitFor({ timeout: 60_000 });
    await screenshot(page, 'lifecycle-03-both-established', { hideToasts: true });
  });

  it('leave: A disconnects; its outgoing half ends and the card stays under Connected for the incoming half', async () => {
    await cardOfB().getByRole('button', { name: 'Disconnect' }).click();
    await cardOfB().getByRole('button', { name: 'Yes, disconnect' }).click();
    await expectCard('Outgoing · Not peered', 'Incoming · Established');
    await waitFor('A\'s virtual node for B removed', async () => (await virtualNode(A, idB)) === null, { timeoutMs: 60_000 });
    expect(await available().locator(`[data-cluster-id="${idB}"]`).count()).toBe(0);
    await screenshot(page, 'lifecycle-04-left', { hideToasts: true });
  });

  it('rejoin: A connects back again; pending until B approves again, then established both ways', async () => {
    await cardOfB().getByRole('button', { name: 'Connect back' }).click();
    await expectCard('Outgoing · Pending', 'Incoming · Established');
    await approveOnB();
    await expectCard('Outgoing · Established', 'Incoming · Established');
    await waitForReadyNode(A, idB, 60_000);
    await screenshot(page, 'lifecycle-05-rejoined', { hideToasts: true });
  });

  it('peer down: B\'s agent stops (its heartbeats stop), then its control plane; B stays under Connected, unreachable each way as it happens, with what to do', async () => {
    await agentB.kill();
    // B's own dashboard, still served by another replica, says that no agent runs once its Lease lapses.
    const pageB = await page.context().newPage();
    await signIn(pageB, urlB, tokenB);
    const banner = pageB.locator('[data-agent-down]');
    await banner.waitFor({ timeout: 90_000 });
    expect(await banner.textContent()).toMatch(/The kubepeer agent of this cluster is not running since \d{4}-\d\d-\d\dT.*Z/);
    expect(await banner.textContent()).toContain('kubepeer status');
    await screenshot(pageB, 'lifecycle-06a-peer-agent-down-its-dashboard');
    await pageB.close();
    // On A: B's heartbeats stopped (outgoing), while A still writes to B's API server (incoming).
    await expectCard('Outgoing · Unreachable', 'Incoming · Established');
    expect(await cardOfB().locator('[data-unreachable]').textContent()).toMatch(/no heartbeat from it/);
    await screenshot(page, 'lifecycle-06b-peer-agent-down', { hideToasts: true });

    // Then B's control plane too: A can no longer write to it either.
    await b.stop();
    await expectCard('Outgoing · Unreachable', 'Incoming · Unreachable', 180_000);
    const note = cardOfB().locator('[data-unreachable]');
    expect(await note.textContent()).toMatch(/does not answer/);
    expect(await note.textContent()).toMatch(/API server and kubepeer agent run.*Remove/);
    // Not moved to Available with "Stop connecting".
    expect(await available().locator(`[data-cluster-id="${idB}"]`).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Stop connecting' }).count()).toBe(0);
    await screenshot(page, 'lifecycle-06-peer-down', { hideToasts: true });
  }, 300_000);

  it('remove (B still down): both directions end on A: no ForeignCluster, no request, no credential, no virtual node', async () => {
    expect((await A.getOrNull<PeeringRequest>(resourcePath(GVR.peeringRequest, { name: idB })))?.status?.phase).toBe('Accepted');
    await cardOfB().getByRole('button', { name: 'Details' }).click();
    const drawer = page.getByRole('dialog');
    await drawer.getByRole('button', { name: 'Remove', exact: true }).click();
    await drawer.getByRole('button', { name: 'Yes, remove' }).click();
    await page.locator('.toast-success', { hasText: 'both directions' }).waitFor();
    await screenshot(page, 'lifecycle-07-removed');

    const leftOnA = async () => ({
      foreignCluster: (await foreignClusterByID(A, idB))?.metadata.name ?? null,
      peeringRequest: (await A.getOrNull<PeeringRequest>(resourcePath(GVR.peeringRequest, { name: idB })))?.status ?? null,
      credential: !!(await A.getOrNull(resourcePath(Core.secrets, { namespace: 'liqo', name: `liqo-peer-${idB}` }))),
      ourCredential: !!(await A.getOrNull(resourcePath(Core.secrets, { namespace: 'liqo', name: `${Names.remoteCredentialPrefix}${idB}` }))),
      virtualNode: !!(await virtualNode(A, idB)),
    });
    await waitFor('A to keep nothing of B', async () => {
      const left = await leftOnA();
      return !left.foreignCluster && !left.peeringRequest && !left.credential && !left.ourCredential && !left.virtualNode;
    }, { timeoutMs: 120_000, describe: leftOnA });
    await waitFor('the card for B gone from the page', async () => (await page.locator(`[data-cluster-id="${idB}"]`).count()) === 0, { timeoutMs: 30_000 });
    await screenshot(page, 'lifecycle-08-nothing-left', { hideToasts: true });
  });

  it('raised no page errors', () => {
    expect(pageProblems).toEqual([]);
  });
});
