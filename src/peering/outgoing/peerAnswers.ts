/**
 * What peers tell us about our requests (docs/design.md §5, step 6). A peer writes its answer into
 * ConfigMap `kubepeer-answer-<its-id>` in our namespace with the credential we gave it; the
 * admission policy kubepeer-peer-answer-owner (install/manifests.ts) lets a peer credential write
 * that one name only, so the name says who wrote it. Events are not used: a peer could create one
 * about anybody, and the reader cannot verify an Event's source fields (the writer sets them).
 *
 * Every answer a peer gives goes through this one channel: pending, denied, accepted, "I dropped
 * your request", and "I renewed my credential".
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { Names } from '../../api/constants.js';
import type { Informer } from '../../k8s/informer.js';
import type { PeerAnswer } from './plan.js';

type ConfigMap = KubernetesObject & { data?: Record<string, string> };

export const ANSWER_REASONS = ['PeeringPending', 'PeeringDenied', 'PeeringAccepted', 'PeeringDropped', 'CredentialRenewed'] as const;
export type AnswerReason = (typeof ANSWER_REASONS)[number];
const REASONS = new Set<string>(ANSWER_REASONS);
/** Longest message kept from a peer (it is shown to people). */
export const ANSWER_MESSAGE_MAX = 1000;

export const peerAnswerName = (peerID: string) => `${Names.peerAnswerPrefix}${peerID}`;

/** The ConfigMap a peer writes to answer us (the writer side, peeringRequestController.ts). */
export function peerAnswerBody(namespace: string, ownID: string, reason: AnswerReason, message: string, at: string): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: peerAnswerName(ownID), namespace },
    data: { reason, message: message.slice(0, ANSWER_MESSAGE_MAX), at },
  };
}

/** The answer a ConfigMap holds, or undefined when it is not a well-formed answer. */
export function parsePeerAnswer(cm: ConfigMap | undefined): PeerAnswer | undefined {
  const d = cm?.data;
  if (!d || !REASONS.has(d.reason ?? '') || !d.at || Number.isNaN(Date.parse(d.at))) return undefined;
  return { reason: d.reason as AnswerReason, message: (d.message ?? '').slice(0, ANSWER_MESSAGE_MAX), at: d.at };
}

export class PeerAnswers {
  constructor(
    private readonly configMaps: Informer<ConfigMap>,
    private readonly namespace: string,
  ) {}

  /** The cluster ID a ConfigMap answers for, when it is an answer. */
  static clusterIDOf(cm: KubernetesObject): string | undefined {
    const name = cm.metadata?.name ?? '';
    return name.startsWith(Names.peerAnswerPrefix) ? name.slice(Names.peerAnswerPrefix.length) : undefined;
  }

  /** The latest answer of a peer. */
  latest(clusterID: string): PeerAnswer | undefined {
    return parsePeerAnswer(this.configMaps.get(`${this.namespace}/${peerAnswerName(clusterID)}`));
  }
}
