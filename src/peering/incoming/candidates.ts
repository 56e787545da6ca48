/**
 * Requests the API server could not store because a PeeringRequest of that name already exists
 * (the requester is anonymous and may only create: a second create meets AlreadyExists). The
 * webhook sees every create before the API server looks for the name, so it hands each admitted
 * create here; the peeringrequest controller then checks whether the newcomer proves the identity
 * its name claims (the identity callback, with the newcomer's own credential) and, if so, lets it
 * replace the stored request at once.
 *
 * Why that is safe: the newcomer gives the same proof a first request gives (an API server that
 * accepts its token over TLS verified with its CA answers with the cluster ID it claims), at the
 * address we already know for that ID when we know one, where only the cluster itself passes it.
 * Where we know the ID only from its requests, any cluster can claim it that way, so a newcomer
 * replaces a request that already proved itself (verified or accepted) only with the stored
 * credential's CA or its own proof of being known (plan.ts, candidateMayReplace): a stranger
 * cannot end an established peering by claiming the peer's ID. It lets the real peer's request win
 * over one that squats its ID, and a peer that re-joins replace its old request without waiting
 * for our next heartbeat to be refused.
 *
 * Kept in memory, in the process whose webhook saw the create; with several replicas, a create
 * that reached another replica is seen again at the requester's next re-send.
 */
import type { PeeringRequest } from '../../api/crds.js';

/** A candidate is considered this long after the create it came from. */
export const CANDIDATE_TTL_MS = 60_000;
/** At most this many names are held (one candidate per name: the latest). */
export const MAX_CANDIDATES = 256;

export interface Candidate {
  request: PeeringRequest;
  atMs: number;
}

export class PeeringCandidates {
  private readonly byName = new Map<string, Candidate>();
  private listeners: Array<(name: string) => void> = [];

  constructor(private readonly now: () => number = Date.now) {}

  /** An admitted create of a request (the webhook calls it; the name may or may not exist yet). */
  offer(request: PeeringRequest): void {
    const name = request?.metadata?.name;
    if (typeof name !== 'string' || !request.spec?.kubeconfig) return;
    if (!this.byName.has(name) && this.byName.size >= MAX_CANDIDATES) {
      const oldest = this.byName.keys().next().value;
      if (oldest !== undefined) this.byName.delete(oldest);
    }
    this.byName.delete(name);
    this.byName.set(name, { request, atMs: this.now() });
    for (const l of this.listeners) l(name);
  }

  /** The latest candidate for a name, while it is fresh. */
  get(name: string): Candidate | undefined {
    const c = this.byName.get(name);
    if (c && this.now() - c.atMs > CANDIDATE_TTL_MS) {
      this.byName.delete(name);
      return undefined;
    }
    return c;
  }

  /** Done with the candidate (used, refused, or the same request re-sent). */
  forget(name: string, atMs?: number): void {
    const c = this.byName.get(name);
    if (c && (atMs === undefined || c.atMs === atMs)) this.byName.delete(name);
  }

  /** Controller.watch source: the name of each offered candidate. */
  onChange(l: (name: string) => void): () => void {
    this.listeners.push(l);
    return () => {
      this.listeners = this.listeners.filter((x) => x !== l);
    };
  }
}

const perAgent = new WeakMap<object, PeeringCandidates>();

/** The one candidate store of an agent, shared by its webhook and its peeringrequest controller. */
export function candidatesOf(ctx: object): PeeringCandidates {
  let c = perAgent.get(ctx);
  if (!c) perAgent.set(ctx, (c = new PeeringCandidates()));
  return c;
}
