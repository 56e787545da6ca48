import { describe, expect, it } from 'vitest';
import { metricSum } from '../../../bench/offloading.js';

describe('bench: a metric read from the agent\'s /metrics text', () => {
  const text = [
    '# HELP kubepeer_offloaded_pods Home pods bound to a peer\'s virtual node, by remote phase.',
    '# TYPE kubepeer_offloaded_pods gauge',
    'kubepeer_offloaded_pods{peer="b",phase="Running"} 98',
    'kubepeer_offloaded_pods{peer="b",phase="Pending"} 2',
    'kubepeer_offloaded_pods_created_total{peer="b"} 140',
    'kubepeer_process_nodejs_heap_size_used_bytes 26095616',
  ].join('\n');

  it('sums every label set of the metric, and no metric whose name only starts the same', () => {
    expect(metricSum(text, 'kubepeer_offloaded_pods')).toBe(100);
    expect(metricSum(text, 'kubepeer_process_nodejs_heap_size_used_bytes')).toBe(26095616);
  });

  it('is NaN for a metric that is not exported (not 0, which would read as a measurement)', () => {
    expect(metricSum(text, 'kubepeer_offloaded_pod_startup_seconds_count')).toBeNaN();
  });
});
