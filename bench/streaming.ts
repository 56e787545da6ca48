/**
 * exec and port-forward on an offloaded pod, next to the same on a pod of the peer's own node, in
 * the same run: two clusters with real nodes (network-namespace hosts), real agents, A peered with
 * B; pod `box` of an enabled namespace of A runs on B through the virtual node, pod `box` of a
 * namespace of B runs there directly. Both serve a 32 MiB file with busybox httpd.
 *
 * - exec round trip: wall time of `kubectl exec box -- true` (kubectl start-up included, as a
 *   person sees it); offloaded: kubectl -> A's API server -> virtual kubelet (SPDY) -> B's API
 *   server (WebSocket) -> B's kubelet; direct: kubectl -> B's API server -> B's kubelet.
 * - port-forward throughput: one HTTP download of the file through `kubectl port-forward`.
 *
 * Needs root (network namespaces, containerd); the section says "skipped" otherwise.
 */
import { spawn, spawnSync } from 'node:child_process';
import { get as httpGet } from 'node:http';
import { join } from 'node:path';
import { controlPlaneBinDir } from '../src/localcluster/binaries.js';
import type { LocalCluster } from '../src/localcluster/localCluster.js';
import { NetnsLab } from '../src/localcluster/netns.js';
import { Images } from '../src/localcluster/node/images.js';
import { startPeeredRealNodePair, type PeeredRealNodePair } from '../test/support/realNodePair.js';
import { p50, type BenchSection, type Figure } from './lib.js';

const HOME_NS = 'bench-stream';
const DIRECT_NS = 'bench-stream-direct';
const FILE_MIB = 32;

const kubectlBin = () => join(controlPlaneBinDir(), 'kubectl');

function k(c: LocalCluster, args: string[], input?: string): string {
  const r = spawnSync(kubectlBin(), ['--kubeconfig', c.kubeconfig, ...args], { input, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

const pod = (namespace: string, pinTo?: string) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'box', namespace },
  spec: {
    terminationGracePeriodSeconds: 1,
    ...(pinTo ? { nodeSelector: { 'liqo.io/remote-cluster-id': pinTo } } : {}),
    tolerations: [{ key: 'virtual-node.liqo.io/not-allowed', operator: 'Exists', effect: 'NoExecute' }],
    containers: [
      {
        name: 'main',
        image: Images.busybox(),
        imagePullPolicy: 'IfNotPresent',
        command: ['sh', '-c', `mkdir -p /www && dd if=/dev/zero of=/www/big bs=1M count=${FILE_MIB} 2>/dev/null && exec httpd -f -p 8080 -h /www`],
      },
    ],
  },
});

async function until<T>(f: () => T | undefined, what: string, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** Wall times of `kubectl exec box -- true`, in ms. */
function execRoundTrips(c: LocalCluster, ns: string, runs: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    k(c, ['-n', ns, 'exec', 'box', '--', 'true']);
    out.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return out;
}

/** MB/s of downloads of the file through `kubectl port-forward`. */
async function portForwardThroughput(c: LocalCluster, ns: string, runs: number): Promise<number[]> {
  const pf = spawn(kubectlBin(), ['--kubeconfig', c.kubeconfig, '-n', ns, 'port-forward', 'pod/box', ':8080'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  pf.stdout.on('data', (d: Buffer) => (text += d.toString()));
  pf.stderr.on('data', (d: Buffer) => (text += d.toString()));
  try {
    const port = await until(() => {
      const m = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(text);
      return m ? Number(m[1]) : undefined;
    }, 'kubectl port-forward', 30_000);
    const out: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t = process.hrtime.bigint();
      const bytes = await new Promise<number>((resolve, reject) => {
        httpGet({ host: '127.0.0.1', port, path: '/big', agent: false }, (res) => {
          let n = 0;
          res.on('data', (d: Buffer) => (n += d.length));
          res.on('end', () => resolve(n));
          res.on('error', reject);
        }).on('error', reject);
      });
      if (bytes !== FILE_MIB * 1024 * 1024) throw new Error(`downloaded ${bytes} bytes, expected ${FILE_MIB} MiB; kubectl said: ${text.slice(-500)}`);
      out.push(bytes / 1e6 / (Number(process.hrtime.bigint() - t) / 1e9));
    }
    return out;
  } finally {
    pf.kill('SIGINT');
  }
}

export async function benchStreaming(opts: { quick: boolean }): Promise<BenchSection> {
  if (process.getuid?.() !== 0) return { figures: [], skipped: 'needs root (network namespaces, containerd)' };
  const execRuns = opts.quick ? 10 : 20;
  const pfRuns = opts.quick ? 2 : 3;
  const lab = NetnsLab.forTestRun();
  let pair: PeeredRealNodePair | undefined;
  try {
    pair = await startPeeredRealNodePair(lab, { names: ['bench-stra', 'bench-strb'], agentArgs: ['--no-dashboard'], foreignClusterName: 'bench-b' });
    const { a, b, idB } = pair;
    k(a, ['create', 'namespace', HOME_NS]);
    k(a, ['label', 'namespace', HOME_NS, 'liqo.io/enabled=true']);
    k(b, ['create', 'namespace', DIRECT_NS]);
    // B's ServiceAccount admission wants the namespace's default ServiceAccount before any pod.
    await until(() => (spawnSync(kubectlBin(), ['--kubeconfig', b.kubeconfig, '-n', DIRECT_NS, 'get', 'sa', 'default']).status === 0 ? true : undefined), 'default ServiceAccount on B');
    k(a, ['apply', '-f', '-'], JSON.stringify(pod(HOME_NS, idB)));
    k(b, ['apply', '-f', '-'], JSON.stringify(pod(DIRECT_NS)));
    // Ready to serve: the first exec through each path succeeds (the virtual kubelet's certificate is in place).
    for (const [c, ns] of [[a, HOME_NS], [b, DIRECT_NS]] as const) {
      await until(() => (spawnSync(kubectlBin(), ['--kubeconfig', c.kubeconfig, '-n', ns, 'exec', 'box', '--', 'test', '-s', '/www/big']).status === 0 ? true : undefined), `exec into ${ns}/box`);
    }
    // Interleaved, so that both paths see the same machine load.
    const offExec: number[] = [];
    const dirExec: number[] = [];
    for (let i = 0; i < execRuns; i++) {
      offExec.push(...execRoundTrips(a, HOME_NS, 1));
      dirExec.push(...execRoundTrips(b, DIRECT_NS, 1));
    }
    const offPf = await portForwardThroughput(a, HOME_NS, pfRuns);
    const dirPf = await portForwardThroughput(b, DIRECT_NS, pfRuns);
    const figures: Figure[] = [
      { name: 'kubectl exec -- true, offloaded pod (via virtual node)', unit: 'ms', samples: offExec, note: 'kubectl start-up included; A API server -> virtual kubelet (SPDY) -> B API server (WebSocket v5) -> B kubelet' },
      { name: 'kubectl exec -- true, pod on B directly', unit: 'ms', samples: dirExec },
      { name: 'exec round trip: offloaded / direct (p50)', unit: 'x', samples: [p50(offExec) / p50(dirExec)] },
      { name: `port-forward download (${FILE_MIB} MiB), offloaded pod`, unit: 'MB/s', samples: offPf, note: 'one HTTP download per run through kubectl port-forward; offloaded: SPDY to the virtual kubelet, one WebSocket per connection to B' },
      { name: `port-forward download (${FILE_MIB} MiB), pod on B directly`, unit: 'MB/s', samples: dirPf },
    ];
    return { figures };
  } finally {
    await pair?.stop().catch((e: Error) => process.stderr.write(`bench: streaming: stopping the clusters: ${e.message}\n`));
    await lab.destroy();
  }
}
