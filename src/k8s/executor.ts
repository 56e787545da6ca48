/**
 * Applies what a plan decided. A controller's reconcile gathers what it observed, a pure
 * `plan(observed) -> actions` decides, and `applyPlan` carries the actions out in order:
 *  - the actions every controller needs (status, finalizers, patches, deletes, events, logs,
 *    requeue, fail) are applied here, with time taken only from `ctx.now`;
 *  - the controller's own actions (an identity callback, a credential, a request to a peer) go to
 *    its handlers. A handler may return facts: the result of an I/O step. Facts end the round: they
 *    are merged into `observed` and the plan is asked again, so what to do with a result is a
 *    decision of the plan too. A plan that needs a fact therefore returns the action that gets it
 *    alone, and returns its effects once it knows everything (planLanPeer's probe, the same way).
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import type { ForeignCluster } from '../api/crds.js';
import type { ConditionInput } from './conditions.js';
import type { EventType } from './events.js';
import type { ReconcileResult } from './controller.js';
import { applyForeignClusterStatus, phaseStatus, type PhaseInput, type StatusFields } from './foreignClusterStatus.js';
import { resourcePath, type KubeClient, type ResourceRef } from './rest.js';
import type { Logger } from '../observability/logger.js';

/** An object by resource and name. */
export interface Target {
  resource: ResourceRef;
  name: string;
  namespace?: string;
  subresource?: string;
}

/** The actions the runtime applies for every controller. */
export type RuntimeAction =
  /** Add the finalizer, guarded by the object's resourceVersion. */
  | { type: 'addFinalizer'; target: Target; object: KubernetesObject; finalizer: string }
  /** Remove the finalizer, guarded by the object's resourceVersion. */
  | { type: 'removeFinalizer'; target: Target; object: KubernetesObject; finalizer: string }
  | { type: 'mergePatch'; target: Target; patch: Record<string, unknown> }
  /** Delete (absent is fine). */
  | { type: 'delete'; target: Target }
  /**
   * Server-side apply of ForeignCluster status fields and conditions under `manager` (skipped when
   * nothing changes); a direction's lastTransitionTime moves only when its phase does.
   */
  | {
      type: 'foreignClusterStatus';
      foreignCluster: ForeignCluster;
      manager: string;
      outgoing?: PhaseInput;
      incoming?: PhaseInput;
      fields?: Partial<Omit<StatusFields, 'outgoing' | 'incoming'>>;
      conditions?: ConditionInput[];
    }
  | { type: 'event'; object: KubernetesObject; eventType: EventType; reason: string; message: string }
  | { type: 'log'; level: 'debug' | 'info' | 'warn'; message: string; fields?: Record<string, unknown> }
  /** Reconcile again after this long. */
  | { type: 'requeueAfter'; ms: number }
  /** End the reconcile as failed: retried after `retryAfterMs`, or with backoff. */
  | { type: 'fail'; reason: string; message: string; retryAfterMs?: number };

const RUNTIME_TYPES = new Set<string>(['addFinalizer', 'removeFinalizer', 'mergePatch', 'delete', 'foreignClusterStatus', 'event', 'log', 'requeueAfter', 'fail']);

function isRuntimeAction(a: { type: string }): a is RuntimeAction {
  return RUNTIME_TYPES.has(a.type);
}

/** A reconcile that failed for a reason a person can search for; the controller retries it. */
export class ReconcileFailure extends Error {
  constructor(
    readonly reason: string,
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'ReconcileFailure';
  }
}

/** One handler per controller action type; a handler returns facts for the next round, or nothing. */
export type Handlers<A extends { type: string }, Facts> = {
  [K in A['type']]: (action: Extract<A, { type: K }>) => Promise<Facts | void>;
};

export interface ExecutorContext {
  client: KubeClient;
  events: { record(obj: KubernetesObject, type: EventType, reason: string, message: string): Promise<void> };
  now(): Date;
}

/** More rounds than any plan needs: a plan that keeps asking for facts is a bug, not a reason to loop. */
const MAX_ROUNDS = 10;

export async function applyPlan<O extends object, A extends { type: string }>(
  ctx: ExecutorContext,
  log: Logger,
  observed: O,
  plan: (o: O) => Array<RuntimeAction | A>,
  handlers: Handlers<A, Partial<O>>,
): Promise<ReconcileResult | void> {
  let o = observed;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    let requeueAfterMs: number | undefined;
    let facts: Partial<O> | undefined;
    for (const action of plan(o)) {
      if (isRuntimeAction(action)) {
        if (action.type === 'requeueAfter') requeueAfterMs = requeueAfterMs === undefined ? action.ms : Math.min(requeueAfterMs, action.ms);
        else await applyRuntimeAction(ctx, log, action);
        continue;
      }
      const handler = (handlers as unknown as Record<string, (a: A) => Promise<Partial<O> | void>>)[action.type]!;
      const result = await handler(action as A);
      if (result) {
        facts = result;
        break;
      }
    }
    if (!facts) return requeueAfterMs === undefined ? undefined : { requeueAfterMs };
    o = { ...o, ...facts };
  }
  throw new Error(`the plan asked for facts ${MAX_ROUNDS} times in one reconcile; this is a bug in kubepeer, please report it`);
}

async function applyRuntimeAction(ctx: ExecutorContext, log: Logger, a: Exclude<RuntimeAction, { type: 'requeueAfter' }>): Promise<void> {
  const path = (t: Target) => resourcePath(t.resource, { namespace: t.namespace, name: t.name, subresource: t.subresource });
  switch (a.type) {
    case 'addFinalizer': {
      const list = a.object.metadata?.finalizers;
      await ctx.client.jsonPatch(path(a.target), [
        { op: 'test', path: '/metadata/resourceVersion', value: a.object.metadata?.resourceVersion },
        list ? { op: 'add', path: '/metadata/finalizers/-', value: a.finalizer } : { op: 'add', path: '/metadata/finalizers', value: [a.finalizer] },
      ]);
      return;
    }
    case 'removeFinalizer':
      await ctx.client.jsonPatch(path(a.target), [
        { op: 'test', path: '/metadata/resourceVersion', value: a.object.metadata?.resourceVersion },
        { op: 'replace', path: '/metadata/finalizers', value: (a.object.metadata?.finalizers ?? []).filter((f) => f !== a.finalizer) },
      ]);
      return;
    case 'mergePatch':
      await ctx.client.mergePatch(path(a.target), a.patch);
      return;
    case 'delete':
      await ctx.client.delete(path(a.target));
      return;
    case 'foreignClusterStatus': {
      const now = ctx.now();
      const prev = a.foreignCluster.status;
      const fields: Partial<StatusFields> = {
        ...(a.outgoing ? { outgoing: phaseStatus(prev?.outgoing, a.outgoing, now) } : {}),
        ...(a.incoming ? { incoming: phaseStatus(prev?.incoming, a.incoming, now) } : {}),
        ...a.fields,
      };
      await applyForeignClusterStatus(ctx, a.foreignCluster, a.manager, fields, a.conditions ?? [], now);
      return;
    }
    case 'event':
      // Never fails the reconcile: the recorder logs what it cannot write.
      void ctx.events.record(a.object, a.eventType, a.reason, a.message);
      return;
    case 'log':
      log[a.level](a.fields ?? {}, a.message);
      return;
    case 'fail':
      throw new ReconcileFailure(a.reason, a.message, a.retryAfterMs);
  }
}
