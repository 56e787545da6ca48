import { describe, expect, it } from 'vitest';
import { isoSeconds } from '../../../src/k8s/time.js';

describe('isoSeconds', () => {
  it('writes a metav1.Time: UTC, whole seconds, the fraction dropped (never rounded up)', () => {
    expect(isoSeconds(new Date('2026-01-02T03:04:05.999Z'))).toBe('2026-01-02T03:04:05Z');
    expect(isoSeconds(new Date('2026-01-02T03:04:05Z'))).toBe('2026-01-02T03:04:05Z');
  });
});
