/**
 * `kubepeer demo` (and `npm start` without $KUBECONFIG): two local clusters that find each other
 * and peer, with progress as it goes, then the kubeconfigs, `kubectl get foreignclusters,nodes`
 * of each side and the dashboard URL with a login token. Ctrl-C tears everything down.
 *
 * As root the clusters live on two network-namespace hosts joined by a bridge, each with a real node
 * (containerd, kubelet, kube-proxy, scheduler, CoreDNS: pods run) and its API server on port 6443
 * of its own address, and discover each other over mDNS; otherwise they run on loopback (no
 * multicast there, placeholder nodes that run nothing) and are introduced to each other with
 * Manual ForeignClusters, as the seed's "Manual Configuration" does.
 *
 * The terminal shows progress only: the agents log to files in their cluster's folder and the
 * demo's own components (network namespaces, clients) to demo.log in a folder of its own. Ctrl-C
 * removes everything, the clusters' folders (with their CA keys) included; when the demo fails, the
 * logs are copied out first and kept.
 */
import type { Command } from 'commander';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, createWriteStream, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { startLocalCluster, type LocalCluster } from '../../localcluster/localCluster.js';
import { binaryPath, controlPlaneBinDir } from '../../localcluster/binaries.js';
import { Images } from '../../localcluster/node/images.js';
import type { NetnsLab } from '../../localcluster/netns.js';
import { rootLogger } from '../../observability/logger.js';
import { install } from '../../install/install.js';
import { readClusterID } from '../../identity/clusterID.js';
import { GVR, apiVersionOf } from '../../api/crds.js';
import { Labels, Names } from '../../api/constants.js';
import { Core, resourcePath, type KubeClient } from '../../k8s/rest.js';
import { startAgent } from '../../agent/agent.js';
import { generatePeeringSecret, setPeeringSecret } from '../../trust/peeringSecretStore.js';
import { progress, progressDone } from '../output.js';
import { globals, withClient } from '../globals.js';

const cliEntry = fileURLToPath(new URL('../../../bin/kubepeer.js', import.meta.url));

interface DemoSide {
  name: string;
  cluster: LocalCluster;
  agent: ChildProcess;
  id: string;
  address: string;
}

/** A token for the dashboard: a ServiceAccount bound to cluster-admin (demo only). */
async function adminToken(client: KubeClient): Promise<string> {
  const name = 'kubepeer-demo-admin';
  await client.create(resourcePath(Core.serviceAccounts, { namespace: 'liqo' }), { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: 'liqo' } }).catch(() => {});
  await client
    .create(resourcePath(Core.clusterRoleBindings), {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
      subjects: [{ kind: 'ServiceAccount', name, namespace: 'liqo' }],
    })
    .catch(() => {});
  const tr = await client.create<{ status: { token: string } }>(resourcePath(Core.serviceAccounts, { namespace: 'liqo', name, subresource: 'token' }), {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    spec: { expirationSeconds: 86400 },
  });
  return tr.status.token;
}

function kubectlGet(kubeconfig: string): string {
  const r = spawnSync(binaryPath('kubectl'), ['--kubeconfig', kubeconfig, 'get', 'foreignclusters,nodes'], { encoding: 'utf8' });
  return (r.stdout + r.stderr).trimEnd();
}

async function readyNodeFor(client: KubeClient, peerID: string): Promise<boolean> {
  const n = await client.getOrNull<{ status?: { conditions?: Array<{ type: string; status: string }> } }>(resourcePath(Core.nodes, { name: `${Names.virtualNodePrefix}${peerID}` }));
  return !!n?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
}

/**
 * The demo process's own JSON log lines (network namespaces, API clients) would interleave with the
 * progress display on stderr: send them to `file`. Every component logger is a pino child of the
 * one root logger and reads the stream through its prototype, so replacing the root's stream
 * moves them all, including those created before.
 */
function logToFile(file: string): void {
  (rootLogger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] = pino.destination({ dest: file, sync: true });
}

/**
 * The one-line `kubectl run` that shows a real node runs a pod (and removes the pod afterwards).
 * `kubectl run -i` attaches once the pod is Running and shows only what the container writes after
 * that: a bare `echo` often finished first and the line printed nothing. The pause gives the attach
 * (tens of milliseconds) ample time.
 */
export function podProofCommand(kubectl: string, kubeconfig: string, clusterName: string): string {
  return `${kubectl} --kubeconfig ${kubeconfig} run hello --image=${Images.busybox()} --image-pull-policy=IfNotPresent --restart=Never --rm -i -- sh -c 'sleep 2; echo hello from a pod on ${clusterName}'`;
}

export async function runDemo(opts: { netns: boolean; timeoutMs: number }): Promise<void> {
  const started = Date.now();
  const root = process.getuid?.() === 0;
  const useNetns = opts.netns && root;
  const logDir = mkdtempSync(join(tmpdir(), 'kubepeer-demo-'));
  logToFile(join(logDir, 'demo.log'));
  const cleanups: Array<() => Promise<void> | void> = [];
  const clusterDirs: string[] = [];
  let lab: NetnsLab | undefined;
  let stopping: Promise<void> | undefined;
  let stopped = false;
  const teardown = (keepLogs = false): Promise<void> =>
    (stopping ??= (async () => {
      progress('stopping the demo (agents, clusters, network namespaces)...');
      for (const c of cleanups.reverse()) await Promise.resolve().then(c).catch(() => {});
      if (!keepLogs) rmSync(logDir, { recursive: true, force: true });
      stopped = true;
      progressDone();
    })());
  // Ctrl-C reaches every process of the terminal's group, and `npm start` forwards it once more:
  // the handler stays installed so that the second signal does not kill the demo mid-teardown.
  const onSignal = () => {
    if (stopping) return;
    void teardown().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, onSignal);
  // Last resort when the process ends without a teardown (an uncaught error): what can be done
  // synchronously. A real node's shims left this way are swept by the next local cluster start.
  process.once('exit', () => {
    if (stopped) return;
    lab?.destroySync({ removeBridge: true });
    for (const d of clusterDirs) rmSync(d, { recursive: true, force: true });
  });

  try {
    progress('building or reusing the local-cluster binaries (the first time takes several minutes)...');
    controlPlaneBinDir();
    let hosts: Array<{ address: string; netns?: string }> = [{ address: '127.0.0.1' }, { address: '127.0.0.1' }];
    if (useNetns) {
      const { NetnsLab } = await import('../../localcluster/netns.js');
      // No cleanupOnExit: its SIGINT hook would SIGKILL the supervisors inside the namespaces before
      // they remove their node and folder. The teardown above destroys the lab after the clusters.
      const l = (lab = new NetnsLab({ bridge: 'kp-demo0', subnet: '198.18.10.0/24', prefix: 'kpdemo-' }));
      cleanups.push(() => l.destroy({ removeBridge: true }));
      await l.ensureBridge();
      hosts = [];
      for (const n of ['alpha', 'beta']) {
        const h = await l.addHost(n);
        hosts.push({ address: h.address, netns: h.netns });
      }
    }
    const names = ['alpha', 'beta'];
    const sides: DemoSide[] = [];
    // One LAN peering secret for both: they prove to each other that they belong together and
    // join with no typing; any other cluster on the LAN would only be listed.
    const lanSecret = generatePeeringSecret();
    for (const [i, name] of names.entries()) {
      const h = hosts[i]!;
      progress(`starting local cluster "${name}" on ${h.address}${h.netns ? ` (network namespace ${h.netns}) with a real node: containerd, kubelet, kube-proxy, CoreDNS` : ''}...`);
      // Each namespace host has an address of its own, so both API servers take the usual 6443
      // and a ForeignCluster written as the seed documents it (apiUrl https://<address>:6443) works.
      const cluster = await startLocalCluster(useNetns ? { name, address: h.address, netns: h.netns, node: 'real', apiPort: 6443 } : { name, address: h.address });
      clusterDirs.push(cluster.dir);
      cleanups.push(async () => {
        await cluster.stop();
        rmSync(cluster.dir, { recursive: true, force: true });
      });
      const client = cluster.client();
      await install(client, { clusterName: name });
      await setPeeringSecret(client, 'liqo', lanSecret);
      if (!useNetns) {
        // On loopback there is no LAN to discover: each side knows the other by hand (below).
        await client.mergePatch(resourcePath(GVR.clusterConfig, { name: Names.clusterConfig }), { spec: { discoveryConfig: { enableDiscovery: false, enableAdvertisement: false } } });
      }
      progress(`starting the kubepeer agent of "${name}"...`);
      const dash = `${h.address}:${8443 + i}`;
      const logFile = join(cluster.dir, 'logs', 'agent.log');
      const argv = [process.execPath, cliEntry, 'agent', '--kubeconfig', cluster.kubeconfig, '--dashboard-listen', dash];
      const cmd = h.netns ? ['ip', 'netns', 'exec', h.netns, ...argv] : argv;
      const agent = spawn(cmd[0]!, cmd.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, KUBEPEER_EXIT_WITH_PARENT: '1' } });
      const out = createWriteStream(logFile);
      agent.stdout!.pipe(out);
      agent.stderr!.pipe(out);
      cleanups.push(async () => {
        if (agent.exitCode === null && agent.signalCode === null) {
          const exited = new Promise((r) => agent.once('exit', r));
          agent.kill('SIGTERM');
          await exited;
        }
      });
      let id: string | null = null;
      while (!(id = await readClusterID(client, 'liqo'))) await sleep(200);
      sides.push({ name, cluster, agent, id, address: h.address });
    }
    const [A, B] = sides as [DemoSide, DemoSide];
    if (!useNetns) {
      progress('introducing the clusters to each other (Manual ForeignClusters, as in the seed documents)...');
      for (const [me, peer] of [[A, B], [B, A]] as const) {
        await me.cluster.client().create(resourcePath(GVR.foreignCluster), {
          apiVersion: apiVersionOf(GVR.foreignCluster),
          kind: 'ForeignCluster',
          metadata: { name: peer.name, labels: { [Labels.clusterID]: peer.id } },
          spec: { clusterID: peer.id, clusterName: peer.name, apiUrl: peer.cluster.apiUrl, namespace: 'liqo', discoveryType: 'Manual', join: true, allowUntrustedCA: true },
        });
      }
    } else {
      progress('the clusters are looking for each other on the LAN (mDNS)...');
    }
    const deadline = Date.now() + opts.timeoutMs;
    for (;;) {
      const [a, b] = await Promise.all([readyNodeFor(A.cluster.client(), B.id), readyNodeFor(B.cluster.client(), A.id)]);
      progress(`peering: ${A.name} -> ${B.name}: ${a ? 'virtual node Ready' : 'in progress'}; ${B.name} -> ${A.name}: ${b ? 'virtual node Ready' : 'in progress'}`);
      if (a && b) break;
      if (Date.now() > deadline) throw new Error(`the clusters did not peer within ${opts.timeoutMs / 1000}s`);
      await sleep(500);
    }
    progressDone();
    const token = await adminToken(A.cluster.client());
    const kubectl = binaryPath('kubectl');
    const nodes = useNetns
      ? [
          `${A.name} and ${B.name} each have a real node (containerd, kubelet): pods run. One on ${A.name}, printed and removed:`,
          podProofCommand(kubectl, A.cluster.kubeconfig, A.name),
        ]
      : [
          `${A.name} and ${B.name} run on loopback with placeholder nodes (${A.name}-host, ${B.name}-host): pods will not run there.`,
          root
            ? 'For real nodes that run pods, start the demo without --no-netns (network-namespace hosts).'
            : 'For real nodes that run pods (containerd, kubelet, on network-namespace hosts), run the demo as root: sudo npm start',
        ];
    const lines = [
      '',
      `peered in ${((Date.now() - started) / 1000).toFixed(1)}s: ${A.name} and ${B.name} each have a virtual node for the other.`,
      '',
      ...sides.flatMap((s) => [`== ${s.name} (cluster ID ${s.id})`, `export KUBECONFIG=${s.cluster.kubeconfig}`, kubectlGet(s.cluster.kubeconfig), '']),
      `kubectl: ${kubectl}`,
      ...nodes,
      `logs: ${A.cluster.dir}/logs, ${B.cluster.dir}/logs (agents: agent.log), ${logDir}/demo.log`,
      `dashboard of ${A.name}: https://${A.address}:8443/  (kubepeer dashboard CA: ca.crt of Secret liqo/kubepeer-dashboard-tls; log in with this token)`,
      token,
      '',
      'Press Ctrl-C to stop and remove everything.',
    ];
    process.stdout.write(lines.join('\n') + '\n');
    await new Promise<void>(() => {});
  } catch (e) {
    // The clusters' folders go with the teardown: keep their logs (not their keys) for the diagnosis.
    for (const d of clusterDirs) if (existsSync(join(d, 'logs'))) cpSync(join(d, 'logs'), join(logDir, d.split('/').pop()!), { recursive: true });
    await teardown(true);
    throw new Error(`${(e as Error).message}; logs (agents, clusters, the demo) kept in ${logDir}`, { cause: e });
  }
}

export function registerDemoCommands(program: Command): void {
  program
    .command('demo')
    .description('Two local clusters that discover each other and peer; prints how to look at them. Ctrl-C stops everything.')
    .option('--no-netns', 'use loopback even as root (Manual peering instead of LAN discovery)')
    .option('--timeout <seconds>', 'give up if not peered by then', '180')
    .action(async (opts: { netns: boolean; timeout: string }) => runDemo({ netns: opts.netns, timeoutMs: Number(opts.timeout) * 1000 }));

  program
    .command('start')
    .description('The main job: the agent against $KUBECONFIG (installing kubepeer first), or the demo when no cluster is given.')
    .action(async (_o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const kubeconfig = g.kubeconfig ?? process.env.KUBECONFIG;
      if (!kubeconfig) return runDemo({ netns: true, timeoutMs: 180_000 });
      await withClient({ kubeconfig, context: g.context }, (client) => install(client, {}));
      const agent = await startAgent({ kubeconfig, context: g.context });
      process.stderr.write(`kubepeer agent running for ${agent.ctx.clusterName} (${agent.ctx.clusterID}); metrics ${agent.metricsUrl}${agent.dashboardUrl ? `, dashboard ${agent.dashboardUrl}` : ''}\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await agent.stop();
      process.exit(0);
    });
}
