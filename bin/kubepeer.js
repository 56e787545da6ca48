#!/usr/bin/env node
// Entry point of the kubepeer CLI (also installed as kubectl-peer). Runs the compiled output in
// dist/; `npm install` builds it (the "prepare" script).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('kubepeer is not built yet: run "npm install" (or "npm run build") in the kubepeer directory.\n');
  process.exit(1);
}
const { main } = await import(entry.href);
await main(process.argv);
