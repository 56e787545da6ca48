/**
 * `kubepeer demo` (and `npm start` without $KUBECONFIG): two local clusters that find each other
 * and peer, with progress as it goes, then the kubeconfigs, `kubectl get foreignclusters,nodes`
 * of each side and the dashboard URL with a login token. Ctrl-C tears everything down.
 *
 * As root the clusters live on two network-namespace hosts joined by a bridge and discover each
 * other over mDNS; otherwise they run on loopback (no multicast there) and are introduced to
 * each other with Manual ForeignClusters, as the seed's "Manual Configuration" does.
 */
import type { Command } from 'commander';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { startLocalCluster, type LocalCluster } from '../../localcluster/localCluster.js';
import { binaryPath, controlPlaneBinDir } from '../../localcluster/binaries.js';
import { install } from '../../install/install.js';
import { readClusterID } from '../../identity/clusterID.js';
import { GVR, apiVersionOf } from '../../api/crds.js';
import { Labels, Names } from '../../api/constants.js';
import { Core, resourcePath, type KubeClient } from '../../k8s/rest.js';
import { startAgent } from '../../agent/agent.js';
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

export async function runDemo(opts: { netns: boolean; timeoutMs: number }): Promise<void> {
  const started = Date.now();
  const cleanups: Array<() => Promise<void> | void> = [];
  let done = false;
  const teardown = async () => {
    if (done) return;
    done = true;
    progress('stopping the demo (agents, clusters, network namespaces)...');
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => {});
    progressDone();
  };
  process.once('SIGINT', () => void teardown().then(() => process.exit(0)));
  process.once('SIGTERM', () => void teardown().then(() => process.exit(0)));

  try {
    progress('building or reusing the control-plane binaries (the first time takes a few minutes)...');
    controlPlaneBinDir();
    const useNetns = opts.netns && process.getuid?.() === 0;
    let hosts: Array<{ address: string; netns?: string }> = [{ address: '127.0.0.1' }, { address: '127.0.0.1' }];
    if (useNetns) {
      const { NetnsLab } = await import('../../localcluster/netns.js');
      const lab = new NetnsLab({ bridge: 'kp-demo0', subnet: '198.18.10.0/24', prefix: 'kpdemo-', cleanupOnExit: true });
      cleanups.push(() => lab.destroy({ removeBridge: true }));
      await lab.ensureBridge();
      hosts = [];
      for (const n of ['alpha', 'beta']) {
        const h = await lab.addHost(n);
        hosts.push({ address: h.address, netns: h.netns });
      }
    }
    const names = ['alpha', 'beta'];
    const sides: DemoSide[] = [];
    for (const [i, name] of names.entries()) {
      const h = hosts[i]!;
      progress(`starting local cluster "${name}" on ${h.address}${h.netns ? ` (network namespace ${h.netns})` : ''}...`);
      const cluster = await startLocalCluster({ name, address: h.address, netns: h.netns });
      cleanups.push(() => cluster.stop());
      const client = cluster.client();
      await install(client, { clusterName: name });
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
        if (agent.exitCode === null) {
          agent.kill('SIGTERM');
          await new Promise((r) => agent.once('exit', r));
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
      if (Date.now() > deadline) throw new Error(`the clusters did not peer within ${opts.timeoutMs / 1000}s; agent logs: ${A.cluster.dir}/logs/agent.log, ${B.cluster.dir}/logs/agent.log`);
      await sleep(500);
    }
    progressDone();
    const token = await adminToken(A.cluster.client());
    const lines = [
      '',
      `peered in ${((Date.now() - started) / 1000).toFixed(1)}s: ${A.name} and ${B.name} each have a virtual node for the other.`,
      '',
      ...sides.flatMap((s) => [`== ${s.name} (cluster ID ${s.id})`, `export KUBECONFIG=${s.cluster.kubeconfig}`, kubectlGet(s.cluster.kubeconfig), '']),
      `kubectl: ${binaryPath('kubectl')}`,
      `dashboard of ${A.name}: https://${A.address}:8443/  (kubepeer dashboard CA: ca.crt of Secret liqo/kubepeer-dashboard-tls; log in with this token)`,
      token,
      '',
      'Press Ctrl-C to stop and remove everything.',
    ];
    process.stdout.write(lines.join('\n') + '\n');
    await new Promise<void>(() => {});
  } catch (e) {
    await teardown();
    throw e;
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
