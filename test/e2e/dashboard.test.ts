/**
 * The dashboard in a real browser (Debian's Chromium, playwright-core) against real agents on real
 * local control planes: A serves its dashboard over plain HTTP on 127.0.0.1, B over HTTPS. The
 * suite walks what an operator does, in order: sign in, watch a discovered peer appear, add a remote
 * peer through the form (a mistake first), see it connect with its virtual node, look at its details,
 * disconnect, approve an incoming request, and meet the forbidden message with a read-only token.
 * Screenshots of each view go to test-output/screenshots/.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { LocalCluster } from '../../src/localcluster/localCluster.js';
import { GVR, apiVersionOf, type ForeignCluster } from '../../src/api/crds.js';
import { Labels } from '../../src/api/constants.js';
import { Core, resourcePath, type KubeClient } from '../../src/k8s/rest.js';
import { agentMetricsUrl, kubepeer, startAgent, startCluster, type AgentProcess } from '../support/clusters.js';
import { clusterIDOf, describeFC, foreignCluster, foreignClusterByID, setClusterConfig, virtualNode, waitForReadyNode } from '../support/peering.js';
import { waitFor } from '../support/wait.js';
import { dashboardUrlOf, ensureKubepeerReader, launchBrowser, mintToken, screenshot, signIn as signInAt } from './support/dashboard.js';

let a: LocalCluster;
let b: LocalCluster;
let agentA: AgentProcess;
let agentB: AgentProcess;
let A: KubeClient;
let B: KubeClient;
let idA: string;
let idB: string;
let urlA: string;
let urlB: string;
let adminA: string;
let viewerA: string;
let adminB: string;
let browser: Browser;
let context: BrowserContext;
let page: Page;
/** Errors the page itself raised (exceptions, Content-Security-Policy violations). */
const pageProblems: string[] = [];

beforeAll(async () => {
  [a, b] = await Promise.all([startCluster('dash-a'), startCluster('dash-b')]);
  A = a.client();
  B = b.client();
  // B accepts every request (A's "Add remote peer" connects at once); A asks a person for each one.
  await Promise.all([
    setClusterConfig(A, { peeringConfig: { heartbeatSeconds: 2, acceptPolicy: 'Manual' } }),
    setClusterConfig(B, { peeringConfig: { heartbeatSeconds: 2, acceptPolicy: 'AcceptAll' } }),
  ]);
  agentA = startAgent(a, ['--dashboard-http', '--dashboard-listen', '127.0.0.1:0']);
  agentB = startAgent(b, ['--dashboard-listen', '127.0.0.1:0']);
  await Promise.all([agentMetricsUrl(agentA), agentMetricsUrl(agentB)]);
  [urlA, urlB] = await Promise.all([dashboardUrlOf(agentA), dashboardUrlOf(agentB)]);
  [idA, idB] = await Promise.all([clusterIDOf(A), clusterIDOf(B)]);
  const reader = await ensureKubepeerReader(A);
  [adminA, viewerA, adminB] = await Promise.all([mintToken(A, 'dashboard-admin', ['cluster-admin']), mintToken(A, 'dashboard-viewer', ['view', reader]), mintToken(B, 'dashboard-admin', ['cluster-admin'])]);
  browser = await launchBrowser();
  context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: urlA.replace(/\/$/, '') });
  page = await context.newPage();
  page.on('pageerror', (e) => pageProblems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) pageProblems.push(`console: ${m.text()}`);
  });
});

afterAll(async () => {
  await browser?.close();
  await Promise.all([agentA?.stop(), agentB?.stop()]);
  await Promise.all([a?.stop(), b?.stop()]);
});

const available = () => page.getByRole('list', { name: 'Available peers' });
const connected = () => page.getByRole('list', { name: 'Connected peers' });

const signIn = (token: string) => signInAt(page, urlA, token);

async function openAddDialog(which: 'Add domain' | 'Add remote peer') {
  await page.getByRole('button', { name: 'Add a domain or a remote peer' }).click();
  await page.getByRole('menuitem', { name: which }).click();
  await page.getByRole('dialog').waitFor();
}

describe('the dashboard API without a browser', () => {
  it('gives no data without a token, and refuses cross-origin calls, non-JSON and oversized bodies', async () => {
    const noToken = await fetch(`${urlA}api/state`);
    expect(noToken.status).toBe(401);
    expect(await noToken.json()).toMatchObject({ error: { reason: 'Unauthorized' } });
    expect(noToken.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(noToken.headers.get('access-control-allow-origin')).toBeNull();

    const badToken = await fetch(`${urlA}api/state`, { headers: { Authorization: 'Bearer not-a-real-token-at-all' } });
    expect(badToken.status).toBe(401);
    expect((await badToken.json()).error.message).toContain('sign in again');

    const auth = { Authorization: `Bearer ${adminA}`, 'Content-Type': 'application/json' };
    const crossOrigin = await fetch(`${urlA}api/peers`, { method: 'POST', headers: { ...auth, Origin: 'http://evil.example' }, body: '{}' });
    expect(crossOrigin.status).toBe(403);
    const notJson = await fetch(`${urlA}api/peers`, { method: 'POST', headers: { ...auth, 'Content-Type': 'text/plain' }, body: '{}' });
    expect(notJson.status).toBe(415);
    const huge = await fetch(`${urlA}api/peers`, { method: 'POST', headers: auth, body: JSON.stringify({ clusterName: 'x'.repeat(100_000) }) });
    expect(huge.status).toBe(413);

    // The server checks the form too (a client that skips the web app's checks gets the same messages).
    const invalid = await fetch(`${urlA}api/peers`, { method: 'POST', headers: auth, body: JSON.stringify({ clusterID: 'Not An ID!', apiUrl: 'http://10.0.0.1:6443' }) });
    expect(invalid.status).toBe(400);
    const body = (await invalid.json()) as { error: { fields: Record<string, string> } };
    expect(body.error.fields.clusterID).toContain('Not a cluster ID');
    expect(body.error.fields.apiUrl).toContain('https://');
    expect((await A.list<ForeignCluster>(resourcePath(GVR.foreignCluster))).items).toHaveLength(0);
  });

  it('says whether the agent runs, from its Lease (the agent\'s heartbeat)', async () => {
    const r = await fetch(`${urlA}api/state`, { headers: { Authorization: `Bearer ${adminA}` } });
    const { overview } = (await r.json()) as { overview: { agent?: { running: boolean; text: string } } };
    expect(overview.agent).toMatchObject({ running: true, text: expect.stringMatching(/^running \(leader .+, renewed \d+s ago\)$/) });
  });
});

describe('the dashboard in a browser', () => {
  // A failed step must not leave a dialog over the page for the next one.
  afterEach(async () => {
    if (await page.getByRole('dialog').count()) await page.keyboard.press('Escape');
  });

  it('signs in with a bearer token and shows the cluster name and a copyable cluster ID', async () => {
    await page.goto(urlA);
    await page.getByLabel('Kubernetes bearer token').waitFor();
    await screenshot(page, '01-login');

    // A wrong token: a clear message, no data.
    await page.getByLabel('Kubernetes bearer token').fill('definitely-not-a-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').first().textContent()).toMatch(/token/i);

    await page.getByLabel('Kubernetes bearer token').fill(adminA);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: /Available Peers/ }).waitFor();
    await expect.poll(() => page.locator('h1.cluster-name').textContent()).toBe('dash-a');
    expect(await page.locator('#cluster-id').textContent()).toBe(idA);
    expect(await page.getByText('system:serviceaccount:liqo:dashboard-admin').count()).toBe(1);
    await page.getByRole('button', { name: 'Copy cluster ID' }).click();
    await page.getByText('Copied').waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(idA);
    await page.locator('.live-live').waitFor();
    // The agent leads (its Lease is fresh): no "agent not running" banner.
    expect(await page.locator('[data-agent-down]').count()).toBe(0);
    await screenshot(page, '02-home-empty');
    // The token stays in the tab, never in a cookie.
    expect(await context.cookies()).toHaveLength(0);
  });

  it('shows a discovered peer as soon as it appears, without a reload', async () => {
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));
    const neighbourID = randomUUID();
    await A.create(resourcePath(GVR.foreignCluster), {
      apiVersion: apiVersionOf(GVR.foreignCluster),
      kind: 'ForeignCluster',
      metadata: { name: neighbourID, labels: { [Labels.clusterID]: neighbourID, [Labels.discoveryType]: 'LAN' } },
      spec: { clusterID: neighbourID, clusterName: 'lan-neighbour', apiUrl: 'https://198.18.0.77:6443', discoveryType: 'LAN', join: false },
    });
    const card = available().locator(`[data-cluster-id="${neighbourID}"]`);
    await card.waitFor({ timeout: 10_000 });
    expect(await card.textContent()).toContain('lan-neighbour');
    expect(await card.textContent()).toContain('LAN');
    expect(await card.getByRole('button', { name: 'Connect' }).count()).toBe(1);
    expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(42);
    await screenshot(page, '03-available-peer-live', { hideToasts: true });
  });

  it('adds a search domain through "+" > Add domain', async () => {
    await openAddDialog('Add domain');
    await page.getByLabel('Domain', { exact: true }).fill('not a domain!');
    await page.getByRole('button', { name: 'Add domain' }).last().click();
    await page.getByText('Not a DNS domain').waitFor();
    await page.getByLabel('Domain', { exact: true }).fill('peers.example.test');
    await page.getByLabel('Name', { exact: true }).fill('example-peers');
    await screenshot(page, '04-add-domain');
    await page.getByRole('button', { name: 'Add domain' }).last().click();
    await page.getByRole('dialog').waitFor({ state: 'detached' });
    await page.locator('[data-domain="example-peers"]').waitFor();
    const sd = await A.get<{ spec: { domain: string; autojoin: boolean } }>(resourcePath(GVR.searchDomain, { name: 'example-peers' }));
    expect(sd.spec).toEqual({ domain: 'peers.example.test', autojoin: false });
  });

  it('adds a remote peer through the form (a bad URL first), then shows it connected with its virtual node', async () => {
    await openAddDialog('Add remote peer');
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Cluster ID').fill(idB);
    await dialog.getByLabel('API server URL').fill(b.apiUrl.replace('https://', 'http://'));
    await dialog.getByRole('button', { name: 'Add peer' }).click();
    await dialog.getByText('The API URL must start with https://').waitFor();
    await screenshot(page, '05-add-peer-invalid');
    expect(await foreignClusterByID(A, idB)).toBeUndefined();

    // A UUID cut off in a copy is still a DNS label, but the form asks for a UUID: refused, with
    // the check the CLI warns with (src/api/clusterIDInput.ts).
    await dialog.getByLabel('Cluster ID').fill(idB.slice(0, 35));
    await dialog.getByLabel('API server URL').fill(b.apiUrl);
    await dialog.getByRole('button', { name: 'Add peer' }).click();
    await dialog.getByText('looks like a UUID cut short (35 of 36 characters)').waitFor();
    await screenshot(page, '05b-add-peer-cut-uuid');
    expect(await foreignClusterByID(A, idB.slice(0, 35))).toBeUndefined();

    // Our own cluster ID passes the form's checks but not the server's.
    await dialog.getByLabel('Cluster ID').fill(idA);
    await dialog.getByLabel('API server URL').fill(b.apiUrl);
    await dialog.getByRole('button', { name: 'Add peer' }).click();
    await dialog.getByText('a cluster cannot peer with itself').waitFor();

    await dialog.getByLabel('Cluster ID').fill(idB);
    await dialog.getByLabel('Name', { exact: true }).fill('peer-b');
    expect(await dialog.getByLabel('Allow untrusted CA').isChecked()).toBe(true);
    expect(await dialog.getByLabel('Join').isChecked()).toBe(true);
    await dialog.getByRole('button', { name: 'Add peer' }).click();
    await dialog.waitFor({ state: 'detached' });

    const fc = await foreignCluster(A, 'peer-b');
    expect(fc?.spec).toMatchObject({ clusterID: idB, apiUrl: b.apiUrl, namespace: 'liqo', discoveryType: 'Manual', allowUntrustedCA: true, join: true });

    const card = connected().locator('[data-peer="peer-b"]');
    await card.getByText(`liqo-${idB}`).waitFor({ timeout: 120_000 }).catch(async (e) => {
      throw new Error(`${(e as Error).message}\nForeignCluster: ${JSON.stringify(await describeFC(A, 'peer-b')())}`);
    });
    await card.locator('.badge.ok', { hasText: 'Ready' }).waitFor({ timeout: 60_000 });
    await card.locator('.health-healthy').waitFor({ timeout: 30_000 });
    expect(await card.textContent()).toContain('Outgoing');
    expect(await card.textContent()).toMatch(/CPU cores/);
    expect(await available().locator('[data-peer="peer-b"]').count()).toBe(0);
    await waitForReadyNode(A, idB, 30_000);
    await screenshot(page, '06-connected-peer', { hideToasts: true });
  });

  it('shows on the peer card the pods we run there, against what the peer offers', async () => {
    // A pod bound to the virtual node by name (no scheduler needed): counted as run there whether
    // or not the peer can start it (B's node is a placeholder here, so it stays Pending there).
    await A.create(resourcePath(Core.namespaces), { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'offload-e2e' } });
    await A.create(resourcePath(Core.pods, { namespace: 'offload-e2e' }), {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'offloaded', namespace: 'offload-e2e' },
      spec: {
        nodeName: `liqo-${idB}`,
        tolerations: [{ key: 'virtual-node.liqo.io/not-allowed', operator: 'Exists', effect: 'NoExecute' }],
        containers: [{ name: 'main', image: 'busybox', command: ['sleep', '3600'], resources: { requests: { cpu: '25m', memory: '32Mi' } } }],
      },
    });
    const card = connected().locator('[data-peer="peer-b"]');
    const line = card.locator('[data-offloading="we-run-there"]');
    // The card refreshes on the peer's next heartbeat (Advertisement change).
    await line.filter({ hasText: 'We run there: 1 pod (cpu 25m/' }).waitFor({ timeout: 30_000 });
    expect(await line.textContent()).toMatch(/memory 32Mi\/\S+/);
    await screenshot(page, '06b-connected-peer-offloading', { hideToasts: true });
    await card.getByRole('button', { name: 'Details' }).click();
    const drawer = page.getByRole('dialog');
    await drawer.locator('[data-offloading-details]', { hasText: '1 pod (cpu 25m/' }).waitFor();
    await drawer.getByRole('button', { name: 'Close details' }).click();
    await drawer.waitFor({ state: 'detached' });
    // Nothing of it must hold up the disconnect below.
    await A.delete(resourcePath(Core.pods, { namespace: 'offload-e2e', name: 'offloaded' }));
  });

  it('shows the details of a peer: conditions with reasons, events, the Advertisement', async () => {
    await connected().locator('[data-peer="peer-b"]').getByRole('button', { name: 'Details' }).click();
    const drawer = page.getByRole('dialog');
    await drawer.locator('[data-condition="VirtualNodeReady"]').waitFor();
    expect(await drawer.locator('[data-condition="VirtualNodeReady"]').textContent()).toContain('True');
    expect(await drawer.locator('[data-condition="TrustEstablished"]').textContent()).toMatch(/True/);
    await drawer.getByText(`advertisement-${idB}`).first().waitFor();
    await expect.poll(() => drawer.locator('table.events tbody tr').count(), { timeout: 15_000 }).toBeGreaterThan(0);
    // Tall enough to show the whole drawer (it scrolls on its own).
    await page.setViewportSize({ width: 1360, height: 1900 });
    await screenshot(page, '07-peer-details', { hideToasts: true });
    await page.setViewportSize({ width: 1360, height: 900 });
    await drawer.getByRole('button', { name: 'Close details' }).click();
    await drawer.waitFor({ state: 'detached' });
  });

  it('disconnects a peer: the virtual node goes and the peer is available again', async () => {
    const card = connected().locator('[data-peer="peer-b"]');
    await card.getByRole('button', { name: 'Disconnect' }).click();
    await card.getByRole('button', { name: 'Yes, disconnect' }).click();
    await available().locator('[data-peer="peer-b"]').getByRole('button', { name: 'Connect' }).waitFor({ timeout: 60_000 });
    await waitFor('virtual node removed', async () => (await virtualNode(A, idB)) === null, { timeoutMs: 60_000 });
    expect((await foreignCluster(A, 'peer-b'))?.spec.join).toBe(false);
    await screenshot(page, '08-disconnected', { hideToasts: true });
  });

  it('approves an incoming request: B asks, A (acceptPolicy Manual) shows it, Accept lets B in', async () => {
    // B's side of the earlier peering must be gone first (B drops it on its next heartbeat's 401).
    await waitFor('B forgets the earlier request from A', async () => !(await foreignClusterByID(B, idA)) && (await B.getOrNull(resourcePath(GVR.peeringRequest, { name: idA }))) === null, { timeoutMs: 90_000 });
    await B.create(resourcePath(GVR.foreignCluster), {
      apiVersion: apiVersionOf(GVR.foreignCluster),
      kind: 'ForeignCluster',
      metadata: { name: 'peer-a', labels: { [Labels.clusterID]: idA } },
      spec: { clusterID: idA, clusterName: 'dash-a', apiUrl: a.apiUrl, discoveryType: 'Manual', allowUntrustedCA: true, join: true },
    });
    const row = page.locator(`[data-request="${idB}"]`);
    await row.getByRole('button', { name: 'Accept' }).waitFor({ timeout: 90_000 }).catch(async (e) => {
      throw new Error(`${(e as Error).message}\nB's ForeignCluster: ${JSON.stringify(await describeFC(B, 'peer-a')())}`);
    });
    expect(await row.textContent()).toContain(idB);
    expect(await available().locator('[data-peer="peer-b"]').textContent()).toContain('Request waiting');
    await screenshot(page, '09-incoming-request', { hideToasts: true });
    await row.getByRole('button', { name: 'Accept' }).click();
    await page.locator('.toast-success', { hasText: 'Accepted' }).waitFor();

    await waitForReadyNode(B, idA, 90_000, describeFC(B, 'peer-a'));
    const card = connected().locator('[data-peer="peer-b"]');
    await card.locator('.direction', { hasText: 'Incoming' }).waitFor({ timeout: 60_000 });
    // A now keeps a tenancy for B: the card says what B runs here, against the quota A gives it.
    await card.locator('[data-offloading="it-runs-here"]', { hasText: 'It runs here: 0 pods (quota 0/' }).waitFor({ timeout: 60_000 });
    expect(await page.locator(`[data-request="${idB}"]`).count()).toBe(0);
    await screenshot(page, '10-incoming-connected', { hideToasts: true });
  });

  it('with a read-only token: a clear forbidden message when trying to connect, and nothing changes', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await signIn(viewerA);
    await page.getByText('read-only').waitFor();
    const card = available().locator('[data-peer]').filter({ hasText: 'lan-neighbour' });
    const name = await card.getAttribute('data-peer');
    await card.getByRole('button', { name: 'Connect' }).click();
    const message = card.locator('.inline-error');
    await message.waitFor();
    expect(await message.textContent()).toMatch(/^forbidden: you may not patch foreignclusters\.discovery\.liqo\.io/);
    expect(await page.locator('.toast-forbidden').textContent()).toContain('forbidden');
    expect((await foreignCluster(A, name!))?.spec.join).toBe(false);
    // What this token may not read is said, not silently missing.
    expect(await page.locator('.banner.forbidden').textContent()).toContain('forbidden: you may not list nodes');
    await screenshot(page, '11-forbidden-read-only');
  });

  it('with a token from "kubepeer dashboard token --read-only": peers and their events (kept in "default") show, with no forbidden warning', async () => {
    const r = kubepeer(['dashboard', 'token', '--read-only', '--duration', '30m', '--kubeconfig', a.kubeconfig]);
    expect(r.code, r.stderr).toBe(0);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await signIn(r.stdout.trim());
    await page.getByText('read-only').waitFor();
    await page.locator('[data-peer="peer-b"]').first().getByRole('button', { name: 'Details' }).click();
    const drawer = page.getByRole('dialog');
    await drawer.locator('[data-condition]').first().waitFor();
    // The ForeignCluster's events live in namespace "default" (it is cluster-scoped): the
    // ClusterRole kubepeer-dashboard-viewer may list events everywhere, so they show.
    await expect.poll(() => drawer.locator('table.events tbody tr').count(), { timeout: 15_000 }).toBeGreaterThan(0);
    expect(await page.locator('.banner.forbidden').count()).toBe(0);
    // It may read the agent's Lease: the page can say whether an agent runs.
    const state = await (await fetch(`${urlA}api/state`, { headers: { Authorization: `Bearer ${r.stdout.trim()}` } })).json();
    expect(state.overview.agent).toMatchObject({ running: true });
    await screenshot(page, '11b-dashboard-token-read-only', { hideToasts: true });
    await drawer.getByRole('button', { name: 'Close details' }).click();
    await drawer.waitFor({ state: 'detached' });
  });

  it('with a token that may not list peers: the page says what is missing, not "Loading…" beside a green "Live"', async () => {
    const token = await mintToken(A, 'dashboard-nothing', []);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.goto(urlA);
    await page.getByLabel('Kubernetes bearer token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    const notShown = page.locator('.not-shown').first();
    await notShown.waitFor();
    expect(await notShown.textContent()).toMatch(/Not shown: .*forbidden.*foreignclusters/i);
    expect(await page.getByText('Loading…').count()).toBe(0);
    expect(await page.locator('.live').textContent()).toContain('No access');
    expect(await page.locator('.live-live').count()).toBe(0);
    await screenshot(page, '11c-token-without-rights');
    await page.getByRole('button', { name: 'Sign out' }).click();
  });

  it('serves HTTPS with a certificate kept in a Secret, the same after an agent restart (agent B)', async () => {
    const servedCert = (url: string) =>
      new Promise<{ issuer: string; subjectaltname?: string; fingerprint256: string }>((resolve, reject) => {
        const req = httpsRequest(url, { rejectUnauthorized: false }, (res) => {
          const c = (res.socket as import('node:tls').TLSSocket).getPeerCertificate();
          res.resume();
          resolve({ issuer: String(c.issuer.CN ?? ''), subjectaltname: c.subjectaltname, fingerprint256: c.fingerprint256 });
        });
        req.on('error', reject);
        req.end();
      });
    const cert = await servedCert(urlB);
    expect(cert.issuer).toBe('kubepeer-dashboard-ca');
    expect(cert.subjectaltname).toContain('IP Address:127.0.0.1');
    const secret = await B.get<{ data: Record<string, string> }>(resourcePath({ group: '', version: 'v1', plural: 'secrets', namespaced: true }, { namespace: 'liqo', name: 'kubepeer-dashboard-tls' }));
    const { X509Certificate } = await import('node:crypto');
    expect(new X509Certificate(Buffer.from(secret.data['tls.crt']!, 'base64')).fingerprint256).toBe(cert.fingerprint256);

    const secure = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1360, height: 900 } });
    const p = await secure.newPage();
    await p.goto(urlB);
    expect(p.url()).toMatch(/^https:\/\//);
    await p.getByLabel('Kubernetes bearer token').fill(adminB);
    await p.getByRole('button', { name: 'Sign in' }).click();
    await p.locator('#cluster-id', { hasText: idB }).waitFor();
    await expect.poll(() => p.locator('h1.cluster-name').textContent()).toBe('dash-b');
    // B peers with A (accepted above): A is a connected peer of B.
    await p.getByRole('list', { name: 'Connected peers' }).locator('[data-cluster-id]', { hasText: idA }).waitFor({ timeout: 30_000 });
    await screenshot(p, '12-https-cluster-b');
    await secure.close();

    // a browser that accepted this certificate meets the same one after the agent restarts
    await agentB.stop();
    agentB = startAgent(b, ['--dashboard-listen', '127.0.0.1:0']);
    await agentMetricsUrl(agentB);
    urlB = await dashboardUrlOf(agentB);
    expect((await servedCert(urlB)).fingerprint256).toBe(cert.fingerprint256);
  });

  it('removes a discovered peer: kept as a removal record (discovery does not connect it again) until Forget deletes it', async () => {
    await signIn(adminA);
    const card = available().locator('[data-peer]').filter({ hasText: 'lan-neighbour' });
    const name = (await card.getAttribute('data-peer'))!;
    await card.getByRole('button', { name: 'Details' }).click();
    const drawer = page.getByRole('dialog');
    await drawer.getByRole('button', { name: 'Remove', exact: true }).click();
    await drawer.getByRole('button', { name: 'Yes, remove' }).click();
    await page.locator('.toast-success', { hasText: 'kept as a record so that discovery does not connect it again' }).waitFor();
    const record = await foreignCluster(A, name);
    expect(record?.spec.join).toBe(false);
    expect(record?.metadata.annotations?.['discovery.kubepeer.io/removed']).toMatch(/^\d{4}-/);
    await card.locator('[data-removed]').waitFor();
    expect(await card.textContent()).toContain('Removed by a person: discovery does not connect it again');
    await screenshot(page, '13-removed-discovered-peer', { hideToasts: true });

    await card.getByRole('button', { name: 'Details' }).click();
    await drawer.getByRole('button', { name: 'Forget', exact: true }).click();
    await drawer.getByRole('button', { name: 'Yes, forget' }).click();
    await page.locator('.toast-success', { hasText: 'forgotten' }).waitFor();
    await waitFor('the removal record deleted', async () => (await foreignCluster(A, name)) === null, { timeoutMs: 60_000 });
    await card.waitFor({ state: 'detached' });
  });

  it('removes a peer that uses this cluster: both directions end, its request and credential go, and the peer is told', async () => {
    // B still peers with A (B's request to A, accepted above); A's own half was disconnected.
    await waitForReadyNode(B, idA, 60_000, describeFC(B, 'peer-a'));
    const card = connected().locator('[data-peer="peer-b"]');
    await card.getByRole('button', { name: 'Details' }).click();
    const drawer = page.getByRole('dialog');
    await drawer.getByRole('button', { name: 'Remove', exact: true }).click();
    await drawer.getByRole('button', { name: 'Yes, remove' }).click();
    await page.locator('.toast-success', { hasText: 'both directions of the peering end' }).waitFor();
    const leftOnA = async () => ({
      foreignCluster: !!(await foreignCluster(A, 'peer-b')),
      request: !!(await A.getOrNull(resourcePath(GVR.peeringRequest, { name: idB }))),
      credential: !!(await A.getOrNull(resourcePath(Core.secrets, { namespace: 'liqo', name: `liqo-peer-${idB}` }))),
    });
    await waitFor('A to keep nothing of B', async () => Object.values(await leftOnA()).every((v) => !v), { timeoutMs: 90_000, describe: leftOnA });
    // B is told: its outgoing peering with A ends (Denied), its virtual node for A goes.
    await waitFor('B told (outgoing Denied) and its virtual node for A gone', async () => (await foreignCluster(B, 'peer-a'))?.status?.outgoing?.phase === 'Denied' && (await virtualNode(B, idA)) === null, {
      timeoutMs: 90_000,
      describe: describeFC(B, 'peer-a'),
    });
    await card.waitFor({ state: 'detached' });
  });

  it('raised no page errors and no Content-Security-Policy violations', () => {
    expect(pageProblems).toEqual([]);
  });
});
