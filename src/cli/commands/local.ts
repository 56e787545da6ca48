import type { Command } from 'commander';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { getLocalCluster, isAlive, listLocalClusters, recordAgent, startLocalCluster, stopLocalCluster, type ListedCluster } from '../../localcluster/localCluster.js';
import { install } from '../../install/install.js';
import { assertNetnsSupport, DEFAULT_BRIDGE, DEFAULT_SUBNET, NetnsError, NetnsLab, type NetnsHost } from '../../localcluster/netns.js';
import { CliError, age, printList, printObject, progress, progressDone } from '../output.js';
import { globals, withClient } from '../globals.js';
import { controlPlaneBinDir } from '../../localcluster/binaries.js';
import { importImage, listImages } from '../../localcluster/node/images.js';
import { deployInClusterAgent } from '../../localcluster/inClusterAgent.js';
import { AgentStatusKeys, type AgentStatusData } from '../../agent/agentStatus.js';
import { LIQO_NAMESPACE, Names } from '../../api/constants.js';
import { Core, resourcePath, type KubeClient } from '../../k8s/rest.js';

const cliEntry = fileURLToPath(new URL('../../../bin/kubepeer.js', import.meta.url));

/** Starts `kubepeer agent` for a local cluster in the background; returns its pid. */
export async function spawnAgent(cluster: Pick<ListedCluster, 'name' | 'kubeconfig' | 'dir' | 'netns'>, extraArgs: string[] = []): Promise<{ pid: number; logFile: string }> {
  const logFile = join(cluster.dir, 'logs', 'agent.log');
  const out = openSync(logFile, 'a');
  const argv = [process.execPath, cliEntry, 'agent', '--kubeconfig', cluster.kubeconfig, ...extraArgs];
  const cmd = cluster.netns ? ['ip', 'netns', 'exec', cluster.netns, ...argv] : argv;
  const child = spawn(cmd[0]!, cmd.slice(1), { detached: true, stdio: ['ignore', out, out] });
  closeSync(out);
  child.unref();
  return { pid: child.pid!, logFile };
}

async function readAgentStatusVersion(client: KubeClient): Promise<string | null> {
  const cm = await client.getOrNull<{ metadata: { resourceVersion?: string } }>(resourcePath(Core.configMaps, { namespace: LIQO_NAMESPACE, name: Names.agentStatusConfigMap }));
  return cm?.metadata.resourceVersion ?? null;
}

/**
 * Returns when the agent leads: it then has written ConfigMap kubepeer-agent-status (after its
 * controllers started), so a command run next finds a working agent. `gone()` says why the agent
 * cannot come (its process exited), or undefined while it may.
 */
async function waitForAgent(client: KubeClient, what: string, gone: () => string | undefined, before: string | null, timeoutMs = 120_000): Promise<string | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const cm = await client.getOrNull<{ metadata: { resourceVersion?: string }; data?: AgentStatusData }>(resourcePath(Core.configMaps, { namespace: LIQO_NAMESPACE, name: Names.agentStatusConfigMap }));
    if (cm && cm.metadata.resourceVersion !== before) return cm.data?.[AgentStatusKeys.dashboardUrl];
    const why = gone();
    if (why) throw new CliError(why);
    if (Date.now() > deadline) throw new CliError(`${what} did not start leading within ${timeoutMs / 1000}s`);
    await sleep(250);
  }
}

/** For a process agent: it exited, with the end of its log. */
const processGone = (agent: { pid: number; logFile: string }) => (): string | undefined => {
  if (isAlive(agent.pid)) return undefined;
  const tail = existsSync(agent.logFile) ? readFileSync(agent.logFile, 'utf8').split('\n').slice(-15).join('\n') : '';
  return `the kubepeer agent (pid ${agent.pid}) exited while starting; its log ${agent.logFile} ends with:\n${tail}`;
};

export function registerLocalCommands(program: Command): void {
  const local = program
    .command('local')
    .description('Local clusters: real etcd, kube-apiserver and kube-controller-manager; with --netns also a real node (kubelet, containerd, runc, kube-proxy, kube-scheduler, CoreDNS) that runs pods.');

  local
    .command('up <name>')
    .description('Start a local cluster in the background and print its kubeconfig path.')
    .option('--address <ip>', 'address the API server listens on', '127.0.0.1')
    .option('--agent [where]', 'also install kubepeer and run its agent: "process" (beside the cluster, in the background; the default) or "in-cluster" (as pods on the real node, from the locally built agent image)')
    .option('--netns', `run the cluster on its own network-namespace host on the shared bridge ${DEFAULT_BRIDGE} (${DEFAULT_SUBNET}; the machine reaches it at its address), with a real node that runs pods; needs root`)
    .option('--no-node', 'with --netns: no real node (a placeholder Node that runs nothing, as on loopback)')
    .option('--max-pods <n>', 'pod capacity of the real node (kubelet maxPods)', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > 1000) throw new CliError(`--max-pods must be an integer from 1 to 1000, not "${v}"`, 2);
      return n;
    })
    .addHelpText('after', '\nExamples:\n  kubepeer local up a\n  kubectl --kubeconfig "$(kubepeer local up b --agent)" get nodes\n  sudo kubepeer local up c --netns --agent -o json      # a real node: pods run')
    .action(async (name: string, opts: { address: string; agent?: boolean | string; netns?: boolean; node: boolean; maxPods?: number }, cmd: Command) => {
      const g = globals(cmd, { printsObjects: false });
      const agentMode = opts.agent === true ? 'process' : opts.agent;
      if (agentMode !== undefined && agentMode !== 'process' && agentMode !== 'in-cluster') throw new CliError(`--agent takes "process" or "in-cluster", not "${agentMode}"`, 2);
      if (agentMode === 'in-cluster' && (!opts.netns || !opts.node)) throw new CliError('--agent=in-cluster needs a real node to run the agent pods: add --netns (as root)', 2);
      let address = opts.address;
      let netns: string | undefined;
      let host: NetnsHost | undefined;
      if (opts.netns) {
        const existing = getLocalCluster(name);
        if (existing?.running) throw new CliError(`local cluster "${name}" is already running (kubeconfig ${existing.kubeconfig}); stop it with: kubepeer local down ${name}`);
        host = await addNetnsHost(name, cmd.getOptionValueSource('address') === 'cli' ? opts.address : undefined);
        address = host.address;
        netns = host.netns;
      }
      progress(`starting local cluster "${name}" on ${address}${netns ? ` (network namespace ${netns} on bridge ${host!.bridge})` : ''}...`);
      let cluster;
      try {
        cluster = await startLocalCluster({ name, address, netns, persistent: true, node: netns && opts.node ? 'real' : 'placeholder', maxPods: opts.maxPods });
      } catch (e) {
        if (host) await removeNetnsHost(host.netns).catch(() => undefined);
        throw e;
      }
      let agentPid: number | undefined;
      let agentImage: string | undefined;
      let dashboardUrl: string | undefined;
      let inClusterDashboard: string | undefined;
      if (agentMode === 'in-cluster') {
        progress(`building the agent image and running the agent as pods of "${name}"...`);
        const before = await withClient({ kubeconfig: cluster.kubeconfig }, readAgentStatusVersion);
        agentImage = await deployInClusterAgent(cluster);
        // Ready replicas answer /readyz; the cluster ID and the status a person reads next come from
        // the leader, so return once it leads (a standby is ready too).
        progress(`waiting for an agent pod of "${name}" to lead...`);
        await withClient({ kubeconfig: cluster.kubeconfig }, (client) => waitForAgent(client, `the kubepeer agent pods of "${name}" (kubectl -n liqo get pods)`, () => undefined, before));
        // The pods serve the dashboard on the pod network, which only the node reaches: through
        // the API server's port-forward it is on this machine's loopback, a name its certificate holds.
        inClusterDashboard = `kubectl --kubeconfig ${cluster.kubeconfig} -n ${LIQO_NAMESPACE} port-forward deploy/kubepeer-agent 8443:8443, then open https://127.0.0.1:8443/`;
      } else if (agentMode === 'process') {
        progress(`installing kubepeer into "${name}"...`);
        await withClient({ kubeconfig: cluster.kubeconfig }, (client) => install(client, { clusterName: name }));
        progress(`starting the kubepeer agent for "${name}"...`);
        dashboardUrl = await withClient({ kubeconfig: cluster.kubeconfig }, async (client) => {
          const before = await readAgentStatusVersion(client);
          const agent = await spawnAgent({ ...cluster!, netns });
          recordAgent(name, agent);
          agentPid = agent.pid;
          progress(`waiting for the kubepeer agent of "${name}" to lead...`);
          return waitForAgent(client, `the kubepeer agent (pid ${agent.pid}, log ${agent.logFile})`, processGone(agent), before);
        });
      }
      progressDone();
      if (cluster.node?.kind !== 'real') {
        // stderr: stdout stays the kubeconfig path, for $(kubepeer local up ...).
        process.stderr.write(`note: "${name}" has a placeholder node: pods will not run on it. For a real node (kubelet, containerd, runc), run as root: kubepeer local up ${name} --netns\n`);
      }
      const dashboard = dashboardUrl ?? inClusterDashboard;
      if (dashboard) process.stderr.write(`dashboard: ${dashboard}  (a token to sign in: kubepeer dashboard token --kubeconfig ${cluster.kubeconfig})\n`);
      const kubeconfig = cluster.kubeconfig;
      printObject(
        g.output,
        { name, kubeconfig, apiUrl: cluster.apiUrl, node: cluster.node, ...(agentPid ? { agentPid } : {}), ...(dashboardUrl ? { dashboardUrl } : {}), ...(agentImage ? { agentImage } : {}), ...(netns ? { netns, address } : {}) },
        { text: () => kubeconfig },
      );
    });

  registerImageCommands(local);

  local
    .command('list')
    .description('List local clusters started with "kubepeer local up".')
    .action((_o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const rows = listLocalClusters();
      printList(g.output, rows, { resource: 'localcluster', empty: 'No local clusters. Start one with: kubepeer local up <name>', columns: [
        { header: 'Name', value: (r) => r.name },
        { header: 'Status', value: (r) => (r.running ? 'Running' : 'Stopped') },
        { header: 'API URL', value: (r) => r.apiUrl },
        { header: 'Node', value: (r) => (r.node ? `${r.node.name} (${r.node.kind})` : 'none') },
        { header: 'Agent', value: (r) => (r.agent ? (isAlive(r.agent.pid) ? `pid ${r.agent.pid}` : 'stopped') : 'none') },
        { header: 'Netns', value: (r) => r.netns ?? '', wide: true },
        { header: 'Kubeconfig', value: (r) => r.kubeconfig },
        { header: 'Age', value: (r) => age(r.startedAt) },
      ] });
    });

  local
    .command('down [name]')
    .description('Stop a local cluster (and its agent) and remove its files.')
    .option('--all', 'stop every local cluster')
    .action(async (name: string | undefined, opts: { all?: boolean }) => {
      const names = opts.all ? listLocalClusters().map((c) => c.name) : name ? [name] : [];
      if (!names.length) {
        if (opts.all) return;
        throw new CliError('name a cluster or pass --all (see: kubepeer local list)', 2);
      }
      for (const n of names) {
        const c = getLocalCluster(n);
        if (!c) throw new CliError(`no local cluster named "${n}" (see: kubepeer local list)`);
        await stopLocalCluster(n);
        if (c.netns) await removeNetnsHost(c.netns);
        process.stdout.write(`local cluster "${n}" stopped\n`);
      }
      await sleep(0);
    });
}

function realNodeOf(name: string): { socket: string } {
  const c = getLocalCluster(name);
  if (!c) throw new CliError(`no local cluster named "${name}" (see: kubepeer local list)`);
  if (!c.running) throw new CliError(`local cluster "${name}" is not running; start it with: kubepeer local up ${name} --netns`);
  if (c.node?.kind !== 'real' || !c.node.containerdSocket) throw new CliError(`local cluster "${name}" has no real node (it runs no pods); start it with: kubepeer local up ${name} --netns (as root)`);
  return { socket: c.node.containerdSocket };
}

function registerImageCommands(local: Command): void {
  const image = local.command('image').description("Images on a local cluster's real node (no registry is reachable: images are imported from archives).");
  image
    .command('import <cluster> <archive>')
    .description('Load an OCI or docker image archive (e.g. from "docker save" or "skopeo copy ... oci-archive:") into the node.')
    .action((cluster: string, archive: string) => {
      if (!existsSync(archive)) throw new CliError(`no such file: ${archive}`, 2);
      const { socket } = realNodeOf(cluster);
      let names: string[];
      try {
        names = importImage(controlPlaneBinDir(), socket, archive);
      } catch (e) {
        const detail = ((e as { stderr?: string }).stderr ?? (e as Error).message).trim();
        throw new CliError(`importing ${archive} into "${cluster}" failed: ${detail}`);
      }
      for (const n of names) process.stdout.write(`imported ${n}\n`);
      if (!names.length) process.stdout.write(`imported ${archive}: no new or changed image (already there, or the archive names none: give it an io.containerd.image.name or org.opencontainers.image.ref.name annotation)\n`);
    });
  image
    .command('list <cluster>')
    .description('List the images on the node (use them with imagePullPolicy: IfNotPresent).')
    .action((cluster: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const { socket } = realNodeOf(cluster);
      printList(g.output, listImages(controlPlaneBinDir(), socket), {
        resource: 'image',
        empty: 'No images.',
        columns: [
          { header: 'Name', value: (r) => r.name },
          { header: 'Size', value: (r) => r.size },
          { header: 'Digest', value: (r) => r.digest, wide: true },
        ],
      });
    });
}

/**
 * A namespace host for `local up --netns`, on the shared persistent bridge (kp-br0,
 * 198.18.0.0/24, 198.18.0.1 in the root namespace so that kubectl on this machine reaches it).
 * A host left over by a cluster that is no longer running is replaced.
 */
async function addNetnsHost(name: string, address: string | undefined): Promise<NetnsHost> {
  try {
    assertNetnsSupport();
    const lab = new NetnsLab();
    if (await lab.getHost(name)) await lab.removeHost(name);
    return await lab.addHost(name, address ? { address } : {});
  } catch (e) {
    if (e instanceof NetnsError) throw new CliError(`--netns: ${e.message}`);
    throw e;
  }
}

/** Removes a cluster's namespace host, and the bridge when it was the last host on it. */
async function removeNetnsHost(netns: string): Promise<void> {
  const lab = new NetnsLab();
  const host = await lab.hostByNetns(netns);
  if (host) await lab.removeHost(host.name);
  await lab.removeBridgeIfUnused();
}
