#!/usr/bin/env node
// Installs what `npm start`, `npm test` and `npm run bench` need on a fresh Debian machine, and
// nothing that is already there: npm dependencies, the TypeScript build, Debian packages (bind9
// for DNS tests, iproute2 for network namespaces, Chromium for dashboard tests; runc, CNI plugins,
// iptables, conntrack and busybox-static for real nodes) and the Go-built binaries (etcd,
// kube-apiserver, kubelet, containerd, CoreDNS, ...; cached in ~/.cache/kubepeer).
//
// The Go build is the long step on a fresh machine (many minutes): it starts first, in the
// background, and the npm and apt steps run meanwhile.
//
//   node scripts/setup.mjs --for test|start|bench
// Only Node's standard library here: this runs before node_modules exists.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
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

// 0. Go-built binaries, in the background (one progress line per binary on stderr)
const haveGo = spawnSync('sh', ['-c', 'command -v go'], { stdio: 'ignore' }).status === 0;
if (!haveGo) {
  say('Go is needed once to build the local clusters\' binaries (kube-apiserver, etcd, kubelet, containerd) from the Go module proxy; put go 1.25+ on PATH.');
  process.exit(1);
}
const goBuild = new Promise((resolve) => {
  let out = '';
  const child = spawn('bash', [`${root}/tools/controlplane/build.sh`], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  child.stdout.on('data', (d) => (out += d));
  child.on('exit', (code) => resolve({ code, bin: out.trim().split('\n').pop() }));
});

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
const have = (bin) => (bin.startsWith('/') ? existsSync(bin) : spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0);
const wanted = [['ip', 'iproute2']];
if (purpose === 'test' || purpose === 'bench') wanted.push(['named', 'bind9'], ['named-checkzone', 'bind9-utils'], ['chromium', 'chromium']);
// Real nodes (root only: they live in network-namespace hosts).
if (process.getuid?.() === 0) {
  wanted.push(['runc', 'runc'], ['iptables', 'iptables'], ['conntrack', 'conntrack'], ['busybox', 'busybox-static'], ['gcc', 'gcc'], ['/usr/lib/cni/bridge', 'containernetworking-plugins']);
}
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

// 2b. python-zeroconf, the third-party mDNS stack of the LAN interop test
// (test/integration/lan/interop.test.ts), in a venv of its own: Debian's Python refuses pip
// installs into the system (PEP 668), and the pinned version keeps the test's peer stable.
if (purpose === 'test') {
  const venv = `${homedir()}/.cache/kubepeer/python-zeroconf`;
  if (spawnSync(`${venv}/bin/python3`, ['-c', 'import zeroconf'], { stdio: 'ignore' }).status !== 0) {
    if (spawnSync('python3', ['-c', 'import venv, ensurepip'], { stdio: 'ignore' }).status !== 0) {
      if (process.getuid?.() !== 0) {
        say('the LAN interop test needs Python 3 with venv; install it with: sudo apt-get install -y python3-venv');
        process.exit(1);
      }
      run('apt-get', ['install', '-y', '--no-install-recommends', 'python3-venv'], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    }
    say('installing python-zeroconf 0.154.0 (for the LAN interop test)...');
    run('python3', ['-m', 'venv', venv]);
    run(`${venv}/bin/python3`, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', 'zeroconf==0.154.0']);
  }
}

// 3. The Go-built binaries started in step 0
const built = await goBuild;
if (built.code !== 0) {
  say(`building the local clusters' binaries failed (the step is named above); retry with: bash tools/controlplane/build.sh`);
  process.exit(built.code || 1);
}
say(`local-cluster binaries ready in ${built.bin}`);
