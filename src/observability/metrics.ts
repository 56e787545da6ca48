/**
 * The agent's Prometheus registry. Each metric is declared next to the code that updates it;
 * this module only holds the registry so that tests and several agents in one process stay apart.
 */
import { Registry, collectDefaultMetrics } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'kubepeer_process_' });
