/**
 * What a peer may advertise (docs/design.md §5 step 7): an Advertisement is written by another
 * cluster, so its numbers are checked before they become a Node. Resources are never negative
 * (the CRD already refuses a minus sign; an Advertisement stored before that rule may still carry
 * one) and stay under bounds no real cluster reaches, a heartbeat is not in the future (beyond
 * clock skew), and timeToLive is bounded. A failed check refuses the Advertisement with reason
 * InvalidAdvertisement, instead of a Node write that fails on every retry.
 */
import { parseQuantity } from '../k8s/quantity.js';
import type { Advertisement } from '../api/crds.js';

export const AdvertisementBounds = {
  /** cores */
  cpu: 1_000_000,
  /** bytes: 100 PiB */
  memory: 100 * 2 ** 50,
  pods: 1_000_000,
  /** how far ahead of our clock a heartbeat may be (clock skew) */
  heartbeatAheadSeconds: 60,
  timeToLiveSeconds: { min: 1, max: 3600 },
} as const;

/** Why this Advertisement cannot become a Node, or undefined when it can. */
export function advertisementProblem(spec: Advertisement['spec'], now: Date): string | undefined {
  for (const r of ['cpu', 'memory', 'pods'] as const) {
    const raw = spec.resources?.[r];
    const v = parseQuantity(raw as string | number | undefined);
    if (raw === undefined || raw === null || raw === '') return `resources.${r} is missing`;
    if (!Number.isFinite(v)) return `resources.${r} "${String(raw).slice(0, 64)}" is not a quantity`;
    if (v < 0) return `resources.${r} ${String(raw).slice(0, 64)} is negative`;
    if (v > AdvertisementBounds[r]) return `resources.${r} ${String(raw).slice(0, 64)} is more than the ${AdvertisementBounds[r]} any cluster can offer`;
  }
  const hb = Date.parse(spec.heartbeat);
  if (Number.isNaN(hb)) return `heartbeat "${String(spec.heartbeat).slice(0, 64)}" is not a time`;
  if (hb - now.getTime() > AdvertisementBounds.heartbeatAheadSeconds * 1000) {
    return `heartbeat ${spec.heartbeat} is in the future (more than ${AdvertisementBounds.heartbeatAheadSeconds}s ahead of this cluster's clock ${now.toISOString()})`;
  }
  const ttl = spec.timeToLive ?? 30;
  const { min, max } = AdvertisementBounds.timeToLiveSeconds;
  if (!Number.isInteger(ttl) || ttl < min || ttl > max) return `timeToLive ${ttl} is outside ${min}..${max} seconds`;
  return undefined;
}
