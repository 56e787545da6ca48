/**
 * The child processes of one local cluster's supervisor (etcd, kube-apiserver, the node's
 * containerd and kubelet, ...): started with their output in a log file each, tied to the
 * supervisor's life, waited for with a probe, and stopped in reverse order.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { logger } from '../observability/logger.js';

const log = logger('localcluster');

export class ProcessError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export interface ManagedProcess {
  name: string;
  proc: ChildProcess;
  logFile: string;
  exited: boolean;
  env: NodeJS.ProcessEnv;
}

export interface LaunchOptions {
  env?: NodeJS.ProcessEnv;
  /** A command (with its arguments) the component is run under, e.g. `nsenter ...`. */
  wrapper?: string[];
}

let setprivPath: string | null | undefined;
function findSetpriv(): string | undefined {
  setprivPath ??= (process.env.PATH ?? '/usr/bin:/bin').split(':').map((d) => join(d, 'setpriv')).find((f) => existsSync(f)) ?? null;
  return setprivPath ?? undefined;
}

export class ProcessSet {
  private procs: ManagedProcess[] = [];
  private stopping = false;
  /** Processes we are stopping on purpose (restart): their exit is expected. */
  private expected = new Set<ChildProcess>();
  onUnexpectedExit?: (component: string, code: number | null) => void;

  constructor(
    private readonly logDir: string,
    private readonly cwd: string,
  ) {}

  launch(component: string, bin: string, args: string[], opts: LaunchOptions = {}): ManagedProcess {
    const logFile = join(this.logDir, `${component}.log`);
    const fd = openSync(logFile, 'a');
    // With setpriv (util-linux) the component gets SIGKILL when the supervisor dies, even by
    // SIGKILL, so no component outlives it; setpriv execs, so the pid stays the component's.
    const setpriv = findSetpriv();
    const argv = [...(opts.wrapper ?? []), ...(setpriv ? [setpriv, '--pdeathsig', 'SIGKILL', '--'] : []), bin, ...args];
    const env = opts.env ?? process.env;
    const proc = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', fd, fd], cwd: this.cwd, env });
    closeSync(fd);
    const managed: ManagedProcess = { name: component, proc, logFile, exited: false, env };
    proc.on('exit', (code) => {
      managed.exited = true;
      if (!this.stopping && !this.expected.has(proc)) {
        log.error({ component, code, logFile }, `${component} exited unexpectedly`);
        this.onUnexpectedExit?.(component, code);
      }
    });
    proc.on('error', (err) => log.error({ component, err }, `${component} failed to start`));
    this.procs.push(managed);
    return managed;
  }

  get(component: string): ManagedProcess | undefined {
    return this.procs.find((p) => p.name === component);
  }

  pids(): Record<string, number> {
    return Object.fromEntries(this.procs.map((p) => [p.name, p.proc.pid ?? 0]));
  }

  /** Polls `probe` until it answers true; fails early, with the log's tail, when the component exits. */
  async waitFor(component: string, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const managed = this.get(component);
    while (Date.now() < deadline) {
      if (managed?.exited) {
        throw new ProcessError('ComponentExited', `${component} exited during start-up; last log lines:\n${tail(managed.logFile)}`);
      }
      if (await probe().catch(() => false)) return;
      await sleep(100);
    }
    throw new ProcessError('StartTimeout', `${component} not ready after ${timeoutMs / 1000}s; last log lines:\n${managed ? tail(managed.logFile) : ''}`);
  }

  /** Restarts one component in place with the same command line. */
  async restart(component: string, graceMs: number): Promise<void> {
    const managed = this.get(component);
    if (!managed) throw new Error(`no ${component}`);
    const { spawnargs } = managed.proc;
    this.expected.add(managed.proc);
    await terminate(managed, graceMs);
    this.expected.delete(managed.proc);
    this.procs = this.procs.filter((p) => p !== managed);
    const fd = openSync(managed.logFile, 'a');
    const proc = spawn(spawnargs[0]!, spawnargs.slice(1), { stdio: ['ignore', fd, fd], cwd: this.cwd, env: managed.env });
    closeSync(fd);
    const again: ManagedProcess = { name: component, proc, logFile: managed.logFile, exited: false, env: managed.env };
    proc.on('exit', (code) => {
      again.exited = true;
      if (!this.stopping && !this.expected.has(proc)) this.onUnexpectedExit?.(component, code);
    });
    this.procs.push(again);
  }

  /** Stops one component (SIGTERM, SIGKILL after the grace period) and forgets it. */
  async stopOne(component: string, graceMs: number): Promise<void> {
    const managed = this.get(component);
    if (!managed) return;
    this.expected.add(managed.proc);
    await terminate(managed, graceMs);
    this.procs = this.procs.filter((p) => p !== managed);
  }

  /** Stops every process, last started first. */
  async stopAll(graceMs: number): Promise<void> {
    this.stopping = true;
    for (const p of [...this.procs].reverse()) await terminate(p, graceMs);
    this.procs = [];
  }
}

export async function terminate(p: ManagedProcess, graceMs: number): Promise<void> {
  if (p.exited || p.proc.exitCode !== null || p.proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => p.proc.once('exit', () => resolve()));
  p.proc.kill('SIGTERM');
  const timer = setTimeout(() => p.proc.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

export function tail(file: string, lines = 25): string {
  if (!existsSync(file)) return '(no log)';
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

/** Whether a process exists (signal 0) and is not a zombie waiting for a parent that never reaps it. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // /proc/<pid>/stat: "pid (comm) S ..."; comm may contain spaces and parentheses
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc: trust the signal
  }
}
