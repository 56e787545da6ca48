/**
 * One local control plane: real etcd, kube-apiserver and kube-controller-manager processes with
 * a throwaway PKI, on free ports of one address, in one directory. No containers, no kubelet.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, readFileSync, rmSync, writeFileSync, closeSync, existsSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { createCA, createSigningKeyPair, issueCertificate } from '../trust/pki.js';
import { logger } from '../observability/logger.js';
import { freePort, hostPort } from './ports.js';

let setprivPath: string | null | undefined;
function findSetpriv(): string | undefined {
  setprivPath ??= (process.env.PATH ?? '/usr/bin:/bin').split(':').map((d) => join(d, 'setpriv')).find((f) => existsSync(f)) ?? null;
  return setprivPath ?? undefined;
}

const log = logger('localcluster');

export interface ControlPlaneOptions {
  name: string;
  /** Directory for PKI, etcd data, logs and the kubeconfig. */
  dir: string;
  /** Address the API server listens on (and is reached at). */
  address: string;
  binDir: string;
  /** Extra subjectAltNames for the serving certificate. */
  extraSANs?: string[];
  /** Fixed API server port; a free one otherwise. */
  apiPort?: number;
}

export interface ControlPlaneInfo {
  name: string;
  address: string;
  apiUrl: string;
  kubeconfig: string;
  caCert: string;
  dir: string;
  pids: Record<string, number>;
}

export class ControlPlaneError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

interface Managed {
  name: string;
  proc: ChildProcess;
  logFile: string;
  exited: boolean;
}

/** Controllers a cluster without kubelets still needs (docs/design.md §6). */
const CONTROLLERS = [
  'garbage-collector-controller',
  'namespace-controller',
  'serviceaccount-controller',
  'serviceaccount-token-controller',
  'root-ca-certificate-publisher-controller',
  // Fills the built-in view/edit/admin roles from their aggregated parts, as on real clusters.
  'clusterrole-aggregation-controller',
];

export class ControlPlane {
  private procs: Managed[] = [];
  private stopping = false;
  /** Processes we are stopping on purpose (restart): their exit is expected. */
  private expected = new Set<ChildProcess>();
  info!: ControlPlaneInfo;
  onUnexpectedExit?: (component: string, code: number | null) => void;

  private constructor(private readonly opts: ControlPlaneOptions) {}

  static async start(opts: ControlPlaneOptions): Promise<ControlPlane> {
    const cp = new ControlPlane(opts);
    try {
      await cp.run();
    } catch (err) {
      await cp.stop();
      throw err;
    }
    return cp;
  }

  private path(...p: string[]): string {
    return join(this.opts.dir, ...p);
  }

  private async run(): Promise<void> {
    const { dir, address, name, binDir } = this.opts;
    for (const d of ['pki', 'logs', 'etcd']) mkdirSync(join(dir, d), { recursive: true });

    // --- PKI
    const ca = await createCA(`kubepeer-${name}-ca`);
    const sans = [address, '127.0.0.1', 'localhost', hostname(), 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', '10.0.0.1', ...(this.opts.extraSANs ?? [])];
    const serving = await issueCertificate(ca, { commonName: 'kube-apiserver', hosts: [...new Set(sans)], usage: 'server' });
    const admin = await issueCertificate(ca, { commonName: 'kubepeer-admin', organizations: ['system:masters'], usage: 'client' });
    const sa = await createSigningKeyPair();
    const files = {
      caCert: this.path('pki', 'ca.crt'),
      caKey: this.path('pki', 'ca.key'),
      servingCert: this.path('pki', 'apiserver.crt'),
      servingKey: this.path('pki', 'apiserver.key'),
      adminCert: this.path('pki', 'admin.crt'),
      adminKey: this.path('pki', 'admin.key'),
      saKey: this.path('pki', 'sa.key'),
      saPub: this.path('pki', 'sa.pub'),
    };
    writeFileSync(files.caCert, ca.certPem);
    writeFileSync(files.caKey, ca.keyPem, { mode: 0o600 });
    writeFileSync(files.servingCert, serving.certPem);
    writeFileSync(files.servingKey, serving.keyPem, { mode: 0o600 });
    writeFileSync(files.adminCert, admin.certPem);
    writeFileSync(files.adminKey, admin.keyPem, { mode: 0o600 });
    writeFileSync(files.saKey, sa.privatePem, { mode: 0o600 });
    writeFileSync(files.saPub, sa.publicPem);

    // --- etcd (private to this host: always loopback)
    const etcdClient = await freePort('127.0.0.1');
    const etcdPeer = await freePort('127.0.0.1');
    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    this.launch('etcd', join(binDir, 'etcd'), [
      `--name=${name}`,
      `--data-dir=${this.path('etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=${name}=http://127.0.0.1:${etcdPeer}`,
      '--unsafe-no-fsync=true',
      '--log-level=warn',
    ]);
    await this.waitFor('etcd', () => httpGetOk(`${etcdUrl}/health`), 30_000);

    // --- kube-apiserver
    const apiPort = this.opts.apiPort ?? (await freePort(address));
    const apiUrl = `https://${hostPort(address, apiPort)}`;
    this.launch('kube-apiserver', join(binDir, 'kube-apiserver'), [
      `--etcd-servers=${etcdUrl}`,
      `--bind-address=${address}`,
      `--secure-port=${apiPort}`,
      `--advertise-address=${address}`,
      // Loopback addresses are not valid Endpoints; nothing in a local cluster needs the
      // `kubernetes` Service endpoints, so do not reconcile them.
      '--endpoint-reconciler-type=none',
      `--tls-cert-file=${files.servingCert}`,
      `--tls-private-key-file=${files.servingKey}`,
      `--client-ca-file=${files.caCert}`,
      `--service-account-issuer=${apiUrl}`,
      `--service-account-key-file=${files.saPub}`,
      `--service-account-signing-key-file=${files.saKey}`,
      '--service-cluster-ip-range=10.0.0.0/24',
      '--authorization-mode=Node,RBAC',
      '--anonymous-auth=true',
      '--allow-privileged=true',
      '--profiling=false',
      '--event-ttl=1h',
      '--v=0',
    ]);
    const adminTls = { ca: ca.certPem, cert: admin.certPem, key: admin.keyPem };
    await this.waitFor('kube-apiserver', () => httpsGetOk(`${apiUrl}/readyz`, adminTls), 90_000);

    // --- kubeconfig
    const kubeconfig = this.path('kubeconfig');
    const context = `kubepeer-${name}`;
    writeFileSync(
      kubeconfig,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: context, cluster: { server: apiUrl, 'certificate-authority-data': b64(ca.certPem) } }],
        users: [{ name: `${context}-admin`, user: { 'client-certificate-data': b64(admin.certPem), 'client-key-data': b64(admin.keyPem) } }],
        contexts: [{ name: context, context: { cluster: context, user: `${context}-admin` } }],
        'current-context': context,
      }),
      { mode: 0o600 },
    );

    // --- kube-controller-manager
    const kcmPort = await freePort('127.0.0.1');
    this.launch('kube-controller-manager', join(binDir, 'kube-controller-manager'), [
      `--kubeconfig=${kubeconfig}`,
      `--authentication-kubeconfig=${kubeconfig}`,
      `--authorization-kubeconfig=${kubeconfig}`,
      `--controllers=${CONTROLLERS.join(',')}`,
      `--service-account-private-key-file=${files.saKey}`,
      `--root-ca-file=${files.caCert}`,
      '--leader-elect=false',
      '--use-service-account-credentials=false',
      `--bind-address=127.0.0.1`,
      `--secure-port=${kcmPort}`,
      `--cluster-name=${name}`,
      '--v=0',
    ]);

    this.info = {
      name,
      address,
      apiUrl,
      kubeconfig,
      caCert: files.caCert,
      dir: this.opts.dir,
      pids: Object.fromEntries(this.procs.map((p) => [p.name, p.proc.pid ?? 0])),
    };
  }

  private launch(component: string, bin: string, args: string[]): void {
    const logFile = this.path('logs', `${component}.log`);
    const fd = openSync(logFile, 'a');
    // With setpriv (util-linux) the component gets SIGKILL when the supervisor dies, even by
    // SIGKILL, so no etcd or API server outlives it; setpriv execs, so the pid stays the component's.
    const setpriv = findSetpriv();
    const proc = setpriv
      ? spawn(setpriv, ['--pdeathsig', 'SIGKILL', '--', bin, ...args], { stdio: ['ignore', fd, fd], cwd: this.opts.dir })
      : spawn(bin, args, { stdio: ['ignore', fd, fd], cwd: this.opts.dir });
    closeSync(fd);
    const managed: Managed = { name: component, proc, logFile, exited: false };
    proc.on('exit', (code) => {
      managed.exited = true;
      if (!this.stopping && !this.expected.has(proc)) {
        log.error({ component, code, logFile }, `${component} exited unexpectedly`);
        this.onUnexpectedExit?.(component, code);
      }
    });
    proc.on('error', (err) => log.error({ component, err }, `${component} failed to start`));
    this.procs.push(managed);
  }

  private async waitFor(component: string, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const managed = this.procs.find((p) => p.name === component);
    while (Date.now() < deadline) {
      if (managed?.exited) {
        throw new ControlPlaneError('ComponentExited', `${component} exited during start-up; last log lines:\n${tail(managed.logFile)}`);
      }
      if (await probe().catch(() => false)) return;
      await sleep(100);
    }
    throw new ControlPlaneError('StartTimeout', `${component} not ready after ${timeoutMs / 1000}s; last log lines:\n${managed ? tail(managed.logFile) : ''}`);
  }

  /** Restarts one component in place (fault-injection tests): same flags, same ports and data. */
  async restart(component: 'kube-apiserver' | 'etcd'): Promise<void> {
    const managed = this.procs.find((p) => p.name === component);
    if (!managed) throw new Error(`no ${component}`);
    const { spawnargs } = managed.proc;
    this.expected.add(managed.proc);
    // kube-apiserver's graceful drain waits for long-running requests for many seconds; a local
    // cluster has nothing worth draining, so give it a short grace.
    await terminate(managed, 3_000);
    this.expected.delete(managed.proc);
    this.procs = this.procs.filter((p) => p !== managed);
    this.launch(component, spawnargs[0]!, spawnargs.slice(1));
    this.info.pids[component] = this.procs.at(-1)!.proc.pid ?? 0;
  }

  /** Stops every process (kcm, apiserver, then etcd), SIGKILL after a grace period. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const p of [...this.procs].reverse()) await terminate(p, 3_000);
    this.procs = [];
  }
}

async function terminate(p: Managed, graceMs: number): Promise<void> {
  if (p.exited || p.proc.exitCode !== null) return;
  const exited = new Promise<void>((resolve) => p.proc.once('exit', () => resolve()));
  p.proc.kill('SIGTERM');
  const timer = setTimeout(() => p.proc.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

function b64(s: string): string {
  return Buffer.from(s).toString('base64');
}

function tail(file: string, lines = 25): string {
  if (!existsSync(file)) return '(no log)';
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

function httpGetOk(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpRequest(url, { timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

function httpsGetOk(url: string, tls: { ca: string; cert: string; key: string }): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpsRequest(url, { ...tls, timeout: 3000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
