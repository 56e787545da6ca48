/**
 * What peers tell us about our requests. A peer cannot write to our ForeignCluster, but the
 * credential we gave it may create Events in our namespace; it reports PeeringPending,
 * PeeringDenied and PeeringAccepted there, about our ServiceAccount `liqo-remote-<its-id>`.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { Names } from '../../api/constants.js';
import { Core, type KubeClient } from '../../k8s/rest.js';
import { Informer } from '../../k8s/informer.js';
import type { PeerAnswer } from './plan.js';

type Event = KubernetesObject & {
  involvedObject?: { kind?: string; name?: string };
  reason?: string;
  message?: string;
  lastTimestamp?: string;
  eventTime?: string;
  firstTimestamp?: string;
  source?: { component?: string };
};

const ANSWERS = new Set(['PeeringPending', 'PeeringDenied', 'PeeringAccepted']);

export class PeerEvents {
  private informer: Informer<Event>;
  private listeners: Array<(clusterID: string) => void> = [];

  constructor(client: KubeClient, namespace: string) {
    this.informer = new Informer<Event>(client, Core.events, { namespace, fieldSelector: 'involvedObject.kind=ServiceAccount' });
    const fire = (e: Event) => {
      const id = this.clusterIDOf(e);
      if (id && ANSWERS.has(e.reason ?? '')) for (const l of this.listeners) l(id);
    };
    this.informer.on('add', fire);
    this.informer.on('update', (_o, e) => fire(e));
  }

  private clusterIDOf(e: Event): string | undefined {
    const name = e.involvedObject?.name ?? '';
    return name.startsWith(Names.remoteCredentialPrefix) ? name.slice(Names.remoteCredentialPrefix.length) : undefined;
  }

  start(): void {
    this.informer.start();
  }
  stop(): void {
    this.informer.stop();
  }
  hasSynced(): boolean {
    return this.informer.hasSynced();
  }

  /** Calls `l` with the cluster ID of every peer that answers; returns the unsubscribe. */
  onChange(l: (clusterID: string) => void): () => void {
    this.listeners.push(l);
    return () => {
      this.listeners = this.listeners.filter((x) => x !== l);
    };
  }

  /** The newest answer from a peer. */
  latest(clusterID: string): PeerAnswer | undefined {
    let best: PeerAnswer | undefined;
    for (const e of this.informer.list()) {
      if (this.clusterIDOf(e) !== clusterID || !ANSWERS.has(e.reason ?? '')) continue;
      const at = e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? '';
      if (!best || at > best.at) best = { reason: e.reason as PeerAnswer['reason'], message: e.message ?? '', at };
    }
    return best;
  }
}
