/**
 * What browser tests of the dashboard need: Debian's Chromium driven by playwright-core (no browser
 * download), the dashboard URL an agent process logged, and Kubernetes tokens minted with the
 * TokenRequest API for ServiceAccounts with given ClusterRoles.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { Core, resourcePath, type KubeClient } from '../../../src/k8s/rest.js';
import { repoRoot, type AgentProcess } from '../../support/clusters.js';
import { waitFor } from '../../support/wait.js';

export const CHROMIUM = '/usr/bin/chromium';

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** The dashboard URL the agent logged when it started serving. */
export async function dashboardUrlOf(agent: AgentProcess): Promise<string> {
  return waitFor(`agent ${agent.pid} to log its dashboard URL (log ${agent.logFile})`, () => {
    const log = readFileSync(agent.logFile, 'utf8');
    if (agent.exited()) throw new Error(`agent exited; log:\n${log.slice(-3000)}`);
    return /"dashboardUrl":"([^"]+)"/.exec(log)?.[1];
  }, { timeoutMs: 60_000 });
}

/**
 * A ServiceAccount in `liqo` bound to `clusterRoles` (cluster-wide) and a one-hour token for it,
 * minted with the TokenRequest API (what `kubectl create token` does).
 */
export async function mintToken(client: KubeClient, name: string, clusterRoles: string[]): Promise<string> {
  await client.create(resourcePath(Core.serviceAccounts, { namespace: 'liqo' }), { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: 'liqo' } });
  for (const role of clusterRoles) {
    await client.create(resourcePath(Core.clusterRoleBindings), {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: `${name}-${role}` },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
      subjects: [{ kind: 'ServiceAccount', name, namespace: 'liqo' }],
    });
  }
  const tr = await client.create<{ status: { token: string } }>(`${resourcePath(Core.serviceAccounts, { namespace: 'liqo', name })}/token`, {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    spec: { expirationSeconds: 3600 },
  });
  return tr.status.token;
}

/** Read access to the kubepeer resources, for a `view`-bound person. */
export async function ensureKubepeerReader(client: KubeClient, name = 'kubepeer-reader'): Promise<string> {
  await client.create(resourcePath(Core.clusterRoles), {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name },
    rules: [{ apiGroups: ['discovery.liqo.io', 'sharing.liqo.io', 'config.liqo.io'], resources: ['*'], verbs: ['get', 'list', 'watch'] }],
  });
  return name;
}

/** Signs in at `url` with `token` as a person does, and waits for the home view. */
export async function signIn(page: Page, url: string, token: string): Promise<void> {
  await page.goto(url);
  await page.getByLabel('Kubernetes bearer token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: /Available Peers/ }).waitFor();
}

export const screenshotDir = join(repoRoot, 'test-output', 'screenshots');

/** A full-page screenshot; `hideToasts` leaves out the notifications of earlier steps. */
export async function screenshot(page: Page, name: string, opts: { hideToasts?: boolean } = {}): Promise<string> {
  mkdirSync(screenshotDir, { recursive: true });
  const path = join(screenshotDir, `${name}.png`);
  // Dismissed the way a person would: injecting a stylesheet would break the page's CSP.
  if (opts.hideToasts) while (await page.locator('.toast').count()) await page.getByRole('button', { name: 'Dismiss' }).first().click();
  await page.screenshot({ path, fullPage: true });
  return path;
}
