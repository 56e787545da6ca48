import { describe, expect, it } from 'vitest';
import { setCondition, setConditions } from '../../../src/k8s/conditions.js';
import { WorkQueue } from '../../../src/k8s/workqueue.js';
import { keyOf, splitKey } from '../../../src/k8s/informer.js';
import { resourcePath } from '../../../src/k8s/rest.js';
import { GVR } from '../../../src/api/crds.js';
import { table } from '../../../src/cli/output.js';

describe('conditions', () => {
  const t0 = new Date('2026-01-01T00:00:00Z');
  const t1 = new Date('2026-01-01T00:05:00Z');
  it('moves lastTransitionTime only when the status flips', () => {
    const a = setCondition([], { type: 'Reachable', status: 'True', reason: 'Ok', message: 'fine' }, 1, t0);
    const b = setCondition(a, { type: 'Reachable', status: 'True', reason: 'StillOk', message: 'still fine' }, 1, t1);
    expect(b[0]!.lastTransitionTime).toBe('2026-01-01T00:00:00Z');
    expect(b[0]!.reason).toBe('StillOk');
    const c = setCondition(b, { type: 'Reachable', status: 'False', reason: 'Down', message: 'gone' }, 1, t1);
    expect(c[0]!.lastTransitionTime).toBe('2026-01-01T00:05:00Z');
  });
  it('returns the same array when nothing changed, so no status write happens', () => {
    const a = setConditions([], [{ type: 'A', status: 'True', reason: 'R', message: 'm' }], 2, t0);
    expect(setCondition(a, { type: 'A', status: 'True', reason: 'R', message: 'm' }, 2, t1)).toBe(a);
    expect(setCondition(a, { type: 'A', status: 'True', reason: 'R', message: 'm' }, 3, t1)).not.toBe(a);
  });
});

describe('work queue', () => {
  it('never hands out a key twice at once and re-queues a key added while it is processed', async () => {
    const q = new WorkQueue(1, 10);
    q.add('a');
    q.add('a');
    expect(q.length).toBe(1);
    const k = await q.get();
    q.add('a'); // dirty while processing
    expect(q.length).toBe(0);
    q.done(k!);
    expect(q.length).toBe(1);
  });
  it('backs off exponentially per key and forgets on success', () => {
    const q = new WorkQueue(100, 1000);
    expect([q.addRateLimited('x'), q.addRateLimited('x'), q.addRateLimited('x'), q.addRateLimited('x'), q.addRateLimited('x')]).toEqual([100, 200, 400, 800, 1000]);
    q.forget('x');
    expect(q.addRateLimited('x')).toBe(100);
    q.shutDown();
  });
  it('keeps the earliest of two delayed adds', async () => {
    const q = new WorkQueue();
    q.addAfter('k', 10_000);
    q.addAfter('k', 5);
    const got = await Promise.race([q.get(), new Promise((r) => setTimeout(() => r('timeout'), 1000))]);
    expect(got).toBe('k');
    q.shutDown();
  });
});

describe('paths and keys', () => {
  it('builds API paths for core and custom resources', () => {
    expect(resourcePath({ group: '', version: 'v1', plural: 'configmaps' }, { namespace: 'liqo', name: 'cluster-id' })).toBe('/api/v1/namespaces/liqo/configmaps/cluster-id');
    expect(resourcePath(GVR.foreignCluster, { name: 'x', subresource: 'status' })).toBe('/apis/discovery.liqo.io/v1/foreignclusters/x/status');
  });
  it('round-trips object keys', () => {
    expect(keyOf({ metadata: { namespace: 'ns', name: 'n' } })).toBe('ns/n');
    expect(splitKey('ns/n')).toEqual({ namespace: 'ns', name: 'n' });
    expect(splitKey('n')).toEqual({ name: 'n' });
  });
});

describe('CLI table', () => {
  it('prints kubectl-style columns', () => {
    expect(table([{ a: 'x', b: 1 }], [{ header: 'Name', value: (r) => r.a }, { header: 'Count', value: (r) => r.b }])).toBe('NAME   COUNT\nx      1');
  });
});

describe('Controller.watch', () => {
  it('removes its informer listeners on stop, so leadership terms do not pile them up', async () => {
    const { Controller } = await import('../../../src/k8s/controller.js');
    const { Informer } = await import('../../../src/k8s/informer.js');
    const { KubeClient, Core } = await import('../../../src/k8s/rest.js');
    const informer = new Informer(KubeClient.anonymous('https://198.18.0.1:6443'), Core.configMaps);
    for (let term = 0; term < 3; term++) {
      const c = new Controller({ name: 'test', reconcile: async () => undefined }).watch(informer);
      c.start();
      expect(informer.listenerCount('add') + informer.listenerCount('update') + informer.listenerCount('delete')).toBe(3);
      await c.stop();
      expect(informer.listenerCount('add') + informer.listenerCount('update') + informer.listenerCount('delete')).toBe(0);
    }
  });
});

describe('Controller.watch of a change source', () => {
  it('unsubscribes on stop, so a peer answer after the term ends enqueues nothing', async () => {
    const { Controller } = await import('../../../src/k8s/controller.js');
    const listeners = new Set<(id: string) => void>();
    const source = {
      onChange(l: (id: string) => void) {
        listeners.add(l);
        return () => listeners.delete(l);
      },
    };
    const c = new Controller({ name: 'test', reconcile: async () => undefined }).watch(source, (id) => `fc-${id}`);
    expect(listeners.size).toBe(1);
    for (const l of listeners) l('a');
    expect(c.queue.length).toBe(1);
    await c.stop();
    expect(listeners.size).toBe(0);
  });
});

describe('Controller retries', () => {
  it('retries a failure that carries retryAfterMs after that delay, not after the exponential backoff', async () => {
    const { Controller } = await import('../../../src/k8s/controller.js');
    let failed!: () => void;
    const recorded = new Promise<void>((r) => (failed = r));
    const c = new Controller({
      name: 'test',
      reconcile: async () => {
        throw Object.assign(new Error('the peer is busy'), { retryAfterMs: 60_000 });
      },
      onError: () => failed(),
    });
    c.enqueue('k');
    c.start();
    await recorded;
    // The backoff path counts a failure (and would retry after 250 ms); the peer's delay does not.
    expect(c.queue.numRequeues('k')).toBe(0);
    await c.stop();
  });
});

describe('Controller last resort', () => {
  it('survives a reconcile that throws synchronously or rejects with a non-Error: counts it, requeues it with backoff, and goes on with other keys', async () => {
    const { Controller } = await import('../../../src/k8s/controller.js');
    const { registry } = await import('../../../src/observability/metrics.js');
    const seen: string[] = [];
    let doneOk!: () => void;
    const okDone = new Promise<void>((r) => (doneOk = r));
    const errors: Array<{ key: string; message: string; attempt: number }> = [];
    const c = new Controller({
      name: 'last-resort-test',
      workers: 1,
      reconcile: ((key: string) => {
        seen.push(key);
        if (key === 'sync') throw new TypeError('a bug in a plan');
        if (key === 'string') return Promise.reject('not even an Error');
        doneOk();
        return Promise.resolve();
      }) as (key: string) => Promise<void>,
      onError: (key, err, attempt) => void errors.push({ key, message: err.message, attempt }),
    });
    c.enqueue('sync');
    c.enqueue('string');
    c.enqueue('ok');
    c.start();
    await okDone;
    await c.stop();
    expect(seen.slice(0, 3)).toEqual(['sync', 'string', 'ok']);
    expect(errors.slice(0, 2)).toEqual([
      { key: 'sync', message: 'a bug in a plan', attempt: 1 },
      { key: 'string', message: 'not even an Error', attempt: 1 },
    ]);
    // requeued with backoff, not dropped
    expect(c.queue.numRequeues('sync')).toBe(1);
    expect(c.queue.numRequeues('string')).toBe(1);
    expect(await registry.getSingleMetricAsString('kubepeer_reconcile_total')).toMatch(/controller="last-resort-test",result="error"} 2/);
  });
});

describe('Controller failure log', () => {
  it('warns once for a key that keeps failing the same way, then again when the failure changes or a minute passed', async () => {
    const { FailureLogLimiter } = await import('../../../src/k8s/controller.js');
    const l = new FailureLogLimiter(60_000);
    expect(l.record('pr/a', 'RequesterUnreachable|refused', 0)).toEqual({ warn: true, suppressed: 0 });
    for (let i = 1; i <= 400; i++) expect(l.record('pr/a', 'RequesterUnreachable|refused', i * 100).warn).toBe(false);
    // another key is news of its own
    expect(l.record('pr/b', 'RequesterUnreachable|refused', 40_000).warn).toBe(true);
    // a different failure of the same key is news
    expect(l.record('pr/a', 'CredentialRejected|401', 40_100)).toEqual({ warn: true, suppressed: 0 });
    expect(l.record('pr/a', 'CredentialRejected|401', 50_000).warn).toBe(false);
    // a minute later the same failure is logged again, with how many were left out
    expect(l.record('pr/a', 'CredentialRejected|401', 100_200)).toEqual({ warn: true, suppressed: 1 });
    // after a success the next failure is news
    l.forget('pr/a');
    expect(l.record('pr/a', 'CredentialRejected|401', 100_300).warn).toBe(true);
  });

  it('logs one warning, not one per retry, for a reconcile that fails the same way again and again', async () => {
    const { Controller } = await import('../../../src/k8s/controller.js');
    let calls = 0;
    let finished!: () => void;
    const done = new Promise<void>((r) => (finished = r));
    const c = new Controller({
      name: 'noisy-test',
      reconcile: async () => {
        if (++calls >= 50) finished();
        // retried at once: a requester that is unreachable, as fast as the queue allows
        throw Object.assign(new Error('cannot reach the requester'), { reason: 'RequesterUnreachable', retryAfterMs: 0 });
      },
    });
    const warnings: unknown[] = [];
    const debugs: unknown[] = [];
    // capture what the controller logs (its logger is a pino child; only the two levels matter here)
    (c as unknown as { log: unknown }).log = { warn: (o: unknown) => warnings.push(o), debug: (o: unknown) => debugs.push(o) };
    c.enqueue('liqo/requester');
    c.start();
    await done;
    await c.stop();
    expect(warnings).toHaveLength(1);
    expect(debugs.length).toBeGreaterThanOrEqual(48);
  });
});
