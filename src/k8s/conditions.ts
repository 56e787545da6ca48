/**
 * Standard metav1.Condition handling: `lastTransitionTime` moves only when the status flips, and
 * callers learn whether anything changed so that unchanged status is never written.
 */
import type { Condition } from '../api/crds.js';
import { isoSeconds } from './time.js';

export interface ConditionInput {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  /** CamelCase word a person can search for. */
  reason: string;
  /** What happened and what to do. */
  message: string;
}

export function getCondition(list: Condition[] | undefined, type: string): Condition | undefined {
  return list?.find((c) => c.type === type);
}

export function isTrue(list: Condition[] | undefined, type: string): boolean {
  return getCondition(list, type)?.status === 'True';
}

/** Returns the new list (or the same array when nothing changed). */
export function setCondition(list: Condition[] | undefined, input: ConditionInput, observedGeneration?: number, now = new Date()): Condition[] {
  const current = list ?? [];
  const prev = current.find((c) => c.type === input.type);
  if (
    prev &&
    prev.status === input.status &&
    prev.reason === input.reason &&
    prev.message === input.message &&
    (observedGeneration === undefined || prev.observedGeneration === observedGeneration)
  ) {
    return current;
  }
  const next: Condition = {
    type: input.type,
    status: input.status,
    reason: input.reason,
    message: input.message.slice(0, 32768),
    lastTransitionTime: prev && prev.status === input.status ? prev.lastTransitionTime : isoSeconds(now),
    ...(observedGeneration !== undefined ? { observedGeneration } : {}),
  };
  return prev ? current.map((c) => (c.type === input.type ? next : c)) : [...current, next];
}

export function setConditions(list: Condition[] | undefined, inputs: ConditionInput[], observedGeneration?: number, now = new Date()): Condition[] {
  return inputs.reduce<Condition[]>((acc, c) => setCondition(acc, c, observedGeneration, now), list ?? []);
}
