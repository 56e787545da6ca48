/**
 * Kubernetes Events for every phase change, so `kubectl describe` and `kubectl get events` tell
 * the story. Repeats of the same event on the same object within 10 minutes bump `count` instead
 * of creating a new Event (the client-go correlator's behaviour, simplified).
 */
import { randomBytes } from 'node:crypto';
import type { KubernetesObject } from '@kubernetes/client-node';
import { Core, KubeClient, resourcePath } from './rest.js';
import { logger } from '../observability/logger.js';
import { isoSeconds } from './time.js';

const log = logger('events');
const AGGREGATE_MS = 10 * 60_000;

export type EventType = 'Normal' | 'Warning';

export class EventRecorder {
  private recent = new Map<string, { name: string; namespace: string; count: number; at: number }>();

  constructor(
    private readonly client: KubeClient,
    private readonly component = 'kubepeer-agent',
    private readonly host = '',
  ) {}

  /** Never throws: an event that cannot be written is logged, not fatal. */
  async record(obj: KubernetesObject, type: EventType, reason: string, message: string, namespaceOverride?: string): Promise<void> {
    const namespace = namespaceOverride ?? obj.metadata?.namespace ?? 'default';
    const key = `${obj.metadata?.uid}|${type}|${reason}|${message}`;
    const now = new Date();
    const nowIso = isoSeconds(now);
    const prev = this.recent.get(key);
    try {
      if (prev && now.getTime() - prev.at < AGGREGATE_MS) {
        prev.count++;
        prev.at = now.getTime();
        await this.client.mergePatch(resourcePath(Core.events, { namespace: prev.namespace, name: prev.name }), { count: prev.count, lastTimestamp: nowIso });
        return;
      }
      const name = `${obj.metadata?.name ?? 'object'}.${randomBytes(8).toString('hex')}`.slice(0, 253);
      await this.client.create(resourcePath(Core.events, { namespace }), {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name, namespace },
        involvedObject: {
          apiVersion: obj.apiVersion,
          kind: obj.kind,
          name: obj.metadata?.name,
          namespace: obj.metadata?.namespace,
          uid: obj.metadata?.uid,
          resourceVersion: obj.metadata?.resourceVersion,
        },
        type,
        reason,
        message: message.slice(0, 1024),
        source: { component: this.component, host: this.host || undefined },
        reportingComponent: this.component,
        reportingInstance: this.host || this.component,
        firstTimestamp: nowIso,
        lastTimestamp: nowIso,
        count: 1,
      });
      this.recent.set(key, { name, namespace, count: 1, at: now.getTime() });
      if (this.recent.size > 5000) this.recent.delete(this.recent.keys().next().value!);
    } catch (err) {
      // An expired aggregate target: forget it and create a fresh event next time.
      this.recent.delete(key);
      log.warn({ err: (err as Error).message, reason, object: obj.metadata?.name }, 'could not record event');
    }
  }
}
