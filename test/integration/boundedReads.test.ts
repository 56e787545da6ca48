/**
 * Every read of an answer from a party we do not control is bounded in size and time: a hostile
 * HTTPS server on loopback answers huge, endless, trickling, non-JSON and broken-JSON bodies to
 * each of kubepeer's outbound reads (the identity callback to a requester, the anonymous read of a
 * peer's liqo-cluster-info, the PeeringRequest sent to a peer, the TLS trust probe). Each read
 * fails that one call with a reason that says why, without reading the rest of the body. (Without
 * these bounds the reads took whatever came: a huge body was buffered whole, a trickle kept the call
 * open for as long as the server liked, HTML and broken JSON came back as a string.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer as createTcpServer, connect as tcpConnect, type Server as TcpServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { ApiError, KubeClient, resourcePath } from '../../src/k8s/rest.js';
import { GVR } from '../../src/api/crds.js';
import { readRequesterClusterID, requesterClient } from '../../src/peering/incoming/requesterClient.js';
import { fetchClusterInfo, probeTLS } from '../../src/trust/tlsProbe.js';
import { PeeringError } from '../../src/peering/errors.js';
import { createCA, issueCertificate } from '../../src/trust/pki.js';
import { hostileModes, startHostileServer, type HostileMode, type HostileServer } from '../support/hostileServer.js';
import type { LocalCluster } from '../../src/localcluster/localCluster.js';
import type { PeeringRequest } from '../../src/api/crds.js';
import { apiVersionOf } from '../../src/api/crds.js';
import { buildTokenKubeconfig } from '../../src/peering/kubeconfig.js';
import { agentMetricsUrl, startAgent, startCluster, type AgentProcess } from '../support/clusters.js';
import { setClusterConfig } from '../support/peering.js';
import { waitFor } from '../support/wait.js';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** The reason each hostile answer must be refused with. */
const expected: Record<HostileMode, string> = {
  huge: 'ResponseTooLarge',
  endless: 'ResponseTooLarge',
  trickle: 'ResponseTimeout',
  wrongContentType: 'UnexpectedContentType',
  invalidJson: 'InvalidResponse',
};

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('the read succeeded; expected it to be refused');
}

describe.each(hostileModes)('a party that answers %s', (mode) => {
  let server: HostileServer;
  beforeAll(async () => {
    server = await startHostileServer(mode);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('fails the identity callback to it with RequesterUnreachable naming the refused answer', async () => {
    const client = requesterClient(server.url, { server: server.url, caPem: server.caPem, token: 'not-a-real-token' });
    try {
      const err = await rejection(readRequesterClusterID(client, 'liqo'));
      expect(err).toBeInstanceOf(PeeringError);
      expect((err as PeeringError).reason).toBe('RequesterUnreachable');
      expect((err as PeeringError).message).toContain(expected[mode]);
    } finally {
      client.close();
    }
  });

  it('fails the anonymous read of its liqo-cluster-info (trust on first use) with the refused answer as reason', async () => {
    const err = await rejection(fetchClusterInfo(server.url, 'liqo', { insecure: true }));
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).reason).toBe(expected[mode]);
  });

  it('fails sending a PeeringRequest to it with the refused answer as reason', async () => {
    const anon = KubeClient.anonymous(server.url, server.caPem);
    try {
      const err = await rejection(anon.create(resourcePath(GVR.peeringRequest), { kind: 'PeeringRequest', metadata: { name: 'x' } }));
      expect(err).toBeInstanceOf(ApiError);
      expect((err as ApiError).reason).toBe(expected[mode]);
    } finally {
      anon.close();
    }
  });
});

describe('the TLS trust probe', () => {
  let tls: TlsServer;
  let proxy: TcpServer;
  let caPem: string;
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  beforeAll(async () => {
    const ca = await createCA('trickle-ca', 1);
    const leaf = await issueCertificate(ca, { commonName: 'trickle', hosts: ['127.0.0.1'], usage: 'server', days: 1 });
    caPem = ca.certPem;
    tls = createTlsServer({ cert: leaf.certPem, key: leaf.keyPem }, (s) => s.on('error', () => {}));
    await new Promise<void>((r) => tls.listen(0, '127.0.0.1', () => r()));
    const tlsPort = (tls.address() as AddressInfo).port;
    // A proxy that passes the server's handshake on one byte every 150 ms: the connection is never
    // silent, so only a deadline on the whole handshake ends it (the handshake would take minutes).
    proxy = createTcpServer((client) => {
      sockets.add(client);
      client.on('error', () => {});
      const upstream = tcpConnect(tlsPort, '127.0.0.1');
      sockets.add(upstream);
      upstream.on('error', () => {});
      client.pipe(upstream);
      const pending: number[] = [];
      upstream.on('data', (b: Buffer) => pending.push(...b));
      const t = setInterval(() => {
        if (client.destroyed) return clearInterval(t);
        if (pending.length) client.write(Buffer.from([pending.shift()!]));
      }, 150);
      timers.add(t);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
  });
  afterAll(async () => {
    for (const t of timers) clearInterval(t);
    for (const s of sockets) s.destroy();
    await Promise.all([new Promise((r) => tls?.close(r)), new Promise((r) => proxy?.close(r))]);
  });

  // Node's TLS socket timeout already ended this case before the explicit deadline: kept so it stays so.
  it('gives up on a handshake that trickles in, at its deadline, with ETIMEDOUT', async () => {
    const url = `https://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    const r = await probeTLS(url, [caPem], 2000);
    expect(r.ok).toBe(false);
    expect(r.code).toBe('ETIMEDOUT');
    expect(r.certificateProblem).toBe(false);
  });
});

describe('an anonymous PeeringRequest whose apiUrl answers the identity callback with a huge, then an endless body', () => {
  let b: LocalCluster;
  let agent: AgentProcess;
  let server: HostileServer;
  beforeAll(async () => {
    [b, server] = await Promise.all([startCluster('bounded-b'), startHostileServer('huge')]);
    await setClusterConfig(b.client(), { peeringConfig: { acceptPolicy: 'AcceptAll' } });
    agent = startAgent(b, ['--no-dashboard']);
    await agentMetricsUrl(agent);
  });
  afterAll(async () => {
    await agent?.stop();
    await server?.close();
    await b?.stop();
  });

  it('marks that request RequesterUnreachable with the reason, and the agent stays alive and keeps serving', async () => {
    const B = b.client();
    const id = randomUUID();
    const anon = KubeClient.anonymous(b.apiUrl, readFileSync(b.caCert, 'utf8'));
    await anon.create(resourcePath(GVR.peeringRequest), {
      apiVersion: apiVersionOf(GVR.peeringRequest),
      kind: 'PeeringRequest',
      metadata: { name: id },
      spec: { clusterID: id, namespace: 'liqo', apiUrl: server.url, kubeconfig: buildTokenKubeconfig({ server: server.url, caPem: server.caPem, token: 'hostile-token' }) },
    });
    anon.close();
    const describeIt = () => B.getOrNull<PeeringRequest>(resourcePath(GVR.peeringRequest, { name: id })).then((pr) => ({ status: pr?.status, agentExited: agent.exited(), calls: server.requests.length }));
    const marked = await waitFor(
      'the request marked with the refused identity answer',
      async () => {
        if (agent.exited()) throw new Error(`the agent exited; log:\n${readFileSync(agent.logFile, 'utf8').slice(-3000)}`);
        const pr = await B.getOrNull<PeeringRequest>(resourcePath(GVR.peeringRequest, { name: id }));
        return pr?.status?.reason === 'RequesterUnreachable' && pr.status.message?.includes('ResponseTooLarge') ? pr : undefined;
      },
      { timeoutMs: 90_000, describe: describeIt },
    );
    expect(marked.status?.phase).toBe('Pending');
    expect(marked.status?.conditions?.find((c) => c.type === 'IdentityVerified')).toMatchObject({ status: 'Unknown', reason: 'RequesterUnreachable' });

    // The retries (with backoff) now meet a body that never ends: each is cut at the cap.
    server.mode = 'endless';
    const before = server.requests.length;
    await waitFor(
      'two more identity calls answered with an endless body',
      () => {
        if (agent.exited()) throw new Error(`the agent exited; log:\n${readFileSync(agent.logFile, 'utf8').slice(-3000)}`);
        return server.requests.length >= before + 2;
      },
      { timeoutMs: 120_000, describe: describeIt },
    );
    expect(agent.exited()).toBe(false);
    // still the leader doing its work: a new ConfigMap-independent probe, /healthz, answers
    const metrics = await agentMetricsUrl(agent);
    expect((await fetch(`${metrics}/healthz`)).status).toBe(200);
    expect(readFileSync(agent.logFile, 'utf8')).not.toMatch(/ERR_STRING_TOO_LONG|heap out of memory/);
  });
});
