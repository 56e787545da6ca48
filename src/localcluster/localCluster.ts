/**
 * Start and stop local control planes. Each runs under its own supervisor process
 * (supervisorMain.ts), so that a cluster started by `kubepeer local up` outlives the CLI, and a
 * cluster started by a test dies with the test runner even when the runner is killed.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { controlPlaneBinDir } from './binaries.js';
import { clusterDir, stateRoot, type ClusterState, type NodeKind, type SupervisorSpec } from './state.js';
import { cleanupNode, sweepDeadNodes } from './node/cleanup.js';
import { isAlive } from './processes.js';
import { KubeClient } from '../k8s/rest.js';

const supervisorEntry = fileURLToPath(new URL('../../dist/localcluster/supervisorMain.js', import.meta.url));
const NAME_RE = /^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$/;

export class LocalClusterError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export interface StartLocalClusterOptions {
  name: string;
  /** Listen address of the API server (default 127.0.0.1). */
  address?: string;
  /** Run inside this network namespace (created by src/localcluster/netns.ts). */
  netns?: string;
  /** Survive the calling process (CLI `local up`); state under stateRoot(). Default: ephemeral. */
  persistent?: boolean;
  extraSANs?: string[];
  apiPort?: number;
  timeoutMs?: number;
  /** `real` needs `netns` (the kubelet refuses a loopback node IP); default `placeholder`. */
  node?: NodeKind;
  /** Pod capacity of a real node. */
  maxPods?: number;
}

export interface LocalCluster extends ClusterState {
  client(): KubeClient;
  stop(): Promise<void>;
  /**
   * Restart kube-apiserver (SIGUSR1) or etcd (SIGUSR2) in place; resolves once the old process has
   * exited (the new one may not answer yet), so that nothing the caller does next reaches the old one.
   */
  restart(component: 'kube-apiserver' | 'etcd'): Promise<void>;
}

export { isAlive } from './processes.js';

export async function startLocalCluster(opts: StartLocalClusterOptions): Promise<LocalCluster> {
  if (!NAME_RE.test(opts.name)) throw new LocalClusterError('InvalidName', `cluster name "${opts.name}" must be a DNS label of at most 32 characters (lowercase letters, digits, '-')`);
  if (!existsSync(supervisorEntry)) throw new LocalClusterError('NotBuilt', `${supervisorEntry} is missing: run "npm run build" (or npm install) first`);
  if (opts.node === 'real' && !opts.netns) throw new LocalClusterError('RealNodeNeedsNetns', `a real node needs a network-namespace host (the kubelet refuses a loopback node IP): start "${opts.name}" with --netns (as root)`);
  const binDir = controlPlaneBinDir();
  let dir: string;
  if (opts.persistent) {
    dir = clusterDir(opts.name);
    const existing = readState(dir);
    if (existing && isAlive(existing.supervisorPid)) throw new LocalClusterError('AlreadyRunning', `local cluster "${opts.name}" is already running (kubeconfig ${existing.kubeconfig}); stop it with: kubepeer local down ${opts.name}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
  } else {
    dir = mkdtempSync(join(tmpdir(), `kubepeer-${opts.name}-`));
  }
  const spec: SupervisorSpec = {
    name: opts.name,
    dir,
    address: opts.address ?? '127.0.0.1',
    binDir,
    netns: opts.netns,
    extraSANs: opts.extraSANs,
    apiPort: opts.apiPort,
    ephemeral: !opts.persistent,
    node: opts.node ?? 'placeholder',
    maxPods: opts.maxPods,
  };
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const out = openSync(join(dir, 'logs', 'supervisor.log'), 'a');
  const argv = [process.execPath, supervisorEntry, JSON.stringify(spec)];
  const cmd = opts.netns ? ['ip', 'netns', 'exec', opts.netns, ...argv] : argv;
  const child = spawn(cmd[0]!, cmd.slice(1), {
    detached: !!opts.persistent,
    stdio: [opts.persistent ? 'ignore' : 'pipe', out, out],
    env: { ...process.env, KUBEPEER_LOG_LEVEL: process.env.KUBEPEER_LOG_LEVEL ?? 'info' },
  });
  closeSync(out);
  let exitCode: number | null = null;
  child.on('exit', (code) => (exitCode = code ?? -1));
  if (opts.persistent) child.unref();
  // In ephemeral mode the pipe to the supervisor's stdin is what keeps it alive; do not let it
  // keep this process alive, though.
  (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();

  const deadline = Date.now() + (opts.timeoutMs ?? 180_000);
  for (;;) {
    const state = readState(dir);
    if (state) return handle(state, child.pid!);
    if (existsSync(join(dir, 'error.json'))) {
      const err = JSON.parse(readFileSync(join(dir, 'error.json'), 'utf8')) as { reason: string; message: string };
      throw new LocalClusterError(err.reason, `local cluster "${opts.name}" failed to start: ${err.message}`);
    }
    if (exitCode !== null) throw new LocalClusterError('SupervisorExited', `local cluster "${opts.name}" supervisor exited (code ${exitCode}); see ${join(dir, 'logs', 'supervisor.log')}`);
    if (Date.now() > deadline) {
      child.kill('SIGTERM');
      throw new LocalClusterError('StartTimeout', `local cluster "${opts.name}" not ready in time; see ${join(dir, 'logs')}`);
    }
    await sleep(100);
  }
}

function readState(dir: string): ClusterState | null {
  const f = join(dir, 'state.json');
  if (!existsSync(f)) return null;
  try {
    return JSON.parse(readFileSync(f, 'utf8')) as ClusterState;
  } catch {
    return null;
  }
}

function handle(state: ClusterState, pid: number): LocalCluster {
  let client: KubeClient | undefined;
  return {
    ...state,
    supervisorPid: pid,
    client: () => (client ??= KubeClient.fromFile(state.kubeconfig)),
    stop: async () => {
      client?.close();
      await stopSupervisor(state.supervisorPid);
      await sweepAfterSupervisor(state);
    },
    restart: async (component) => {
      const current = (JSON.parse(readFileSync(join(state.dir, 'state.json'), 'utf8')) as ClusterState).pids[component];
      process.kill(state.supervisorPid, component === 'kube-apiserver' ? 'SIGUSR1' : 'SIGUSR2');
      const deadline = Date.now() + 30_000;
      while (current && isAlive(current) && Date.now() < deadline) await sleep(50);
    },
  };
}

async function stopSupervisor(pid: number, timeoutMs = 30_000): Promise<void> {
  if (!isAlive(pid)) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(50);
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
}

export interface ListedCluster extends ClusterState {
  running: boolean;
}

/** Clusters started with `kubepeer local up`. */
export function listLocalClusters(): ListedCluster[] {
  const root = join(stateRoot(), 'clusters');
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .map((n) => readState(join(root, n)))
    .filter((s): s is ClusterState => !!s)
    .map((s) => ({ ...s, running: isAlive(s.supervisorPid) }));
}

export function getLocalCluster(name: string): ListedCluster | null {
  const s = readState(clusterDir(name));
  return s ? { ...s, running: isAlive(s.supervisorPid) } : null;
}

export function recordAgent(name: string, agent: ClusterState['agent']): void {
  const dir = clusterDir(name);
  const s = readState(dir);
  if (!s) throw new LocalClusterError('NotFound', `no local cluster named "${name}"`);
  writeFileSync(join(dir, 'state.json'), JSON.stringify({ ...s, agent }, null, 2));
}

/** Stops a `local up` cluster (and its agent), then removes its directory. */
export async function stopLocalCluster(name: string): Promise<boolean> {
  const s = getLocalCluster(name);
  if (!s) return false;
  if (s.agent && isAlive(s.agent.pid)) await stopSupervisor(s.agent.pid, 15_000);
  // Children may survive a supervisor that was SIGKILLed: stop them by pid too.
  await stopSupervisor(s.supervisorPid);
  await sweepAfterSupervisor(s);
  rmSync(s.dir, { recursive: true, force: true });
  await sweepDeadNodes();
  return true;
}

/**
 * What a supervisor killed with SIGKILL leaves: its components (when setpriv was missing), and a
 * real node's shims, containers and cgroups. A supervisor that stopped in order left nothing, and
 * this finds nothing.
 */
export async function sweepAfterSupervisor(s: ClusterState): Promise<void> {
  for (const pid of Object.values(s.pids)) if (pid && isAlive(pid)) process.kill(pid, 'SIGKILL');
  if (s.node?.kind === 'real' && s.node.containerdSocket && s.node.cgroupRoot) await cleanupNode(s.node.containerdSocket, s.node.cgroupRoot);
  if (s.dir.startsWith(tmpdir())) rmSync(s.dir, { recursive: true, force: true });
}
