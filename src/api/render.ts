import { stringify } from 'yaml';
import { ALL_RESOURCES, toCRD } from './crds.js';
import { baseManifests, inClusterAgentManifests, type Manifest } from '../install/manifests.js';

const HEADER = '# Generated from src/api/crds.ts and src/install/manifests.ts by `npm run gen:crds`. Do not edit by hand.\n';

function multiDoc(objs: Manifest[]): string {
  return HEADER + objs.map((o) => stringify(o, { lineWidth: 0 })).join('---\n');
}

/** Path under deploy/ -> YAML text, as committed. */
export function renderDeployFiles(): Record<string, string> {
  const files: Record<string, string> = {};
  for (const def of ALL_RESOURCES) files[`crds/${def.group}_${def.plural}.yaml`] = HEADER + stringify(toCRD(def), { lineWidth: 0 });
  files['install.yaml'] = multiDoc(baseManifests());
  files['agent.yaml'] = multiDoc(inClusterAgentManifests());
  return files;
}
