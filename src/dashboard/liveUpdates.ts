/**
 * Live updates for one browser: watches made with that person's token (so they only hear about
 * what they may read) on the kinds the dashboard shows. Each change becomes a small "changed"
 * message, debounced, and the web app refetches what it shows. A watch that ends is resumed from
 * its last resourceVersion; an expired one (410) or a failure re-lists and reports a change, since
 * events may have been missed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Labels } from '../api/constants.js';
import { GVR } from '../api/crds.js';
import { ApiError, Core, resourcePath, type KubeClient, type ResourceRef } from '../k8s/rest.js';
import type { Logger } from '../observability/logger.js';
import type { LiveEvent } from './api.js';
import { fromApiError } from './errors.js';

export interface LiveTarget {
  kind: string;
  ref: ResourceRef;
  labelSelector?: string;
}

export const LIVE_TARGETS: LiveTarget[] = [
  { kind: 'foreignclusters', ref: GVR.foreignCluster },
  { kind: 'peeringrequests', ref: GVR.peeringRequest },
  { kind: 'advertisements', ref: GVR.advertisement },
  { kind: 'searchdomains', ref: GVR.searchDomain },
  { kind: 'nodes', ref: Core.nodes, labelSelector: Labels.remoteClusterID },
];

export interface LiveFeedOptions {
  debounceMs?: number;
  /** Seconds the API server keeps one watch open before we resume it. */
  watchTimeoutSeconds?: number;
}

export class LiveFeed {
  private readonly abort = new AbortController();
  private pending = new Set<string>();
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly kube: KubeClient,
    private readonly send: (ev: LiveEvent) => void,
    private readonly log: Logger,
    private readonly opts: LiveFeedOptions = {},
    private readonly targets: LiveTarget[] = LIVE_TARGETS,
  ) {}

  /**
   * Lists each kind once (to learn where to watch from) and starts the watches. Rejects with an
   * HttpError when the token is not accepted at all, so the caller answers 401 instead of a stream.
   */
  async start(): Promise<void> {
    const starts = await Promise.all(
      this.targets.map(async (t) => {
        try {
          return { t, rv: await this.resourceVersion(t) };
        } catch (e) {
          if (e instanceof ApiError && e.code === 403) return { t, forbidden: e.message };
          throw fromApiError(e, { verb: 'watch', resource: t.kind, doing: 'follow changes' });
        }
      }),
    );
    for (const s of starts) {
      if ('forbidden' in s) this.send({ type: 'forbidden', kind: s.t.kind, message: `forbidden: you may not watch ${s.t.kind}, so changes to them do not show up live` });
      else void this.follow(s.t, s.rv);
    }
    this.send({ type: 'ready' });
  }

  stop(): void {
    this.stopped = true;
    this.abort.abort();
    if (this.timer) clearTimeout(this.timer);
  }

  private async resourceVersion(t: LiveTarget): Promise<string> {
    const page = await this.kube.list(resourcePath(t.ref), { labelSelector: t.labelSelector, limit: 1 });
    return page.metadata.resourceVersion ?? '';
  }

  private changed(kind: string): void {
    if (this.stopped) return;
    this.pending.add(kind);
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      const kinds = [...this.pending];
      this.pending.clear();
      if (!this.stopped) this.send({ type: 'changed', kinds });
    }, this.opts.debounceMs ?? 250);
  }

  private async follow(t: LiveTarget, startRV: string): Promise<void> {
    let rv = startRV;
    let backoff = 500;
    while (!this.stopped) {
      try {
        await this.kube.watch<{ metadata?: { resourceVersion?: string } }>(
          resourcePath(t.ref),
          { labelSelector: t.labelSelector, resourceVersion: rv, allowWatchBookmarks: true, timeoutSeconds: this.opts.watchTimeoutSeconds ?? 240 },
          (ev) => {
            rv = ev.object?.metadata?.resourceVersion ?? rv;
            if (ev.type !== 'BOOKMARK') this.changed(t.kind);
          },
          this.abort.signal,
        );
        backoff = 500;
      } catch (e) {
        if (this.stopped) return;
        const code = e instanceof ApiError ? e.code : 0;
        if (code === 401) {
          this.send({ type: 'unauthorized', message: 'The API server no longer accepts this token: sign in again.' });
          this.stop();
          return;
        }
        if (code === 403) {
          this.send({ type: 'forbidden', kind: t.kind, message: `forbidden: you may not watch ${t.kind}, so changes to them do not show up live` });
          return;
        }
        if (code !== 410) {
          this.log.debug({ kind: t.kind, err: (e as Error).message, retryInMs: backoff }, 'live watch failed; resuming');
          await sleep(backoff, undefined, { signal: this.abort.signal }).catch(() => {});
          backoff = Math.min(backoff * 2, 10_000);
        }
        // Expired or failed: start again from now, and tell the browser it may have missed something.
        try {
          rv = await this.resourceVersion(t);
          this.changed(t.kind);
        } catch (err) {
          if (err instanceof ApiError && err.code === 401) {
            this.send({ type: 'unauthorized', message: 'The API server no longer accepts this token: sign in again.' });
            this.stop();
            return;
          }
        }
      }
    }
  }
}

/** One Server-Sent Event. */
export function sseFrame(ev: LiveEvent): string {
  return `event: ${ev.type}\ndata: ${JSON.stringify(ev)}\n\n`;
}
