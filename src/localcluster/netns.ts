/**
 * Network-namespace "hosts" on one Linux bridge, on addresses of 198.18.0.0/15 (RFC 2544 benchmark
 * space), so that multicast and API traffic between local clusters cross a real link. Used by
 * `kubepeer local up --netns`, the demo, and the LAN tests.
 *
 * Layout: the bridge (default `kp-br0`, 198.18.0.1/24) lives in the root namespace, so the
 * machine reaches every host; each host is a namespace `<prefix><name>` with `lo` up and `eth0`
 * (one end of a veth pair whose other end is a bridge port), an address from the bridge subnet, a
 * default route via the bridge address and a 224.0.0.0/4 multicast route. Multicast snooping is off
 * on the bridge, IPv6 duplicate-address detection off in the hosts (link-local usable at once).
 *
 * State lives in `/run/kubepeer/netns/<bridge>/` (one JSON file per host, address reservations), so
 * separate processes (`local up`, `local list`, `local down`) agree. Needs root and iproute2.
 */
import { execFile, execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { logger } from '../observability/logger.js';

const log = logger('netns');

/** All host and bridge addresses come from here (RFC 2544). */
export const NETNS_RANGE = '198.18.0.0/15';
export const DEFAULT_BRIDGE = 'kp-br0';
export const DEFAULT_SUBNET = '198.18.0.0/24';
export const DEFAULT_PREFIX = 'kp-';
export const DEFAULT_STATE_DIR = '/run/kubepeer/netns';
/** The interface name inside every host namespace. */
export const HOST_IFNAME = 'eth0';

export type NetnsErrorReason =
  | 'NotRoot'
  | 'MissingTool'
  | 'InvalidName'
  | 'InvalidAddress'
  | 'HostExists'
  | 'HostNotFound'
  | 'AddressesExhausted'
  | 'CommandFailed';

export class NetnsError extends Error {
  override name = 'NetnsError';
  constructor(
    readonly reason: NetnsErrorReason,
    message: string,
  ) {
    super(message);
  }
}

export interface NetnsHost {
  /** The name given to addHost, e.g. `cluster1`. */
  name: string;
  /** The network namespace, e.g. `kp-cluster1`. */
  netns: string;
  /** IPv4 address of `eth0` in the namespace. */
  address: string;
  prefixLength: number;
  /** The bridge address (default route), when the host is in the bridge subnet. */
  gateway: string | undefined;
  /** Interface inside the namespace (`eth0`). */
  ifname: string;
  /** The veth end in the root namespace (a bridge port). */
  hostIfname: string;
  bridge: string;
}

export interface BridgeInfo {
  name: string;
  address: string;
  prefixLength: number;
  /** This call created it (false: it was already there). */
  created: boolean;
}

export interface NetnsLabOptions {
  /** Bridge name (at most 15 characters). Default `kp-br0`, shared by every host. */
  bridge?: string;
  /** Bridge subnet inside 198.18.0.0/15; the bridge takes the first address. Default 198.18.0.0/24. */
  subnet?: string;
  /** Prefix of namespace names. Default `kp-`. */
  prefix?: string;
  /** Where host state is kept. Default /run/kubepeer/netns. */
  stateDir?: string;
  /** Destroy this lab's hosts (and its bridge if it created it) on exit, SIGINT and SIGTERM. */
  cleanupOnExit?: boolean;
  /** Keep IPv6 (link-local) on in the hosts. Default true. */
  ipv6?: boolean;
}

// ---------------------------------------------------------------------------------------------
// small helpers

function ipToInt(ip: string): number {
  const p = ip.split('.').map(Number);
  if (p.length !== 4 || p.some((n) => !Number.isInteger(n) || n < 0 || n > 255)) {
    throw new NetnsError('InvalidAddress', `not an IPv4 address: ${ip}`);
  }
  return ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
}

function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function parseCidr(cidr: string): { network: number; prefixLength: number; address: number } {
  const [ip, len] = cidr.split('/');
  const prefixLength = Number(len);
  if (!ip || !Number.isInteger(prefixLength) || prefixLength < 8 || prefixLength > 30) {
    throw new NetnsError('InvalidAddress', `not an IPv4 CIDR with a /8../30 prefix: ${cidr}`);
  }
  const address = ipToInt(ip);
  const mask = prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
  return { network: (address & mask) >>> 0, prefixLength, address };
}

function inRange(address: number, cidr: string): boolean {
  const r = parseCidr(cidr);
  const mask = (0xffffffff << (32 - r.prefixLength)) >>> 0;
  return ((address & mask) >>> 0) === r.network;
}

const NAME_RE = /^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/;

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** Throws a NetnsError a person can act on when namespaces cannot be used here. */
export function assertNetnsSupport(): void {
  if (!isRoot()) {
    throw new NetnsError(
      'NotRoot',
      'network namespaces need root: run this command as root (e.g. with sudo), or leave out --netns to run on this host',
    );
  }
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    throw new NetnsError('MissingTool', 'the `ip` command (iproute2) is not installed; install it (apt-get install iproute2)');
  }
}

function run(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('ip', args, { encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(new NetnsError('CommandFailed', `ip ${args.join(' ')} failed: ${(stderr || err.message).trim()}`));
      else resolve(stdout);
    });
  });
}

function runSync(args: string[]): string {
  try {
    return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new NetnsError('CommandFailed', `ip ${args.join(' ')} failed: ${(e.stderr || e.message).trim()}`);
  }
}

async function tryRun(args: string[]): Promise<void> {
  try {
    await run(args);
  } catch (err) {
    log.debug({ err: (err as Error).message }, 'ignored ip failure during cleanup');
  }
}

function tryRunSync(args: string[]): void {
  try {
    runSync(args);
  } catch {
    // best effort during cleanup
  }
}

function linkExistsSync(name: string): boolean {
  return existsSync(`/sys/class/net/${name}`);
}

function netnsExists(netns: string): boolean {
  return existsSync(`/run/netns/${netns}`);
}

/** Is the process running? A zombie (exited, not yet reaped) counts as gone. */
function pidAlive(pid: number): boolean {
  try {
    const state = /^State:\s*(\S)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    if (state !== undefined) return state !== 'Z' && state !== 'X';
  } catch {
    // no /proc entry: fall through to a signal probe
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Processes running inside a namespace. */
function netnsPids(netns: string): number[] {
  try {
    return runSync(['netns', 'pids', netns])
      .split(/\s+/)
      .filter(Boolean)
      .map(Number)
      .filter((n) => Number.isInteger(n) && n > 0 && n !== process.pid);
  } catch {
    return [];
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

// ---------------------------------------------------------------------------------------------
// exit cleanup: one set of process listeners for every lab that asked for it

const labsToClean = new Set<NetnsLab>();
let exitHooksInstalled = false;

function cleanAllSync(): void {
  for (const lab of [...labsToClean]) {
    try {
      lab.destroySync();
    } catch (err) {
      log.error({ err }, 'netns cleanup failed');
    }
  }
}

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.once('exit', cleanAllSync);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    const handler = (): void => {
      cleanAllSync();
      process.off(signal, handler);
      // if nobody else handles the signal, die of it as we would have without this hook
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, handler);
  }
}

// ---------------------------------------------------------------------------------------------

interface LabState {
  bridge: string;
  subnet: string;
  prefix: string;
  ownerPid: number;
  /** The bridge was created by this lab (so destroying the lab removes it). */
  createdBridge: boolean;
  testRun: boolean;
}

export class NetnsLab {
  readonly bridge: string;
  readonly subnet: string;
  readonly prefix: string;
  private readonly stateDir: string;
  private readonly ipv6: boolean;
  private readonly testRun: boolean;
  private createdBridge = false;

  constructor(opts: NetnsLabOptions = {}, internal: { testRun?: boolean } = {}) {
    this.bridge = opts.bridge ?? DEFAULT_BRIDGE;
    this.subnet = opts.subnet ?? DEFAULT_SUBNET;
    this.prefix = opts.prefix ?? DEFAULT_PREFIX;
    this.stateDir = opts.stateDir ?? DEFAULT_STATE_DIR;
    this.ipv6 = opts.ipv6 ?? true;
    this.testRun = internal.testRun ?? false;
    if (!/^[A-Za-z0-9_.-]{1,15}$/.test(this.bridge)) throw new NetnsError('InvalidName', `bridge name ${JSON.stringify(this.bridge)} must be 1-15 characters`);
    const s = parseCidr(this.subnet);
    if (!inRange(s.network, NETNS_RANGE) || s.prefixLength < 15) {
      throw new NetnsError('InvalidAddress', `subnet ${this.subnet} is not inside ${NETNS_RANGE}`);
    }
    if (!/^[a-z0-9-]{0,20}$/.test(this.prefix)) throw new NetnsError('InvalidName', `invalid namespace prefix ${JSON.stringify(this.prefix)}`);
    if (opts.cleanupOnExit) {
      labsToClean.add(this);
      installExitHooks();
    }
  }

  /**
   * A lab of its own for one test run: a unique bridge, a free /24 of 198.19.0.0/16 and a unique
   * namespace prefix, destroyed on exit. Stale labs of dead test runs are removed first.
   */
  static forTestRun(opts: { stateDir?: string; ipv6?: boolean } = {}): NetnsLab {
    assertNetnsSupport();
    const stateDir = opts.stateDir ?? DEFAULT_STATE_DIR;
    NetnsLab.pruneStaleTestLabs(stateDir);
    const id = randomBytes(4).toString('hex');
    const subnetsDir = join(stateDir, 'subnets');
    mkdirSync(subnetsDir, { recursive: true });
    const inUse = NetnsLab.rootIPv4Networks();
    const thirds = Array.from({ length: 255 }, (_, i) => i + 1).sort(() => Math.random() - 0.5);
    for (const third of thirds) {
      const subnet = `198.19.${third}.0/24`;
      if (inUse.has(`198.19.${third}`)) continue;
      try {
        mkdirSync(join(subnetsDir, `198.19.${third}.0`));
      } catch {
        continue; // reserved by another run
      }
      const lab = new NetnsLab(
        { bridge: `kpt${id}`, subnet, prefix: `kpt${id}-`, stateDir, cleanupOnExit: true, ...(opts.ipv6 !== undefined ? { ipv6: opts.ipv6 } : {}) },
        { testRun: true },
      );
      return lab;
    }
    throw new NetnsError('AddressesExhausted', 'no free /24 left in 198.19.0.0/16 for a test lab');
  }

  /** Removes test labs whose owning process is gone (a run killed with SIGKILL, say). */
  static pruneStaleTestLabs(stateDir = DEFAULT_STATE_DIR): void {
    if (!existsSync(stateDir)) return;
    for (const entry of readdirSync(stateDir)) {
      const file = join(stateDir, entry, 'lab.json');
      if (!existsSync(file)) continue;
      try {
        const st = JSON.parse(readFileSync(file, 'utf8')) as LabState;
        if (!st.testRun || pidAlive(st.ownerPid)) continue;
        log.info({ bridge: st.bridge }, 'removing a stale test network lab');
        new NetnsLab({ bridge: st.bridge, subnet: st.subnet, prefix: st.prefix, stateDir }, { testRun: true }).destroySync();
      } catch (err) {
        log.warn({ err, file }, 'could not prune a stale network lab');
      }
    }
  }

  private static rootIPv4Networks(): Set<string> {
    const out = new Set<string>();
    try {
      for (const m of runSync(['-o', '-4', 'addr', 'show']).matchAll(/inet (\d+\.\d+\.\d+)\.\d+\//g)) out.add(m[1]!);
    } catch {
      // no information: rely on the reservation directory
    }
    return out;
  }

  private get dir(): string {
    return join(this.stateDir, this.bridge);
  }

  private get bridgeAddress(): { address: string; prefixLength: number } {
    const s = parseCidr(this.subnet);
    return { address: intToIp(s.network + 1), prefixLength: s.prefixLength };
  }

  private writeLabState(): void {
    mkdirSync(join(this.dir, 'hosts'), { recursive: true });
    mkdirSync(join(this.dir, 'addresses'), { recursive: true });
    const file = join(this.dir, 'lab.json');
    let createdBridge = this.createdBridge;
    if (existsSync(file)) {
      try {
        createdBridge ||= (JSON.parse(readFileSync(file, 'utf8')) as LabState).createdBridge;
      } catch {
        // rewrite below
      }
    }
    const st: LabState = {
      bridge: this.bridge,
      subnet: this.subnet,
      prefix: this.prefix,
      ownerPid: this.testRun ? process.pid : 0,
      createdBridge,
      testRun: this.testRun,
    };
    writeFileSync(file, JSON.stringify(st, null, 2));
  }

  /** Creates the bridge with its address if needed (idempotent) and makes sure it is up. */
  async ensureBridge(): Promise<BridgeInfo> {
    assertNetnsSupport();
    const { address, prefixLength } = this.bridgeAddress;
    let created = false;
    if (!linkExistsSync(this.bridge)) {
      try {
        await run(['link', 'add', this.bridge, 'type', 'bridge', 'mcast_snooping', '0', 'stp_state', '0']);
        created = true;
        this.createdBridge = true;
      } catch (err) {
        if (!linkExistsSync(this.bridge)) throw err; // lost a race to another process: fine
      }
    }
    const addrs = await run(['-o', '-4', 'addr', 'show', 'dev', this.bridge]);
    if (!addrs.includes(` ${address}/${prefixLength} `)) {
      await run(['addr', 'add', `${address}/${prefixLength}`, 'dev', this.bridge]).catch((err: unknown) => {
        // another addHost (this process or another) added it first: fine
        if (!/File exists|already assigned/i.test(String((err as Error).message))) throw err;
      });
    }
    await run(['link', 'set', this.bridge, 'up']);
    this.writeLabState();
    return { name: this.bridge, address, prefixLength, created };
  }

  private hostFile(name: string): string {
    return join(this.dir, 'hosts', `${name}.json`);
  }

  private reserveAddress(requested: string | undefined): { address: string; prefixLength: number; inSubnet: boolean } {
    const dir = join(this.dir, 'addresses');
    mkdirSync(dir, { recursive: true });
    const claim = (ip: string): boolean => {
      try {
        closeSync(openSync(join(dir, ip), 'wx'));
        return true;
      } catch {
        return false;
      }
    };
    const s = parseCidr(this.subnet);
    if (requested) {
      const r = parseCidr(requested.includes('/') ? requested : `${requested}/${s.prefixLength}`);
      if (!inRange(r.address, NETNS_RANGE)) throw new NetnsError('InvalidAddress', `${requested} is not inside ${NETNS_RANGE}`);
      const ip = intToIp(r.address);
      if (!claim(ip)) throw new NetnsError('InvalidAddress', `${ip} is already used by another host on ${this.bridge}`);
      return { address: ip, prefixLength: r.prefixLength, inSubnet: inRange(r.address, this.subnet) };
    }
    const size = 2 ** (32 - s.prefixLength);
    for (let i = 2; i < size - 1; i++) {
      const ip = intToIp(s.network + i);
      if (claim(ip)) return { address: ip, prefixLength: s.prefixLength, inSubnet: true };
    }
    throw new NetnsError('AddressesExhausted', `no free address left in ${this.subnet}`);
  }

  private releaseAddress(ip: string): void {
    rmSync(join(this.dir, 'addresses', ip), { force: true });
  }

  /**
   * Creates host `name`: namespace `<prefix><name>`, veth into the bridge, an address (the next
   * free one of the subnet, or `opts.address`, which may lie outside the bridge subnet to model an
   * off-link sender), lo up, multicast on, default and multicast routes.
   */
  async addHost(name: string, opts: { address?: string } = {}): Promise<NetnsHost> {
    assertNetnsSupport();
    if (!NAME_RE.test(name)) {
      throw new NetnsError('InvalidName', `host name ${JSON.stringify(name)} must be lower-case letters, digits and hyphens (at most 32)`);
    }
    await this.ensureBridge();
    const netns = `${this.prefix}${name}`;
    if (existsSync(this.hostFile(name)) || netnsExists(netns)) {
      throw new NetnsError('HostExists', `host ${name} (namespace ${netns}) already exists; remove it first`);
    }
    const { address, prefixLength, inSubnet } = this.reserveAddress(opts.address);
    const hostIfname = `kpv${randomBytes(4).toString('hex')}`;
    const gateway = inSubnet ? this.bridgeAddress.address : undefined;
    const host: NetnsHost = { name, netns, address, prefixLength, gateway, ifname: HOST_IFNAME, hostIfname, bridge: this.bridge };
    try {
      await run(['netns', 'add', netns]);
      // IPv6 link-local usable at once (no DAD wait), or IPv6 off entirely
      const sysctls = this.ipv6
        ? ['net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0']
        : ['net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1'];
      await run(['netns', 'exec', netns, 'sysctl', '-q', '-w', ...sysctls]).catch((err: unknown) => {
        log.debug({ err: (err as Error).message }, 'could not set IPv6 sysctls in the namespace');
      });
      await run(['link', 'add', hostIfname, 'type', 'veth', 'peer', 'name', HOST_IFNAME, 'netns', netns]);
      await run(['link', 'set', hostIfname, 'master', this.bridge]);
      await run(['link', 'set', hostIfname, 'up']);
      await run(['-n', netns, 'link', 'set', 'lo', 'up']);
      await run(['-n', netns, 'link', 'set', HOST_IFNAME, 'multicast', 'on']);
      await run(['-n', netns, 'addr', 'add', `${address}/${prefixLength}`, 'dev', HOST_IFNAME]);
      await run(['-n', netns, 'link', 'set', HOST_IFNAME, 'up']);
      if (gateway) await run(['-n', netns, 'route', 'add', 'default', 'via', gateway]);
      await run(['-n', netns, 'route', 'add', '224.0.0.0/4', 'dev', HOST_IFNAME]);
      writeFileSync(this.hostFile(name), JSON.stringify(host, null, 2));
    } catch (err) {
      await tryRun(['link', 'del', hostIfname]);
      await tryRun(['netns', 'del', netns]);
      this.releaseAddress(address);
      throw err;
    }
    log.info({ host: name, netns, address }, 'network namespace host created');
    return host;
  }

  private readHost(name: string): NetnsHost | undefined {
    try {
      return JSON.parse(readFileSync(this.hostFile(name), 'utf8')) as NetnsHost;
    } catch {
      return undefined;
    }
  }

  async getHost(name: string): Promise<NetnsHost | undefined> {
    const h = this.readHost(name);
    return h && netnsExists(h.netns) ? h : undefined;
  }

  private requireHost(name: string): NetnsHost {
    const h = this.readHost(name);
    if (!h || !netnsExists(h.netns)) throw new NetnsError('HostNotFound', `no host ${name} on bridge ${this.bridge}`);
    return h;
  }

  /** Hosts of this bridge whose namespace still exists. */
  async listHosts(): Promise<NetnsHost[]> {
    const dir = join(this.dir, 'hosts');
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => this.readHost(f.slice(0, -5)))
      .filter((h): h is NetnsHost => h !== undefined && netnsExists(h.netns))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Stops the processes in the host (TERM, then KILL after `graceMs`), then removes it. */
  async removeHost(name: string, opts: { graceMs?: number } = {}): Promise<void> {
    const h = this.readHost(name);
    const netns = h?.netns ?? `${this.prefix}${name}`;
    const pids = netnsPids(netns);
    for (const pid of pids) signal(pid, 'SIGTERM');
    const deadline = Date.now() + (opts.graceMs ?? 3000);
    while (pids.some(pidAlive) && Date.now() < deadline) await sleep(50);
    for (const pid of pids.filter(pidAlive)) signal(pid, 'SIGKILL');
    if (h) await tryRun(['link', 'del', h.hostIfname]);
    if (netnsExists(netns)) await tryRun(['netns', 'del', netns]);
    if (h) this.releaseAddress(h.address);
    rmSync(this.hostFile(name), { force: true });
    log.info({ host: name, netns }, 'network namespace host removed');
  }

  /** Takes the host's link down (its bridge port): it stays up but hears and reaches nothing. */
  async cutLink(name: string): Promise<void> {
    await run(['link', 'set', this.requireHost(name).hostIfname, 'down']);
  }

  async restoreLink(name: string): Promise<void> {
    await run(['link', 'set', this.requireHost(name).hostIfname, 'up']);
  }

  /** The recorded host whose namespace is `netns` (e.g. from a cluster's state), if any. */
  async hostByNetns(netns: string): Promise<NetnsHost | undefined> {
    return this.allRecordedHostsSync().find((h) => h.netns === netns);
  }

  /**
   * Removes the bridge and this lab's state when no host is left on it (the last `local down`).
   * Returns whether it did. A bridge that still has ports (someone else's veth) is kept.
   */
  async removeBridgeIfUnused(): Promise<boolean> {
    if (this.allRecordedHostsSync().length > 0) return false;
    if (linkExistsSync(this.bridge)) {
      let ports: string[] = [];
      try {
        ports = readdirSync(`/sys/class/net/${this.bridge}/brif`);
      } catch {
        // not a bridge we can inspect: leave it alone
        return false;
      }
      if (ports.length > 0) return false;
      await tryRun(['link', 'del', this.bridge]);
    }
    labsToClean.delete(this);
    rmSync(this.dir, { recursive: true, force: true });
    log.info({ bridge: this.bridge }, 'bridge removed (no host left on it)');
    return true;
  }

  /** Removes every host of this lab, and the bridge when this lab created it (or `removeBridge`). */
  async destroy(opts: { removeBridge?: boolean } = {}): Promise<void> {
    for (const h of await this.allRecordedHosts()) await this.removeHost(h.name, { graceMs: 1000 });
    this.finishDestroy(opts.removeBridge);
  }

  /** The same, synchronously (for exit handlers). */
  destroySync(opts: { removeBridge?: boolean } = {}): void {
    for (const h of this.allRecordedHostsSync()) {
      for (const pid of netnsPids(h.netns)) signal(pid, 'SIGKILL');
      tryRunSync(['link', 'del', h.hostIfname]);
      if (netnsExists(h.netns)) tryRunSync(['netns', 'del', h.netns]);
      this.releaseAddress(h.address);
      rmSync(this.hostFile(h.name), { force: true });
    }
    this.finishDestroy(opts.removeBridge);
  }

  private async allRecordedHosts(): Promise<NetnsHost[]> {
    return this.allRecordedHostsSync();
  }

  private allRecordedHostsSync(): NetnsHost[] {
    const dir = join(this.dir, 'hosts');
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => this.readHost(f.slice(0, -5)))
      .filter((h): h is NetnsHost => h !== undefined);
  }

  private finishDestroy(removeBridge: boolean | undefined): void {
    labsToClean.delete(this);
    let created = this.createdBridge;
    try {
      created ||= (JSON.parse(readFileSync(join(this.dir, 'lab.json'), 'utf8')) as LabState).createdBridge;
    } catch {
      // no state
    }
    if (removeBridge ?? (created || this.testRun)) {
      if (linkExistsSync(this.bridge)) tryRunSync(['link', 'del', this.bridge]);
      rmSync(this.dir, { recursive: true, force: true });
      if (this.testRun) {
        const net = this.subnet.split('/')[0]!;
        rmSync(join(this.stateDir, 'subnets', net), { recursive: true, force: true });
      }
    }
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** Starts `command` inside a host's namespace (`ip netns exec`). The child's pid is the command's. */
export function spawnInNetns(host: NetnsHost | string, command: string, args: readonly string[] = [], options: SpawnOptions = {}): ChildProcess {
  const netns = typeof host === 'string' ? host : host.netns;
  return spawn('ip', ['netns', 'exec', netns, command, ...args], options);
}

/** Runs `command` inside a host's namespace and collects its output; rejects on a non-zero exit. */
export function execInNetns(
  host: NetnsHost | string,
  command: string,
  args: readonly string[] = [],
  opts: { timeoutMs?: number } = {},
): Promise<{ stdout: string; stderr: string }> {
  const netns = typeof host === 'string' ? host : host.netns;
  return new Promise((resolve, reject) => {
    execFile('ip', ['netns', 'exec', netns, command, ...args], { encoding: 'utf8', timeout: opts.timeoutMs ?? 30_000 }, (err, stdout, stderr) => {
      if (err) reject(new NetnsError('CommandFailed', `${command} in ${netns} failed: ${(stderr || err.message).trim()}`));
      else resolve({ stdout, stderr });
    });
  });
}
