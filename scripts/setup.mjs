#!/usr/bin/env node
// Installs what `npm start`, `npm test` and `npm run bench` need on a fresh Debian machine, and
// nothing that is already there: npm dependencies, the TypeScript build, Debian packages (bind9
// for DNS tests, iproute2 for network namespaces, Chromium for dashboard tests) and the
// control-plane binaries built from the Go module proxy (cached in ~/.cache/kubepeer).
//
//   node scripts/setup.mjs --for test|start|bench
// Only Node's standard library here: this runs before node_modules exists.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const purpose = process.argv.includes('--for') ? process.argv[process.argv.indexOf('--for') + 1] : 'test';
const say = (m) => process.stderr.write(`kubepeer setup: ${m}\n`);

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts });
  if (r.status !== 0) {
    say(`step failed: ${cmd} ${args.join(' ')} (exit ${r.status ?? r.signal}); fix the error above and re-run.`);
    process.exit(r.status || 1);
  }
}

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 19)) {
  say(`Node ${process.versions.node} is too old: kubepeer needs Node 20.19+ or 22.12+.`);
  process.exit(1);
}

// 1. npm dependencies (npm ci when node_modules is missing or older than the lock file)
const lock = `${root}/package-lock.json`;
const installed = `${root}/node_modules/.package-lock.json`;
if (!existsSync(installed) || statSync(installed).mtimeMs < statSync(lock).mtimeMs) {
  say('installing npm dependencies...');
  run('npm', ['ci', '--no-audit', '--no-fund']);
} else {
  // npm ci runs "prepare" (the build); otherwise build here so dist/ matches src/ (the agent, and
  // the dashboard web app it serves from dist/dashboard-web).
  run('npx', ['tsc', '-p', 'tsconfig.build.json']);
  // (npm test builds the web app in the integration suites' global set-up.)
  if (purpose !== 'test') run('npm', ['run', '--silent', 'build:web']);
}

// 2. Debian packages
const have = (bin) => spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;
const wanted = [['ip', 'iproute2']];
if (purpose === 'test' || purpose === 'bench') wanted.push(['named', 'bind9'], ['named-checkzone', 'bind9-utils'], ['chromium', 'chromium']);
const missing = [...new Set(wanted.filter(([bin]) => !have(bin)).map(([, pkg]) => pkg))];
if (missing.length) {
  if (process.getuid?.() !== 0) {
    say(`missing Debian packages: ${missing.join(' ')}; install them with: sudo apt-get install -y ${missing.join(' ')}`);
    process.exit(1);
  }
  say(`installing Debian packages: ${missing.join(' ')}...`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const first = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
  if (first.status !== 0) {
    run('apt-get', ['update'], { env });
    run('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { env });
  }
}

// 3. Control-plane binaries (minutes the first time, then cached)
if (!have('go')) {
  say('Go is needed once to build the local control plane (kube-apiserver, etcd) from the Go module proxy; put go 1.25+ on PATH.');
  process.exit(1);
}
const bin = execFileSync('bash', [`${root}/tools/controlplane/build.sh`], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
say(`control-plane binaries ready in ${bin}`);
