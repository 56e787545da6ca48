/**
 * Runs once before the integration suites: builds (or reuses) the control-plane binaries and the
 * TypeScript output that agent processes are started from (with the dashboard web app they
 * serve), so that no suite pays for it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sweepDeadNodes } from '../../src/localcluster/node/cleanup.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

export default async function setup(): Promise<void> {
  // Real nodes of earlier runs whose supervisor was killed: their shims, containers and cgroups.
  if (process.getuid?.() === 0) await sweepDeadNodes();
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
  // The dashboard web app, served by the agents from dist/dashboard-web.
  execFileSync('npm', ['run', '--silent', 'build:web'], { cwd: root, stdio: 'inherit' });
  // A developer may point at a finished set of binaries while a rebuild of the cache runs.
  if (process.env.KUBEPEER_CONTROLPLANE_BIN && existsSync(join(process.env.KUBEPEER_CONTROLPLANE_BIN, 'kube-apiserver'))) return;
  const bin = execFileSync('bash', ['tools/controlplane/build.sh'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  process.env.KUBEPEER_CONTROLPLANE_BIN = bin;
}
