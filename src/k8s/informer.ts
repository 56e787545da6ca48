/**
 * A reflector + store (the client-go / kube-rs shape): list, then watch from the list's
 * resourceVersion with bookmarks; on a watch that ends, resume from the last resourceVersion; on
 * 410 Gone (expired resourceVersion), re-list and emit the difference so no change is lost; on any
 * other error, retry with capped exponential backoff. It never stops until told to, which is what
 * client-node's own informer does not guarantee.
 */
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubernetesObject } from '@kubernetes/client-node';
import { ApiError, KubeClient, resourcePath, type ResourceRef, type WatchEvent } from './rest.js';
import { logger } from '../observability/logger.js';

export type ObjectKey = string;

/** `namespace/name`, or `name` for cluster-scoped objects. */
export function keyOf(obj: KubernetesObject): ObjectKey {
  const ns = obj.metadata?.namespace;
  return ns ? `${ns}/${obj.metadata?.name}` : (obj.metadata?.name ?? '');
}

export function splitKey(key: ObjectKey): { namespace?: string; name: string } {
  const i = key.indexOf('/');
  return i < 0 ? { name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

export interface InformerOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Seconds the server keeps one watch open before it ends it (we then resume). */
  watchTimeoutSeconds?: number;
  /**
   * Keep `metadata.managedFields` in the cache (default: dropped). They are often the larger part
   * of an object and only server-side-apply bookkeeping reads them (client-go's transform idiom).
   */
  keepManagedFields?: boolean;
}

export interface InformerEvents<T> {
  add: [T];
  update: [T, T];
  delete: [T];
  synced: [];
}

export class Informer<T extends KubernetesObject = KubernetesObject> extends EventEmitter<InformerEvents<T>> {
  private store = new Map<ObjectKey, T>();
  private resourceVersion = '';
  private abort = new AbortController();
  private running = false;
  private synced = false;
  private readonly log;
  /** Counters for metrics and tests. */
  readonly stats = { lists: 0, watches: 0, relistsAfterGone: 0, errors: 0 };

  constructor(
    private readonly client: KubeClient,
    readonly resource: ResourceRef,
    private readonly opts: InformerOptions = {},
  ) {
    super();
    this.setMaxListeners(50);
    this.log = logger('informer', { resource: `${resource.plural}.${resource.group || 'core'}` });
  }

  get(key: ObjectKey): T | undefined {
    return this.store.get(key);
  }

  list(): T[] {
    return [...this.store.values()];
  }

  hasSynced(): boolean {
    return this.synced;
  }

  async waitForSync(timeoutMs = 60_000): Promise<void> {
    if (this.synced) return;
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${this.resource.plural} cache did not sync within ${timeoutMs / 1000}s`)), timeoutMs);
      this.once('synced', () => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.abort = new AbortController();
    void this.loop();
  }

  stop(): void {
    this.running = false;
    this.abort.abort();
  }

  private path(): string {
    return resourcePath(this.resource, { namespace: this.opts.namespace });
  }

  private selectors() {
    return { labelSelector: this.opts.labelSelector, fieldSelector: this.opts.fieldSelector };
  }

  private async loop(): Promise<void> {
    let backoff = 200;
    let needList = true;
    while (this.running) {
      try {
        if (needList) {
          await this.relist();
          needList = false;
        }
        this.stats.watches++;
        await this.client.watch<T>(
          this.path(),
          {
            ...this.selectors(),
            resourceVersion: this.resourceVersion,
            allowWatchBookmarks: true,
            timeoutSeconds: (this.opts.watchTimeoutSeconds ?? 240) + Math.floor(Math.random() * 60),
          },
          (ev) => this.apply(ev),
          this.abort.signal,
        );
        backoff = 200; // a watch that ended normally: resume at once
      } catch (err) {
        if (!this.running) break;
        if (err instanceof ApiError && err.gone) {
          this.stats.relistsAfterGone++;
          this.log.info('resourceVersion expired (410); re-listing');
          needList = true;
          continue;
        }
        this.stats.errors++;
        this.log.warn({ err: (err as Error).message, retryInMs: backoff }, 'watch failed; retrying');
        await sleep(backoff, undefined, { signal: this.abort.signal }).catch(() => {});
        backoff = Math.min(backoff * 2, 5_000);
        // After a failure we may have missed a compaction: a 410 on resume will tell us.
      }
    }
  }

  private async relist(): Promise<void> {
    this.stats.lists++;
    const fresh = new Map<ObjectKey, T>();
    let cont: string | undefined;
    let rv = '';
    do {
      const page = await this.client.list<T>(this.path(), { ...this.selectors(), limit: 500, continue: cont });
      const kind = (page.kind ?? '').replace(/List$/, '');
      for (const item of page.items) {
        // Lists omit apiVersion/kind on items; put them back so handlers see whole objects.
        item.apiVersion ??= page.apiVersion;
        item.kind ??= kind;
        fresh.set(keyOf(item), this.trim(item));
      }
      cont = page.metadata.continue || undefined;
      rv = page.metadata.resourceVersion ?? rv;
    } while (cont);
    const old = this.store;
    this.store = fresh;
    this.resourceVersion = rv;
    for (const [k, obj] of fresh) {
      const prev = old.get(k);
      if (!prev) this.emit('add', obj);
      else if (prev.metadata?.resourceVersion !== obj.metadata?.resourceVersion) this.emit('update', prev, obj);
    }
    for (const [k, obj] of old) if (!fresh.has(k)) this.emit('delete', obj);
    if (!this.synced) {
      this.synced = true;
      this.emit('synced');
    }
  }

  private apply(ev: WatchEvent<T>): void {
    const rv = ev.object?.metadata?.resourceVersion;
    if (rv) this.resourceVersion = rv;
    if (ev.type === 'BOOKMARK') return;
    const key = keyOf(ev.object);
    const prev = this.store.get(key);
    if (ev.type === 'DELETED') {
      this.store.delete(key);
      this.emit('delete', prev ?? ev.object);
      return;
    }
    const obj = this.trim(ev.object);
    this.store.set(key, obj);
    if (prev) this.emit('update', prev, obj);
    else this.emit('add', obj);
  }

  private trim(obj: T): T {
    if (!this.opts.keepManagedFields && obj.metadata?.managedFields) delete obj.metadata.managedFields;
    return obj;
  }
}
