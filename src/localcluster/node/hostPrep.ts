/**
 * What the host of a real node must look like before containerd and the kubelet start, made inside
 * the supervisor's private mount namespace (`ip netns exec` runs it in one, with `/` a slave mount):
 * the cgroup hierarchies (`ip netns exec` remounts /sys, which hides them), a tmpfs over each path
 * the kubelet and containerd write whatever they are told, the cluster's cgroup root in every
 * hierarchy, and the forwarding sysctls of the cluster's network namespace. The host sees none of
 * these mounts, and they vanish with the namespace when the node's last process ends.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { HARD_CODED_NODE_PATHS } from './nodeConfig.js';

export const CGROUP_MOUNT = '/sys/fs/cgroup';

export interface CgroupHierarchy {
  /** Directory name under /sys/fs/cgroup: `memory`, `cpu`, `systemd`, `unified`, or '' for a v2-only host. */
  dir: string;
  /** Mount options (`memory`, `none,name=systemd`); undefined for cgroup2. */
  options?: string;
  v2: boolean;
}

/**
 * The hierarchies this process belongs to, from /proc/self/cgroup (the only view that survives the
 * remount of /sys). A v2-only host has the single line `0::/`.
 */
export function cgroupHierarchies(procSelfCgroup = readFileSync('/proc/self/cgroup', 'utf8')): CgroupHierarchy[] {
  const lines = procSelfCgroup.split('\n').filter(Boolean);
  const v1 = lines.map((l) => l.split(':')[1] ?? '').filter((c) => c !== '');
  if (!v1.length) return [{ dir: '', v2: true }];
  const out: CgroupHierarchy[] = v1.map((controllers) =>
    controllers.startsWith('name=') ? { dir: controllers.slice(5), options: `none,${controllers}`, v2: false } : { dir: controllers, options: controllers, v2: false },
  );
  if (lines.some((l) => l.startsWith('0::'))) out.push({ dir: 'unified', v2: true });
  return out;
}

function mounted(path: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((l) => l.split(' ')[4] === path);
}

function mount(args: string[]): void {
  execFileSync('mount', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Mounts the cgroup hierarchies when /sys/fs/cgroup is empty (inside `ip netns exec`). */
export function mountCgroups(hierarchies = cgroupHierarchies()): void {
  if (hierarchies.length === 1 && hierarchies[0]!.v2) {
    if (!mounted(CGROUP_MOUNT)) mount(['-t', 'cgroup2', 'cgroup2', CGROUP_MOUNT]);
    return;
  }
  if (!mounted(CGROUP_MOUNT)) mount(['-t', 'tmpfs', '-o', 'mode=755', 'cgroup', CGROUP_MOUNT]);
  for (const h of hierarchies) {
    const at = join(CGROUP_MOUNT, h.dir);
    if (mounted(at)) continue;
    mkdirSync(at, { recursive: true });
    if (h.v2) mount(['-t', 'cgroup2', 'cgroup2', at]);
    else mount(['-t', 'cgroup', '-o', h.options!, 'cgroup', at]);
  }
  // Names runc and cAdvisor look for when controllers share a hierarchy ("cpu,cpuacct").
  for (const h of hierarchies) {
    if (h.v2 || !h.dir.includes(',')) continue;
    for (const c of h.dir.split(',')) {
      const link = join(CGROUP_MOUNT, c);
      if (!existsSync(link)) execFileSync('ln', ['-s', h.dir, link]);
    }
  }
}

/** Creates `cgroupRoot` in every hierarchy (the kubelet refuses to start otherwise). */
export function createCgroupRoot(cgroupRoot: string, hierarchies = cgroupHierarchies()): void {
  for (const h of hierarchies) {
    const base = join(CGROUP_MOUNT, h.dir);
    const parts = cgroupRoot.split('/').filter(Boolean);
    let path = base;
    for (const part of parts) {
      path = join(path, part);
      if (existsSync(path)) continue;
      mkdirSync(path);
      // cgroup v1 cpuset children start with no CPUs and no memory nodes: inherit the parent's.
      if (h.dir.split(',').includes('cpuset')) {
        for (const f of ['cpuset.cpus', 'cpuset.mems']) writeFileSync(join(path, f), readFileSync(join(dirname(path), f), 'utf8').trim() || '0');
      }
    }
  }
}

/** A fresh tmpfs over each path the node's components write whatever they are told. */
export function mountPrivateNodePaths(): void {
  for (const p of HARD_CODED_NODE_PATHS) {
    mkdirSync(p, { recursive: true });
    if (!mounted(p)) mount(['-t', 'tmpfs', '-o', 'mode=755', 'kubepeer-node', p]);
  }
}

/** Pods route through the host, and bridged traffic passes iptables (kube-proxy's Service rules). */
export function enableForwarding(): void {
  writeFileSync('/proc/sys/net/ipv4/ip_forward', '1');
  const bridgeNf = '/proc/sys/net/bridge/bridge-nf-call-iptables';
  if (!existsSync(bridgeNf)) {
    try {
      execFileSync('modprobe', ['br_netfilter'], { stdio: 'ignore' });
    } catch {
      /* reported below */
    }
  }
  if (!existsSync(bridgeNf)) throw new Error('the br_netfilter kernel module is not loaded (Services need it): run "modprobe br_netfilter" as root');
  writeFileSync(bridgeNf, '1');
}

/** Mount points at or under `dir` in this mount namespace, deepest first. */
export function mountsUnder(dir: string, mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')): string[] {
  const prefix = dir.endsWith('/') ? dir : dir + '/';
  return mountinfo
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .map((p) => p.replace(/\\040/g, ' '))
    .filter((p) => p === dir || p.startsWith(prefix))
    .sort((a, b) => b.length - a.length);
}

/** Lazily unmounts everything under `dir` (kubelet volume mounts), so the directory can go. */
export function unmountUnder(dir: string): void {
  for (const m of mountsUnder(dir)) {
    try {
      execFileSync('umount', ['-l', m], { stdio: 'ignore' });
    } catch {
      /* already gone */
    }
  }
}

export function listDirs(path: string): string[] {
  try {
    return readdirSync(path, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
  } catch {
    return [];
  }
}
