/**
 * Removes every trace of a real node's workloads, also after a SIGKILL of the supervisor, the
 * kubelet or containerd: containerd's shims survive their parent by design, and containers live in
 * the cluster's cgroup subtree. Mounts need nothing here (they lived in the supervisor's private
 * mount namespace and died with it); addresses, iptables rules and pod network namespaces live in the
 * cluster's network namespace, which `local down` and the tests delete.
 *
 * Safe to run from the host's namespaces or the supervisor's, any number of times.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isAlive } from '../processes.js';
import { CGROUP_MOUNT, listDirs } from './hostPrep.js';

/** Host pids whose command line names `needle` as one argument (e.g. the containerd socket). */
export function processesWithArg(needle: string, program: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv[0]?.endsWith(program) && argv.includes(needle)) pids.push(Number(entry));
    } catch {
      /* exited meanwhile */
    }
  }
  return pids;
}

/** The shims of the containerd listening on `socket` (`-address <socket>` in their argv). */
export function shimPids(socket: string): number[] {
  return processesWithArg(socket, 'containerd-shim-runc-v2');
}

/** Every cgroup directory of `cgroupRoot`, in every mounted hierarchy, deepest first. */
export function cgroupDirs(cgroupRoot: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const child of listDirs(dir)) walk(join(dir, child));
    out.push(dir);
  };
  const hierarchies = existsSync(join(CGROUP_MOUNT, 'cgroup.procs')) ? [''] : listDirs(CGROUP_MOUNT);
  for (const h of hierarchies) {
    const root = join(CGROUP_MOUNT, h, cgroupRoot);
    if (existsSync(root)) walk(root);
  }
  return out;
}

function pidsIn(dir: string): number[] {
  try {
    return readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function kill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

function setFrozen(dirs: string[], frozen: boolean): void {
  for (const d of dirs) {
    const v1 = join(d, 'freezer.state');
    const v2 = join(d, 'cgroup.freeze');
    try {
      if (existsSync(v1)) writeFileSync(v1, frozen ? 'FROZEN' : 'THAWED');
      else if (existsSync(v2)) writeFileSync(v2, frozen ? '1' : '0');
    } catch {
      /* a child cgroup may already be gone */
    }
  }
}

export interface NodeCleanupReport {
  shimsKilled: number;
  processesKilled: number;
  cgroupsRemoved: number;
  cgroupsLeft: string[];
}

/**
 * Kills the shims of `containerdSocket`, then everything left in `cgroupRoot` (frozen first, so
 * nothing forks while we kill), and removes the cgroup directories.
 */
export async function cleanupNode(containerdSocket: string, cgroupRoot: string, timeoutMs = 10_000): Promise<NodeCleanupReport> {
  const shims = shimPids(containerdSocket);
  for (const pid of shims) kill(pid);
  let processesKilled = 0;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const dirs = cgroupDirs(cgroupRoot);
    const pids = [...new Set(dirs.flatMap(pidsIn))];
    if (!pids.length) break;
    setFrozen(dirs, true);
    for (const pid of pids) kill(pid);
    processesKilled += pids.length;
    // SIGKILL is delivered when a frozen task thaws.
    setFrozen(dirs, false);
    if (Date.now() > deadline) break;
    await sleep(50);
  }
  let cgroupsRemoved = 0;
  const cgroupsLeft: string[] = [];
  for (let attempt = 0; attempt < 40; attempt++) {
    cgroupsLeft.length = 0;
    for (const dir of cgroupDirs(cgroupRoot)) {
      try {
        rmdirSync(dir);
        cgroupsRemoved++;
      } catch {
        cgroupsLeft.push(dir);
      }
    }
    if (!cgroupsLeft.length) break;
    await sleep(50);
  }
  // The shared parent (/kubepeer) goes when it is empty.
  const parent = cgroupRoot.split('/').filter(Boolean)[0];
  if (parent) for (const h of listDirs(CGROUP_MOUNT)) tryRmdir(join(CGROUP_MOUNT, h, parent));
  return { shimsKilled: shims.length, processesKilled, cgroupsRemoved, cgroupsLeft };
}

function tryRmdir(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    /* not empty: another cluster's */
  }
}

/**
 * Every running real node is recorded here (one JSON file each), so that a node whose supervisor
 * was killed (SIGKILL, or its network namespace deleted under it) is cleaned up by the next start of
 * any node, `local down`, or the test set-up: nothing else would know its socket and cgroup.
 */
export const NODE_REGISTRY = '/run/kubepeer/nodes';

export interface NodeRecord {
  supervisorPid: number;
  clusterDir: string;
  containerdSocket: string;
  cgroupRoot: string;
  /** Remove clusterDir when sweeping (ephemeral clusters). */
  ephemeral: boolean;
}

function recordFile(cgroupRoot: string): string {
  return join(NODE_REGISTRY, `${cgroupRoot.split('/').filter(Boolean).join('_')}.json`);
}

export function recordNode(r: NodeRecord): void {
  mkdirSync(NODE_REGISTRY, { recursive: true });
  writeFileSync(recordFile(r.cgroupRoot), JSON.stringify(r));
}

export function forgetNode(cgroupRoot: string): void {
  rmSync(recordFile(cgroupRoot), { force: true });
}

/** Cleans up the nodes whose supervisor is gone; returns how many. */
export async function sweepDeadNodes(): Promise<number> {
  let swept = 0;
  let files: string[] = [];
  try {
    files = readdirSync(NODE_REGISTRY).filter((f) => f.endsWith('.json'));
  } catch {
    return 0;
  }
  for (const f of files) {
    let r: NodeRecord;
    try {
      r = JSON.parse(readFileSync(join(NODE_REGISTRY, f), 'utf8')) as NodeRecord;
    } catch {
      rmSync(join(NODE_REGISTRY, f), { force: true });
      continue;
    }
    if (isAlive(r.supervisorPid)) continue;
    await cleanupNode(r.containerdSocket, r.cgroupRoot);
    if (r.ephemeral) rmSync(r.clusterDir, { recursive: true, force: true });
    rmSync(join(NODE_REGISTRY, f), { force: true });
    swept++;
  }
  return swept;
}
