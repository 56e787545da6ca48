/**
 * ForeignCluster status is written by several controllers (outgoing peering, incoming peering,
 * virtual node, discovery), all through this helper. Each applies only the fields it owns with
 * server-side apply under its own field manager; `conditions` is a list-map keyed by type, so each
 * keeps its own conditions without clobbering the others'. A manager's apply that leaves out a
 * condition it wrote before removes it. Nothing is written when nothing changed.
 */
import { isDeepStrictEqual } from 'node:util';
import { GVR, apiVersionOf, type Condition, type ForeignCluster, type ForeignClusterStatus, type PeeringPhase } from '../api/crds.js';
import { resourcePath, type KubeClient } from './rest.js';
import { setCondition, type ConditionInput } from './conditions.js';
import { isoSeconds } from './time.js';

export type StatusFields = Omit<ForeignClusterStatus, 'conditions'>;

/** One direction of peering (status.outgoing or status.incoming) as a plan states it. */
export interface PhaseInput {
  phase: PeeringPhase;
  reason: string;
  message: string;
}

/** The direction's status: lastTransitionTime moves only when the phase changes. */
export function phaseStatus(prev: ForeignClusterStatus['outgoing'] | undefined, next: PhaseInput, now: Date): NonNullable<ForeignClusterStatus['outgoing']> {
  return {
    ...next,
    lastTransitionTime: prev?.phase === next.phase && prev.lastTransitionTime ? prev.lastTransitionTime : isoSeconds(now),
  };
}

export async function applyForeignClusterStatus(
  ctx: { client: KubeClient },
  fc: ForeignCluster,
  manager: string,
  fields: Partial<StatusFields>,
  conditions: ConditionInput[] = [],
  now = new Date(),
): Promise<boolean> {
  const current = fc.status ?? ({} as ForeignClusterStatus);
  let list: Condition[] = current.conditions ?? [];
  for (const c of conditions) list = setCondition(list, c, fc.metadata.generation, now);
  const mine = list.filter((c) => conditions.some((i) => i.type === c.type));
  const changedFields = Object.entries(fields).some(([k, v]) => !isDeepStrictEqual(stripUndefined((current as Record<string, unknown>)[k]), stripUndefined(v)));
  const changedConds = mine.some((c) => !isDeepStrictEqual(c, current.conditions?.find((x) => x.type === c.type)));
  if (!changedFields && !changedConds) return false;
  await applyOwnedStatus(ctx.client, fc.metadata.name, manager, { ...stripUndefined(fields), ...(mine.length ? { conditions: mine } : {}) });
  return true;
}

/**
 * The write itself: server-side apply of exactly the status a manager owns. For a caller that
 * has already decided what changed (the virtual-node plan computes its own condition).
 */
export function applyOwnedStatus(client: KubeClient, name: string, manager: string, status: Partial<ForeignClusterStatus>): Promise<ForeignCluster> {
  return client.apply<ForeignCluster>(
    resourcePath(GVR.foreignCluster, { name, subresource: 'status' }),
    { apiVersion: apiVersionOf(GVR.foreignCluster), kind: 'ForeignCluster', metadata: { name }, status },
    manager,
    true,
  );
}

function stripUndefined<T>(v: T): T {
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined).map(([k, x]) => [k, stripUndefined(x)])) as T;
  }
  return v;
}
