/** Writes deploy/crds/*.yaml from src/api/crds.ts (`npm run gen:crds`). A unit test fails when they differ. */
import { writeFileSync } from 'node:fs';
import { renderCRDFiles } from '../src/api/render.js';

for (const [file, text] of Object.entries(renderCRDFiles())) {
  writeFileSync(new URL(`../deploy/crds/${file}`, import.meta.url), text);
  console.log(`wrote deploy/crds/${file}`);
}
