/**
 * Runs once before the integration suites: builds (or reuses) the control-plane binaries and the
 * TypeScript output that agent processes are started from (with the dashboard web app they
 * serve), so that no suite pays for it.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

export default function setup(): void {
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
  // The dashboard web app, served by the agents from dist/dashboard-web.
  execFileSync('npm', ['run', '--silent', 'build:web'], { cwd: root, stdio: 'inherit' });
  const bin = execFileSync('bash', ['tools/controlplane/build.sh'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  process.env.KUBEPEER_CONTROLPLANE_BIN = bin;
}
