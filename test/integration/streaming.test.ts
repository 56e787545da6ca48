/**
 * exec, attach, cp and port-forward on an offloaded pod, through the real kube-apiserver and real
 * kubectl, on two clusters with real nodes (network-namespace hosts, kubelet + containerd on each):
 * kubectl speaks WebSocket to A's API server, which speaks SPDY/3.1 to the virtual node's kubelet
 * endpoint (the agent), which relays over WebSocket to the remote pod through B's API server.
 *
 * Needs root (CI runs as root); skipped otherwise.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { request } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../src/localcluster/localCluster.js';
import { controlPlaneBinDir } from '../../src/localcluster/binaries.js';
import { Images } from '../../src/localcluster/node/images.js';
import { kubectl } from '../support/clusters.js';
import { canUseNetns, createTestLab, waitUntil, type NetnsHost, type NetnsLab } from '../support/netns.js';
import { startPeeredRealNodePair, type PeeredRealNodePair } from '../support/realNodePair.js';
import { scratchDir } from '../support/scratch.js';

const busybox = Images.busybox();
const NS = 'tools';
const POD = 'box';

function k(c: LocalCluster, args: string[], input?: string): string {
  const r = kubectl(c, args, input);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

/** A long-running kubectl (attach, port-forward): its output so far, and a way to stop it. */
function background(c: LocalCluster, args: string[]) {
  const proc = spawn(join(controlPlaneBinDir(), 'kubectl'), ['--kubeconfig', c.kubeconfig, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  proc.stdout.on('data', (d: Buffer) => (out.stdout += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (out.stderr += d.toString()));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  return { proc, out, exited, stop: async () => (proc.kill('SIGINT'), await exited) };
}

function httpText(port: number, path = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpGet({ host: '127.0.0.1', port, path, agent: false, timeout: 20_000 }, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timed out')));
  });
}

describe.skipIf(!canUseNetns)('exec, attach, cp and port-forward on an offloaded pod', () => {
  let lab: NetnsLab;
  let pair: PeeredRealNodePair | undefined;
  let a: LocalCluster;
  let b: LocalCluster;
  let idB: string;
  let nodeName: string;
  const hosts: Record<string, NetnsHost> = {};
  const tmp = scratchDir('kubepeer-streaming-');

  beforeAll(async () => {
    lab = createTestLab();
    pair = await startPeeredRealNodePair(lab, { names: ['stra', 'strb'] });
    ({ a, b, idB } = pair);
    hosts.a = pair.hosts.a;
    hosts.b = pair.hosts.b;
    nodeName = `liqo-${idB}`;
    k(a, ['create', 'namespace', NS]);
    k(a, ['label', 'namespace', NS, 'liqo.io/enabled=true']);
    // One pod, two containers: `main` prints a tick a second (attach), `web` serves HTTP on 8080
    // and 8081 (port-forward). The webhook adds the virtual-node toleration.
    k(a, ['apply', '-f', '-'], JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: POD, namespace: NS },
      spec: {
        terminationGracePeriodSeconds: 1,
        nodeSelector: { 'liqo.io/remote-cluster-id': idB },
        tolerations: [{ key: 'virtual-node.liqo.io/not-allowed', operator: 'Exists', effect: 'NoExecute' }],
        containers: [
          { name: 'main', image: busybox, imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', 'i=0; while true; do echo "tick $i"; i=$((i+1)); sleep 1; done'] },
          {
            name: 'web',
            image: busybox,
            imagePullPolicy: 'IfNotPresent',
            command: ['sh', '-c', 'mkdir -p /www /www2 && echo hello-from-b > /www/index.html && echo second-port > /www2/index.html && httpd -p 8081 -h /www2 && exec httpd -f -p 8080 -h /www'],
          },
          // reads its stdin (attach -i): answers each line
          { name: 'echo', image: busybox, imagePullPolicy: 'IfNotPresent', stdin: true, command: ['sh', '-c', 'while read l; do echo "got $l"; done'] },
        ],
      },
    }));
    await waitUntil(() => k(a, ['-n', NS, 'get', 'pod', POD, '-o', 'jsonpath={.status.phase}']) === 'Running' || undefined, {
      timeoutMs: 120_000,
      what: `${POD} Running`,
      describe: () => kubectl(a, ['-n', NS, 'describe', 'pod', POD]).stdout.slice(-2000),
    });
    expect(k(a, ['-n', NS, 'get', 'pod', POD, '-o', 'jsonpath={.spec.nodeName}'])).toBe(nodeName);
    // The API server reaches the endpoint once its CSR-signed serving certificate is in place.
    await waitUntil(() => kubectl(a, ['-n', NS, 'exec', POD, '--', 'true']).code === 0 || undefined, {
      timeoutMs: 60_000,
      what: 'a first kubectl exec to succeed',
      describe: () => kubectl(a, ['-n', NS, 'exec', POD, '--', 'true']).stderr,
    });
  }, 300_000);

  afterAll(async () => {
    await pair?.stop();
    await lab?.destroy();
  });

  it('runs a command with kubectl exec and returns its output, its stderr and its exit code', () => {
    const ok = kubectl(a, ['-n', NS, 'exec', POD, '--', 'sh', '-c', 'echo out; echo err >&2; hostname']);
    expect(ok.code).toBe(0);
    expect(ok.stdout.split('\n')[0]).toBe('out');
    expect(ok.stderr).toContain('err');
    const failed = kubectl(a, ['-n', NS, 'exec', POD, '--', 'sh', '-c', 'echo before; exit 3']);
    expect(failed.stdout).toBe('before\n');
    expect(failed.code).toBe(3);
    expect(failed.stderr).toContain('command terminated with exit code 3');
    // A command that does not exist: the container runtime's error, through both API servers.
    const missing = kubectl(a, ['-n', NS, 'exec', POD, '--', 'no-such-command']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/no-such-command|not found|executable/);
  });

  it('passes stdin to the command and ends it (kubectl exec -i)', () => {
    const r = kubectl(a, ['-n', NS, 'exec', '-i', POD, '--', 'sh', '-c', 'cat; echo "<eof>"'], 'line one\nline two\n');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('line one\nline two\n<eof>\n');
  });

  it('echoes input on a tty and follows the terminal size (kubectl exec -it under a pseudo-terminal)', () => {
    const kc = `${join(controlPlaneBinDir(), 'kubectl')} --kubeconfig ${a.kubeconfig}`;
    // script(1) gives kubectl a pseudo-terminal of 37 rows by 111 columns; kubectl sends that size
    // on the resize stream, and the shell in the pod echoes what it is typed.
    const r = spawnSync('script', ['-qfec', `stty rows 37 cols 111; ${kc} -n ${NS} exec -it ${POD} -- sh`, '/dev/null'], {
      input: 'stty size\necho typed-$((6*7))\nexit 5\n',
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.stdout).toContain('37 111');
    // The tty echoes the typed line, then the shell prints the result.
    expect(r.stdout).toContain('echo typed-$((6*7))');
    expect(r.stdout).toContain('typed-42');
    expect(r.status).toBe(5);
  });

  it('copies a file into the pod and back with kubectl cp', () => {
    // Large enough that the end of the tar is still queued under flow control when the remote
    // command has already exited (the relay once cut it: kubectl then read an unexpected EOF).
    const data = randomBytes(4 * 1024 * 1024);
    const src = join(tmp, 'in.bin');
    const back = join(tmp, 'back.bin');
    writeFileSync(src, data);
    k(a, ['-n', NS, 'cp', '-c', 'main', src, `${POD}:/tmp/in.bin`]);
    const sum = k(a, ['-n', NS, 'exec', POD, '-c', 'main', '--', 'md5sum', '/tmp/in.bin']).split(' ')[0];
    expect(sum).toBe(createHash('md5').update(data).digest('hex'));
    k(a, ['-n', NS, 'cp', '-c', 'main', `${POD}:/tmp/in.bin`, back]);
    expect(readFileSync(back).equals(data)).toBe(true);
  });

  it('reads a running container\'s output with kubectl attach', async () => {
    const att = background(a, ['-n', NS, 'attach', POD, '-c', 'main']);
    try {
      const ticks = await waitUntil(() => {
        const lines = att.out.stdout.split('\n').filter((l) => /^tick \d+$/.test(l));
        return lines.length >= 2 ? lines : undefined;
      }, { timeoutMs: 30_000, what: 'two ticks through kubectl attach', describe: () => att.out });
      const [n0, n1] = ticks.map((l) => Number(l.split(' ')[1]));
      expect(n1).toBe(n0! + 1);
    } finally {
      await att.stop();
    }
  });

  it("writes to a running container's stdin with kubectl attach -i, and reads its answer", async () => {
    const att = background(a, ['-n', NS, 'attach', '-i', POD, '-c', 'echo']);
    try {
      // kubectl opens its streams before it reads stdin; a line written at once waits in its pipe
      att.proc.stdin.write('hello through two clusters\n');
      await waitUntil(() => att.out.stdout.includes('got hello through two clusters') || undefined, { timeoutMs: 30_000, what: 'the answer through kubectl attach -i', describe: () => att.out });
    } finally {
      await att.stop();
    }
  });

  it('forwards two ports through kubectl port-forward, with concurrent connections, and reports an unreachable port on the error stream (kubectl then ends, as with any kubelet)', async () => {
    const pf = background(a, ['-n', NS, 'port-forward', `pod/${POD}`, ':8080', ':8081', ':9999']);
    try {
      const ports = await waitUntil(() => {
        const m = [...pf.out.stdout.matchAll(/Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)/g)].map((x) => [Number(x[2]), Number(x[1])] as const);
        return m.length >= 3 ? new Map(m) : undefined;
      }, { timeoutMs: 30_000, what: 'kubectl port-forward to listen', describe: () => pf.out });
      // Two connections at once on the first port, one on the second.
      const [r1, r2, r3] = await Promise.all([httpText(ports.get(8080)!), httpText(ports.get(8080)!), httpText(ports.get(8081)!)]).catch((e: Error) => {
        throw new Error(`${e.message}; kubectl port-forward said: ${pf.out.stdout}${pf.out.stderr}`);
      });
      expect([r1.status, r1.body]).toEqual([200, 'hello-from-b\n']);
      expect([r2.status, r2.body]).toEqual([200, 'hello-from-b\n']);
      expect([r3.status, r3.body]).toEqual([200, 'second-port\n']);
      // Nothing listens on 9999 in the pod: the connection fails and kubectl reports B's error.
      await httpText(ports.get(9999)!).catch(() => undefined);
      await waitUntil(() => /error forwarding port 9999/.test(pf.out.stderr) || undefined, { timeoutMs: 30_000, what: 'the port-forward error for 9999', describe: () => pf.out.stderr });
    } finally {
      await pf.stop();
    }
  });

  /** The status the virtual node's kubelet endpoint answers to an exec upgrade (101 when it upgrades). */
  async function execUpgradeStatus(extraHeaders: Record<string, string>): Promise<number> {
    const node = JSON.parse(k(a, ['get', 'node', nodeName, '-o', 'json'])) as { status: { addresses: Array<{ address: string }>; daemonEndpoints: { kubeletEndpoint: { Port: number } } } };
    const url = `https://${node.status.addresses[0]!.address}:${node.status.daemonEndpoints.kubeletEndpoint.Port}/exec/${NS}/${POD}/main?command=id&output=1`;
    return new Promise<number>((resolve, reject) => {
      const req = request(url, {
        method: 'POST',
        rejectUnauthorized: false,
        headers: { ...extraHeaders, Connection: 'Upgrade', Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': 'v4.channel.k8s.io' },
      });
      req.on('response', (res) => resolve(res.statusCode ?? 0));
      req.on('upgrade', () => resolve(101));
      req.on('error', reject);
      req.end();
    });
  }

  it('refuses an unauthenticated upgrade on the kubelet port with 401', async () => {
    expect(await execUpgradeStatus({})).toBe(401);
  });

  it('refuses an authenticated caller that may not use the node (403), as a kubelet does', async () => {
    // A ServiceAccount of A: its token passes TokenReview, but nodes/proxy is not granted
    k(a, ['-n', NS, 'create', 'serviceaccount', 'nobody']);
    const token = k(a, ['-n', NS, 'create', 'token', 'nobody']).trim();
    expect(await execUpgradeStatus({ Authorization: `Bearer ${token}` })).toBe(403);
  });
});
