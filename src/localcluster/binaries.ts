/**
 * Where the control-plane binaries are: $KUBEPEER_CONTROLPLANE_BIN when set, otherwise the cache
 * that tools/controlplane/build.sh fills (building them the first time, which takes minutes).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CONTROLPLANE_BINARIES = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kubectl'] as const;
export type ControlPlaneBinary = (typeof CONTROLPLANE_BINARIES)[number];

const buildScript = fileURLToPath(new URL('../../tools/controlplane/build.sh', import.meta.url));

export class BinariesError extends Error {
  readonly reason = 'ControlPlaneBuildFailed';
}

function complete(dir: string): boolean {
  return CONTROLPLANE_BINARIES.every((b) => existsSync(join(dir, b)));
}

/** The directory holding the binaries, building them first if needed (progress goes to stderr). */
export function controlPlaneBinDir(): string {
  const fromEnv = process.env.KUBEPEER_CONTROLPLANE_BIN;
  if (fromEnv && complete(fromEnv)) return fromEnv;
  const res = spawnSync('bash', [buildScript], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (res.status !== 0) {
    throw new BinariesError(`building the control-plane binaries failed (see the step named above); retry with: bash ${buildScript} --force`);
  }
  const dir = res.stdout.trim().split('\n').pop() ?? '';
  if (!complete(dir)) throw new BinariesError(`the control-plane build reported ${dir} but the binaries are missing; retry with: bash ${buildScript} --force`);
  process.env.KUBEPEER_CONTROLPLANE_BIN = dir;
  return dir;
}

export function binaryPath(name: ControlPlaneBinary): string {
  return join(controlPlaneBinDir(), name);
}

/** The Kubernetes version the binaries were built at (from `kube-apiserver --version`). */
export function controlPlaneVersion(): string {
  return execFileSync(binaryPath('kube-apiserver'), ['--version'], { encoding: 'utf8' }).trim().replace(/^Kubernetes\s+/, '');
}
