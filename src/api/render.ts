import { stringify } from 'yaml';
import { ALL_RESOURCES, toCRD } from './crds.js';

const HEADER = '# Generated from src/api/crds.ts by `npm run gen:crds`. Do not edit by hand.\n';

/** File name -> YAML text of every CRD, as committed in deploy/crds/. */
export function renderCRDFiles(): Record<string, string> {
  const files: Record<string, string> = {};
  for (const def of ALL_RESOURCES) {
    files[`${def.group}_${def.plural}.yaml`] = HEADER + stringify(toCRD(def), { lineWidth: 0 });
  }
  return files;
}
