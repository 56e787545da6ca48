/**
 * What the home agent serves its own API server for offloading, on two clusters with real nodes
 * (network-namespace hosts, real agents, real kube-apiserver and kube-controller-manager):
 *
 * - the pod webhook: pods of a namespace labelled liqo.io/enabled=true get the virtual-node
 *   toleration, others do not; a pod stuck for lack of it gets an Event saying what to do;
 * - the virtual node's kubelet endpoint: address and port in the Node status, a certificate signed
 *   through the CSR API that the API server verifies (--kubelet-certificate-authority), `kubectl
 *   logs` (plain, --tail, --limit-bytes, -f) reaching the remote pod's log on B; 401 for an
 *   anonymous caller or a certificate of another CA, 403 for a user without nodes/proxy, 404 for
 *   a pod on no virtual node, 501 for exec asked without an upgrade.
 *
 * Needs root (CI runs as root); skipped otherwise.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../src/localcluster/localCluster.js';
import { controlPlaneBinDir } from '../../src/localcluster/binaries.js';
import { Images } from '../../src/localcluster/node/images.js';
import { createCA, issueCertificate } from '../../src/trust/pki.js';
import { kubectl } from '../support/clusters.js';
import { canUseNetns, createTestLab, execInNetns, waitUntil, type NetnsHost, type NetnsLab } from '../support/netns.js';
import { startPeeredRealNodePair, type PeeredRealNodePair } from '../support/realNodePair.js';

const busybox = Images.busybox();
const NS = 'shop';

function k(c: LocalCluster, args: string[], input?: string): string {
  const r = kubectl(c, args, input);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

const podJson = (name: string, namespace: string, spec: Record<string, unknown> = {}) =>
  JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace },
    spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'main', image: busybox, imagePullPolicy: 'IfNotPresent', command: ['sleep', '3600'] }], ...spec },
  });

interface Answer {
  status: number;
  body: string;
}

/** A raw HTTPS GET to the kubelet endpoint (server certificate verified against `ca`). */
function get(url: string, o: { ca: string; cert?: string; key?: string; token?: string }): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca: o.ca, cert: o.cert, key: o.key, headers: o.token ? { Authorization: `Bearer ${o.token}` } : {}, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** kubepeer_virtual_kubelet_log_streams of agent A (its metrics listen on loopback inside host srva). */
let openStreams: () => Promise<number>;

describe.skipIf(!canUseNetns)('offloading: the pod webhook and the virtual node kubelet endpoint', () => {
  let lab: NetnsLab;
  let a: LocalCluster;
  let b: LocalCluster;
  let pair: PeeredRealNodePair | undefined;
  let idB: string;
  let nodeName: string;
  let endpoint: string;
  let caA: string;
  let metricsA: string;
  const hosts: Record<string, NetnsHost> = {};

  beforeAll(async () => {
    lab = createTestLab();
    pair = await startPeeredRealNodePair(lab, { names: ['srva', 'srvb'] });
    ({ a, b, idB, metricsUrlA: metricsA } = pair);
    hosts.a = pair.hosts.a;
    hosts.b = pair.hosts.b;
    caA = readFileSync(a.caCert, 'utf8');
    openStreams = async () => {
      const { stdout } = await execInNetns(hosts.a!, process.execPath, ['-e', `fetch(${JSON.stringify(`${metricsA}/metrics`)}).then((r) => r.text()).then((t) => process.stdout.write(t))`]);
      return Number(/^kubepeer_virtual_kubelet_log_streams (\S+)$/m.exec(stdout)?.[1] ?? NaN);
    };
    nodeName = `liqo-${idB}`;
    k(a, ['create', 'namespace', NS]);
    k(a, ['label', 'namespace', NS, 'liqo.io/enabled=true']);
  }, 300_000);

  afterAll(async () => {
    await pair?.stop();
    await lab?.destroy();
  });

  it('registers the pod webhook to fail open, for labelled namespaces', async () => {
    const cfg = await waitUntil(() => {
      const r = kubectl(a, ['get', 'mutatingwebhookconfiguration', 'kubepeer-offloading', '-o', 'json']);
      return r.code === 0 ? (JSON.parse(r.stdout) as { webhooks: Array<Record<string, unknown>> }) : undefined;
    }, { timeoutMs: 30_000, what: 'MutatingWebhookConfiguration kubepeer-offloading' });
    expect(cfg.webhooks).toHaveLength(1);
    expect(cfg.webhooks[0]).toMatchObject({ failurePolicy: 'Ignore', sideEffects: 'None', namespaceSelector: { matchLabels: { 'liqo.io/enabled': 'true' } } });
  });

  it('adds the toleration to a pod of a labelled namespace, and not to one of an unlabelled namespace', async () => {
    k(a, ['create', 'namespace', 'plain']);
    const tolerations = (ns: string, name: string) => k(a, ['-n', ns, 'get', 'pod', name, '-o', 'jsonpath={.spec.tolerations}']);
    // The registration is applied right after leadership and the API server picks it up within a
    // moment: a new pod per attempt until one is mutated (failurePolicy Ignore lets the early ones in).
    let attempt = 0;
    const name = await waitUntil(
      () => {
        const n = `probe-${attempt++}`;
        k(a, ['apply', '-f', '-'], podJson(n, NS));
        return tolerations(NS, n).includes('virtual-node.liqo.io/not-allowed') ? n : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500, what: 'the webhook to add the toleration', describe: () => attempt },
    );
    const list = JSON.parse(tolerations(NS, name)) as Array<Record<string, unknown>>;
    expect(list.filter((t) => t.key === 'virtual-node.liqo.io/not-allowed')).toEqual([{ key: 'virtual-node.liqo.io/not-allowed', operator: 'Exists', effect: 'NoExecute' }]);
    k(a, ['apply', '-f', '-'], podJson('probe', 'plain'));
    expect(tolerations('plain', 'probe')).not.toContain('virtual-node.liqo.io/not-allowed');
  });

  it('tells a pod created before its namespace was labelled why it cannot go to the virtual node', async () => {
    k(a, ['create', 'namespace', 'late']);
    k(a, ['apply', '-f', '-'], podJson('early', 'late', { nodeSelector: { 'liqo.io/remote-cluster-id': idB } }));
    await waitUntil(() => k(a, ['-n', 'late', 'get', 'pod', 'early', '-o', 'jsonpath={.status.conditions[?(@.type=="PodScheduled")].reason}']) === 'Unschedulable' || undefined, {
      timeoutMs: 60_000,
      what: 'early to be unschedulable',
    });
    k(a, ['label', 'namespace', 'late', 'liqo.io/enabled=true']);
    const message = await waitUntil(() => {
      const out = k(a, ['-n', 'late', 'get', 'events', '--field-selector', 'involvedObject.name=early,reason=NoVirtualNodeToleration', '-o', 'jsonpath={.items[*].message}']);
      return out || undefined;
    }, { timeoutMs: 30_000, what: 'a NoVirtualNodeToleration event on pod early', describe: () => kubectl(a, ['-n', 'late', 'get', 'events']).stdout });
    expect(message).toContain('cannot be placed on a virtual node');
    expect(message).toContain('create the pod again');
  });

  it('puts the endpoint in the virtual Node status, with a certificate signed by the cluster CA through the CSR API', async () => {
    const node = await waitUntil(() => {
      const n = JSON.parse(k(a, ['get', 'node', nodeName, '-o', 'json'])) as { status: { addresses?: Array<{ type: string; address: string }>; daemonEndpoints?: { kubeletEndpoint?: { Port?: number } } } };
      return n.status.daemonEndpoints?.kubeletEndpoint?.Port ? n : undefined;
    }, { timeoutMs: 30_000, what: 'kubelet endpoint in the virtual node status' });
    // The agent runs on host srva: its address towards its API server is the host address.
    expect(node.status.addresses).toEqual([{ type: 'InternalIP', address: hosts.a!.address }]);
    endpoint = `https://${hosts.a!.address}:${node.status.daemonEndpoints!.kubeletEndpoint!.Port}`;
    // Verified against A's cluster CA: the CSR was approved by the agent and signed by kcm.
    await waitUntil(async () => (await get(`${endpoint}/healthz`, { ca: caA }).then(() => true, () => false)) || undefined, {
      timeoutMs: 60_000,
      what: 'the endpoint to serve a certificate signed by the cluster CA',
      describe: () => kubectl(a, ['get', 'csr']).stdout,
    });
    const csrs = JSON.parse(k(a, ['get', 'csr', '-o', 'json'])) as { items: Array<{ spec: { signerName: string }; status: { conditions?: Array<{ type: string }> } }> };
    expect(csrs.items.some((c) => c.spec.signerName === 'kubernetes.io/kubelet-serving' && c.status.conditions?.some((x) => x.type === 'Approved'))).toBe(true);
  });

  it('serves kubectl logs of an offloaded pod from the remote pod on B: plain, --tail, --limit-bytes and -f', async () => {
    // No toleration in the spec: the webhook adds it.
    k(a, ['apply', '-f', '-'], podJson('talker', NS, {
      nodeSelector: { 'liqo.io/remote-cluster-id': idB },
      containers: [{ name: 'main', image: busybox, imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', 'i=0; while true; do echo "line $i"; i=$((i+1)); sleep 1; done'] }],
    }));
    await waitUntil(() => k(a, ['-n', NS, 'get', 'pod', 'talker', '-o', 'jsonpath={.status.phase}']) === 'Running' || undefined, {
      timeoutMs: 120_000,
      what: 'talker Running',
      describe: () => kubectl(a, ['-n', NS, 'describe', 'pod', 'talker']).stdout.slice(-2000),
    });
    expect(k(a, ['-n', NS, 'get', 'pod', 'talker', '-o', 'jsonpath={.spec.nodeName}'])).toBe(nodeName);
    const logs = await waitUntil(() => {
      const r = kubectl(a, ['-n', NS, 'logs', 'talker']);
      return r.code === 0 && r.stdout.includes('line 2') ? r.stdout : undefined;
    }, { timeoutMs: 30_000, what: 'kubectl logs talker', describe: () => kubectl(a, ['-n', NS, 'logs', 'talker']) });
    expect(logs.startsWith('line 0\n')).toBe(true);
    expect(k(a, ['-n', NS, 'logs', 'talker', '--tail=1']).trim()).toMatch(/^line \d+$/);
    expect(k(a, ['-n', NS, 'logs', 'talker', '--limit-bytes=4'])).toBe('line');
    expect(k(a, ['-n', NS, 'logs', 'talker', '--tail=1', '--timestamps']).trim()).toMatch(/^\d{4}-\d\d-\d\dT\S+ line \d+$/);

    // Follow: lines written after the command started keep arriving.
    const follow = spawn(join(controlPlaneBinDir(), 'kubectl'), ['--kubeconfig', a.kubeconfig, '-n', NS, 'logs', '-f', '--tail=1', 'talker']);
    let out = '';
    follow.stdout.on('data', (c: Buffer) => (out += c.toString()));
    try {
      await waitUntil(() => new Set(out.split('\n').filter(Boolean)).size >= 3 || undefined, { timeoutMs: 20_000, what: 'three lines from kubectl logs -f', describe: () => out });
      expect(await openStreams()).toBe(1);
    } finally {
      follow.kill();
    }
    // The reader went away: the API server closes its call to us, and we close ours to B.
    await waitUntil(async () => (await openStreams()) === 0 || undefined, { timeoutMs: 20_000, what: 'the log stream to B to close after kubectl logs -f ended' });
  });

  it('refuses callers that are not the API server or allowed to proxy to the node', async () => {
    const path = `${endpoint}/containerLogs/${NS}/talker/main`;
    expect((await get(path, { ca: caA })).status).toBe(401);
    const stranger = await createCA('stranger');
    const foreign = await issueCertificate(stranger, { commonName: 'kube-apiserver-kubelet-client', organizations: ['system:masters'], usage: 'client' });
    expect((await get(path, { ca: caA, ...foreign })).status).toBe(401);
    k(a, ['-n', 'default', 'create', 'serviceaccount', 'nobody']);
    const token = k(a, ['-n', 'default', 'create', 'token', 'nobody']).trim();
    const forbidden = await get(path, { ca: caA, token });
    expect(forbidden.status).toBe(403);
    expect(forbidden.body).toContain('subresource=proxy');
    // Given nodes/proxy, the same account reads the log.
    k(a, ['create', 'clusterrole', 'node-proxy', '--verb=get', '--resource=nodes/proxy']);
    k(a, ['create', 'clusterrolebinding', 'nobody-node-proxy', '--clusterrole=node-proxy', '--serviceaccount=default:nobody']);
    const allowed = await waitUntil(async () => {
      const r = await get(`${path}?tailLines=1`, { ca: caA, token });
      return r.status === 200 ? r : undefined;
    }, { timeoutMs: 30_000, what: 'the token to be allowed once bound to nodes/proxy' });
    expect(allowed.body).toMatch(/^line \d+\n$/);
  });

  it('answers 404 for a pod on no virtual node and 501 for a plain (not upgraded) exec, to the API server itself', async () => {
    const client = { ca: caA, cert: readFileSync(join(a.dir, 'pki', 'apiserver-kubelet-client.crt'), 'utf8'), key: readFileSync(join(a.dir, 'pki', 'apiserver-kubelet-client.key'), 'utf8') };
    const notHere = await get(`${endpoint}/containerLogs/plain/probe/main`, client);
    expect(notHere.status).toBe(404);
    expect(notHere.body).toContain('not on a virtual node');
    // exec arrives as an upgrade to SPDY (streaming/); a plain request for it is not served.
    const exec = await get(`${endpoint}/exec/${NS}/talker/main?command=sh`, client);
    expect(exec.status).toBe(501);
  });
});
