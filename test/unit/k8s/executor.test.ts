import { describe, expect, it } from 'vitest';
import { ReconcileFailure, applyPlan, type Handlers, type RuntimeAction } from '../../../src/k8s/executor.js';
import { KubeClient } from '../../../src/k8s/rest.js';
import { logger } from '../../../src/observability/logger.js';

interface Observed {
  answer?: number;
}
type Ask = { type: 'ask' } | { type: 'note'; text: string };

// No action below reaches the API server; a client that cannot connect proves it.
const ctx = { client: KubeClient.anonymous('https://198.18.0.1:6443'), events: { record: async () => undefined }, now: () => new Date(0) };
const log = logger('test');

describe('applyPlan', () => {
  it('asks the plan again with the facts an action returns, and applies the final round in order', async () => {
    const seen: string[] = [];
    const plan = (o: Observed): Array<RuntimeAction | Ask> =>
      o.answer === undefined ? [{ type: 'ask' }, { type: 'note', text: 'skipped: the round ended with the facts' }] : [{ type: 'note', text: `answer ${o.answer}` }, { type: 'requeueAfter', ms: 500 }, { type: 'requeueAfter', ms: 200 }];
    const handlers: Handlers<Ask, Partial<Observed>> = {
      ask: async () => ({ answer: 42 }),
      note: async (a) => {
        seen.push(a.text);
      },
    };
    expect(await applyPlan(ctx, log, {}, plan, handlers)).toEqual({ requeueAfterMs: 200 });
    expect(seen).toEqual(['answer 42']);
  });

  it('ends a failed round with a ReconcileFailure that carries the reason and when to retry', async () => {
    const plan = (): RuntimeAction[] => [{ type: 'fail', reason: 'PeerBusy', message: 'the peer said 429', retryAfterMs: 60_000 }];
    const err = await applyPlan(ctx, log, {}, plan, {} as Handlers<never, Partial<Observed>>).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReconcileFailure);
    expect(err).toMatchObject({ reason: 'PeerBusy', message: 'the peer said 429', retryAfterMs: 60_000 });
  });

  it('refuses to loop on a plan that keeps asking', async () => {
    const handlers: Handlers<Ask, Partial<Observed>> = { ask: async () => ({ answer: 1 }), note: async () => undefined };
    await expect(applyPlan(ctx, log, {}, (): Ask[] => [{ type: 'ask' }], handlers)).rejects.toThrow(/asked for facts 10 times/);
  });
});
