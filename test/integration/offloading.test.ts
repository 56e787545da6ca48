/**
 * Workload offloading end to end, on two clusters with real nodes (network-namespace hosts a and
 * b, kubelet + containerd + runc each) and real agents: A peers with B, pods of an enabled
 * namespace bound to the virtual node `liqo-<B>` run in B's tenant namespace for A, and their status
 * comes back. Needs root (CI runs as root); skipped otherwise.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Core, KubeClient, resourcePath } from '../../src/k8s/rest.js';
import { parseQuantity } from '../../src/k8s/quantity.js';
import type { LocalCluster } from '../../src/localcluster/localCluster.js';
import { Images } from '../../src/localcluster/node/images.js';
import { parseTokenKubeconfig } from '../../src/peering/kubeconfig.js';
import { remoteName, tenantCredentialOnConsumer, tenantNamespace } from '../../src/offloading/names.js';
import { kubectl, kubepeer, startAgent, type AgentProcess } from '../support/clusters.js';
import { canUseNetns, createTestLab, waitUntil, type NetnsHost, type NetnsLab } from '../support/netns.js';
import { waitForReadyNode } from '../support/peering.js';
import { startPeeredRealNodePair, type PeeredRealNodePair } from '../support/realNodePair.js';

const busybox = Images.busybox();
const NS = 'apps';

interface PodList {
  items: Array<{ metadata: { name: string; uid: string; annotations?: Record<string, string> }; spec: { nodeName?: string }; status: { phase?: string; reason?: string; message?: string } }>;
}

function k(c: LocalCluster, args: string[], input?: string): string {
  const r = kubectl(c, args, input);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

function pods(c: LocalCluster, ns: string, selector?: string): PodList {
  return JSON.parse(k(c, ['get', 'pods', '-n', ns, '-o', 'json', ...(selector ? ['-l', selector] : [])])) as PodList;
}

describe.skipIf(!canUseNetns)('workload offloading between two clusters with real nodes', () => {
  let lab: NetnsLab;
  let a: LocalCluster;
  let b: LocalCluster;
  let pair: PeeredRealNodePair | undefined;
  /** A's agent: the pair's, then the one restarted after a kill. */
  let agentA: AgentProcess;
  let idA: string;
  let idB: string;
  let tenantNs: string;
  const hosts: Record<string, NetnsHost> = {};

  const deployment = (replicas: number, extra: Record<string, unknown> = {}) =>
    JSON.stringify({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: NS },
      spec: {
        replicas,
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: {
            terminationGracePeriodSeconds: 1,
            // No toleration and no nodeSelector here: the agent's webhook adds both
            // (kubepeer offload namespace apps --peer <B>).
            containers: [
              {
                name: 'main',
                image: busybox,
                imagePullPolicy: 'IfNotPresent',
                command: ['sh', '-c', 'echo "greeting: $(cat /cfg/msg)"; echo "token mounted: $(ls /var/run/secrets/kubernetes.io/serviceaccount 2>/dev/null | wc -l)"; exec sleep 3600'],
                volumeMounts: [{ name: 'cfg', mountPath: '/cfg' }],
              },
            ],
            volumes: [{ name: 'cfg', configMap: { name: 'greeting' } }],
            ...extra,
          },
        },
      },
    });

  beforeAll(async () => {
    lab = createTestLab();
    pair = await startPeeredRealNodePair(lab, { names: ['offa', 'offb'] });
    ({ a, b, idA, idB, agentA } = pair);
    hosts.a = pair.hosts.a;
    hosts.b = pair.hosts.b;
    tenantNs = tenantNamespace(idA);
    k(a, ['create', 'namespace', NS]);
    const enabled = kubepeer(['offload', 'namespace', NS, '--peer', idB, '--kubeconfig', a.kubeconfig]);
    expect(enabled.code, enabled.stderr).toBe(0);
    expect(k(a, ['get', 'namespace', NS, '-o', 'jsonpath={.metadata.labels.liqo\\.io/enabled}'])).toBe('true');
    k(a, ['-n', NS, 'create', 'configmap', 'greeting', '--from-literal=msg=hello from A']);
  });

  afterAll(async () => {
    await agentA?.stop();
    await pair?.stop();
    await lab?.destroy();
  });

  it('B makes a tenancy for A and delivers its credential to A', async () => {
    await waitUntil(() => kubectl(a, ['-n', 'liqo', 'get', 'secret', tenantCredentialOnConsumer(idB)]).code === 0, {
      timeoutMs: 60_000,
      what: 'tenant credential on A',
      describe: () => kubectl(b, ['get', 'ns', tenantNs, '-o', 'yaml']),
    });
    const ns = JSON.parse(k(b, ['get', 'namespace', tenantNs, '-o', 'json'])) as { metadata: { labels: Record<string, string> } };
    expect(ns.metadata.labels['pod-security.kubernetes.io/enforce']).toBe('baseline');
    const quota = JSON.parse(k(b, ['-n', tenantNs, 'get', 'resourcequota', 'tenant-quota', '-o', 'json'])) as { spec: { hard: Record<string, string> } };
    expect(Object.keys(quota.spec.hard).sort()).toEqual(['pods', 'requests.cpu', 'requests.memory']);
  });

  it('runs a Deployment of 3 pinned to the virtual node: 3/3 Ready at home, containers on B, ConfigMap from A, no token of B', async () => {
    k(a, ['apply', '-f', '-'], deployment(3));
    await waitUntil(() => k(a, ['-n', NS, 'get', 'deployment', 'web', '-o', 'jsonpath={.status.readyReplicas}']) === '3', {
      timeoutMs: 120_000,
      what: '3/3 ready at home',
      describe: () => [kubectl(a, ['-n', NS, 'get', 'pods', '-o', 'wide']).stdout, kubectl(b, ['-n', tenantNs, 'get', 'pods', '-o', 'wide']).stdout],
    });
    const home = pods(a, NS, 'app=web');
    expect(home.items.every((p) => p.spec.nodeName === `liqo-${idB}`)).toBe(true);
    const spec = JSON.parse(k(a, ['-n', NS, 'get', 'pod', home.items[0]!.metadata.name, '-o', 'jsonpath={.spec}'])) as { tolerations: Array<{ key?: string }>; nodeSelector: Record<string, string> };
    expect(spec.tolerations.some((t) => t.key === 'virtual-node.liqo.io/not-allowed')).toBe(true);
    expect(spec.nodeSelector['liqo.io/remote-cluster-id']).toBe(idB);
    const remote = pods(b, tenantNs, 'app=web');
    expect(remote.items).toHaveLength(3);
    // B's own kubelet runs them: bound to B's real node, Running.
    expect(remote.items.every((p) => p.spec.nodeName === 'offb' && p.status.phase === 'Running')).toBe(true);
    const logs = await waitUntil(() => {
      const out = kubectl(b, ['-n', tenantNs, 'logs', remote.items[0]!.metadata.name]).stdout;
      return out.includes('greeting') ? out : undefined;
    }, { timeoutMs: 30_000, what: 'remote logs' });
    expect(logs).toContain('greeting: hello from A');
    expect(logs).toContain('token mounted: 0');
    // The virtual node tells the truth: kubectl describe lists the offloaded pods and their requests.
    const described = k(a, ['describe', 'node', `liqo-${idB}`]);
    for (const p of home.items) expect(described).toContain(p.metadata.name);
    expect(described).toMatch(/Non-terminated Pods:\s+\(3 in total\)/);
    // Both directions in kubepeer offload status: A runs 3 there, B runs 3 for A.
    const mine = JSON.parse(kubepeer(['offload', 'status', '-o', 'json', '--kubeconfig', a.kubeconfig]).stdout) as { items: Array<{ peerID: string; outgoing?: { pods: number; running: number } }> };
    expect(mine.items.find((r) => r.peerID === idB)?.outgoing).toMatchObject({ pods: 3, running: 3 });
    const theirs = JSON.parse(kubepeer(['offload', 'status', '-o', 'json', '--kubeconfig', b.kubeconfig]).stdout) as { items: Array<{ peerID: string; incoming?: { pods: number; podsLimit?: string } }> };
    expect(theirs.items.find((r) => r.peerID === idA)?.incoming).toMatchObject({ pods: 3 });
  });

  it('follows a change of a ConfigMap at home: its copy on B is updated and the running pods read the new value', async () => {
    const copy = remoteName(NS, 'greeting');
    k(a, ['-n', NS, 'apply', '-f', '-'], k(a, ['-n', NS, 'create', 'configmap', 'greeting', '--from-literal=msg=changed at home', '--dry-run=client', '-o', 'yaml']));
    await waitUntil(() => kubectl(b, ['-n', tenantNs, 'get', 'configmap', copy, '-o', 'jsonpath={.data.msg}']).stdout === 'changed at home' || undefined, {
      timeoutMs: 60_000,
      what: `copy ${tenantNs}/${copy} on B updated`,
      describe: () => kubectl(b, ['-n', tenantNs, 'get', 'configmap', copy, '-o', 'yaml']).stdout,
    });
    // B's kubelet refreshes the mounted file at its next sync of the pod (about a minute).
    const pod = pods(a, NS, 'app=web').items[0]!.metadata.name;
    await waitUntil(() => kubectl(a, ['-n', NS, 'exec', pod, '--', 'cat', '/cfg/msg']).stdout === 'changed at home' || undefined, {
      timeoutMs: 180_000,
      what: 'the mounted ConfigMap of an offloaded pod shows the new value',
      describe: () => kubectl(a, ['-n', NS, 'exec', pod, '--', 'cat', '/cfg/msg']),
    });
    k(a, ['-n', NS, 'apply', '-f', '-'], k(a, ['-n', NS, 'create', 'configmap', 'greeting', '--from-literal=msg=hello from A', '--dry-run=client', '-o', 'yaml']));
  });

  it("refuses A's credential outside A's tenant namespace on B", async () => {
    const secret = JSON.parse(k(a, ['-n', 'liqo', 'get', 'secret', tenantCredentialOnConsumer(idB), '-o', 'json'])) as { data: Record<string, string> };
    const kc = parseTokenKubeconfig(Buffer.from(secret.data.kubeconfig!, 'base64').toString());
    const asA = KubeClient.withToken(kc.server, kc.token, kc.caPem);
    try {
      await expect(asA.list(resourcePath(Core.pods, { namespace: tenantNs }))).resolves.toBeDefined();
      await expect(asA.list(resourcePath(Core.pods, { namespace: 'default' }))).rejects.toMatchObject({ code: 403 });
      await expect(asA.list(resourcePath(Core.secrets, { namespace: 'kube-system' }))).rejects.toMatchObject({ code: 403 });
      await expect(asA.list(resourcePath(Core.nodes))).rejects.toMatchObject({ code: 403 });
      await expect(asA.create(resourcePath(Core.pods, { namespace: 'default' }), { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'x' }, spec: { containers: [{ name: 'x', image: busybox }] } })).rejects.toMatchObject({ code: 403 });
    } finally {
      asA.close();
    }
  });

  it('keeps pods of a namespace without the label off the virtual node', async () => {
    k(a, ['create', 'namespace', 'plain']);
    k(a, ['apply', '-f', '-'], JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'stays', namespace: 'plain' },
      spec: { nodeSelector: { 'liqo.io/remote-cluster-id': idB }, containers: [{ name: 'c', image: busybox, imagePullPolicy: 'IfNotPresent', command: ['sleep', '3600'] }] },
    }));
    const why = await waitUntil(() => {
      const ev = kubectl(a, ['-n', 'plain', 'get', 'events', '--field-selector', 'involvedObject.name=stays,reason=FailedScheduling', '-o', 'jsonpath={.items[*].message}']).stdout;
      return ev ? ev : undefined;
    }, { timeoutMs: 60_000, what: 'FailedScheduling for the unlabelled pod' });
    expect(why).toContain('untolerated taint');
    expect(pods(a, 'plain').items[0]!.spec.nodeName).toBeUndefined();
    expect(pods(b, tenantNs, 'app!=web').items.filter((p) => p.metadata.annotations?.['offloading.kubepeer.io/home-namespace'] === 'plain')).toEqual([]);
  });

  it('converges to exactly one remote pod per home pod when the agent is killed mid-creation', async () => {
    k(a, ['-n', NS, 'scale', 'deployment', 'web', '--replicas=5']);
    await waitUntil(() => pods(a, NS, 'app=web').items.length === 5 || undefined, { timeoutMs: 30_000, what: '5 home pods' });
    await agentA.kill();
    agentA = startAgent({ ...a, netns: hosts.a!.netns });
    await waitUntil(() => k(a, ['-n', NS, 'get', 'deployment', 'web', '-o', 'jsonpath={.status.readyReplicas}']) === '5', {
      timeoutMs: 120_000,
      what: '5/5 ready after the agent restart',
      describe: () => kubectl(a, ['-n', NS, 'get', 'pods', '-o', 'wide']).stdout,
    });
    const remote = pods(b, tenantNs, 'app=web').items.filter((p) => !('deletionTimestamp' in p.metadata));
    const homeUIDs = pods(a, NS, 'app=web').items.map((p) => p.metadata.uid).sort();
    expect(remote.map((p) => p.metadata.annotations!['offloading.kubepeer.io/home-uid']).sort()).toEqual(homeUIDs);
  });

  it('rides out a cut link: the virtual node goes NotReady, remote pods keep running, nothing lost or duplicated on return', async () => {
    const before = pods(b, tenantNs, 'app=web').items.map((p) => p.metadata.uid).sort();
    const nsB = hosts.b!.netns;
    execFileSync('ip', ['-n', nsB, 'link', 'set', 'eth0', 'down']);
    try {
      await waitUntil(() => k(a, ['get', 'node', `liqo-${idB}`, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}']) !== 'True' || undefined, {
        timeoutMs: 60_000,
        what: 'virtual node NotReady while the link is down',
      });
    } finally {
      execFileSync('ip', ['-n', nsB, 'link', 'set', 'eth0', 'up']);
      // Taking the link down dropped its routes.
      if (hosts.b!.gateway) execFileSync('ip', ['-n', nsB, 'route', 'replace', 'default', 'via', hosts.b!.gateway]);
    }
    await waitForReadyNode(a.client(), idB, 120_000);
    await waitUntil(() => k(a, ['-n', NS, 'get', 'deployment', 'web', '-o', 'jsonpath={.status.readyReplicas}']) === '5', { timeoutMs: 120_000, what: '5/5 ready again' });
    expect(pods(b, tenantNs, 'app=web').items.map((p) => p.metadata.uid).sort()).toEqual(before);
  });

  it("leaves pods beyond B's quota Pending at home with the quota's reason, and runs them once B offers more", async () => {
    // B needs most of its CPU for itself: its offer to A, and so A's quota there, shrinks to just
    // above what A's pods already use. A's pods request nothing (BestEffort), so A's scheduler still
    // places them on the virtual node; on B they get the LimitRange's default request, which the
    // quota counts: B refuses the extra ones, and says why.
    const alloc = parseQuantity(k(b, ['get', 'node', 'offb', '-o', 'jsonpath={.status.allocatable.cpu}']));
    const onB = JSON.parse(k(b, ['get', 'pods', '-A', '-o', 'json'])) as { items: Array<{ metadata: { namespace: string }; spec: { containers: Array<{ resources?: { requests?: { cpu?: string } } }> } }> };
    const own = onB.items.filter((p) => p.metadata.namespace !== tenantNs).reduce((n, p) => n + p.spec.containers.reduce((m, c) => m + parseQuantity(c.resources?.requests?.cpu), 0), 0);
    const tenantUsed = onB.items.filter((p) => p.metadata.namespace === tenantNs).reduce((n, p) => n + p.spec.containers.reduce((m, c) => m + parseQuantity(c.resources?.requests?.cpu), 0), 0);
    const hog = alloc - own - tenantUsed - 0.01; // room for one more default-sized (10m) pod
    k(b, ['apply', '-f', '-'], JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'hog', namespace: 'default' },
      spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'c', image: busybox, imagePullPolicy: 'IfNotPresent', command: ['sleep', '3600'], resources: { requests: { cpu: `${Math.floor(hog * 1000)}m` } } }] },
    }));
    await waitUntil(() => {
      const hard = parseQuantity(k(b, ['-n', tenantNs, 'get', 'resourcequota', 'tenant-quota', '-o', 'jsonpath={.spec.hard.requests\\.cpu}']));
      return hard < tenantUsed + 0.015 || undefined;
    }, { timeoutMs: 60_000, what: 'quota shrunk', describe: () => kubectl(b, ['-n', tenantNs, 'describe', 'resourcequota']).stdout });
    k(a, ['-n', NS, 'scale', 'deployment', 'web', '--replicas=8']);
    const refused = await waitUntil(() => {
      const items = pods(a, NS, 'app=web').items.filter((p) => p.status.reason === 'RemoteQuotaExceeded');
      return items.length >= 1 ? items : undefined;
    }, { timeoutMs: 90_000, what: 'pods refused by the quota', describe: () => kubectl(a, ['-n', NS, 'get', 'pods', '-o', 'wide']).stdout });
    expect(refused.every((p) => p.status.phase === 'Pending' && p.spec.nodeName === `liqo-${idB}`)).toBe(true);
    expect(refused[0]!.status.message).toMatch(/exceeded quota/);
    expect(k(a, ['-n', NS, 'get', 'pods'])).toContain('RemoteQuotaExceeded');
    k(b, ['delete', 'pod', 'hog', '--wait=false']);
    await waitUntil(() => k(a, ['-n', NS, 'get', 'deployment', 'web', '-o', 'jsonpath={.status.readyReplicas}']) === '8', {
      timeoutMs: 120_000,
      what: '8/8 ready once B offers more',
      describe: () => kubectl(a, ['-n', NS, 'get', 'pods', '-o', 'wide']).stdout,
    });
  });

  it('deleting the Deployment removes the remote pods', async () => {
    k(a, ['-n', NS, 'delete', 'deployment', 'web', '--wait=false']);
    await waitUntil(() => pods(b, tenantNs, 'app=web').items.length === 0 || undefined, {
      timeoutMs: 90_000,
      what: 'remote pods gone',
      describe: () => kubectl(b, ['-n', tenantNs, 'get', 'pods']).stdout,
    });
    await waitUntil(() => pods(a, NS, 'app=web').items.length === 0 || undefined, { timeoutMs: 60_000, what: 'home pods gone' });
  });

  it('unpeer drains: offloaded pods are evicted at home, B removes the tenancy, no credential survives', async () => {
    k(a, ['apply', '-f', '-'], deployment(2));
    await waitUntil(() => k(a, ['-n', NS, 'get', 'deployment', 'web', '-o', 'jsonpath={.status.readyReplicas}']) === '2', { timeoutMs: 120_000, what: '2/2 ready' });
    const secret = JSON.parse(k(a, ['-n', 'liqo', 'get', 'secret', tenantCredentialOnConsumer(idB), '-o', 'json'])) as { data: Record<string, string> };
    const kc = parseTokenKubeconfig(Buffer.from(secret.data.kubeconfig!, 'base64').toString());
    k(a, ['patch', 'foreignclusters', 'cluster-b', '--type=merge', '-p', '{"spec":{"join":false}}']);
    await waitUntil(() => kubectl(a, ['-n', 'liqo', 'get', 'secret', tenantCredentialOnConsumer(idB)]).code !== 0 || undefined, { timeoutMs: 60_000, what: 'tenant credential deleted on A' });
    await waitUntil(() => kubectl(b, ['get', 'namespace', tenantNs]).code !== 0 || undefined, { timeoutMs: 120_000, what: 'tenant namespace deleted on B', describe: () => kubectl(b, ['get', 'ns']).stdout });
    const evicted = k(a, ['-n', NS, 'get', 'events', '--field-selector', 'reason=EvictedFromVirtualNode', '-o', 'jsonpath={.items[*].involvedObject.name}']);
    expect(evicted.split(' ').filter(Boolean).length).toBeGreaterThanOrEqual(2);
    const asA = KubeClient.withToken(kc.server, kc.token, kc.caPem);
    try {
      await expect(asA.list(resourcePath(Core.pods, { namespace: tenantNs }))).rejects.toMatchObject({ code: 401 });
    } finally {
      asA.close();
    }
  });
});
