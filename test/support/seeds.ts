/** The manifests of the seed documents (test/fixtures/seeds), extracted verbatim. */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './clusters.js';

export interface SeedManifest {
  file: string;
  yaml: string;
  apiVersion: string;
  kind: string;
}

/** Every YAML code block of the seeds that declares an apiVersion (heredoc wrappers removed). */
export function seedManifests(): SeedManifest[] {
  const dir = join(repoRoot, 'test', 'fixtures', 'seeds');
  const out: SeedManifest[] = [];
  for (const file of readdirSync(dir)) {
    const text = readFileSync(join(dir, file), 'utf8');
    for (const block of text.matchAll(/```[a-z]*\n([\s\S]*?)```/g)) {
      const body = block[1]!;
      const start = body.indexOf('apiVersion:');
      if (start < 0) continue;
      const yaml = body.slice(start).split(/\n(?:EOF|"EOF")\s*\n?/)[0]!.trimEnd() + '\n';
      const apiVersion = /apiVersion:\s*(\S+)/.exec(yaml)![1]!;
      const kind = /kind:\s*(\S+)/.exec(yaml)![1]!;
      out.push({ file, yaml, apiVersion, kind });
    }
  }
  return out;
}

/** Fills the seeds' placeholders the way a person following them would. */
export function fillPlaceholders(yaml: string, values: { clusterID: string; address: string; namespace?: string }): string {
  return yaml
    .replaceAll('${CLUSTER_ID}', values.clusterID)
    .replaceAll('<ForeignClusterID>', values.clusterID)
    .replaceAll('${API_SERVER_ADDRESS}', values.address)
    .replaceAll('<ForeignIP>', values.address)
    .replaceAll('<LiqoNamespace>', values.namespace ?? 'liqo');
}
