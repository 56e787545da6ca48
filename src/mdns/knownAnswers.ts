/**
 * Known-Answer Suppression (RFC 6762 §7.1, §7.2) and query packetisation.
 *
 * Queriers list the answers they already hold whose remaining TTL is at least half the original; a
 * responder must not answer with a record listed with at least half its true TTL. When the list
 * does not fit in one packet, the query is split and every packet but the last has the TC bit.
 */
import { Flags, TARGET_SEND_BYTES } from './constants.js';
import { encodePacket, recordKey, type DnsPacket, type Question, type ResourceRecord } from './codec.js';

/** Index of a known-answer list: record identity -> the largest TTL listed for it. */
export type KnownAnswerIndex = Map<string, number>;

export function indexKnownAnswers(known: readonly ResourceRecord[], into: KnownAnswerIndex = new Map()): KnownAnswerIndex {
  for (const rr of known) {
    const key = recordKey(rr);
    const prev = into.get(key);
    if (prev === undefined || rr.ttl > prev) into.set(key, rr.ttl);
  }
  return into;
}

/** §7.1: true if the querier already holds `ours` with at least half of its true TTL. */
export function isSuppressed(ours: ResourceRecord, known: KnownAnswerIndex): boolean {
  const ttl = known.get(recordKey(ours));
  return ttl !== undefined && ttl >= ours.ttl / 2;
}

/** §7.1, querier side: may a cached record with this remaining lifetime be listed as known? */
export function qualifiesAsKnownAnswer(remainingMs: number, originalTtlSeconds: number): boolean {
  return originalTtlSeconds > 0 && remainingMs >= (originalTtlSeconds * 1000) / 2;
}

function recordSize(rr: ResourceRecord): number {
  // uncompressed size is an upper bound of what the record adds to a packet
  return encodePacket({ id: 0, flags: 0, questions: [], answers: [rr], authorities: [], additionals: [] }).length - 12;
}

function questionSize(q: Question): number {
  return encodePacket({ id: 0, flags: 0, questions: [q], answers: [], authorities: [], additionals: [] }).length - 12;
}

/**
 * Builds the packets of one query: the questions with as many known answers as fit, then
 * continuation packets holding the rest; all but the last carry the TC bit (§7.2).
 */
export function buildQueryPackets(
  questions: readonly Question[],
  knownAnswers: readonly ResourceRecord[],
  maxBytes = TARGET_SEND_BYTES,
): DnsPacket[] {
  const packets: DnsPacket[] = [];
  let current: DnsPacket = { id: 0, flags: 0, questions: [], answers: [], authorities: [], additionals: [] };
  let size = 12;
  for (const q of questions) {
    const n = questionSize(q);
    if (size + n > maxBytes && current.questions.length > 0) {
      packets.push(current);
      current = { id: 0, flags: 0, questions: [], answers: [], authorities: [], additionals: [] };
      size = 12;
    }
    current.questions.push(q);
    size += n;
  }
  for (const rr of knownAnswers) {
    const n = recordSize(rr);
    if (size + n > maxBytes && (current.answers.length > 0 || current.questions.length > 0)) {
      current.flags |= Flags.truncated;
      packets.push(current);
      current = { id: 0, flags: 0, questions: [], answers: [], authorities: [], additionals: [] };
      size = 12;
    }
    current.answers.push(rr);
    size += n;
  }
  if (current.questions.length > 0 || current.answers.length > 0) packets.push(current);
  return packets;
}
