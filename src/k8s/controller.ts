/**
 * The controller shape of controller-runtime: informers feed keys into a rate-limited work queue;
 * workers call `reconcile(key)`; an error requeues the key with exponential backoff, a result may
 * ask for a later requeue; a key is never reconciled by two workers at once.
 */
import { Counter, Histogram, Gauge } from 'prom-client';
import type { KubernetesObject } from '@kubernetes/client-node';
import { WorkQueue } from './workqueue.js';
import { Informer, keyOf } from './informer.js';
import { registry } from '../observability/metrics.js';
import { logger, type Logger } from '../observability/logger.js';

const reconcileTotal = new Counter({
  name: 'kubepeer_reconcile_total',
  help: 'Reconciles by controller and result (success, error, requeue).',
  labelNames: ['controller', 'result'],
  registers: [registry],
});
const reconcileDuration = new Histogram({
  name: 'kubepeer_reconcile_duration_seconds',
  help: 'Time spent in one reconcile.',
  labelNames: ['controller'],
  buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});
const queueDepth = new Gauge({ name: 'kubepeer_workqueue_depth', help: 'Keys waiting in a controller queue.', labelNames: ['controller'], registers: [registry] });

export interface ReconcileResult {
  /** Reconcile this key again after this many milliseconds (periodic work, polling a peer). */
  requeueAfterMs?: number;
}

export type ReconcileFn = (key: string) => Promise<ReconcileResult | void>;

/** What happened to a watched object. */
export type Change = 'add' | 'update' | 'delete';
/** The work-queue keys a change concerns. */
export type Keys = string | string[] | null | undefined;

/** A source of changes that is not an informer (e.g. the answers peers write); returns its unsubscribe. */
export interface ChangeSource<T> {
  onChange(listener: (item: T) => void): () => void;
}

export interface WatchOptions<T> {
  /** Only updates that pass this test enqueue (controller-runtime's predicates); adds and deletes always do. */
  updateFilter?: (old: T, obj: T) => boolean;
}

export interface ControllerOptions {
  name: string;
  reconcile: ReconcileFn;
  workers?: number;
  /** Called when a reconcile fails, to record the error on the object (condition + event). */
  onError?: (key: string, err: Error, attempt: number) => void | Promise<void>;
}

/**
 * Which reconcile failures reach the log at warn level: the first of a key, one whose reason or
 * message changed, and then one a minute per key with the number left out since; the others go to
 * debug. A key that keeps failing the same way (an unreachable requester retried with backoff,
 * whoever can create anonymous requests can make many) must not fill the log; its status
 * condition and Event already say what is wrong.
 */
export class FailureLogLimiter {
  private readonly last = new Map<string, { what: string; atMs: number; suppressed: number }>();
  constructor(private readonly intervalMs = 60_000, private readonly maxKeys = 10_000) {}

  /** Whether to warn now, and how many identical failures were left out since the last warning. */
  record(key: string, what: string, nowMs: number): { warn: boolean; suppressed: number } {
    const prev = this.last.get(key);
    if (prev && prev.what === what && nowMs - prev.atMs < this.intervalMs) {
      prev.suppressed++;
      return { warn: false, suppressed: prev.suppressed };
    }
    if (!prev && this.last.size >= this.maxKeys) this.last.delete(this.last.keys().next().value!);
    this.last.set(key, { what, atMs: nowMs, suppressed: 0 });
    return { warn: true, suppressed: prev?.what === what ? prev.suppressed : 0 };
  }

  /** The key reconciled fine: its next failure is news again. */
  forget(key: string): void {
    this.last.delete(key);
  }
}

export class Controller {
  readonly queue = new WorkQueue();
  readonly log: Logger;
  private readonly failureLog = new FailureLogLimiter();
  private running = false;
  private workers: Promise<void>[] = [];
  /** Removes the informer listeners added by watch() (a new controller is made per leadership term). */
  private unwatch: Array<() => void> = [];

  constructor(private readonly opts: ControllerOptions) {
    this.log = logger('controller', { controller: opts.name });
  }

  get name(): string {
    return this.opts.name;
  }

  enqueue(key: string): void {
    this.queue.add(key);
  }

  /**
   * Enqueue `map(obj, change)` (default: the object's own key) for every change the informer
   * sees, or for every item a change source reports. Every handler a controller needs goes through
   * here, so that stop() removes them all: a new controller is made per leadership term, and a
   * handler left behind would act for a controller that no longer runs.
   */
  watch<T extends KubernetesObject>(informer: Informer<T>, map?: (obj: T, change: Change) => Keys, opts?: WatchOptions<T>): this;
  watch<T>(source: ChangeSource<T>, map: (item: T) => Keys): this;
  watch<T extends KubernetesObject>(source: Informer<T> | ChangeSource<T>, map: (obj: T, change: Change) => Keys = keyOf, opts: WatchOptions<T> = {}): this {
    const enqueue = (keys: Keys) => {
      for (const k of Array.isArray(keys) ? keys : keys ? [keys] : []) this.queue.add(k);
    };
    if (!(source instanceof Informer)) {
      this.unwatch.push(source.onChange((item) => enqueue(map(item, 'update'))));
      return this;
    }
    const informer = source;
    const onAdd = (obj: T) => enqueue(map(obj, 'add'));
    const onUpdate = (old: T, obj: T) => {
      if (!opts.updateFilter || opts.updateFilter(old, obj)) enqueue(map(obj, 'update'));
    };
    const onDelete = (obj: T) => enqueue(map(obj, 'delete'));
    informer.on('add', onAdd);
    informer.on('update', onUpdate);
    informer.on('delete', onDelete);
    this.unwatch.push(() => {
      informer.off('add', onAdd);
      informer.off('update', onUpdate);
      informer.off('delete', onDelete);
    });
    // Objects already in the cache when the controller starts (e.g. after a leader change) must
    // be reconciled too: their 'add' events have fired before we listened.
    for (const obj of informer.list()) onAdd(obj);
    return this;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    for (let i = 0; i < (this.opts.workers ?? 1); i++) this.workers.push(this.worker());
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const off of this.unwatch.splice(0)) off();
    this.queue.shutDown();
    await Promise.all(this.workers);
  }

  private async worker(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === null) return;
      queueDepth.set({ controller: this.opts.name }, this.queue.length);
      const end = reconcileDuration.startTimer({ controller: this.opts.name });
      try {
        const res = await this.opts.reconcile(key);
        this.queue.forget(key);
        this.failureLog.forget(key);
        if (res?.requeueAfterMs !== undefined && this.running) {
          this.queue.addAfter(key, res.requeueAfterMs);
          reconcileTotal.inc({ controller: this.opts.name, result: 'requeue' });
        } else {
          reconcileTotal.inc({ controller: this.opts.name, result: 'success' });
        }
      } catch (e) {
        const err = e instanceof Error ? e : new Error(String(e));
        reconcileTotal.inc({ controller: this.opts.name, result: 'error' });
        const attempt = this.queue.numRequeues(key) + 1;
        const delay = this.running ? this.retry(key, err) : 0;
        const reason = (err as { reason?: string }).reason;
        const { warn, suppressed } = this.failureLog.record(key, `${reason ?? ''}|${err.message}`, Date.now());
        const fields = { key, err: err.message, reason, attempt, retryInMs: delay, ...(suppressed ? { sameFailuresNotLogged: suppressed } : {}) };
        if (warn) this.log.warn(fields, 'reconcile failed');
        else this.log.debug(fields, 'reconcile failed again the same way');
        try {
          await this.opts.onError?.(key, err, attempt);
        } catch (e2) {
          this.log.warn({ key, err: (e2 as Error).message }, 'recording the reconcile error failed');
        }
      } finally {
        end();
        this.queue.done(key);
      }
    }
  }

  /** An error that says when to retry (`retryAfterMs`, e.g. a peer answering 429) is retried then; any other with backoff. */
  private retry(key: string, err: Error): number {
    const after = (err as { retryAfterMs?: unknown }).retryAfterMs;
    if (typeof after === 'number' && Number.isFinite(after) && after >= 0) {
      this.queue.addAfter(key, after);
      return after;
    }
    return this.queue.addRateLimited(key);
  }
}
