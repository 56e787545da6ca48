/**
 * How many PeeringRequests are waiting (status.phase Pending or absent), for the webhook's
 * `maxPendingRequests` cap. The informer cache gives the stored ones; a request the webhook has
 * just admitted reaches the cache only a few milliseconds later, so during a burst it is held as a
 * short reservation in between. Without the reservations, fifty requests admitted in parallel
 * would all see the same count and the cap would not hold.
 *
 * The counts are per replica: two replicas behind one Service may each admit up to the cap during
 * the same burst (the webhook is a guard against floods, not an exact quota).
 *
 * Anyone who can reach the webhook port can post an AdmissionReview; the API server's admission
 * configuration on a user's cluster is not ours to set, so the webhook cannot tell the API server's
 * calls from forged ones. A forged call must not take a slot: the count is what the API server
 * stored (the informer), and a reservation counts only when it comes from a source address that
 * has shown it is the API server, i.e. an admission from that address was followed by the object
 * appearing in the store. A forger's address never shows that (its calls store nothing), so its
 * calls reserve nothing. Where the forger could share the API server's address (loopback, in
 * local clusters), the caller is authenticated instead (webhookClientAuth.ts): a forger never gets
 * past the TLS handshake, and the API server's admissions hold their reservations at once.
 */
import type { PeeringRequest } from '../../api/crds.js';
import type { Informer } from '../../k8s/informer.js';

/** A reservation lapses when the informer has not seen the object by then (the create failed later). */
export const RESERVATION_TTL_MS = 15_000;

export function isPending(pr: PeeringRequest): boolean {
  const phase = pr.status?.phase;
  return phase === undefined || phase === null || (phase as string) === '' || phase === 'Pending';
}

/**
 * Whether a request takes a slot of the cap: pending and its requester not verified yet. A
 * verified one (waiting for a person's approval) proved who it is and leaves the cap, so
 * unverified requests cannot starve verified ones; unverified ones expire (incoming/plan.ts).
 */
export function takesSlot(pr: PeeringRequest): boolean {
  return isPending(pr) && pr.status?.conditions?.find((c) => c.type === 'IdentityVerified')?.status !== 'True';
}

/** Admissions remembered (to learn which sources are the API server), at most. */
const MAX_CANDIDATES = 10_000;

export class PendingRequests {
  private readonly stored = new Set<string>();
  private readonly reserved = new Map<string, number>();
  /** Admitted creates not stored yet: name -> the source address that asked, and until when it counts. */
  private readonly candidates = new Map<string, { source: string; until: number }>();
  /** Source addresses whose admissions became stored objects: the API server's. */
  private readonly provenSources = new Set<string>();
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
    const candidate = this.candidates.get(name);
    if (candidate) {
      this.candidates.delete(name);
      if (candidate.until > this.now()) this.provenSources.add(candidate.source);
    }
    this.reserved.delete(name);
    if (takesSlot(pr)) this.stored.add(name);
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

  /**
   * A create was just admitted for `name`, asked from `source` (the caller's address). From a
   * source known to be the API server, it holds a slot until the informer sees it; from any other,
   * it holds nothing, and if the object then appears, the source is known from then on. Without a
   * source (tests of the pure handler), it holds a slot.
   */
  reserve(name: string, source?: string): void {
    if (this.stored.has(name)) return;
    const until = this.now() + RESERVATION_TTL_MS;
    if (source !== undefined) {
      if (this.candidates.size >= MAX_CANDIDATES) this.pruneCandidates();
      this.candidates.set(name, { source, until });
      if (!this.provenSources.has(source)) return;
    }
    this.reserved.set(name, until);
  }

  /** Whether admissions from `source` have been seen to become stored objects. */
  isProvenSource(source: string): boolean {
    return this.provenSources.has(source);
  }

  private pruneCandidates(): void {
    const now = this.now();
    for (const [name, c] of this.candidates) if (c.until <= now) this.candidates.delete(name);
    // still full (a flood of forged calls with fresh names): forget the oldest half
    if (this.candidates.size >= MAX_CANDIDATES) {
      let drop = this.candidates.size / 2;
      for (const name of this.candidates.keys()) {
        if (drop-- <= 0) break;
        this.candidates.delete(name);
      }
    }
  }
}
