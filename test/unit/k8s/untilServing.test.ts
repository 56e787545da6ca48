import { describe, expect, it } from 'vitest';
import { ApiError } from '../../../src/k8s/rest.js';
import { isUnavailable, untilServing } from '../../../src/k8s/untilServing.js';

describe('untilServing: waiting out a restarting API server', () => {
  it('retries connection errors and 5xx/429 until the step succeeds', async () => {
    const errors = [new ApiError(0, 'ECONNREFUSED', 'connection refused'), new ApiError(503, 'ServiceUnavailable', 'storage is (re)initializing'), new ApiError(429, 'TooManyRequests', 'slow down')];
    let calls = 0;
    const value = await untilServing(async () => {
      const e = errors[calls++];
      if (e) throw e;
      return 'served';
    }, { what: 'read a thing' });
    expect(value).toBe('served');
    expect(calls).toBe(4);
  });

  it('throws at once what waiting would not change: 403, 404, a programming error', async () => {
    for (const e of [new ApiError(403, 'Forbidden', 'no'), new ApiError(404, 'NotFound', 'gone'), new TypeError('x is undefined')]) {
      let calls = 0;
      await expect(untilServing(async () => {
        calls++;
        throw e;
      }, { what: 'read a thing' })).rejects.toBe(e);
      expect(calls).toBe(1);
    }
  });

  it('gives up with the last error at the deadline', async () => {
    let calls = 0;
    const last = new ApiError(0, 'ECONNREFUSED', 'connection refused');
    await expect(untilServing(async () => {
      calls++;
      throw last;
    }, { what: 'read a thing', waitMs: 600 })).rejects.toBe(last);
    expect(calls).toBeGreaterThanOrEqual(2); // 0 ms, 250 ms; the next wait (500 ms) would pass the deadline
    expect(calls).toBeLessThanOrEqual(3);
  });

  it('classifies errors', () => {
    expect(isUnavailable(new ApiError(500, 'InternalError', 'x'))).toBe(true);
    expect(isUnavailable(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isUnavailable(new ApiError(409, 'Conflict', 'x'))).toBe(false);
    expect(isUnavailable(new RangeError('x'))).toBe(false);
  });
});
