/**
 * Leader election on a coordination.k8s.io Lease, with client-go's timings and rules: a candidate
 * takes the lease only when the holder has not renewed it for leaseDuration as *observed locally*
 * (no clock comparison across hosts); the leader renews every retryPeriod and steps down if it
 * cannot renew within renewDeadline; on graceful stop it releases the lease so a standby takes
 * over at once.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Gauge } from 'prom-client';
import { Core, KubeClient, isConflict, isNotFound, isAlreadyExists, resourcePath } from './rest.js';
import { Defaults } from '../api/constants.js';
import { registry } from '../observability/metrics.js';
import { logger } from '../observability/logger.js';

const isLeader = new Gauge({ name: 'kubepeer_leader', help: '1 when this agent holds the leader Lease.', registers: [registry] });

interface Lease {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: { holderIdentity?: string; leaseDurationSeconds?: number; renewTime?: string; acquireTime?: string; leaseTransitions?: number };
}

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  onStartedLeading: () => void | Promise<void>;
  onStoppedLeading: () => void | Promise<void>;
}

const microTime = (d = new Date()) => d.toISOString().replace('Z', '000Z');

export class LeaderElector {
  private leading = false;
  private stopped = false;
  private observed?: { holder?: string; rv?: string; at: number };
  private readonly log;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private loopDone?: Promise<void>;
  /** Wakes the loop from its retry sleep on stop(), so shutdown (and LAN goodbyes) start at once. */
  private readonly stopSignal = new AbortController();

  constructor(
    private readonly client: KubeClient,
    private readonly opts: LeaderElectionOptions,
  ) {
    this.leaseDurationMs = opts.leaseDurationMs ?? Defaults.leaseDurationSeconds * 1000;
    // client-go's ratios (15 s / 10 s / 2 s) when only the lease duration is given.
    this.renewDeadlineMs = opts.renewDeadlineMs ?? Math.round((this.leaseDurationMs * Defaults.renewDeadlineSeconds) / Defaults.leaseDurationSeconds);
    this.retryPeriodMs = opts.retryPeriodMs ?? Math.max(250, Math.round((this.leaseDurationMs * Defaults.retryPeriodSeconds) / Defaults.leaseDurationSeconds));
    this.log = logger('leader-election', { lease: `${opts.namespace}/${opts.name}`, identity: opts.identity });
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.loopDone = this.loop();
  }

  private path(name?: string): string {
    return resourcePath(Core.leases, { namespace: this.opts.namespace, name });
  }

  private async loop(): Promise<void> {
    let lastRenew = 0;
    while (!this.stopped) {
      let ok = false;
      try {
        ok = await this.tryAcquireOrRenew();
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'leader election request failed');
      }
      if (ok) {
        lastRenew = Date.now();
        if (!this.leading) {
          this.leading = true;
          isLeader.set(1);
          this.log.info('became leader');
          await this.opts.onStartedLeading();
        }
      } else if (this.leading && Date.now() - lastRenew > this.renewDeadlineMs) {
        this.leading = false;
        isLeader.set(0);
        this.log.warn('lost leadership (could not renew the lease in time)');
        await this.opts.onStoppedLeading();
      }
      await sleep(this.retryPeriodMs, undefined, { signal: this.stopSignal.signal }).catch(() => {});
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = new Date();
    const lease = await this.client.getOrNull<Lease>(this.path(this.opts.name));
    const desired = {
      holderIdentity: this.opts.identity,
      leaseDurationSeconds: Math.ceil(this.leaseDurationMs / 1000),
      renewTime: microTime(now),
    };
    if (!lease) {
      try {
        await this.client.create(this.path(), {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: this.opts.name, namespace: this.opts.namespace },
          spec: { ...desired, acquireTime: microTime(now), leaseTransitions: 0 },
        });
        return true;
      } catch (e) {
        if (isAlreadyExists(e)) return false;
        throw e;
      }
    }
    const holder = lease.spec.holderIdentity;
    if (!this.observed || this.observed.rv !== lease.metadata.resourceVersion) {
      this.observed = { holder, rv: lease.metadata.resourceVersion, at: Date.now() };
    }
    const mine = holder === this.opts.identity;
    const durationMs = (lease.spec.leaseDurationSeconds ?? 15) * 1000;
    const expired = !holder || Date.now() - this.observed.at > durationMs;
    if (!mine && !expired) return false;
    const spec = mine
      ? { ...lease.spec, ...desired }
      : { ...desired, acquireTime: microTime(now), leaseTransitions: (lease.spec.leaseTransitions ?? 0) + 1 };
    try {
      const updated = await this.client.replace<Lease>(this.path(this.opts.name), { ...lease, spec });
      this.observed = { holder: this.opts.identity, rv: updated.metadata.resourceVersion, at: Date.now() };
      return true;
    } catch (e) {
      if (isConflict(e) || isNotFound(e)) return false;
      throw e;
    }
  }

  /** Stop campaigning; release the lease if we hold it so another replica takes over now. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopSignal.abort();
    await this.loopDone?.catch(() => {});
    if (!this.leading) return;
    this.leading = false;
    isLeader.set(0);
    try {
      const lease = await this.client.getOrNull<Lease>(this.path(this.opts.name));
      if (lease?.spec.holderIdentity === this.opts.identity) {
        await this.client.replace(this.path(this.opts.name), { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1 } });
      }
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'could not release the lease');
    }
    await this.opts.onStoppedLeading();
  }
}
