/** Setup file of every test project: see scratch.ts. */
import { afterAll, beforeEach } from 'vitest';
import { removeScratchDirs } from './scratch.js';

let failed = false;
beforeEach(({ onTestFailed }) => {
  onTestFailed(() => {
    failed = true;
  });
});
// Registered before the file's own hooks, so it runs after them (hooks run as a stack).
afterAll(() => removeScratchDirs(failed));
