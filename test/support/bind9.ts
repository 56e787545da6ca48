/**
 * A real bind9 `named` for DNS tests: installs it from Debian when missing, writes named.conf and
 * the zone files into a temp dir, runs `named -g` on 127.0.0.1 on a free port (UDP and TCP), and
 * waits until every zone answers with its SOA. Zones are checked with named-checkzone first, so a
 * typo in test data fails with bind's own message instead of a SERVFAIL later.
 *
 *   const dns = await startNamed({ zones: [{ origin: 'example.com', records: 'example.com. PTR x._liqo._tcp.example.com.' }] });
 *   browse('example.com', { server: dns.address });
 *   await dns.reload([...]);   // new data, new SOA serial, returns when named serves it
 *   await dns.stop();
 *
 * Each zone gets `$ORIGIN`, `$TTL 300`, an SOA and an NS (ns.<origin>. A 198.18.0.1) in front of its
 * records. A zone with `loadable: false` is written as is and not checked: named fails to load it
 * and answers SERVFAIL for its names.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DnsTransport } from '../../src/discovery/dns/transport.js';

export interface ZoneSpec {
  /** Zone apex, e.g. `example.com` (with or without the trailing dot). */
  origin: string;
  /** Zone-file records, appended after the generated SOA/NS. */
  records: string;
  /** false: written verbatim, not checked, expected to fail loading (named answers SERVFAIL). */
  loadable?: boolean;
}

export interface NamedServer {
  host: string;
  port: number;
  /** `127.0.0.1:<port>`, the form ClusterConfig.dnsServer takes. */
  address: string;
  dir: string;
  /** Rewrites named.conf and the zones with a new SOA serial and waits until named serves them. */
  reload(zones: ZoneSpec[]): Promise<void>;
  stop(): Promise<void>;
  /** named's recent log lines, for failure messages. */
  logs(): string;
}

const HOST = '127.0.0.1';
const NS_ADDRESS = '198.18.0.1';
const READY_TIMEOUT_MS = 20_000;

// ------------------------------------------------------------------------------ installation

interface BindTools {
  named: string;
  checkzone: string;
  checkconf: string;
}

function which(name: string): string | undefined {
  for (const dir of ['/usr/sbin', '/usr/bin', '/sbin', '/bin', ...(process.env.PATH ?? '').split(':')]) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

function findTools(): BindTools | undefined {
  const named = which('named');
  const checkzone = which('named-checkzone');
  const checkconf = which('named-checkconf');
  return named && checkzone && checkconf ? { named, checkzone, checkconf } : undefined;
}

function aptGet(args: string[]): { ok: boolean; output: string } {
  const r = spawnSync('apt-get', args, {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    encoding: 'utf8',
    timeout: 600_000,
  });
  return { ok: r.status === 0, output: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

let tools: BindTools | undefined;

/** Finds named, installing bind9 + bind9-utils with apt-get when missing (idempotent). */
export function ensureNamed(): BindTools {
  tools ??= findTools();
  if (tools) return tools;
  const install = ['install', '-y', '--no-install-recommends', 'bind9', 'bind9-utils'];
  let result = aptGet(install);
  if (!result.ok) {
    // A fresh image often has no package lists yet.
    const update = aptGet(['update']);
    result = update.ok ? aptGet(install) : update;
  }
  tools = findTools();
  if (!result.ok || !tools) {
    const tail = result.output.trim().split('\n').slice(-15).join('\n');
    throw new Error(
      `bind9 is needed for the DNS tests and could not be installed with apt-get (run as root: apt-get install -y bind9 bind9-utils).\n${tail}`,
    );
  }
  return tools;
}

// ------------------------------------------------------------------------------ files

function fqdn(origin: string): string {
  return origin.endsWith('.') ? origin : `${origin}.`;
}

function zoneText(zone: ZoneSpec, serial: number): string {
  if (zone.loadable === false) return zone.records;
  const o = fqdn(zone.origin);
  return [
    `$ORIGIN ${o}`,
    '$TTL 300',
    `@ IN SOA ns.${o} hostmaster.${o} ( ${serial} 3600 600 86400 60 )`,
    `@ IN NS ns.${o}`,
    `ns.${o} IN A ${NS_ADDRESS}`,
    zone.records,
    '',
  ].join('\n');
}

function zoneFile(dir: string, index: number): string {
  return join(dir, `zone-${index}.db`);
}

function namedConf(dir: string, port: number, zones: ZoneSpec[]): string {
  const zoneBlocks = zones.map((z, i) => `zone "${fqdn(z.origin)}" { type primary; file "${zoneFile(dir, i)}"; };`);
  return `options {
  directory "${dir}";
  pid-file "${join(dir, 'named.pid')}";
  session-keyfile "${join(dir, 'session.key')}";
  managed-keys-directory "${dir}";
  listen-on port ${port} { ${HOST}; };
  listen-on-v6 { none; };
  recursion no;
  dnssec-validation no;
  allow-query { any; };
  notify no;
  // bind >= 9.18.28 refuses RRsets of more than 100 records (CVE-2024-1737); a domain listing
  // hundreds of clusters has one PTR RRset of that size, so the tests lift the limit.
  max-records-per-type 0;
  max-types-per-name 0;
};
// No rndc channel: the default one would take 127.0.0.1:953, shared by every named on the host.
controls { };
${zoneBlocks.join('\n')}
`;
}

function writeAll(dir: string, port: number, zones: ZoneSpec[], serial: number, checks: BindTools): void {
  zones.forEach((z, i) => writeFileSync(zoneFile(dir, i), zoneText(z, serial)));
  const conf = join(dir, 'named.conf');
  writeFileSync(conf, namedConf(dir, port, zones));
  const confCheck = spawnSync(checks.checkconf, [conf], { encoding: 'utf8' });
  if (confCheck.status !== 0) throw new Error(`named-checkconf rejected the generated named.conf:\n${confCheck.stdout}${confCheck.stderr}`);
  zones.forEach((z, i) => {
    if (z.loadable === false) return;
    const check = spawnSync(checks.checkzone, [fqdn(z.origin), zoneFile(dir, i)], { encoding: 'utf8' });
    if (check.status !== 0) {
      throw new Error(`named-checkzone rejected zone ${fqdn(z.origin)} (file ${zoneFile(dir, i)}):\n${check.stdout}${check.stderr}`);
    }
  });
}

// ------------------------------------------------------------------------------ ports and readiness

async function freePort(): Promise<number> {
  for (let tries = 0; tries < 20; tries++) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = net.createServer();
      srv.once('error', reject);
      srv.listen(0, HOST, () => {
        const p = (srv.address() as net.AddressInfo).port;
        srv.close(() => resolve(p));
      });
    });
    // named needs the same port for UDP too.
    const udpFree = await new Promise<boolean>((resolve) => {
      const s = dgram.createSocket('udp4');
      s.once('error', () => resolve(false));
      s.bind(port, HOST, () => s.close(() => resolve(true)));
    });
    if (udpFree) return port;
  }
  throw new Error('no free port for named on 127.0.0.1');
}

/** The SOA serial named serves for `origin`, or undefined (not loaded yet, not answering). */
async function servedSerial(port: number, origin: string): Promise<number | undefined> {
  const transport = new DnsTransport({ host: HOST, port, family: 4 }, { timeoutMs: 300, attempts: 1 });
  const outcome = await transport.query({ name: fqdn(origin), type: 'SOA' });
  if (!outcome.ok) return undefined;
  const soa = outcome.response.answers.find((r) => r.type === 'SOA');
  return soa?.type === 'SOA' ? soa.serial : undefined;
}

/** True once named answers anything on `port`, even an error. */
async function answers(port: number): Promise<boolean> {
  const transport = new DnsTransport({ host: HOST, port, family: 4 }, { timeoutMs: 300, attempts: 1 });
  const outcome = await transport.query({ name: 'kubepeer-probe.invalid.', type: 'A' });
  return outcome.ok || outcome.failure.kind === 'rcode';
}

async function waitFor<T>(what: string, deadlineMs: number, probe: () => Promise<T | undefined>, state: () => string): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`named: timed out after ${deadlineMs} ms waiting for ${what}.\n${state()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// ------------------------------------------------------------------------------ the server

export async function startNamed(options: { zones: ZoneSpec[] }): Promise<NamedServer> {
  const bind = ensureNamed();
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(bind, options.zones);
    } catch (err) {
      lastError = err;
      // Only a port taken between freePort() and named's bind is worth another try.
      if (!(err instanceof PortInUseError)) throw err;
    }
  }
  throw lastError;
}

class PortInUseError extends Error {}

async function startOnce(bind: BindTools, initialZones: ZoneSpec[]): Promise<NamedServer> {
  const dir = mkdtempSync(join(tmpdir(), 'kubepeer-named-'));
  let zones = initialZones;
  let serial = 1;
  let child: ChildProcess | undefined;
  const log: string[] = [];
  const logs = (): string => `named log (last lines):\n${log.slice(-40).join('\n')}`;
  const cleanupSync = (): void => {
    child?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', cleanupSync);

  try {
    const port = await freePort();
    writeAll(dir, port, zones, serial, bind);
    const proc = spawn(bind.named, ['-g', '-4', '-n', '1', '-c', join(dir, 'named.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    let exited: string | undefined;
    proc.stderr!.setEncoding('utf8');
    proc.stderr!.on('data', (chunk: string) => {
      log.push(...chunk.split('\n').filter(Boolean));
      if (log.length > 500) log.splice(0, log.length - 500);
    });
    proc.on('exit', (code, signal) => {
      exited = `named exited (code ${code}, signal ${signal})`;
    });

    const loadable = (): ZoneSpec[] => zones.filter((z) => z.loadable !== false);
    const checkAlive = (): void => {
      // A zone that passed named-checkzone can still fail in named (e.g. its size limits).
      const failed = loadable().find((z) => log.some((l) => l.includes(`zone ${fqdn(z.origin).slice(0, -1)}/IN: not loaded due to errors`)));
      if (failed) throw new Error(`named could not load zone ${fqdn(failed.origin)}:\n${logs()}`);
      if (!exited) return;
      if (log.some((l) => /address in use/i.test(l))) throw new PortInUseError(exited);
      throw new Error(`${exited}.\n${logs()}`);
    };
    const waitServing = async (): Promise<void> => {
      for (const z of loadable()) {
        await waitFor(`zone ${fqdn(z.origin)} with serial ${serial}`, READY_TIMEOUT_MS, async () => {
          checkAlive();
          return (await servedSerial(port, z.origin)) === serial ? true : undefined;
        }, logs);
      }
      if (loadable().length === 0) {
        await waitFor('named to answer', READY_TIMEOUT_MS, async () => {
          checkAlive();
          return (await answers(port)) ? true : undefined;
        }, logs);
      }
    };
    await waitServing();

    return {
      host: HOST,
      port,
      address: `${HOST}:${port}`,
      dir,
      logs,
      async reload(next: ZoneSpec[]): Promise<void> {
        zones = next;
        serial += 1;
        writeAll(dir, port, zones, serial, bind);
        // SIGHUP re-reads named.conf and the zone files. named skips a file whose mtime is not newer
        // than its last load (one-second resolution), so it is signalled again until it serves
        // the new serial, with the files touched each time.
        let lastSignal = 0;
        for (const z of loadable()) {
          await waitFor(`zone ${fqdn(z.origin)} to reach serial ${serial} after reload`, READY_TIMEOUT_MS, async () => {
            checkAlive();
            if (Date.now() - lastSignal > 1000) {
              const now = new Date();
              zones.forEach((_, i) => utimesSync(zoneFile(dir, i), now, now));
              proc.kill('SIGHUP');
              lastSignal = Date.now();
            }
            return (await servedSerial(port, z.origin)) === serial ? true : undefined;
          }, logs);
        }
      },
      async stop(): Promise<void> {
        process.off('exit', cleanupSync);
        if (proc.exitCode === null && proc.signalCode === null) {
          const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
          proc.kill('SIGTERM');
          const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
          await gone;
          clearTimeout(timer);
        }
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    process.off('exit', cleanupSync);
    cleanupSync();
    throw err;
  }
}
