/**
 * `kubepeer demo` (what `npm start` runs without $KUBECONFIG) as a person runs it: in its own
 * process group, stopped with SIGINT to the whole group as a terminal's Ctrl-C sends it. As root
 * both clusters have real nodes on namespace hosts; the loopback variant (--no-netns) has
 * placeholder nodes and says so. Both leave nothing behind.
 *
 * The demo uses its fixed bridge kp-demo0 (198.18.10.0/24): do not run `npm start` meanwhile.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cgroupDirs, shimPids } from '../../src/localcluster/node/cleanup.js';
import type { ClusterState } from '../../src/localcluster/state.js';
import { Images } from '../../src/localcluster/node/images.js';
import { repoRoot } from '../support/clusters.js';
import { canUseNetns, waitUntil } from '../support/netns.js';

const cli = join(repoRoot, 'bin', 'kubepeer.js');

interface Demo {
  proc: ChildProcess;
  out: () => string;
  err: () => string;
  exited: Promise<number | null>;
}

function startDemo(args: string[]): Demo {
  // detached: a process group of its own, like a shell job, so SIGINT can go to the whole group.
  const proc = spawn(process.execPath, [cli, 'demo', ...args], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return { proc, out: () => out, err: () => err, exited };
}

async function summary(demo: Demo): Promise<string> {
  return waitUntil(() => (demo.out().includes('Press Ctrl-C') ? demo.out() : demo.proc.exitCode !== null ? Promise.reject(new Error(`demo exited ${demo.proc.exitCode}: ${demo.err()}`)) : undefined), {
    timeoutMs: 300_000,
    intervalMs: 200,
    what: 'the demo summary',
    describe: () => ({ stdout: demo.out().slice(-1500), stderr: demo.err().slice(-1500) }),
  });
}

/** Ctrl-C as a terminal sends it: SIGINT to every process of the group. */
async function ctrlC(demo: Demo): Promise<number | null> {
  process.kill(-demo.proc.pid!, 'SIGINT');
  return waitUntil(() => (demo.proc.exitCode !== null || demo.proc.signalCode !== null ? demo.exited : undefined), {
    timeoutMs: 90_000,
    intervalMs: 100,
    what: 'the demo to stop after Ctrl-C',
    describe: () => demo.err().slice(-1500),
  });
}

function clusterDirsOf(out: string): string[] {
  return [...out.matchAll(/^export KUBECONFIG=(\S+)$/gm)].map((m) => dirname(m[1]!));
}

let running: Demo | undefined;
afterEach(async () => {
  // A failed test still stops its demo (and so its clusters and namespaces).
  if (running && running.proc.exitCode === null && running.proc.signalCode === null) await ctrlC(running).catch(() => process.kill(-running!.proc.pid!, 'SIGKILL'));
  running = undefined;
});

describe.skipIf(!canUseNetns)('kubepeer demo', () => {
  it('as root: real nodes on namespace hosts, API servers on :6443, a kubectl run line that prints from a pod; Ctrl-C removes folders, namespaces, bridge, shims and cgroups', async () => {
    const demo = (running = startDemo(['--timeout', '240']));
    const out = await summary(demo);
    const dirs = clusterDirsOf(out);
    expect(dirs).toHaveLength(2);
    const states = dirs.map((d) => JSON.parse(readFileSync(join(d, 'state.json'), 'utf8')) as ClusterState);
    for (const s of states) {
      expect(s.node?.kind).toBe('real');
      // The seed's ForeignCluster example (apiUrl https://<address>:6443) reaches this API server.
      expect(s.apiUrl).toBe(`https://${s.address}:6443`);
    }
    expect(out).toMatch(/^node\/alpha\s+Ready/m);

    const run = out.split('\n').find((l) => / run hello /.test(l));
    expect(run).toContain(`--image=${Images.busybox()}`);
    expect(run).toContain('--image-pull-policy=IfNotPresent');
    const r = spawnSync('sh', ['-c', run!], { encoding: 'utf8', timeout: 120_000 });
    expect(r.stdout, r.stderr).toContain('hello from a pod on alpha');
    expect(r.status, r.stderr).toBe(0);

    // The terminal shows progress, not the JSON lines of the demo's components or agents.
    expect(demo.err()).not.toMatch(/^\{"level"/m);
    const logDir = /(\/\S*kubepeer-demo-[^/\s]+)\/demo\.log/.exec(out)?.[1];
    expect(logDir && existsSync(logDir)).toBeTruthy();

    expect(await ctrlC(demo)).toBe(0);
    for (const d of [...dirs, logDir!]) expect(existsSync(d), `${d} left behind`).toBe(false);
    for (const s of states) {
      expect(shimPids(s.node!.containerdSocket!)).toEqual([]);
      expect(cgroupDirs(s.node!.cgroupRoot!)).toEqual([]);
    }
    expect(spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout).not.toContain('kpdemo-');
    expect(spawnSync('ip', ['link', 'show', 'kp-demo0']).status).not.toBe(0);
  });

  it('on loopback (--no-netns): placeholder nodes, the summary says pods will not run there; Ctrl-C removes the folders', async () => {
    const demo = (running = startDemo(['--no-netns', '--timeout', '120']));
    const out = await summary(demo);
    const dirs = clusterDirsOf(out);
    expect(dirs).toHaveLength(2);
    expect(out).toMatch(/^node\/alpha-host\s+Ready/m);
    expect(out).toContain('pods will not run there');
    expect(out).not.toContain(' run hello ');
    expect(await ctrlC(demo)).toBe(0);
    for (const d of dirs) expect(existsSync(d), `${d} left behind`).toBe(false);
  });
});
