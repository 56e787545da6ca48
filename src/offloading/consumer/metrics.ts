/** Prometheus figures of the consumer side of offloading, per peer. */
import { Counter, Gauge, Histogram } from 'prom-client';
import { registry } from '../../observability/metrics.js';

export const offloadMetrics = {
  created: new Counter({ name: 'kubepeer_offloaded_pods_created_total', help: 'Remote pods created on a peer for home pods bound to its virtual node.', labelNames: ['peer'], registers: [registry] }),
  errors: new Counter({ name: 'kubepeer_offloading_errors_total', help: 'Pods a peer refused or we could not reflect, by reason.', labelNames: ['peer', 'reason'], registers: [registry] }),
  pods: new Gauge({ name: 'kubepeer_offloaded_pods', help: 'Home pods bound to a peer\'s virtual node, by remote phase.', labelNames: ['peer', 'phase'], registers: [registry] }),
  startup: new Histogram({
    name: 'kubepeer_offloaded_pod_startup_seconds',
    help: 'From the home pod\'s creation to its remote pod Running.',
    labelNames: ['peer'],
    buckets: [0.5, 1, 2, 3, 5, 10, 20, 60],
    registers: [registry],
  }),
};
