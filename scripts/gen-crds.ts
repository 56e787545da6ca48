/** Writes deploy/ from src/api/crds.ts and src/install/manifests.ts (`npm run gen:crds`). A unit test fails when they differ. */
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderDeployFiles } from '../src/api/render.js';

for (const [file, text] of Object.entries(renderDeployFiles())) {
  const path = fileURLToPath(new URL(`../deploy/${file}`, import.meta.url));
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  console.log(`wrote deploy/${file}`);
}
