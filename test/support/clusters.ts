/**
 * Real local control planes and real agent processes for integration tests. Each suite starts
 * what it needs once (beforeAll) and stops it in afterAll; processes also die with the test runner
 * (stdin pipes), even when it is killed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLocalCluster, type LocalCluster, type StartLocalClusterOptions } from '../../src/localcluster/localCluster.js';
import { install } from '../../src/install/install.js';
import { controlPlaneBinDir } from '../../src/localcluster/binaries.js';
import { waitFor } from './wait.js';
import { scratchDir } from './scratch.js';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const cli = join(repoRoot, 'bin', 'kubepeer.js');

export async function startCluster(name: string, opts: Partial<StartLocalClusterOptions> & { install?: boolean } = {}): Promise<LocalCluster> {
  const cluster = await startLocalCluster({ name, ...opts });
  if (opts.install !== false) await install(cluster.client(), { clusterName: name });
  return cluster;
}

export interface AgentProcess {
  proc: ChildProcess;
  logFile: string;
  pid: number;
  /** Graceful stop (SIGTERM) and wait. */
  stop(): Promise<void>;
  /** SIGKILL and wait. */
  kill(): Promise<void>;
  exited(): boolean;
}

/** Starts `kubepeer agent` for a cluster as a separate process (the way it runs for real). */
export function startAgent(cluster: Pick<LocalCluster, 'kubeconfig' | 'name'> & { netns?: string }, args: string[] = []): AgentProcess {
  const dir = scratchDir(`kubepeer-agent-${cluster.name}-`);
  const logFile = join(dir, 'agent.log');
  const argv = [process.execPath, cli, 'agent', '--kubeconfig', cluster.kubeconfig, ...args];
  const cmd = cluster.netns ? ['ip', 'netns', 'exec', cluster.netns, ...argv] : argv;
  const proc = spawn(cmd[0]!, cmd.slice(1), {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, KUBEPEER_EXIT_WITH_PARENT: '1', KUBEPEER_LOG_LEVEL: process.env.KUBEPEER_AGENT_LOG_LEVEL ?? 'debug' },
  });
  const out = createWriteStream(logFile);
  proc.stdout!.pipe(out);
  proc.stderr!.pipe(out);
  let exited = false;
  const done = new Promise<void>((r) => proc.once('exit', () => ((exited = true), r())));
  return {
    proc,
    logFile,
    pid: proc.pid!,
    exited: () => exited,
    stop: async () => {
      if (!exited) proc.kill('SIGTERM');
      await done;
    },
    kill: async () => {
      if (!exited) proc.kill('SIGKILL');
      await done;
    },
  };
}

/** Waits until the agent answers /readyz (it logs its metrics URL at start). */
export async function agentMetricsUrl(agent: AgentProcess): Promise<string> {
  const { readFileSync } = await import('node:fs');
  return waitFor(`agent ${agent.pid} to log its metrics URL (log ${agent.logFile})`, () => {
    if (agent.exited()) throw new Error(`agent exited; log:\n${readFileSync(agent.logFile, 'utf8').slice(-3000)}`);
    const m = /"metricsUrl":"([^"]+)"/.exec(readFileSync(agent.logFile, 'utf8'));
    return m?.[1];
  }, { timeoutMs: 60_000 });
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function kubectl(cluster: Pick<LocalCluster, 'kubeconfig'>, args: string[], input?: string): KubectlResult {
  const r = spawnSync(join(controlPlaneBinDir(), 'kubectl'), ['--kubeconfig', cluster.kubeconfig, ...args], { input, encoding: 'utf8' });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function kubepeer(args: string[], env: Record<string, string> = {}): KubectlResult {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
