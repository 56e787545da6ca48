import { pino, type Logger } from 'pino';

/**
 * One structured JSON logger for the process; components take a child with their own fields
 * (`controller`, `key`, ...). Level from KUBEPEER_LOG_LEVEL (default info; tests default to warn).
 */
const defaultLevel = process.env.KUBEPEER_LOG_LEVEL ?? (process.env.VITEST ? 'warn' : 'info');

export const rootLogger: Logger = pino(
  {
    level: defaultLevel,
  base: { pid: process.pid },
  timestamp: pino.stdTimeFunctions.isoTime,
  formatters: { level: (label) => ({ level: label }) },
  },
  // Logs go to stderr, as klog's do: stdout belongs to command output (kubectl manners).
  pino.destination({ fd: 2, sync: false }),
);

export function logger(component: string, fields: Record<string, unknown> = {}): Logger {
  return rootLogger.child({ component, ...fields });
}

export type { Logger };
