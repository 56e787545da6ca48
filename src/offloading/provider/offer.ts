/**
 * What this cluster offers one consumer: the one figure behind both the Advertisement it writes
 * into the consumer and the ResourceQuota of the consumer's tenant namespace here, so the virtual
 * node the consumer schedules on never promises more than the quota admits.
 */
import type { AgentContext } from '../../agent/context.js';
import { computeOffer, type Offer } from '../../peering/incoming/resources.js';
import { tenantNamespace } from '../names.js';

export function offerFor(ctx: Pick<AgentContext, 'informers' | 'config'>, consumerID: string): Offer {
  const offer = computeOffer(ctx.informers.nodes.list(), ctx.informers.pods.list(), ctx.config().peeringConfig.resourceSharingPercentage, tenantNamespace(consumerID));
  const cap = ctx.config().offloadingConfig.maxPodsPerConsumer;
  if (cap !== undefined && Number(offer.pods) > cap) return { ...offer, pods: String(cap) };
  return offer;
}
