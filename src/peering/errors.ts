/**
 * An error on the peering path: `reason` is a CamelCase word a person can search for, the message
 * says what happened and what to do. They end up in a status condition (reasons.ts says which)
 * and an Event.
 */
import { ReconcileFailure } from '../k8s/executor.js';
import { conditionOf, type PeeringConditionType } from './reasons.js';

export class PeeringError extends ReconcileFailure {
  constructor(reason: string, message: string, retryAfterMs?: number) {
    super(reason, message, retryAfterMs);
    this.name = 'PeeringError';
  }

  /** The condition this failure belongs to (TrustEstablished, PeeringRequested, ...). */
  get condition(): PeeringConditionType {
    return conditionOf(this.reason);
  }
}
