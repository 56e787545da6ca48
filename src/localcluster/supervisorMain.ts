/**
 * The process that owns one local control plane: starts etcd, kube-apiserver and
 * kube-controller-manager, registers the host Node and renews its Lease, restarts a component that
 * dies, and tears everything down on SIGTERM/SIGINT, or when its parent goes away (stdin closes) in
 * ephemeral mode. It reports readiness by writing `state.json` (or `error.json`) in its directory.
 *
 *   node dist/localcluster/supervisorMain.js '<SupervisorSpec as JSON>'
 *
 * SIGUSR1 restarts kube-apiserver and SIGUSR2 restarts etcd in place (used by fault tests).
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ControlPlane } from './controlplane.js';
import { HostNode } from './hostNode.js';
import { KubeClient } from '../k8s/rest.js';
import { controlPlaneVersion } from './binaries.js';
import { logger } from '../observability/logger.js';
import type { SupervisorSpec, ClusterState } from './state.js';

const log = logger('supervisor');
const spec = JSON.parse(process.argv[2] ?? '{}') as SupervisorSpec;
let cp: ControlPlane | undefined;
let node: HostNode | undefined;
let shuttingDown = false;

async function shutdown(code: number): Promise<never> {
  if (shuttingDown) return new Promise<never>(() => {});
  shuttingDown = true;
  node?.stop();
  await cp?.stop().catch(() => {});
  if (spec.ephemeral) rmSync(spec.dir, { recursive: true, force: true });
  process.exit(code);
}

for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => void shutdown(0));
if (spec.ephemeral) {
  // Our parent (a test runner, usually) holds the other end of stdin; EOF means it is gone.
  process.stdin.on('end', () => void shutdown(0));
  process.stdin.on('error', () => void shutdown(0));
  process.stdin.resume();
}

async function main(): Promise<void> {
  cp = await ControlPlane.start({ name: spec.name, dir: spec.dir, address: spec.address, binDir: spec.binDir, extraSANs: spec.extraSANs, apiPort: spec.apiPort });
  const restarts: Record<string, number> = {};
  cp.onUnexpectedExit = (component) => {
    if (shuttingDown || (component !== 'kube-apiserver' && component !== 'etcd' && component !== 'kube-controller-manager')) return;
    const n = (restarts[component] = (restarts[component] ?? 0) + 1);
    if (n > 5) {
      log.error({ component }, 'component keeps dying; stopping the cluster');
      void shutdown(1);
      return;
    }
    setTimeout(() => void cp?.restart(component as 'kube-apiserver' | 'etcd').catch((err) => log.error({ err }, 'restart failed')), 500 * 2 ** n);
  };
  process.on('SIGUSR1', () => void cp?.restart('kube-apiserver').catch((err) => log.error({ err }, 'restart failed')));
  process.on('SIGUSR2', () => void cp?.restart('etcd').catch((err) => log.error({ err }, 'restart failed')));

  if (spec.registerNode !== false) {
    const client = KubeClient.fromFile(cp.info.kubeconfig);
    node = new HostNode(client, `${spec.name}-host`, spec.address, controlPlaneVersion());
    await node.start();
  }
  const state: ClusterState = {
    name: spec.name,
    address: spec.address,
    netns: spec.netns,
    apiUrl: cp.info.apiUrl,
    kubeconfig: cp.info.kubeconfig,
    caCert: cp.info.caCert,
    dir: spec.dir,
    supervisorPid: process.pid,
    pids: cp.info.pids,
    startedAt: new Date().toISOString(),
  };
  writeFileSync(join(spec.dir, 'state.json'), JSON.stringify(state, null, 2));
  log.info({ apiUrl: state.apiUrl }, 'local control plane ready');
}

main().catch(async (err: Error & { reason?: string }) => {
  writeFileSync(join(spec.dir, 'error.json'), JSON.stringify({ reason: err.reason ?? 'StartFailed', message: err.message }));
  log.error({ err }, 'local control plane failed to start');
  await shutdown(1);
});
