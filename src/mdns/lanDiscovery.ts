/**
 * `LanDiscovery`: the one object the lan-discovery controller (and the CLI) uses. It maps
 * ClusterConfig-style settings onto the mDNS engine, owns the sockets and the interface watch, and
 * re-emits the engine's events. `update()` applies changed settings at runtime without a restart.
 */
import { EventEmitter } from 'node:events';
import { pino, type Logger } from 'pino';
import { systemClock, type Clock, type Random } from './clock.js';
import { HOST_RECORD_TTL_SECONDS, LanDefaults, MDNS_PORT } from './constants.js';
import type { CounterSnapshot } from './counters.js';
import { MdnsEngine, type AdvertiseSettings, type BrowseSettings, type EngineEvent, type EngineLimits } from './engine.js';
import { linksSignature, listLinks, type Link } from './links.js';
import { hostLabelFor, instanceLabelFor, isValidServiceType, normalizeName, serviceFqdn } from './names.js';
import { MdnsTransport } from './transport.js';
import { buildClusterTxt, clusterIDProblem, DEFAULT_NAMESPACE } from './txt.js';
import { apiUrlFor } from './apiUrl.js';
import type { AdvertisementStatus, DiscoveredPeer, LanDiscoveryConfig, LanEvents } from './types.js';

export interface LanDiscoveryOptions {
  /** UDP port (5353; tests may pick another to stay off a real LAN). */
  mdnsPort?: number;
  /** Also use IPv6 (ff02::fb) where links have a link-local address. Default true. */
  ipv6?: boolean;
  /** How often the interface list is re-read (links up/down, addresses). Default 2000 ms. */
  interfacePollMs?: number;
  clock?: Clock;
  random?: Random;
  /** Default: silent (the agent passes its own). */
  logger?: Logger;
  limits?: Partial<EngineLimits>;
  /** How long a record lives after its goodbye (RFC 6762 §10.1: 1 s). */
  goodbyeGraceMs?: number;
  /** Replaces reading the OS interfaces (tests). */
  listLinks?: (names: readonly string[]) => Link[];
}

export class LanConfigError extends Error {
  readonly reason = 'InvalidLanDiscoveryConfig';
  override name = 'LanConfigError';
}

export type ResolvedConfig = Required<Omit<LanDiscoveryConfig, 'url' | 'clusterName'>> & { url?: string; clusterName?: string };

/** Validates settings and fills in the ClusterConfig defaults. Throws LanConfigError. */
export function resolveLanConfig(c: LanDiscoveryConfig): ResolvedConfig {
  const idProblem = clusterIDProblem(c.clusterID ?? '');
  if (idProblem) throw new LanConfigError(`invalid cluster ID: ${idProblem}`);
  const service = c.service ?? LanDefaults.service;
  if (!isValidServiceType(service)) throw new LanConfigError(`invalid service type ${JSON.stringify(service)} (RFC 6763 §7)`);
  const ttl = c.ttl ?? HOST_RECORD_TTL_SECONDS;
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > 86_400) throw new LanConfigError(`ttl must be 1..86400 seconds, got ${ttl}`);
  const port = c.port ?? LanDefaults.apiServerPort;
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new LanConfigError(`invalid port ${port}`);
  if (c.url !== undefined && c.url !== '') {
    let u: URL;
    try {
      u = new URL(c.url);
    } catch {
      throw new LanConfigError(`invalid url ${JSON.stringify(c.url)}`);
    }
    if (u.protocol !== 'https:') throw new LanConfigError(`url must be https, got ${JSON.stringify(c.url)}`);
  }
  const resolved: ResolvedConfig = {
    clusterID: c.clusterID,
    name: c.name?.trim() || LanDefaults.instanceName,
    namespace: c.namespace || DEFAULT_NAMESPACE,
    port,
    ttl,
    service,
    domain: c.domain ?? LanDefaults.domain,
    enableDiscovery: c.enableDiscovery ?? true,
    enableAdvertisement: c.enableAdvertisement ?? true,
    interfaces: [...(c.interfaces ?? [])],
  };
  if (c.url) resolved.url = c.url;
  if (c.clusterName) resolved.clusterName = c.clusterName;
  return resolved;
}

export class LanDiscovery {
  private readonly emitter = new EventEmitter();
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly port: number;
  private readonly ipv6: boolean;
  private config: ResolvedConfig | undefined;
  private engine: MdnsEngine | undefined;
  private transport: MdnsTransport | undefined;
  private links: Link[] = [];
  private pollTimer: ReturnType<typeof setInterval> | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private ownInstance: string | undefined;

  constructor(private readonly options: LanDiscoveryOptions = {}) {
    this.log = options.logger ?? pino({ level: 'silent' });
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.port = options.mdnsPort ?? MDNS_PORT;
    this.ipv6 = options.ipv6 ?? true;
    this.emitter.setMaxListeners(50);
  }

  on<K extends keyof LanEvents>(event: K, listener: (payload: LanEvents[K]) => void): this {
    this.emitter.on(event, listener);
    return this;
  }

  once<K extends keyof LanEvents>(event: K, listener: (payload: LanEvents[K]) => void): this {
    this.emitter.once(event, listener);
    return this;
  }

  off<K extends keyof LanEvents>(event: K, listener: (payload: LanEvents[K]) => void): this {
    this.emitter.off(event, listener);
    return this;
  }

  /** Serialises start/update/stop so overlapping calls apply in order. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  get running(): boolean {
    return this.config !== undefined;
  }

  /** Starts advertising and/or browsing as `config` says. Rejects on invalid settings or an unusable port. */
  start(config: LanDiscoveryConfig): Promise<void> {
    return this.serial(async () => {
      if (this.config) throw new Error('LAN discovery is already started; use update()');
      const resolved = resolveLanConfig(config);
      this.engine = new MdnsEngine(
        {
          clock: this.clock,
          random: this.random,
          log: this.log,
          mdnsPort: this.port,
          ...(this.options.limits ? { limits: this.options.limits } : {}),
          ...(this.options.goodbyeGraceMs !== undefined ? { goodbyeGraceMs: this.options.goodbyeGraceMs } : {}),
        },
        {
          send: (data, target) => this.transport?.send(data, target),
          families: (link) => this.transport?.families(link) ?? [],
        },
        (e) => this.onEngineEvent(e),
      );
      this.config = resolved;
      try {
        await this.apply(undefined, resolved);
      } catch (err) {
        await this.teardown();
        throw err;
      }
      const pollMs = this.options.interfacePollMs ?? 2000;
      this.pollTimer = setInterval(() => void this.serial(() => this.pollLinks()).catch(() => undefined), pollMs);
      this.pollTimer.unref?.();
    });
  }

  /** Applies changed settings (fields left out keep their current value). */
  update(change: Partial<LanDiscoveryConfig>): Promise<void> {
    return this.serial(async () => {
      if (!this.config) throw new Error('LAN discovery is not started');
      const next = resolveLanConfig({ ...this.config, ...change });
      if (next.clusterID !== this.config.clusterID) throw new LanConfigError('the cluster ID cannot change');
      const prev = this.config;
      this.config = next;
      await this.apply(prev, next);
    });
  }

  /** Goodbye for our records, then close the sockets. Safe to call twice. */
  stop(): Promise<void> {
    return this.serial(() => this.teardown());
  }

  private async teardown(): Promise<void> {
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = undefined;
    this.engine?.shutdown();
    await this.transport?.close();
    this.transport = undefined;
    this.engine = undefined;
    this.config = undefined;
    this.ownInstance = undefined;
  }

  peers(): DiscoveredPeer[] {
    return this.engine?.peers() ?? [];
  }

  counters(): CounterSnapshot | undefined {
    return this.engine?.counters.snapshot();
  }

  status(): { advertisement: AdvertisementStatus | undefined; browsing: boolean; links: string[] } {
    return {
      advertisement: this.engine?.advertisement(),
      browsing: this.config?.enableDiscovery ?? false,
      links: this.links.map((l) => l.name),
    };
  }

  /** Cache/instance sizes (memory bounds) for diagnostics. */
  sizes(): ReturnType<MdnsEngine['sizes']> | undefined {
    return this.engine?.sizes();
  }

  // -------------------------------------------------------------------------------------------

  private readLinks(names: readonly string[]): Link[] {
    return this.options.listLinks ? this.options.listLinks(names) : listLinks({ names, ipv6: this.ipv6 });
  }

  private async apply(prev: ResolvedConfig | undefined, next: ResolvedConfig): Promise<void> {
    const engine = this.engine!;
    const needSockets = next.enableDiscovery || next.enableAdvertisement;
    if (!prev || prev.interfaces.join('\0') !== next.interfaces.join('\0')) {
      this.links = this.readLinks(next.interfaces);
      if (next.interfaces.length > 0 && this.links.length === 0) {
        this.log.warn({ interfaces: next.interfaces }, 'none of the configured interfaces is up with an address; waiting for one');
      }
    }
    if (needSockets && !this.transport) {
      const transport = new MdnsTransport({
        port: this.port,
        ipv6: this.ipv6,
        log: this.log,
        counters: engine.counters,
        onDatagram: (d) => this.engine?.handleDatagram(d),
      });
      await transport.open();
      this.transport = transport;
    }
    // engine first: it says goodbye on links we leave while their sockets are still open
    engine.setLinks(this.links);
    if (this.transport) {
      await this.transport.flush();
      await this.transport.setLinks(this.links);
    }

    engine.advertise(next.enableAdvertisement ? this.advertiseSettings(next) : null);
    engine.browse(next.enableDiscovery ? this.browseSettings(next) : null);

    if (!needSockets && this.transport) {
      await this.transport.close();
      this.transport = undefined;
    }
  }

  private advertiseSettings(c: ResolvedConfig): AdvertiseSettings | null {
    const firstIPv4 = this.links.find((l) => l.ipv4.length > 0)?.ipv4[0]?.address;
    const url = c.url ?? (firstIPv4 ? apiUrlFor(firstIPv4, c.port) : undefined);
    if (!url) {
      this.log.info('no API server URL configured and no IPv4 address to derive one from; not advertising yet');
      return null;
    }
    const txt = buildClusterTxt({
      clusterID: c.clusterID,
      namespace: c.namespace,
      url,
      ...(c.clusterName ? { clusterName: c.clusterName } : {}),
    });
    return {
      instanceBase: instanceLabelFor(c.name, c.clusterID),
      hostBase: hostLabelFor(c.name, c.clusterID),
      service: normalizeName(c.service),
      domain: normalizeName(c.domain),
      port: c.port,
      txt,
      ttl: c.ttl,
    };
  }

  private browseSettings(c: ResolvedConfig): BrowseSettings {
    const s: BrowseSettings = { serviceName: serviceFqdn(c.service, c.domain), ownClusterID: c.clusterID };
    const firstIPv4 = this.links.find((l) => l.ipv4.length > 0)?.ipv4[0]?.address;
    const url = c.url ?? (firstIPv4 ? apiUrlFor(firstIPv4, c.port) : undefined);
    if (url) s.ownUrl = url;
    if (this.ownInstance) s.ownInstance = this.ownInstance;
    return s;
  }

  private async pollLinks(): Promise<void> {
    if (!this.config || !this.engine) return;
    const links = this.readLinks(this.config.interfaces);
    const changed = linksSignature(links) !== linksSignature(this.links);
    if (!changed) {
      // retries sockets that could not be opened before (an IPv6 address still tentative)
      if (this.transport) await this.transport.setLinks(links);
      return;
    }
    this.log.info({ links: links.map((l) => l.name) }, 'network interfaces changed');
    this.links = links;
    this.engine.setLinks(links);
    if (this.transport) {
      await this.transport.flush();
      await this.transport.setLinks(links);
    }
    // a derived URL follows the addresses
    if (this.config.enableAdvertisement) this.engine.advertise(this.advertiseSettings(this.config));
    if (this.config.enableDiscovery) this.engine.browse(this.browseSettings(this.config));
  }

  private onEngineEvent(e: EngineEvent): void {
    switch (e.type) {
      case 'up':
        this.log.info({ clusterID: e.peer.clusterID, url: e.peer.url, instance: e.peer.instance }, 'LAN peer discovered');
        this.emitter.emit('up', e.peer);
        return;
      case 'update':
        this.log.info({ clusterID: e.peer.clusterID, changed: e.peer.changed }, 'LAN peer changed');
        this.emitter.emit('update', e.peer);
        return;
      case 'down':
        this.log.info({ ...e.down }, 'LAN peer gone');
        this.emitter.emit('down', e.down);
        return;
      case 'conflict':
        this.log.warn({ ...e.conflict }, 'conflicting claim for a cluster ID on the LAN');
        this.emitter.emit('conflict', e.conflict);
        return;
      case 'renamed':
        this.emitter.emit('renamed', e.rename);
        return;
      case 'announced':
        this.ownInstance = e.status.instance;
        if (this.config?.enableDiscovery) this.engine?.browse(this.browseSettings(this.config));
        this.log.info({ ...e.status }, 'advertising on the LAN');
        this.emitter.emit('announced', e.status);
        return;
      case 'withdrawn':
        this.emitter.emit('withdrawn', { instance: e.instance });
        return;
    }
  }
}
