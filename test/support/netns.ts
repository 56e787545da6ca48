/**
 * Network-namespace hosts for tests: a lab of its own per test run (unique bridge, subnet and
 * namespace prefix, removed on exit even when a test fails), and JSON-line processes started
 * inside a host with helpers to wait for a line with a deadline and a readable failure.
 */
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { isRoot, NetnsLab, spawnInNetns, type NetnsHost } from '../../src/localcluster/netns.js';

export { isRoot, NetnsLab, spawnInNetns, execInNetns, type NetnsHost } from '../../src/localcluster/netns.js';

/** Whether this machine can run namespace tests (root and iproute2). */
export const canUseNetns = isRoot();

/** A lab for one test run; destroy it in afterAll (it also goes away on process exit). */
export function createTestLab(): NetnsLab {
  return NetnsLab.forTestRun();
}

/**
 * Network-namespace hosts for the tests of one describe block: a lab created before them and
 * destroyed after them, and each test's hosts and processes removed after it, even when it fails.
 */
export function netnsHostsPerTest(namePrefix: string): {
  host(opts?: { address?: string }): Promise<NetnsHost>;
  start(h: NetnsHost, label: string, command: string, args: string[], env?: NodeJS.ProcessEnv): NetnsJsonProcess;
  running: NetnsJsonProcess[];
  /** The lab (after beforeAll), for link cuts and the like. */
  lab(): NetnsLab;
} {
  let lab: NetnsLab | undefined;
  let seq = 0;
  const running: NetnsJsonProcess[] = [];
  const hosts: NetnsHost[] = [];
  beforeAll(() => {
    lab = createTestLab();
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((p) => p.kill()));
    for (const h of hosts.splice(0)) await lab!.removeHost(h.name);
  });
  afterAll(async () => {
    await lab?.destroy();
  });
  return {
    running,
    lab: () => lab!,
    async host(opts = {}) {
      const h = await lab!.addHost(`${namePrefix}${++seq}`, opts);
      hosts.push(h);
      return h;
    },
    start(h, label, command, args, env = {}) {
      const p = NetnsJsonProcess.start(h, label, command, args, env);
      running.push(p);
      return p;
    },
  };
}

/**
 * Waits until `check` returns a value other than undefined/false, polling every `intervalMs`, or
 * fails after `timeoutMs` with `describe()` (the last observed state) in the message.
 */
export async function waitUntil<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  opts: { timeoutMs: number; what: string; describe?: () => unknown; intervalMs?: number },
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) {
      const state = opts.describe ? JSON.stringify(opts.describe(), null, 1) : '(no state)';
      throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${opts.what}; last state: ${state}`);
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 25));
  }
}

export type JsonLine = Record<string, unknown> & { event?: string; at?: number };

/** A process in a namespace host that prints one JSON object per stdout line and reads commands on stdin. */
export class NetnsJsonProcess {
  readonly lines: JsonLine[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<number | null>;
  private exitCode: number | null | undefined;

  constructor(
    readonly host: NetnsHost,
    readonly label: string,
    readonly child: ChildProcess,
  ) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        this.lines.push(JSON.parse(line) as JsonLine);
      } catch {
        this.stderr.push(`(stdout) ${line}`);
      }
    });
    createInterface({ input: child.stderr! }).on('line', (line) => {
      this.stderr.push(line);
      if (this.stderr.length > 200) this.stderr.shift();
    });
    this.exited = new Promise((resolve) => {
      child.once('exit', (code) => {
        this.exitCode = code;
        resolve(code);
      });
    });
  }

  static start(host: NetnsHost, label: string, command: string, args: string[], env: NodeJS.ProcessEnv = {}): NetnsJsonProcess {
    const child = spawnInNetns(host, command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env }, cwd: process.cwd() });
    return new NetnsJsonProcess(host, label, child);
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  events(name: string): JsonLine[] {
    return this.lines.filter((l) => l.event === name);
  }

  /** A summary of what the process said, for failure messages. */
  describe(): unknown {
    return { process: this.label, host: this.host.address, exit: this.exitCode, lastLines: this.lines.slice(-15), stderr: this.stderr.slice(-10) };
  }

  /** Waits for a line matching `predicate` (already printed or still to come). */
  waitFor(predicate: (l: JsonLine) => boolean, what: string, timeoutMs = 10_000): Promise<JsonLine> {
    return waitUntil(() => this.lines.find(predicate) ?? (this.running ? undefined : Promise.reject(new Error(`${this.label} exited: ${JSON.stringify(this.describe())}`))), {
      timeoutMs,
      what: `${this.label}: ${what}`,
      describe: () => this.describe(),
    });
  }

  send(command: Record<string, unknown>): void {
    this.child.stdin!.write(`${JSON.stringify(command)}\n`);
  }

  /** Sends a command and waits for the reply line `{event: <reply>, id}`. */
  async request(command: Record<string, unknown>, reply: string, timeoutMs = 5000): Promise<JsonLine> {
    const id = Math.random().toString(36).slice(2);
    this.send({ ...command, id });
    return this.waitFor((l) => l.event === reply && l.id === id, `reply ${reply} to ${String(command.cmd)}`, timeoutMs);
  }

  /** Ends the process: SIGTERM, then SIGKILL after `graceMs`. */
  async kill(graceMs = 3000): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}
