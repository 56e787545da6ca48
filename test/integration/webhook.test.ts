/**
 * The PeeringRequest admission webhook on a real control plane, called by the real kube-apiserver
 * (docs/design.md §5, step 4): anonymous clients get the webhook's own message back; the
 * ClusterConfig policy applies at runtime; a flood is capped by maxPendingRequests while the agent
 * stays responsive; the registration follows the agent across restarts and comes back when a
 * person deletes it.
 *
 * The requests name an API server that refuses connections, so a handshake controller (if one is
 * running) keeps them Pending ("requester unreachable") instead of settling them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { createServer } from 'node:net';
import type { LocalCluster } from '../../src/localcluster/localCluster.js';
import { ApiError, Core, KubeClient, resourcePath } from '../../src/k8s/rest.js';
import { GVR } from '../../src/api/crds.js';
import { Names } from '../../src/api/constants.js';
import { createCA } from '../../src/trust/pki.js';
import { buildTokenKubeconfig } from '../../src/peering/kubeconfig.js';
import { agentMetricsUrl, kubectl, startAgent, startCluster, type AgentProcess } from '../support/clusters.js';
import { waitFor } from '../support/wait.js';

const DENIED_BY = 'admission webhook "peeringrequests.discovery.liqo.io" denied the request';

let b: LocalCluster;
let admin: KubeClient;
let caPem: string;
let agent: AgentProcess;
let metricsUrl: string;
let ownID: string;
let requesterCA: string;
/** An https URL on which nothing listens: the stand-in for a requester's API server. */
let deadApiUrl: string;
const agents: AgentProcess[] = [];
const httpsAgent = new Agent({ keepAlive: true, maxSockets: 64 });

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function peeringRequest(id: string = randomUUID(), over: { name?: string; kubeconfig?: string; apiUrl?: string } = {}) {
  const apiUrl = over.apiUrl ?? deadApiUrl;
  return {
    apiVersion: 'discovery.liqo.io/v1alpha1',
    kind: 'PeeringRequest',
    metadata: { name: over.name ?? id },
    spec: { clusterID: id, clusterName: `requester-${id.slice(0, 8)}`, namespace: 'liqo', apiUrl, kubeconfig: over.kubeconfig ?? buildTokenKubeconfig({ server: apiUrl, caPem: requesterCA, token: `token-${id}` }) },
  };
}

interface Answer {
  status: number;
  reason?: string;
  message?: string;
}

/** POST a PeeringRequest with no credentials at all, the way a requester does; raw, to see the HTTP status. */
function anonymousCreate(obj: unknown, dryRun = false): Promise<Answer> {
  const url = new URL(`${b.apiUrl}${resourcePath(GVR.peeringRequest)}${dryRun ? '?dryRun=All' : ''}`);
  const payload = JSON.stringify(obj);
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent: httpsAgent, ca: caPem, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: { reason?: string; message?: string } = {};
        try {
          body = JSON.parse(text);
        } catch {
          body = { message: text };
        }
        resolve({ status: res.statusCode ?? 0, reason: body.reason, message: body.message });
      });
      res.on('error', reject);
    });
    req.setTimeout(30_000, () => req.destroy(new Error('no answer within 30s')));
    req.on('error', reject);
    req.end(payload);
  });
}

async function setPeeringConfig(cfg: Record<string, unknown>): Promise<void> {
  await admin.mergePatch(resourcePath(GVR.clusterConfig, { name: Names.clusterConfig }), { spec: { peeringConfig: cfg } });
}

type VWC = { webhooks: Array<{ clientConfig: { url?: string; caBundle?: string }; failurePolicy: string }> };
const webhookConfig = () => admin.getOrNull<VWC>(resourcePath(Core.validatingWebhooks, { name: Names.webhookConfiguration }));

async function listPRs(): Promise<Array<{ metadata: { name: string }; status?: { phase?: string } }>> {
  return (await admin.list<{ metadata: { name: string }; status?: { phase?: string } }>(resourcePath(GVR.peeringRequest))).items;
}

async function deleteAllPRs(): Promise<void> {
  for (const pr of await listPRs()) await admin.delete(resourcePath(GVR.peeringRequest, { name: pr.metadata.name }));
  await waitFor('all PeeringRequests gone', async () => (await listPRs()).length === 0, { describe: listPRs });
}

/** The webhook URL an agent process logged. */
function loggedWebhookUrl(a: AgentProcess): Promise<string> {
  return waitFor(`agent ${a.pid} to log its webhook URL`, () => /"webhookUrl":"([^"]+)"/.exec(readFileSync(a.logFile, 'utf8'))?.[1]);
}

/** Waits until a dry-run create of a good request gets `expected` (the agent has seen a config change). */
async function untilDryRun(what: string, expected: (a: Answer) => boolean): Promise<Answer> {
  let last: Answer | undefined;
  return waitFor(what, async () => {
    last = await anonymousCreate(peeringRequest(), true);
    return expected(last) ? last : undefined;
  }, { describe: () => last });
}

beforeAll(async () => {
  b = await startCluster('webhook-b');
  admin = b.client();
  caPem = readFileSync(b.caCert, 'utf8');
  requesterCA = (await createCA('requester-ca')).certPem;
  deadApiUrl = `https://127.0.0.1:${await closedPort()}`;
  agent = startAgent(b, ['--lease-duration', '4']);
  agents.push(agent);
  metricsUrl = await agentMetricsUrl(agent);
  ownID = await waitFor('cluster ID', async () => (await admin.getOrNull<{ data?: Record<string, string> }>(resourcePath(Core.configMaps, { namespace: 'liqo', name: 'cluster-id' })))?.data?.['cluster-id']);
  await waitFor('the webhook registered and called by the API server', async () => {
    const a = await anonymousCreate(peeringRequest(ownID), true);
    return a.message?.includes(DENIED_BY) ? a : undefined;
  });
});

afterAll(async () => {
  await Promise.all(agents.map((x) => x.stop()));
  httpsAgent.destroy();
  await b?.stop();
});

describe('admission webhook', () => {
  it('registers itself with its own CA, its real port and failurePolicy Fail', async () => {
    const vwc = (await webhookConfig())!;
    expect(vwc.webhooks).toHaveLength(1);
    expect(vwc.webhooks[0]!.failurePolicy).toBe('Fail');
    expect(vwc.webhooks[0]!.clientConfig.url).toBe(await loggedWebhookUrl(agent));
    const secret = await admin.get<{ data: Record<string, string> }>(resourcePath(Core.secrets, { namespace: 'liqo', name: 'kubepeer-webhook-tls' }));
    expect(vwc.webhooks[0]!.clientConfig.caBundle).toBe(secret.data['ca.crt']);
    expect(Object.keys(secret.data).sort()).toEqual(['ca.crt', 'ca.key', 'tls.crt', 'tls.key']);
  });

  it('refuses malformed PeeringRequests from an anonymous client with the webhook\'s message', async () => {
    const anon = KubeClient.anonymous(b.apiUrl, caPem);
    const refusal = async (obj: unknown) => {
      try {
        await anon.create(resourcePath(GVR.peeringRequest), obj);
      } catch (e) {
        expect(e).toBeInstanceOf(ApiError);
        return e as ApiError;
      }
      throw new Error(`created: ${JSON.stringify(obj).slice(0, 200)}`);
    };
    const id = randomUUID();
    const execKubeconfig = buildTokenKubeconfig({ server: deadApiUrl, caPem: requesterCA, token: 't' }).replace(/token: .*/, 'exec:\n        command: /bin/sh');
    const cases: Array<[unknown, string, RegExp]> = [
      [peeringRequest(id, { kubeconfig: execKubeconfig }), 'InvalidKubeconfig', /"exec" is not accepted/],
      [peeringRequest(id, { kubeconfig: 'clusters: [' }), 'InvalidKubeconfig', /not valid YAML or JSON/],
      [peeringRequest(id, { kubeconfig: buildTokenKubeconfig({ server: 'https://198.51.100.7:6443', caPem: requesterCA, token: 't' }) }), 'KubeconfigServerMismatch', /must equal spec.apiUrl/],
      [peeringRequest(ownID), 'OwnClusterID', /a cluster cannot peer with itself/],
      [peeringRequest(id, { name: 'not-the-cluster-id' }), 'NameMismatch', /metadata.name "not-the-cluster-id" must equal spec.clusterID/],
    ];
    for (const [obj, reason, message] of cases) {
      const e = await refusal(obj);
      expect(e.code, e.message).toBe(400);
      expect(e.reason).toBe(reason);
      expect(e.message).toContain(DENIED_BY);
      expect(e.message).toMatch(message);
    }
    // kubectl shows the same message to a person
    const r = kubectl(b, ['create', '-f', '-'], JSON.stringify(peeringRequest(ownID)));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('a cluster cannot peer with itself');
    anon.close();
    expect(await listPRs()).toHaveLength(0);
  });

  it('admits a well-formed request (201)', async () => {
    const ok = await anonymousCreate(peeringRequest());
    expect(ok.status, ok.message).toBe(201);
    expect(await listPRs()).toHaveLength(1);
    await deleteAllPRs();
  });

  it('refuses every request while acceptPolicy is RejectAll, and accepts again when it changes back', async () => {
    await setPeeringConfig({ acceptPolicy: 'RejectAll' });
    await untilDryRun('the agent to apply RejectAll', (a) => a.status === 403);
    const refused = await anonymousCreate(peeringRequest());
    expect(refused).toMatchObject({ status: 403, reason: 'PeeringRequestsRejected' });
    expect(refused.message).toBe(`${DENIED_BY}: this cluster does not accept peering requests (acceptPolicy: RejectAll)`);
    await setPeeringConfig({ acceptPolicy: 'AutoAcceptKnown' });
    await untilDryRun('the agent to accept again', (a) => a.status === 201);
    expect(await listPRs()).toHaveLength(0);
  });

  it('refuses the third pending request when maxPendingRequests is 2', async () => {
    await setPeeringConfig({ maxPendingRequests: 0 });
    await untilDryRun('the agent to apply maxPendingRequests 0', (a) => a.status === 429);
    await setPeeringConfig({ maxPendingRequests: 2 });
    await untilDryRun('the agent to apply maxPendingRequests 2', (a) => a.status === 201);
    expect((await anonymousCreate(peeringRequest())).status).toBe(201);
    expect((await anonymousCreate(peeringRequest())).status).toBe(201);
    const third = await anonymousCreate(peeringRequest());
    expect(third).toMatchObject({ status: 429, reason: 'TooManyPendingRequests' });
    expect(third.message).toContain('too many pending peering requests (2); try again later');
    expect(await listPRs()).toHaveLength(2);
    await deleteAllPRs();
  });

  it('caps a burst of 1000 anonymous requests at maxPendingRequests, stays responsive, and still admits a good request afterwards', async () => {
    const max = 5;
    await setPeeringConfig({ maxPendingRequests: max });
    await untilDryRun('the agent to apply maxPendingRequests 5', (a) => a.status === 201);
    const before = await metricsText();

    // /healthz probed throughout the burst
    const health: number[] = [];
    let bursting = true;
    const prober = (async () => {
      while (bursting) {
        const t = performance.now();
        const res = await fetch(`${metricsUrl}/healthz`);
        await res.text();
        expect(res.status).toBe(200);
        health.push(performance.now() - t);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();

    const total = 1000;
    const concurrency = 50;
    const answers: Answer[] = [];
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < total) {
          next++;
          answers.push(await anonymousCreate(peeringRequest()));
        }
      }),
    );
    const elapsed = performance.now() - started;
    bursting = false;
    await prober;
    // the agent's own view: the longest its event loop stalled since the scrape before the burst
    const loopLagMax = counter(await metricsText(), 'kubepeer_process_nodejs_eventloop_lag_max_seconds') * 1000;

    const by = (pred: (a: Answer) => boolean) => answers.filter(pred).length;
    const admitted = by((a) => a.status === 201);
    const capped = by((a) => a.status === 429 && a.reason === 'TooManyPendingRequests');
    const throttled = by((a) => a.status === 429 && a.reason !== 'TooManyPendingRequests');
    const other = answers.filter((a) => a.status !== 201 && a.status !== 429);
    health.sort((x, y) => x - y);
    const pct = (p: number) => health[Math.min(health.length - 1, Math.floor(p * health.length))]!.toFixed(1);
    console.log(
      `webhook burst: ${total} anonymous creates, concurrency ${concurrency}, ${(elapsed / 1000).toFixed(2)} s (${((total / elapsed) * 1000).toFixed(0)}/s): ` +
        `${admitted} admitted, ${capped} refused by the webhook (429 TooManyPendingRequests), ${throttled} throttled by the API server, ${other.length} other; ` +
        `/healthz during the burst: ${health.length} probes, p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms, max ${health[health.length - 1]!.toFixed(1)} ms (measured from the test process); agent event-loop lag max ${loopLagMax.toFixed(1)} ms`,
    );
    expect(other, JSON.stringify(other.slice(0, 3))).toHaveLength(0);
    expect(admitted).toBeLessThanOrEqual(max);
    expect(admitted).toBeGreaterThan(0);
    expect(admitted + capped + throttled).toBe(total);
    expect((await listPRs()).length).toBe(admitted);
    // Generous bounds: on a 2-core machine the API server, etcd, the agent and this test share
    // the CPU, so what the agent shows is mostly time waiting to be scheduled.
    expect(health.length).toBeGreaterThan(5);
    expect(Number(pct(0.5))).toBeLessThan(250);
    expect(health[health.length - 1]!).toBeLessThan(2000);
    // the decisions are counted
    const after = await metricsText();
    expect(loopLagMax).toBeLessThan(1000);
    expect(counter(after, 'kubepeer_webhook_requests_total{result="denied"}') - counter(before, 'kubepeer_webhook_requests_total{result="denied"}')).toBeGreaterThanOrEqual(capped);

    // the flood's requests go; a good one gets in
    await deleteAllPRs();
    await untilDryRun('the agent to see the pending requests gone', (a) => a.status === 201);
    const good = await anonymousCreate(peeringRequest());
    expect(good.status, good.message).toBe(201);
    await deleteAllPRs();
  });

  it('admits a real request in the middle of a flood of 1000 malformed ones', async () => {
    const flood = Array.from({ length: 1000 }, (_, i) => {
      const id = randomUUID();
      return i % 2 ? peeringRequest(id, { kubeconfig: 'users: [{name: x, user: {exec: {command: sh}}}]' }) : peeringRequest(id, { name: `x${id}` });
    });
    let next = 0;
    let real: Answer | undefined;
    const results: Answer[] = [];
    await Promise.all(
      Array.from({ length: 50 }, async (_, w) => {
        while (next < flood.length) {
          const i = next++;
          if (w === 0 && i >= 500 && !real) real = await anonymousCreate(peeringRequest());
          results.push(await anonymousCreate(flood[i]!));
        }
      }),
    );
    expect(real?.status, real?.message).toBe(201);
    expect(results.every((a) => a.status === 400)).toBe(true);
    expect(await listPRs()).toHaveLength(1);
    await deleteAllPRs();
  });

  it('re-creates the ValidatingWebhookConfiguration when a person deletes it', async () => {
    const url = (await webhookConfig())!.webhooks[0]!.clientConfig.url;
    await admin.delete(resourcePath(Core.validatingWebhooks, { name: Names.webhookConfiguration }));
    const back = await waitFor('the webhook configuration to come back', webhookConfig, { timeoutMs: 30_000 });
    expect(back.webhooks[0]!.clientConfig.url).toBe(url);
    await untilDryRun('the API server to call the webhook again', (a) => a.status === 400 || a.status === 201);
    const bad = await anonymousCreate(peeringRequest(ownID));
    expect(bad.message).toContain('a cluster cannot peer with itself');
    // an edit is reverted too
    await admin.jsonPatch(resourcePath(Core.validatingWebhooks, { name: Names.webhookConfiguration }), [{ op: 'replace', path: '/webhooks/0/failurePolicy', value: 'Ignore' }]);
    await waitFor('failurePolicy Fail restored', async () => (await webhookConfig())?.webhooks[0]?.failurePolicy === 'Fail', { timeoutMs: 30_000 });
  });

  it('refuses requests while no agent runs (failurePolicy Fail), and follows the agent to its new port after a restart', async () => {
    const oldUrl = (await webhookConfig())!.webhooks[0]!.clientConfig.url!;
    await agent.stop();
    const down = await anonymousCreate(peeringRequest());
    expect(down.status).toBeGreaterThanOrEqual(500);
    expect(down.message).toMatch(/failed calling webhook/);

    agent = startAgent(b, ['--lease-duration', '4', '--webhook-listen', '127.0.0.1:0']);
    agents.push(agent);
    metricsUrl = await agentMetricsUrl(agent);
    const newUrl = await loggedWebhookUrl(agent);
    expect(new URL(newUrl).port).not.toBe(new URL(oldUrl).port);
    await waitFor('the registration to follow the new port', async () => (await webhookConfig())?.webhooks[0]?.clientConfig.url === newUrl, {
      timeoutMs: 30_000,
      describe: webhookConfig,
    });
    // same Secret, same CA: nothing else changed
    const ok = await untilDryRun('the API server to reach the restarted webhook', (a) => a.status === 201);
    expect(ok.status).toBe(201);
    const bad = await anonymousCreate(peeringRequest(ownID));
    expect(bad.message).toContain(`${DENIED_BY}: spec.clusterID "${ownID}" is this cluster's own ID: a cluster cannot peer with itself`);
  });

  it('hands the registration to a standby replica when the leader dies, with the same CA', async () => {
    const before = (await webhookConfig())!.webhooks[0]!.clientConfig;
    const standby = startAgent(b, ['--lease-duration', '4', '--webhook-listen', '127.0.0.1:0', '--identity', 'webhook-standby']);
    agents.push(standby);
    const standbyMetrics = await agentMetricsUrl(standby);
    const standbyUrl = await loggedWebhookUrl(standby);
    await waitFor('the standby ready (its webhook listening)', async () => (await fetch(`${standbyMetrics}/readyz`)).status === 200);
    expect((await webhookConfig())!.webhooks[0]!.clientConfig.url).toBe(before.url); // only the leader registers
    await agent.kill();
    agent = standby;
    metricsUrl = standbyMetrics;
    await waitFor('the standby to register its own URL', async () => (await webhookConfig())?.webhooks[0]?.clientConfig.url === standbyUrl, { timeoutMs: 30_000, describe: webhookConfig });
    expect((await webhookConfig())!.webhooks[0]!.clientConfig.caBundle).toBe(before.caBundle);
    const bad = await anonymousCreate(peeringRequest(ownID));
    expect(bad.message).toContain('a cluster cannot peer with itself');
  });

  it('re-creates its serving Secret when a person deletes it, and registers the new CA', async () => {
    const secretPath = resourcePath(Core.secrets, { namespace: 'liqo', name: 'kubepeer-webhook-tls' });
    const oldCA = (await admin.get<{ data: Record<string, string> }>(secretPath)).data['ca.crt'];
    await admin.delete(secretPath);
    const newCA = await waitFor('a new serving Secret', async () => {
      const ca = (await admin.getOrNull<{ data: Record<string, string> }>(secretPath))?.data['ca.crt'];
      return ca && ca !== oldCA ? ca : undefined;
    });
    await waitFor('the new CA registered', async () => (await webhookConfig())?.webhooks[0]?.clientConfig.caBundle === newCA, { timeoutMs: 30_000 });
    const bad = await waitFor('the API server to trust the webhook again', async () => {
      const a = await anonymousCreate(peeringRequest(ownID));
      return a.message?.includes(DENIED_BY) ? a : undefined;
    });
    expect(bad.message).toContain('a cluster cannot peer with itself');
  });
});

async function metricsText(): Promise<string> {
  return (await fetch(`${metricsUrl}/metrics`)).text();
}

function counter(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line ? Number(line.split(' ')[1]) : 0;
}
