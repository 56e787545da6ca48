/**
 * A local cluster with a real node: kubelet, containerd v2 and runc, kube-proxy, kube-scheduler and
 * CoreDNS on a network-namespace host, driven with the real kubectl. Needs root (CI runs as root);
 * skipped otherwise. One cluster for the behaviour tests; a second one is killed with SIGKILL and
 * then checked for leftovers.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Images, importImage, listImages } from '../../src/localcluster/node/images.js';
import { writeOciArchive } from '../../src/localcluster/node/ociImage.js';
import { tmpdir } from 'node:os';
import { cgroupDirs, shimPids } from '../../src/localcluster/node/cleanup.js';
import { isAlive as isRunning, type LocalCluster } from '../../src/localcluster/localCluster.js';
import { kubectl, startCluster } from '../support/clusters.js';
import { canUseNetns, createTestLab, waitUntil as waitFor, type NetnsHost, type NetnsLab } from '../support/netns.js';


const busybox = Images.busybox();

function k(c: LocalCluster, args: string[], input?: string): string {
  const r = kubectl(c, args, input);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

function podSpec(name: string, extra: Record<string, unknown> = {}, container: Record<string, unknown> = {}): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { app: name } },
    spec: {
      terminationGracePeriodSeconds: 1,
      containers: [{ name: 'main', image: busybox, imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', 'echo hello from $(hostname); sleep 3600'], ...container }],
      ...extra,
    },
  });
}

async function podPhase(c: LocalCluster, name: string, phase: string, timeoutMs = 90_000): Promise<void> {
  await waitFor(
    () => {
      const r = kubectl(c, ['get', 'pod', name, '-o', 'jsonpath={.status.phase}']);
      return r.stdout === phase ? true : undefined;
    },
    { timeoutMs, what: `pod ${name} ${phase}`, describe: () => kubectl(c, ['describe', 'pod', name]).stdout.slice(-2500) },
  );
}

describe.skipIf(!canUseNetns)('local cluster with a real node', () => {
  let lab: NetnsLab;
  let host: NetnsHost;
  let cluster: LocalCluster;

  beforeAll(async () => {
    lab = createTestLab();
    host = await lab.addHost('node1');
    cluster = await startCluster('node1', { address: host.address, netns: host.netns, node: 'real' });
  });

  afterAll(async () => {
    await cluster?.stop();
    await lab?.destroy();
  });

  it('registers one Ready node named after the cluster, with the host address and no placeholder', () => {
    const nodes = JSON.parse(k(cluster, ['get', 'nodes', '-o', 'json'])) as { items: Array<{ metadata: { name: string; labels: Record<string, string> }; status: { addresses: Array<{ type: string; address: string }>; conditions: Array<{ type: string; status: string }> } }> };
    expect(nodes.items.map((n) => n.metadata.name)).toEqual(['node1']);
    const node = nodes.items[0]!;
    expect(node.status.conditions.find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(node.status.addresses).toContainEqual({ type: 'InternalIP', address: host.address });
    expect(node.metadata.labels['kubepeer.io/placeholder-node']).toBeUndefined();
  });

  it('runs a pod: kubectl logs and kubectl exec work', async () => {
    k(cluster, ['apply', '-f', '-'], podSpec('hello'));
    await podPhase(cluster, 'hello', 'Running');
    await waitFor(() => (kubectl(cluster, ['logs', 'hello']).stdout.includes('hello from hello') ? true : undefined), { timeoutMs: 30_000, what: 'log line', describe: () => kubectl(cluster, ['logs', 'hello']) });
    const exec = kubectl(cluster, ['exec', 'hello', '--', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(exec.stdout).toBe('out\n');
    expect(exec.stderr).toContain('err');
    expect(exec.code).toBe(3);
    // The container really runs under the node's containerd: its shim names our socket.
    expect(shimPids(cluster.node!.containerdSocket!).length).toBeGreaterThan(0);
  });

  it('runs a Deployment of 3 to 3/3 Ready (scheduler, replicaset and deployment controllers)', async () => {
    k(cluster, ['create', 'deployment', 'web', `--image=${busybox}`, '--replicas=3', '--port=8080', '--', 'sh', '-c', 'mkdir -p /www && echo "served by $(hostname)" > /www/index.html && httpd -f -p 8080 -h /www']);
    k(cluster, ['patch', 'deployment', 'web', '--type=json', '-p', '[{"op":"add","path":"/spec/template/spec/containers/0/imagePullPolicy","value":"IfNotPresent"},{"op":"add","path":"/spec/template/spec/terminationGracePeriodSeconds","value":1}]']);
    const out = k(cluster, ['rollout', 'status', 'deployment/web', '--timeout=120s']);
    expect(out).toContain('successfully rolled out');
    expect(k(cluster, ['get', 'deployment', 'web', '-o', 'jsonpath={.status.readyReplicas}'])).toBe('3');
  });

  it('answers a ClusterIP Service from another pod, by IP and by DNS name (kube-proxy, CoreDNS)', async () => {
    k(cluster, ['expose', 'deployment', 'web', '--port=80', '--target-port=8080']);
    const ip = k(cluster, ['get', 'service', 'web', '-o', 'jsonpath={.spec.clusterIP}']);
    expect(ip).toMatch(/^10\.0\.0\.\d+$/);
    await waitFor(() => (k(cluster, ['-n', 'kube-system', 'get', 'deployment', 'coredns', '-o', 'jsonpath={.status.readyReplicas}']) === '1' ? true : undefined), {
      timeoutMs: 60_000,
      what: 'CoreDNS ready',
      describe: () => kubectl(cluster, ['-n', 'kube-system', 'describe', 'pods']).stdout.slice(-2500),
    });
    const byIp = await waitFor(
      () => {
        const r = kubectl(cluster, ['exec', 'hello', '--', 'wget', '-qO-', `http://${ip}/`]);
        return r.code === 0 ? r.stdout : undefined;
      },
      { timeoutMs: 30_000, what: 'Service by IP', describe: () => kubectl(cluster, ['exec', 'hello', '--', 'wget', '-qO-', `http://${ip}/`]) },
    );
    expect(byIp).toMatch(/^served by web-/);
    const byName = await waitFor(
      () => {
        const r = kubectl(cluster, ['exec', 'hello', '--', 'wget', '-qO-', 'http://web.default.svc.cluster.local/']);
        return r.code === 0 ? r.stdout : undefined;
      },
      { timeoutMs: 30_000, what: 'Service by DNS name', describe: () => kubectl(cluster, ['exec', 'hello', '--', 'nslookup', 'web.default.svc.cluster.local']) },
    );
    expect(byName).toMatch(/^served by web-/);
  });

  it('enforces a memory limit: a pod over it is OOMKilled and says so', async () => {
    k(cluster, ['apply', '-f', '-'], podSpec('hog', { restartPolicy: 'Never' }, {
      // 64 MiB held in a shell variable: well over the 32 MiB limit.
      command: ['sh', '-c', 'x=$(head -c 67108864 /dev/zero | tr "\\0" a); echo survived ${#x}'],
      resources: { limits: { memory: '32Mi' } },
    }));
    await waitFor(
      () => {
        const r = kubectl(cluster, ['get', 'pod', 'hog', '-o', 'jsonpath={.status.containerStatuses[0].state.terminated.reason}']);
        return r.stdout ? r.stdout : undefined;
      },
      { timeoutMs: 90_000, what: 'hog terminated', describe: () => kubectl(cluster, ['describe', 'pod', 'hog']).stdout.slice(-2000) },
    ).then((reason) => expect(reason).toBe('OOMKilled'));
  });

  it('schedules a DaemonSet on the node', async () => {
    const ds = {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: 'every-node' },
      spec: {
        selector: { matchLabels: { app: 'every-node' } },
        template: { metadata: { labels: { app: 'every-node' } }, spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'main', image: busybox, imagePullPolicy: 'IfNotPresent', command: ['sleep', '3600'] }] } },
      },
    };
    k(cluster, ['apply', '-f', '-'], JSON.stringify(ds));
    await waitFor(() => (k(cluster, ['get', 'daemonset', 'every-node', '-o', 'jsonpath={.status.numberReady}']) === '1' ? true : undefined), {
      timeoutMs: 90_000,
      what: 'DaemonSet ready on the node',
      describe: () => kubectl(cluster, ['describe', 'daemonset', 'every-node']).stdout.slice(-1500),
    });
  });

  it('lists the local images with `kubepeer local image list`-style names, none of them latest', () => {
    const names = execFileSync(join(process.env.KUBEPEER_CONTROLPLANE_BIN ?? '', 'ctr'), ['--address', cluster.node!.containerdSocket!, '-n', 'k8s.io', 'images', 'list', '-q'], { encoding: 'utf8' })
      .split('\n')
      .filter((n) => n && !n.startsWith('sha256:'));
    expect(names).toEqual(expect.arrayContaining([Images.pause, busybox, Images.coredns()]));
    expect(names.filter((n) => n.endsWith(':latest'))).toEqual([]);
  });

  it('imports an image archive a person made, names it, lists it with its size, and runs it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kp-img-'));
    mkdirSync(join(dir, 'rootfs', 'bin'), { recursive: true });
    copyFileSync('/bin/busybox', join(dir, 'rootfs', 'bin', 'busybox'));
    await writeOciArchive({ ref: 'example.test/hello:1.0', rootfs: join(dir, 'rootfs'), config: { Entrypoint: ['/bin/busybox', 'echo', 'hello from an imported image'] } }, join(dir, 'hello.tar'));
    const bin = process.env.KUBEPEER_CONTROLPLANE_BIN ?? '';
    expect(importImage(bin, cluster.node!.containerdSocket!, join(dir, 'hello.tar'))).toEqual(['example.test/hello:1.0']);
    const listed = listImages(bin, cluster.node!.containerdSocket!).find((i) => i.name === 'example.test/hello:1.0');
    expect(listed?.size).toMatch(/^[\d.]+ ?[KMG]i?B$/);
    k(cluster, ['run', 'imported', '--image=example.test/hello:1.0', '--image-pull-policy=Never', '--restart=Never']);
    await podPhase(cluster, 'imported', 'Succeeded');
    expect(k(cluster, ['logs', 'imported'])).toContain('hello from an imported image');
    rmSync(dir, { recursive: true, force: true });
  });
});

describe.skipIf(!canUseNetns)('a real node killed with SIGKILL leaves nothing behind', () => {
  let lab: NetnsLab;

  beforeAll(() => {
    lab = createTestLab();
  });
  afterAll(async () => {
    await lab?.destroy();
  });

  it('after SIGKILL of the kubelet and then the supervisor, stopping finds and removes every shim, container, cgroup and mount', async () => {
    const host = await lab.addHost('doomed');
    const cluster = await startCluster('doomed', { address: host.address, netns: host.netns, node: 'real' });
    const socket = cluster.node!.containerdSocket!;
    const cgroupRoot = cluster.node!.cgroupRoot!;
    k(cluster, ['apply', '-f', '-'], podSpec('victim'));
    await podPhase(cluster, 'victim', 'Running');
    const containerPids = cgroupDirs(cgroupRoot).flatMap((d) => (existsSync(join(d, 'cgroup.procs')) ? readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean) : []));
    expect(containerPids.length).toBeGreaterThan(0);
    expect(shimPids(socket).length).toBeGreaterThan(0);

    process.kill(cluster.pids.kubelet!, 'SIGKILL');
    process.kill(cluster.supervisorPid, 'SIGKILL');
    // The shims survive their containerd (by design): that is what the stop path must handle.
    await waitFor(() => (Object.values(cluster.pids).every((p) => !isRunning(p)) ? true : undefined), { timeoutMs: 15_000, what: 'components gone with the supervisor' });
    expect(shimPids(socket).length).toBeGreaterThan(0);

    await cluster.stop();
    await lab.removeHost('doomed');

    expect(shimPids(socket)).toEqual([]);
    for (const pid of containerPids) expect(isRunning(Number(pid))).toBe(false);
    expect(cgroupDirs(cgroupRoot)).toEqual([]);
    const hostMounts = readFileSync('/proc/self/mountinfo', 'utf8');
    expect(hostMounts).not.toContain(cluster.dir);
    expect(hostMounts).not.toMatch(/kubepeer-node|\/run\/containerd\/|overlay.*k8s\.io/);
    expect(existsSync(cluster.dir)).toBe(false);
    expect(readdirSync('/var/run/netns')).not.toContain(host.netns);
    // Addresses and iptables rules lived in the deleted namespace; none leaked to the host's.
    expect(execFileSync('ip', ['-o', 'addr'], { encoding: 'utf8' })).not.toContain('10.244.');
    expect(execFileSync('iptables-save', { encoding: 'utf8' })).not.toContain('KUBE-SERVICES');
  });
});
