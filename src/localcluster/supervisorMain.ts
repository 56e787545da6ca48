/**
 * The process that owns one local cluster: starts etcd, kube-apiserver and kube-controller-manager,
 * then either a real node (containerd, kubelet, kube-proxy, kube-scheduler, CoreDNS: node/realNode.ts)
 * or a placeholder Node whose Lease it renews, restarts a control-plane component that dies, and
 * tears everything down on SIGTERM/SIGINT, or when its parent goes away (stdin closes) in
 * ephemeral mode. It reports readiness by writing `state.json` (or `error.json`) in its directory.
 *
 *   node dist/localcluster/supervisorMain.js '<SupervisorSpec as JSON>'
 *
 * SIGUSR1 restarts kube-apiserver and SIGUSR2 restarts etcd in place (used by fault tests).
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ControlPlane } from './controlplane.js';
import { HostNode } from './hostNode.js';
import { RealNode } from './node/realNode.js';
import { unmountUnder } from './node/hostPrep.js';
import { KubeClient } from '../k8s/rest.js';
import { controlPlaneVersion } from './binaries.js';
import { logger } from '../observability/logger.js';
import type { SupervisorSpec, ClusterState } from './state.js';

const log = logger('supervisor');
const spec = JSON.parse(process.argv[2] ?? '{}') as SupervisorSpec;
let cp: ControlPlane | undefined;
let node: HostNode | undefined;
let realNode: RealNode | undefined;
let shuttingDown = false;

async function shutdown(code: number): Promise<never> {
  if (shuttingDown) return new Promise<never>(() => {});
  shuttingDown = true;
  node?.stop();
  await realNode?.stop().catch((err) => log.error({ err }, 'stopping the node failed'));
  await cp?.stop().catch(() => {});
  if (spec.ephemeral) {
    if (spec.node === 'real') unmountUnder(spec.dir);
    rmSync(spec.dir, { recursive: true, force: true });
  }
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
  const real = spec.node === 'real';
  cp = await ControlPlane.start({ name: spec.name, dir: spec.dir, address: spec.address, binDir: spec.binDir, extraSANs: spec.extraSANs, apiPort: spec.apiPort, workloads: real });
  const restarts: Record<string, number> = {};
  cp.onUnexpectedExit = (component) => {
    if (shuttingDown) return;
    const n = (restarts[component] = (restarts[component] ?? 0) + 1);
    if (n > 5) {
      log.error({ component }, 'component keeps dying; stopping the cluster');
      void shutdown(1);
      return;
    }
    setTimeout(() => void cp?.restart(component as 'kube-apiserver').catch((err) => log.error({ err }, 'restart failed')), 500 * 2 ** n);
  };
  // After a restart, state.json names the new process (LocalCluster.restart waits for the old one to exit).
  const restartOnSignal = (component: 'kube-apiserver' | 'etcd') => () =>
    void cp?.restart(component).then(recordPids, (err: unknown) => log.error({ err }, 'restart failed'));
  process.on('SIGUSR1', restartOnSignal('kube-apiserver'));
  process.on('SIGUSR2', restartOnSignal('etcd'));

  let nodeState: ClusterState['node'];
  if (real) {
    realNode = await RealNode.start({
      nodeName: spec.name,
      clusterName: spec.name,
      clusterDir: spec.dir,
      address: spec.address,
      apiUrl: cp.info.apiUrl,
      binDir: spec.binDir,
      pki: cp.pki,
      adminKubeconfig: cp.info.kubeconfig,
      maxPods: spec.maxPods,
      ephemeral: spec.ephemeral,
    });
    // Like a service manager would: a node component that dies is started again, with backoff.
    const nodeRestarts: Record<string, number> = {};
    realNode.onUnexpectedExit = (component, code) => {
      if (shuttingDown) return;
      const n = (nodeRestarts[component] = (nodeRestarts[component] ?? 0) + 1);
      log.error({ component, code, restart: n }, `${component} of the node exited; restarting it`);
      setTimeout(() => void realNode?.restart(component).catch((err) => log.error({ err }, 'restart failed')), Math.min(30_000, 500 * 2 ** n));
    };
    nodeState = { name: spec.name, kind: 'real', containerdSocket: realNode.info.containerdSocket, cgroupRoot: realNode.info.cgroupRoot };
  } else if (spec.node !== 'none') {
    const client = KubeClient.fromFile(cp.info.kubeconfig);
    node = new HostNode(client, `${spec.name}-host`, spec.address, controlPlaneVersion());
    await node.start();
    nodeState = { name: `${spec.name}-host`, kind: 'placeholder' };
  }
  const state: ClusterState = {
    name: spec.name,
    address: spec.address,
    netns: spec.netns,
    apiUrl: cp.info.apiUrl,
    kubeconfig: cp.info.kubeconfig,
    caCert: cp.info.caCert,
    webhookClientCA: cp.info.webhookClientCA,
    dir: spec.dir,
    supervisorPid: process.pid,
    pids: { ...cp.info.pids, ...(realNode?.pids() ?? {}) },
    startedAt: new Date().toISOString(),
    node: nodeState,
  };
  writeFileSync(join(spec.dir, 'state.json'), JSON.stringify(state, null, 2));
  log.info({ apiUrl: state.apiUrl }, 'local control plane ready');
}

/** Rewrites the pids in state.json (after a restart), when it exists. */
function recordPids(): void {
  const file = join(spec.dir, 'state.json');
  try {
    const state = JSON.parse(readFileSync(file, 'utf8')) as ClusterState;
    state.pids = { ...state.pids, ...(cp?.info.pids ?? {}) };
    writeFileSync(file, JSON.stringify(state, null, 2));
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'could not record the new pids in state.json');
  }
}

main().catch(async (err: Error & { reason?: string }) => {
  writeFileSync(join(spec.dir, 'error.json'), JSON.stringify({ reason: err.reason ?? 'StartFailed', message: err.message }));
  log.error({ err }, 'local control plane failed to start');
  await shutdown(1);
});
