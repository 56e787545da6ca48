/**
 * Scratch directories for a test file (agent logs, kubeconfigs, images): removed when the file's
 * tests all passed, kept (and named on the console) when one failed, so a failure's logs stay for
 * reading and a green run leaves nothing in /tmp. `scratchSetup.ts` (a setup file of every
 * project) does the removal after the file's own afterAll hooks.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dirs: string[] = [];

/** A new directory under the system temp dir, named `<prefix>XXXXXX`. */
export function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

/** Removes this file's scratch directories, or lists them when `keep` (a test failed). */
export function removeScratchDirs(keep: boolean): void {
  for (const dir of dirs.splice(0)) {
    if (keep) console.log(`[scratch] kept ${dir} (a test in this file failed)`);
    else rmSync(dir, { recursive: true, force: true });
  }
}
