/**
 * The last-resort handlers keep a process alive after an error nothing handled, and count it.
 * Each case runs in its own Node process (the handlers are process-wide; vitest's own must stay).
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { scratchDir } from '../../support/scratch.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const tsx = join(root, 'node_modules', '.bin', 'tsx');

function runScript(body: string): { status: number | null; stdout: string; stderr: string } {
  const dir = scratchDir('kubepeer-lastresort-');
  const file = join(dir, 'script.ts');
  writeFileSync(
    file,
    `import { installLastResortHandlers } from ${JSON.stringify(join(root, 'src/agent/lastResort.ts'))};
import { logger } from ${JSON.stringify(join(root, 'src/observability/logger.ts'))};
import { registry } from ${JSON.stringify(join(root, 'src/observability/metrics.ts'))};
const report = async () => {
  const counts = Object.fromEntries([...(await registry.metrics()).matchAll(/kubepeer_unexpected_errors_total\\{kind="(\\w+)"\\} (\\d+)/g)].map((m) => [m[1], Number(m[2])]));
  process.stdout.write('REPORT ' + JSON.stringify(counts) + '\\n');
  process.exit(0);
};
installLastResortHandlers(logger('test'));
${body}
`,
  );
  const r = spawnSync(tsx, [file], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, KUBEPEER_LOG_LEVEL: 'error' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('last-resort handlers', () => {
  it('log and count an exception thrown in a timer and a rejection nobody awaits, and the process goes on', () => {
    const r = runScript(`
setTimeout(() => { throw new Error('boom in a stream handler'); }, 0);
void Promise.reject(new Error('nobody awaits me'));
// queued after the throwing timer: it runs only if the process survived
setTimeout(() => setImmediate(report), 0);
`);
    expect(r.status, r.stderr).toBe(0);
    const counts = JSON.parse(/REPORT (.*)/.exec(r.stdout)![1]!);
    expect(counts).toEqual({ uncaughtException: 1, unhandledRejection: 1 });
    expect(r.stdout + r.stderr).toContain('boom in a stream handler');
  });

  it('end the process (exit 70) on a flood of uncaught exceptions, which means it is broken', () => {
    const r = runScript(`
for (let i = 0; i < 30; i++) setTimeout(() => { throw new Error('again ' + i); }, 0);
setTimeout(() => setImmediate(report), 0);
`);
    expect(r.status).toBe(70);
    expect(r.stdout).not.toContain('REPORT');
  });
});
