/**
 * The lan-discovery controller (docs/design.md §4, "LAN"). While this agent leads, it runs
 * LanDiscovery with the settings of ClusterConfig `spec.discoveryConfig` (applied at runtime, no
 * restart), announcing our cluster ID, namespace and the URL peers should use (`ctx.apiUrl`), and
 * turns what the browser reports into ForeignClusters through the one discovery upsert:
 *
 *  - up / update: probe the peer's TLS against our trust store once, when a ForeignCluster is about
 *    to be created, and read whether its liqo-cluster-info proves our peering secret. join =
 *    autojoin for Trusted peers, autojoinUntrusted (with allowUntrustedCA) for peers that proved
 *    the secret; a peer that proves neither is only listed (join false, autojoin: NotProven) for a
 *    person to connect, and joined if it proves the secret later. Then upsert.
 *  - down: retire (deleted if never peered, otherwise Discovered/Reachable False and kept).
 *  - conflict: another instance claims a known cluster ID with another URL: a Warning Event and an
 *    `IdentityConflict` condition on the existing ForeignCluster; the peering is never redirected.
 *
 * The work is keyed by cluster ID in a work queue; `planLanPeer` decides, reconcile applies.
 * Leadership lost or agent stopping: goodbye (TTL 0) and close the sockets.
 */
import { isIP } from 'node:net';
import { Annotations, Names } from '../../api/constants.js';
import { GVR, apiVersionOf, type ClusterConfig, type DiscoveryConfig, type ForeignCluster } from '../../api/crds.js';
import type { AgentContext } from '../../agent/context.js';
import type { AgentPluginFactory } from '../../agent/plugins.js';
import { Controller, type ReconcileResult } from '../../k8s/controller.js';
import { logger } from '../../observability/logger.js';
import { applyForeignClusterStatus } from '../../k8s/foreignClusterStatus.js';
import { fetchClusterInfo, probeTLS } from '../../trust/tlsProbe.js';
import { certificateFingerprint } from '../../trust/pki.js';
import { AUTOJOIN_NOT_PROVEN, AUTOJOIN_PEERING_SECRET, clusterInfoProof, peeringSecret, proofMatches } from '../../trust/peeringSecret.js';
import { trustedCABundle } from '../../trust/trustStore.js';
import { findForeignCluster, isAdoptable, isPeered, retireDiscovered, upsertDiscovered, type Sighting } from '../foreignClusterUpsert.js';
import {
  LanConfigError,
  LanDiscovery,
  type CounterSnapshot,
  type DiscoveredPeer,
  type LanDiscoveryConfig,
  type LanDiscoveryOptions,
  type PeerConflict,
  type PeerDown,
} from '../../mdns/index.js';
import { addLanMetricsSource, addSnapshots, discoveryDuration, zeroSnapshot } from './lanMetrics.js';
import { urlHost } from '../../net/hosts.js';
import { policyFor } from '../../net/addressPolicy.js';
import { resolvePeerTarget } from '../../net/peerAddress.js';
import { apiUrlProblem } from '../../peering/apiUrl.js';

const log = logger('controller', { controller: 'lan-discovery' });

/** A LAN ForeignCluster not seen within this long after browsing starts is retired (agent restart). */
export const STARTUP_GRACE_MS = 15_000;
/** Probes of an unreachable peer before its trust is taken as Untrusted (only when it matters). */
export const UNREACHABLE_PROBES = 3;
/** Present peers are re-upserted this often (re-creates a deleted ForeignCluster, refreshes lastSeen). */
export const RESYNC_MS = 60_000;
/** Field manager of the conflict condition, apart from the upsert's, so that later sightings keep it. */
const CONFLICT_MANAGER = 'kubepeer-discovery-lan-conflict';
export const IDENTITY_CONFLICT = 'IdentityConflict';

// ------------------------------------------------------------------------------------- pure part

export type TrustMode = 'Trusted' | 'Untrusted' | 'Unreachable';

export interface TrustProbe {
  url: string;
  mode: TrustMode;
  /** Its liqo-cluster-info proves our peering secret (a hint: the outgoing peering checks it again over verified TLS). */
  proven?: boolean;
  /** Probes made so far for this URL (counts Unreachable results). */
  attempts: number;
  message?: string;
}

export interface LanObservation {
  ownClusterID: string;
  clusterID: string;
  /** What the LAN says about the cluster now (undefined: not seen). */
  peer: DiscoveredPeer | undefined;
  /** Why it went away, when we saw it go in this leadership term. */
  gone: PeerDown['reason'] | undefined;
  fc: ForeignCluster | undefined;
  autojoin: boolean;
  autojoinUntrusted: boolean;
  /** Whether we have a peering secret (without one, no LAN peer proves anything). */
  hasPeeringSecret?: boolean;
  /** The TLS probe of the peer's current URL, when made. */
  trust: TrustProbe | undefined;
  browsing: boolean;
  /** How long we have been browsing in this term. */
  browsingForMs: number;
}

export type LanAction =
  | { type: 'none'; why: string }
  | { type: 'probe'; url: string }
  /** Come back later; `reprobe`: forget the probe's verdict so that the next round probes again. */
  | { type: 'retry'; afterMs: number; why: string; reprobe?: boolean }
  | { type: 'upsert'; sighting: Sighting }
  | { type: 'retire'; why: string };

/** Decides what to do about one cluster ID. Pure: tests call it with plain objects. */
export function planLanPeer(o: LanObservation): LanAction {
  if (o.clusterID === o.ownClusterID) return { type: 'none', why: 'our own cluster ID' };

  if (o.peer) {
    const p = o.peer;
    // join (and allowUntrustedCA) are decided when the sighting creates the ForeignCluster, and
    // again for one only listed so far (NotProven) as long as no person decided.
    const listedOnly = !!o.fc && o.fc.spec.discoveryType === 'LAN' && !o.fc.spec.join && o.fc.metadata.annotations?.[Annotations.autojoin] === AUTOJOIN_NOT_PROVEN;
    const decides = !o.fc || isAdoptable(o.fc) || (listedOnly && !!o.hasPeeringSecret);
    let join = false;
    let allowUntrustedCA = false;
    let autojoin: string | undefined;
    if (decides) {
      const trust = o.trust?.url === p.url ? o.trust : undefined;
      if (!trust) return { type: 'probe', url: p.url };
      if (trust.mode === 'Unreachable' && (o.autojoin || (!!o.hasPeeringSecret && o.autojoinUntrusted)) && trust.attempts < UNREACHABLE_PROBES) {
        // A trusted CA or a proof would make it join, and we could not tell: ask again before settling.
        return { type: 'retry', afterMs: 1000 * 2 ** (trust.attempts - 1), why: `${p.url} did not answer the TLS probe (${trust.message ?? 'unreachable'})`, reprobe: true };
      }
      const trusted = trust.mode === 'Trusted';
      // A bare LAN sighting is never a reason to join: only a trusted CA or the peering secret is.
      join = trusted ? o.autojoin : !!trust.proven && o.autojoinUntrusted;
      allowUntrustedCA = !trusted && join;
      autojoin = trusted ? undefined : join ? AUTOJOIN_PEERING_SECRET : AUTOJOIN_NOT_PROVEN;
      if (listedOnly && !join) autojoin = undefined; // nothing new: leave it as it is
    }
    return {
      type: 'upsert',
      sighting: {
        clusterID: o.clusterID,
        apiUrl: p.url,
        namespace: p.namespace,
        ...(p.name ? { clusterName: p.name } : {}),
        source: 'LAN',
        join,
        ...(allowUntrustedCA ? { allowUntrustedCA } : {}),
        ...(autojoin ? { annotations: { [Annotations.autojoin]: autojoin } } : {}),
        via: `mDNS on ${p.interface} (${p.instance})`,
      },
    };
  }

  if (!o.fc) return { type: 'none', why: 'not on the LAN and no ForeignCluster' };
  if (o.gone === 'disabled') {
    // We stopped looking; that says nothing about the peer. Only discovered-only ones go.
    return o.fc.spec.discoveryType === 'LAN' && !isPeered(o.fc)
      ? { type: 'retire', why: 'LAN discovery was turned off (enableDiscovery: false)' }
      : { type: 'none', why: 'LAN discovery is off; a peered or hand-made ForeignCluster is kept as it is' };
  }
  if (o.gone === 'goodbye') return { type: 'retire', why: 'the cluster left the LAN (it sent an mDNS goodbye)' };
  if (o.gone === 'expired') return { type: 'retire', why: 'the cluster stopped answering on the LAN (its mDNS records expired): it left, or its link is down' };
  // Never seen in this term: a LAN ForeignCluster left from before (agent restart, new leader).
  if (o.fc.spec.discoveryType !== 'LAN' || !o.browsing) return { type: 'none', why: 'not a LAN sighting to check' };
  if (o.browsingForMs < STARTUP_GRACE_MS) return { type: 'retry', afterMs: STARTUP_GRACE_MS - o.browsingForMs + 100, why: 'waiting for the first answers on the LAN' };
  return { type: 'retire', why: `not seen on the LAN within ${STARTUP_GRACE_MS / 1000}s of browsing` };
}

/** LanDiscovery settings from ClusterConfig and our identity. */
export function lanConfigFrom(id: { clusterID: string; apiUrl: string; namespace: string }, dc: DiscoveryConfig): LanDiscoveryConfig {
  const u = new URL(id.apiUrl);
  return {
    clusterID: id.clusterID,
    url: id.apiUrl,
    namespace: id.namespace,
    name: dc.name,
    ...(dc.clusterName ? { clusterName: dc.clusterName } : {}),
    // SRV names the port the API server really listens on (the URL's), not a guess
    port: u.port ? Number(u.port) : 443,
    // the TTL of SRV, A and AAAA only (src/mdns/README.md, §10 TTLs)
    ttl: dc.ttl,
    service: dc.service,
    domain: dc.domain,
    enableDiscovery: dc.enableDiscovery,
    enableAdvertisement: dc.enableAdvertisement,
    interfaces: [...dc.interfaces],
  };
}

/** An API server URL nobody else on a LAN can reach. */
export function isLoopbackUrl(url: string): boolean {
  let host: string;
  try {
    host = urlHost(url).toLowerCase();
  } catch {
    return false;
  }
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || /^::ffff:127\./.test(host);
  return false;
}

// ------------------------------------------------------------------------------------- the edge

export interface LanControllerOptions {
  /** Passed to LanDiscovery (tests: port, poll interval, clock). */
  lan?: LanDiscoveryOptions;
  /** Run even when our API URL is loopback (tests on one host). */
  allowLoopbackUrl?: boolean;
}

export class LanController {
  private readonly lan: LanDiscovery;
  private controller: Controller | undefined;
  private active = false;
  private running = false;
  /** Why LAN discovery does not run this leadership term (published by the agent; see status()). */
  private inactiveReason: string | undefined;
  private appliedConfig = '';
  private browsingSince = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private serialQueue: Promise<unknown> = Promise.resolve();
  private carried: CounterSnapshot = zeroSnapshot();
  private readonly peers = new Map<string, DiscoveredPeer>();
  private readonly gone = new Map<string, PeerDown['reason']>();
  private readonly trust = new Map<string, TrustProbe>();
  private readonly probeAttempts = new Map<string, { url: string; attempts: number }>();
  private readonly conflicts = new Map<string, PeerConflict>();
  /** When each peer was reported, until its ForeignCluster is written (discovery latency). */
  private readonly seenAt = new Map<string, number>();
  private readonly removeMetrics: () => void;
  private readonly onConfigChange = () => void this.serial(() => this.applyConfig());

  constructor(
    private readonly ctx: AgentContext,
    private readonly opts: LanControllerOptions = {},
  ) {
    this.lan = new LanDiscovery({ logger: logger('lan-discovery'), ...opts.lan });
    this.lan.on('up', (p) => this.onUp(p));
    this.lan.on('update', (p) => this.onUp(p));
    this.lan.on('down', (d) => this.onDown(d));
    this.lan.on('conflict', (c) => this.onConflict(c));
    this.removeMetrics = addLanMetricsSource({
      counters: () => addSnapshots(this.carried, this.lan.counters()),
      peers: () => this.peers.size,
    });
  }

  /** The controller for one leadership term (the agent stops it when the term ends). */
  newController(): Controller {
    this.controller = new Controller({ name: 'lan-discovery', reconcile: (key) => this.reconcile(key), workers: 2 });
    return this.controller;
  }

  /** Leadership gained: start announcing and browsing as ClusterConfig says. */
  async start(): Promise<void> {
    if (this.active) return;
    this.active = true;
    if (isLoopbackUrl(this.ctx.apiUrl) && !this.opts.allowLoopbackUrl) {
      const msg = `LAN discovery is inactive: our API server URL ${this.ctx.apiUrl} is a loopback address that no other host can reach; start the agent with --api-url https://<LAN address>:<port> (or run the cluster on a LAN address, e.g. kubepeer local up --netns)`;
      log.info({ apiUrl: this.ctx.apiUrl }, msg);
      void this.ctx.events.record(this.clusterConfigRef(), 'Normal', 'LANDiscoveryInactive', msg);
      this.inactiveReason = msg;
      return;
    }
    this.inactiveReason = undefined;
    this.ctx.informers.clusterConfigs.on('add', this.onConfigChange);
    this.ctx.informers.clusterConfigs.on('update', this.onConfigChange);
    this.ctx.informers.clusterConfigs.on('delete', this.onConfigChange);
    await this.serial(() => this.applyConfig());
    // Stale LAN ForeignClusters (seen by an earlier leader) are checked after the start-up grace.
    for (const fc of this.ctx.informers.foreignClusters.list()) {
      if (fc.spec.discoveryType === 'LAN' && fc.spec.clusterID !== this.ctx.clusterID) this.controller?.enqueue(fc.spec.clusterID);
    }
  }

  /** Whether LAN discovery runs this term, and why not (ConfigMap kubepeer-agent-status). */
  agentStatus(): { 'lan-discovery'?: string; 'lan-discovery-reason'?: string } {
    if (!this.active) return {};
    return this.inactiveReason ? { 'lan-discovery': 'Inactive', 'lan-discovery-reason': this.inactiveReason } : { 'lan-discovery': 'Running' };
  }

  /** Leadership lost or agent stopping: goodbye, close the sockets, forget the term's state. */
  async stop(): Promise<void> {
    if (!this.active) return;
    this.active = false;
    this.ctx.informers.clusterConfigs.off('add', this.onConfigChange);
    this.ctx.informers.clusterConfigs.off('update', this.onConfigChange);
    this.ctx.informers.clusterConfigs.off('delete', this.onConfigChange);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.serial(async () => {
      if (!this.running) return;
      this.carried = addSnapshots(this.carried, this.lan.counters());
      this.running = false;
      this.appliedConfig = '';
      await this.lan.stop();
      log.info('LAN discovery stopped (goodbye sent)');
    });
    this.peers.clear();
    this.gone.clear();
    this.trust.clear();
    this.probeAttempts.clear();
    this.conflicts.clear();
    this.seenAt.clear();
  }

  /** Agent shutting down for good. */
  async close(): Promise<void> {
    await this.stop();
    this.removeMetrics();
  }

  /** For diagnostics and tests. */
  status(): { running: boolean; peers: string[]; lan: ReturnType<LanDiscovery['status']> } {
    return { running: this.running, peers: [...this.peers.keys()], lan: this.lan.status() };
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.serialQueue.then(fn, fn);
    this.serialQueue = next.catch(() => undefined);
    return next;
  }

  private clusterConfigRef(): ClusterConfig {
    const cc = this.ctx.informers.clusterConfigs.get(Names.clusterConfig);
    return {
      apiVersion: apiVersionOf(GVR.clusterConfig),
      kind: 'ClusterConfig',
      metadata: { name: Names.clusterConfig, ...(cc?.metadata.uid ? { uid: cc.metadata.uid } : {}) },
      spec: cc?.spec ?? ({} as ClusterConfig['spec']),
    } as ClusterConfig;
  }

  /** Starts LanDiscovery, or applies changed settings to the running one. */
  private async applyConfig(): Promise<void> {
    if (!this.active) return;
    const want = lanConfigFrom(this.ctx, this.ctx.config().discoveryConfig);
    const key = JSON.stringify(want);
    if (this.running && key === this.appliedConfig) return;
    const wasBrowsing = this.running && this.lan.status().browsing;
    try {
      if (this.running) {
        await this.lan.update(want);
        log.info({ config: want }, 'LAN discovery settings applied');
      } else {
        await this.lan.start(want);
        this.running = true;
        log.info({ config: want }, 'LAN discovery started');
      }
      this.appliedConfig = key;
    } catch (err) {
      const e = err as Error;
      if (err instanceof LanConfigError) {
        const msg = `LAN discovery settings in ClusterConfig ${Names.clusterConfig} are invalid: ${e.message}; fix spec.discoveryConfig (the previous settings stay in effect)`;
        log.warn({ err: e.message }, msg);
        void this.ctx.events.record(this.clusterConfigRef(), 'Warning', err.reason, msg);
        return; // the next ClusterConfig change tries again
      }
      log.error({ err: e.message }, 'LAN discovery could not start; retrying in 10s');
      void this.ctx.events.record(this.clusterConfigRef(), 'Warning', 'LANDiscoveryFailed', `LAN discovery could not start: ${e.message}; retrying in 10s`);
      this.retryTimer = setTimeout(() => void this.serial(() => this.applyConfig()), 10_000);
      this.retryTimer.unref?.();
      return;
    }
    const browsing = this.lan.status().browsing;
    if (browsing && !wasBrowsing) {
      this.browsingSince = Date.now();
      this.gone.clear();
    }
  }

  // ------------------------------------------------------------------------- LanDiscovery events

  private onUp(p: DiscoveredPeer): void {
    if (!this.active || p.clusterID === this.ctx.clusterID) return;
    const before = this.peers.get(p.clusterID);
    if (!before) this.seenAt.set(p.clusterID, Date.now());
    this.peers.set(p.clusterID, p);
    this.gone.delete(p.clusterID);
    this.controller?.enqueue(p.clusterID);
  }

  private onDown(d: PeerDown): void {
    if (!this.active) return;
    this.peers.delete(d.clusterID);
    this.seenAt.delete(d.clusterID);
    this.trust.delete(d.clusterID);
    this.probeAttempts.delete(d.clusterID);
    this.conflicts.delete(d.clusterID);
    this.gone.set(d.clusterID, d.reason);
    this.controller?.enqueue(d.clusterID);
  }

  private onConflict(c: PeerConflict): void {
    if (!this.active) return;
    if (c.own) {
      const msg = `mDNS instance "${c.instance}" at ${c.sourceAddress} announces OUR cluster ID ${c.clusterID} with URL ${c.url}; peers that know us keep using ${c.existing.url}. Find that host: two API servers claim one cluster ID.`;
      log.warn({ ...c }, 'another host on the LAN claims our cluster ID');
      void this.ctx.events.record(this.clusterConfigRef(), 'Warning', 'DuplicateClusterID', msg);
      return;
    }
    this.conflicts.set(c.clusterID, c);
    this.controller?.enqueue(c.clusterID);
  }

  // ------------------------------------------------------------------------------------ reconcile

  private async reconcile(id: string): Promise<ReconcileResult | void> {
    if (!this.active || !this.running) return;
    const dc = this.ctx.config().discoveryConfig;
    for (let round = 0; round < 2; round++) {
      const fc = findForeignCluster(this.ctx, id);
      const action = planLanPeer({
        ownClusterID: this.ctx.clusterID,
        clusterID: id,
        peer: this.peers.get(id),
        gone: this.gone.get(id),
        fc,
        autojoin: dc.autojoin,
        autojoinUntrusted: dc.autojoinUntrusted,
        hasPeeringSecret: !!peeringSecret(this.ctx),
        trust: this.trust.get(id),
        browsing: this.lan.status().browsing,
        browsingForMs: Date.now() - this.browsingSince,
      });
      switch (action.type) {
        case 'none':
          return;
        case 'probe':
          this.trust.set(id, await this.probe(id, action.url));
          continue; // plan again with the answer
        case 'retry':
          log.debug({ clusterID: id, why: action.why, afterMs: action.afterMs }, 'LAN peer: retrying later');
          if (action.reprobe) this.trust.delete(id);
          return { requeueAfterMs: action.afterMs };
        case 'retire': {
          const r = await retireDiscovered(this.ctx, id, 'LAN', action.why);
          if (r !== 'absent') log.info({ clusterID: id, result: r, why: action.why }, 'LAN peer retired');
          return;
        }
        case 'upsert': {
          const result = await upsertDiscovered(this.ctx, action.sighting);
          const seen = this.seenAt.get(id);
          if (seen !== undefined && (result === 'created' || result === 'updated' || result === 'unchanged' || result === 'conflict')) {
            discoveryDuration.observe({ source: 'lan' }, (Date.now() - seen) / 1000);
            this.seenAt.delete(id);
          }
          if (result === 'created' || result === 'updated' || (fc && fc.metadata.annotations?.[Annotations.autojoin] === AUTOJOIN_NOT_PROVEN)) {
            // probe again next time (for one only listed: it may prove the secret by then)
            this.trust.delete(id);
            this.probeAttempts.delete(id);
          }
          if (result === 'updated' && fc && isAdoptable(fc)) log.info({ clusterID: id, join: action.sighting.join }, 'LAN peer: adopted the ForeignCluster its PeeringRequest created');
          if (result === 'created') log.info({ clusterID: id, apiUrl: action.sighting.apiUrl, join: action.sighting.join, allowUntrustedCA: !!action.sighting.allowUntrustedCA }, 'LAN peer: ForeignCluster created');
          const pending = this.conflicts.get(id);
          if (pending) {
            const current = findForeignCluster(this.ctx, id);
            if (!current) return { requeueAfterMs: 1000 }; // the cache has not caught up with the create yet
            await this.flagConflict(current, pending);
            this.conflicts.delete(id);
          }
          return { requeueAfterMs: RESYNC_MS };
        }
      }
    }
    return { requeueAfterMs: 1000 };
  }

  private async probe(id: string, url: string): Promise<TrustProbe> {
    const previous = this.probeAttempts.get(id);
    const attempts = (previous?.url === url ? previous.attempts : 0) + 1;
    this.probeAttempts.set(id, { url, attempts });
    // An announced URL is someone else's word: its host is resolved once and every address
    // checked with the outbound policy before anything connects to it (src/net/peerAddress.ts).
    const allowedCIDRs = this.ctx.config().peeringConfig.allowedPeerCIDRs;
    const problem = apiUrlProblem(url, 'the announced URL', this.ctx.apiUrl, allowedCIDRs);
    const target = problem ? { ok: false as const, message: problem } : await resolvePeerTarget(url, policyFor(this.ctx.apiUrl, allowedCIDRs));
    if (!target.ok) {
      log.debug({ clusterID: id, url, why: target.message }, 'LAN peer: not probed');
      return { url, mode: 'Unreachable', attempts, message: `not probed: ${target.message}` };
    }
    const r = await probeTLS(url, trustedCABundle(this.ctx), 5000, target.address);
    const mode: TrustMode = r.ok ? 'Trusted' : r.certificateProblem ? 'Untrusted' : 'Unreachable';
    const proven = mode === 'Untrusted' ? await this.provesSecret(id, url, target.address) : undefined;
    log.debug({ clusterID: id, url, mode, code: r.code, attempts, proven }, 'LAN peer: TLS probe');
    return { url, mode, attempts, ...(proven !== undefined ? { proven } : {}), ...(r.message ? { message: r.message } : {}) };
  }

  /**
   * Whether the peer's liqo-cluster-info proves our peering secret for its ID and the CA it
   * publishes, and that CA validates its API server. A hint for join only: the outgoing peering
   * checks the proof again over TLS verified with the CA it pins, before it sends anything.
   */
  private async provesSecret(id: string, url: string, address: string | undefined): Promise<boolean> {
    const secret = peeringSecret(this.ctx);
    if (!secret) return false;
    try {
      const info = await fetchClusterInfo(url, this.peers.get(id)?.namespace ?? 'liqo', { insecure: true, address });
      if (info.clusterID !== id || !info.caPem) return false;
      const expected = clusterInfoProof(secret, id, certificateFingerprint(info.caPem));
      if (!proofMatches(expected, info.peeringProof)) return false;
      return (await probeTLS(url, [info.caPem], 5000, address)).ok;
    } catch (e) {
      log.debug({ clusterID: id, url, err: (e as Error).message }, 'LAN peer: no proof of the peering secret');
      return false;
    }
  }

  private async flagConflict(fc: ForeignCluster, c: PeerConflict): Promise<void> {
    const msg = `mDNS instance "${c.instance}" at ${c.sourceAddress} announces cluster ${c.clusterID} with URL ${c.url}, but this ForeignCluster uses ${fc.spec.apiUrl} (announced first by "${c.existing.instance}"); the claim is ignored. Two API servers claim one cluster ID: find the host at ${c.sourceAddress}; if the cluster really moved, edit spec.apiUrl.`;
    const changed = await applyForeignClusterStatus(this.ctx, fc, CONFLICT_MANAGER, {}, [{ type: IDENTITY_CONFLICT, status: 'True', reason: 'DuplicateClusterID', message: msg }]);
    void this.ctx.events.record(fc, 'Warning', 'DuplicateClusterID', msg);
    log.warn({ clusterID: c.clusterID, claimedUrl: c.url, keptUrl: fc.spec.apiUrl, changed }, 'conflicting LAN claim flagged on the ForeignCluster');
  }
}

export const lanDiscoveryPlugin: AgentPluginFactory = async (ctx) => {
  const lan = new LanController(ctx);
  return {
    name: 'lan-discovery',
    controllers: () => [lan.newController()],
    onLeadingEarly: () => lan.start(),
    onNotLeading: () => lan.stop(),
    stop: () => lan.close(),
    status: () => lan.agentStatus(),
  };
};
