/**
 * Counters of what the mDNS layer sent, received and dropped (by reason), so the agent can export
 * Prometheus metrics and the benchmark can measure packets per minute per cluster.
 */

export const DROP_REASONS = [
  // whole datagrams
  'oversized',
  'truncated',
  'compression-loop',
  'bad-label',
  'name-too-long',
  'bad-rdata',
  'too-many-records',
  'malformed',
  'off-link',
  'bad-source-port',
  'bad-opcode',
  'bad-rcode',
  'rate-limited',
  'not-listening',
  'internal-error',
] as const;
export type DropReason = (typeof DROP_REASONS)[number];

export const IGNORE_REASONS = [
  // single records inside an accepted datagram
  'other-service',
  'unrelated',
  'foreign-class',
  'oversized-txt',
  'invalid-txt',
  'own-id',
  'cache-full',
  'instance-limit',
  'record-limit',
] as const;
export type IgnoreReason = (typeof IGNORE_REASONS)[number];

export interface CounterSnapshot {
  packetsSent: number;
  packetsReceived: number;
  bytesSent: number;
  bytesReceived: number;
  queriesSent: number;
  responsesSent: number;
  probesSent: number;
  announcementsSent: number;
  goodbyesSent: number;
  queriesReceived: number;
  responsesReceived: number;
  sendErrors: number;
  conflicts: number;
  renames: number;
  suppressedAnswers: number;
  rateLimitedAnswers: number;
  dropped: Record<DropReason, number>;
  ignoredRecords: Record<IgnoreReason, number>;
}

function zeros<K extends string>(keys: readonly K[]): Record<K, number> {
  return Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
}

export class MdnsCounters {
  packetsSent = 0;
  packetsReceived = 0;
  bytesSent = 0;
  bytesReceived = 0;
  queriesSent = 0;
  responsesSent = 0;
  probesSent = 0;
  announcementsSent = 0;
  goodbyesSent = 0;
  queriesReceived = 0;
  responsesReceived = 0;
  sendErrors = 0;
  conflicts = 0;
  renames = 0;
  /** Answers not sent because the querier listed them as known (RFC 6762 §7.1). */
  suppressedAnswers = 0;
  /** Answers not sent because the record was multicast less than a second ago (RFC 6762 §6). */
  rateLimitedAnswers = 0;
  readonly dropped: Record<DropReason, number> = zeros(DROP_REASONS);
  readonly ignoredRecords: Record<IgnoreReason, number> = zeros(IGNORE_REASONS);

  drop(reason: DropReason): void {
    this.dropped[reason]++;
  }

  ignore(reason: IgnoreReason): void {
    this.ignoredRecords[reason]++;
  }

  get droppedTotal(): number {
    return Object.values(this.dropped).reduce((a, b) => a + b, 0);
  }

  snapshot(): CounterSnapshot {
    return {
      packetsSent: this.packetsSent,
      packetsReceived: this.packetsReceived,
      bytesSent: this.bytesSent,
      bytesReceived: this.bytesReceived,
      queriesSent: this.queriesSent,
      responsesSent: this.responsesSent,
      probesSent: this.probesSent,
      announcementsSent: this.announcementsSent,
      goodbyesSent: this.goodbyesSent,
      queriesReceived: this.queriesReceived,
      responsesReceived: this.responsesReceived,
      sendErrors: this.sendErrors,
      conflicts: this.conflicts,
      renames: this.renames,
      suppressedAnswers: this.suppressedAnswers,
      rateLimitedAnswers: this.rateLimitedAnswers,
      dropped: { ...this.dropped },
      ignoredRecords: { ...this.ignoredRecords },
    };
  }
}
