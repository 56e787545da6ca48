/**
 * The images every local node comes with, built from what the machine has (no registry is
 * reachable): the pod sandbox (`pause`, a static program built with the machine's gcc), busybox
 * (Debian's busybox-static), CoreDNS (built from its Go module with the other binaries) and the
 * kubepeer agent (the machine's Node.js and the built app). Archives are cached under the binary
 * cache, keyed by their inputs, and imported into each node's containerd.
 *
 * Names never use `latest` (the kubelet would try to pull); pods use `imagePullPolicy: IfNotPresent`.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeOciArchive, type ImageConfig } from './ociImage.js';
import { AGENT_IMAGE } from '../../install/manifests.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const pauseSource = join(repoRoot, 'tools', 'pause', 'pause.c');
const BUSYBOX = '/bin/busybox';

function corednsVersion(): string {
  const mod = readFileSync(join(repoRoot, 'tools', 'coredns', 'go.mod'), 'utf8');
  return /github\.com\/coredns\/coredns (v[\d.]+)/.exec(mod)?.[1]?.slice(1) ?? '0.0.0';
}

function busyboxVersion(): string {
  const out = execFileSync(BUSYBOX, [], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n')[0] ?? '';
  return /BusyBox v([\d.]+)/.exec(out)?.[1] ?? '0.0.0';
}

/** The image names, documented in the README ("Images on local nodes"). */
export const Images = {
  pause: 'kubepeer.local/pause:1.0.0',
  busybox: () => `kubepeer.local/busybox:${busyboxVersion()}`,
  coredns: () => `kubepeer.local/coredns:${corednsVersion()}`,
  /** The name deploy/agent.yaml uses (one source: the install manifests). */
  agent: () => AGENT_IMAGE,
} as const;

export class ImageBuildError extends Error {
  readonly reason = 'ImageBuildFailed';
}

function imageCacheDir(): string {
  return join(process.env.KUBEPEER_CACHE_DIR ?? join(homedir(), '.cache', 'kubepeer'), 'images');
}

function fileKey(file: string): string {
  const st = statSync(file);
  return `${file}:${st.size}:${st.mtimeMs}`;
}

function archivePath(ref: string, inputs: string[]): string {
  const key = createHash('sha256').update(ref).update(inputs.join('\n')).digest('hex').slice(0, 16);
  return join(imageCacheDir(), `${ref.replace(/[^a-zA-Z0-9.-]+/g, '_')}-${key}.tar`);
}

/** Builds under way in this process, so two clusters started together build an image once. */
const building = new Map<string, Promise<string>>();

function cached(ref: string, inputs: string[], fill: (rootfs: string) => ImageConfig): Promise<string> {
  const out = archivePath(ref, inputs);
  let p = building.get(out);
  if (!p) {
    p = build(ref, out, fill);
    building.set(out, p);
    p.catch(() => building.delete(out));
  }
  return p;
}

async function build(ref: string, out: string, fill: (rootfs: string) => ImageConfig): Promise<string> {
  if (existsSync(out)) return out;
  mkdirSync(imageCacheDir(), { recursive: true });
  const rootfs = mkdtempSync(join(imageCacheDir(), '.rootfs-'));
  try {
    const config = fill(rootfs);
    await writeOciArchive({ ref, rootfs, config }, out);
  } catch (e) {
    throw new ImageBuildError(`building the image ${ref} failed: ${(e as Error).message}`);
  } finally {
    rmSync(rootfs, { recursive: true, force: true });
  }
  // Older archives of the same image (inputs changed since): only the newest is kept.
  const prefix = basename(out).slice(0, basename(out).lastIndexOf('-') + 1);
  for (const f of readdirSync(imageCacheDir())) if (f.startsWith(prefix) && f !== basename(out)) rmSync(join(imageCacheDir(), f), { force: true });
  return out;
}

function baseDirs(rootfs: string): void {
  for (const d of ['bin', 'etc', 'tmp', 'proc', 'sys', 'dev', 'var/run', 'root']) mkdirSync(join(rootfs, d), { recursive: true });
  chmodSync(join(rootfs, 'tmp'), 0o1777);
  writeFileSync(join(rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n');
  writeFileSync(join(rootfs, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
}

export function pauseImage(): Promise<string> {
  return cached(Images.pause, [fileKey(pauseSource)], (rootfs) => {
    try {
      execFileSync('gcc', ['-Os', '-static', '-s', '-o', join(rootfs, 'pause'), pauseSource], { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (e) {
      throw new Error(`gcc could not build the pause program (is gcc with static libc, Debian's libc6-dev, installed?): ${(e as { stderr?: Buffer }).stderr?.toString() ?? (e as Error).message}`);
    }
    return { Entrypoint: ['/pause'], User: '65534:65534' };
  });
}

export function busyboxImage(): Promise<string> {
  if (!existsSync(BUSYBOX)) throw new ImageBuildError(`${BUSYBOX} is missing: install Debian's busybox-static`);
  return cached(Images.busybox(), [fileKey(BUSYBOX)], (rootfs) => {
    baseDirs(rootfs);
    copyFileSync(BUSYBOX, join(rootfs, 'bin', 'busybox'));
    chmodSync(join(rootfs, 'bin', 'busybox'), 0o755);
    const applets = execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' }).split('\n').filter((a) => a && a !== 'busybox');
    for (const a of applets) symlinkSync('busybox', join(rootfs, 'bin', a));
    return { Cmd: ['sh'], Env: ['PATH=/bin'] };
  });
}

export function corednsImage(binDir: string): Promise<string> {
  const bin = join(binDir, 'coredns');
  return cached(Images.coredns(), [fileKey(bin)], (rootfs) => {
    copyFileSync(bin, join(rootfs, 'coredns'));
    chmodSync(join(rootfs, 'coredns'), 0o755);
    mkdirSync(join(rootfs, 'etc', 'coredns'), { recursive: true });
    return { Entrypoint: ['/coredns'], ExposedPorts: { '53/udp': {}, '53/tcp': {} } };
  });
}

/** Shared libraries a dynamically linked program needs, from ldd (absolute paths). */
function sharedLibraries(program: string): string[] {
  const out = execFileSync('ldd', [program], { encoding: 'utf8' });
  return [...out.matchAll(/(\/[^\s]+) \(0x[0-9a-f]+\)/g)].map((m) => m[1]!);
}

/** Production dependencies of the app (no dev tools), as folders under node_modules. */
function productionModules(): string[] {
  const out = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return out
    .split('\n')
    .filter((p) => p.includes('/node_modules/'))
    .map((p) => p.slice(repoRoot.length));
}

/** The agent: the machine's Node.js with its libraries, and the built app (dist, bin, deps). */
export function agentImage(): Promise<string> {
  const dist = join(repoRoot, 'dist', 'cli', 'main.js');
  if (!existsSync(join(repoRoot, 'dist'))) throw new ImageBuildError('dist/ is missing: run "npm run build" first');
  const inputs = [fileKey(process.execPath), fileKey(join(repoRoot, 'package-lock.json')), ...(existsSync(dist) ? [fileKey(dist)] : []), treeKey(join(repoRoot, 'dist'))];
  return cached(Images.agent(), inputs, (rootfs) => {
    baseDirs(rootfs);
    const node = join(rootfs, 'usr', 'local', 'bin', 'node');
    mkdirSync(dirname(node), { recursive: true });
    copyFileSync(process.execPath, node);
    chmodSync(node, 0o755);
    for (const lib of sharedLibraries(process.execPath)) {
      const target = join(rootfs, lib);
      mkdirSync(dirname(target), { recursive: true });
      copyFileSync(lib, target);
    }
    const app = join(rootfs, 'app');
    for (const part of ['package.json', 'bin', 'dist']) cpSync(join(repoRoot, part), join(app, part), { recursive: true, dereference: true });
    for (const mod of productionModules()) cpSync(join(repoRoot, mod), join(app, mod), { recursive: true, dereference: true });
    return { Entrypoint: ['/usr/local/bin/node', '/app/bin/kubepeer.js'], WorkingDir: '/app', Env: ['NODE_ENV=production', 'PATH=/usr/local/bin:/bin'], User: '65532:65532' };
  });
}

/** A cheap fingerprint of a folder: newest mtime and total size of its files. */
function treeKey(dir: string): string {
  let newest = 0;
  let size = 0;
  let count = 0;
  const walk = (d: string) => {
    for (const e of readdirEntries(d)) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const st = statSync(p);
        newest = Math.max(newest, st.mtimeMs);
        size += st.size;
        count++;
      }
    }
  };
  walk(dir);
  return `${dir}:${count}:${size}:${newest}`;
}

function readdirEntries(d: string) {
  try {
    return readdirSync(d, { withFileTypes: true });
  } catch {
    return [];
  }
}

/** `ctr` against one node's containerd, in the namespace the kubelet uses. */
export function ctr(binDir: string, socket: string, args: string[], input?: Buffer): string {
  return execFileSync(join(binDir, 'ctr'), ['--address', socket, '--namespace', 'k8s.io', ...args], { encoding: 'utf8', input, stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
}

/** Imports an OCI or docker archive into the node; returns the image names it added or changed. */
export function importImage(binDir: string, socket: string, archive: string): string[] {
  const before = new Map(listImages(binDir, socket).map((i) => [i.name, i.digest]));
  ctr(binDir, socket, ['images', 'import', '--all-platforms', archive]);
  return listImages(binDir, socket)
    .filter((i) => before.get(i.name) !== i.digest)
    .map((i) => i.name);
}

export interface NodeImage {
  name: string;
  digest: string;
  size: string;
}

/** What the node has, as `ctr images list` reports it (REF TYPE DIGEST SIZE PLATFORMS LABELS). */
export function listImages(binDir: string, socket: string): NodeImage[] {
  return ctr(binDir, socket, ['images', 'list'])
    .split('\n')
    .slice(1)
    .map((l) => /^(\S+)\s+(\S+)\s+(sha256:[0-9a-f]+)\s+(\S+(?: \S+)?)\s/.exec(l))
    .filter((m): m is RegExpExecArray => !!m && !m[1]!.startsWith('sha256:'))
    .map((m) => ({ name: m[1]!, digest: m[3]!, size: m[4]! }));
}
