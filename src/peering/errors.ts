/**
 * An error on the peering path: `reason` is a CamelCase word a person can search for, the message
 * says what happened and what to do. They end up in a status condition and an Event.
 */
export class PeeringError extends Error {
  constructor(
    readonly reason: string,
    message: string,
    /** The condition this failure belongs to (TrustEstablished, PeeringRequested, ...). */
    readonly condition = 'PeeringRequested',
    /** Retry sooner or later than the default backoff. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'PeeringError';
  }
}
