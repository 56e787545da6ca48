/**
 * How many PeeringRequests are waiting (status.phase Pending or absent), for the webhook's
 * `maxPendingRequests` cap. The informer cache gives the stored ones; a request the webhook has
 * just admitted reaches the cache only a few milliseconds later, so during a burst it is held as a
 * short reservation in between. Without the reservations, fifty requests admitted in parallel
 * would all see the same count and the cap would not hold.
 *
 * The counts are per replica: two replicas behind one Service may each admit up to the cap during
 * the same burst (the webhook is a guard against floods, not an exact quota).
 */
import type { PeeringRequest } from '../../api/crds.js';
import type { Informer } from '../../k8s/informer.js';

/** A reservation lapses when the informer has not seen the object by then (the create failed later). */
export const RESERVATION_TTL_MS = 15_000;

export function isPending(pr: PeeringRequest): boolean {
  const phase = pr.status?.phase;
  return phase === undefined || phase === null || (phase as string) === '' || phase === 'Pending';
}

export class PendingRequests {
  private readonly stored = new Set<string>();
  private readonly reserved = new Map<string, number>();
  private unsubscribe?: () => void;

  constructor(private readonly now: () => number = Date.now) {}

  /** Follow an informer (already synced or not: objects are counted as they arrive). */
  follow(informer: Informer<PeeringRequest>): this {
    for (const pr of informer.list()) this.observe(pr);
    const onAdd = (pr: PeeringRequest) => this.observe(pr);
    const onUpdate = (_old: PeeringRequest, pr: PeeringRequest) => this.observe(pr);
    const onDelete = (pr: PeeringRequest) => this.forget(pr.metadata?.name ?? '');
    informer.on('add', onAdd);
    informer.on('update', onUpdate);
    informer.on('delete', onDelete);
    this.unsubscribe = () => {
      informer.off('add', onAdd);
      informer.off('update', onUpdate);
      informer.off('delete', onDelete);
    };
    return this;
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  observe(pr: PeeringRequest): void {
    const name = pr.metadata?.name ?? '';
    this.reserved.delete(name);
    if (isPending(pr)) this.stored.add(name);
    else this.stored.delete(name);
  }

  forget(name: string): void {
    this.stored.delete(name);
    this.reserved.delete(name);
  }

  /** Pending requests, the one named `except` left out (a retried create is not its own rival). */
  count(except?: string): number {
    const now = this.now();
    let n = this.stored.size - (except !== undefined && this.stored.has(except) ? 1 : 0);
    for (const [name, until] of this.reserved) {
      if (until <= now) this.reserved.delete(name);
      else if (name !== except && !this.stored.has(name)) n++;
    }
    return n;
  }

  /** Hold a slot for a request just admitted, until the informer sees it. */
  reserve(name: string): void {
    if (!this.stored.has(name)) this.reserved.set(name, this.now() + RESERVATION_TTL_MS);
  }
}
