import { afterEach, describe, expect, it, vi } from 'vitest';
import { MAX_REQUEUE_MS, WorkQueue } from '../../../src/k8s/workqueue.js';

describe('work queue delays', () => {
  afterEach(() => vi.useRealTimers());

  it('brings back a key requeued for months after a day, not after 1 ms (Node fires timers over 2^31-1 ms at once)', async () => {
    vi.useFakeTimers();
    const q = new WorkQueue();
    q.addAfter('renewal', 292 * 24 * 3600_000);
    vi.advanceTimersByTime(1_000);
    expect(q.length).toBe(0);
    vi.advanceTimersByTime(MAX_REQUEUE_MS);
    expect(q.length).toBe(1);
    q.shutDown();
  });
});
