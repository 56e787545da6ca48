/**
 * The last resort: an error that escapes every reconcile, request and handler must not end the
 * agent. The agent keeps no state of its own (everything is a Kubernetes object; caches relist),
 * so going on after one stray error is safe, and dying would hand the attacker who caused it a
 * crash loop (docs/design.md §9). Each such error is logged and counted
 * (`kubepeer_unexpected_errors_total`); a flood of uncaught exceptions, which would mean the
 * process is broken rather than that one call went wrong, still ends it so that it is restarted.
 */
import { Counter } from 'prom-client';
import { registry } from '../observability/metrics.js';
import type { Logger } from '../observability/logger.js';

const unexpectedErrors = new Counter({
  name: 'kubepeer_unexpected_errors_total',
  help: 'Errors no code path handled (kind: uncaughtException, unhandledRejection); the agent logged them and went on.',
  labelNames: ['kind'] as const,
  registers: [registry],
});

/** More uncaught exceptions than this within `floodWindowMs` end the process. */
const floodLimit = 20;
const floodWindowMs = 60_000;

let installed = false;

export function installLastResortHandlers(log: Logger, exit: (code: number) => void = (c) => process.exit(c)): void {
  if (installed) return;
  installed = true;
  const recent: number[] = [];
  process.on('unhandledRejection', (reason) => {
    unexpectedErrors.inc({ kind: 'unhandledRejection' });
    log.error({ err: describe(reason) }, 'a promise was rejected and nobody handled it; going on');
  });
  process.on('uncaughtException', (err) => {
    unexpectedErrors.inc({ kind: 'uncaughtException' });
    const now = Date.now();
    recent.push(now);
    while (recent.length && recent[0]! < now - floodWindowMs) recent.shift();
    if (recent.length > floodLimit) {
      log.fatal({ err: describe(err), count: recent.length }, `more than ${floodLimit} uncaught exceptions in ${floodWindowMs / 1000}s: exiting to be restarted`);
      exit(70);
      return;
    }
    log.error({ err: describe(err) }, 'an exception escaped every handler; going on');
  });
}

function describe(e: unknown): { message: string; code?: string; stack?: string } {
  if (e instanceof Error) return { message: e.message, ...((e as { code?: string }).code ? { code: (e as { code?: string }).code } : {}), ...(e.stack ? { stack: e.stack } : {}) };
  return { message: String(e) };
}
