/**
 * What `kubepeer --version` and `kubepeer version` report. Both are read when asked, from files
 * that ship with the package: package.json, and tools/controlplane/go.mod, whose k8s.io/kubernetes
 * pin is the release the local control planes are built from and the API the agent is tested
 * against. Reading go.mod (rather than stamping the version into dist/ at build time) keeps one
 * source for it: a bump of the pin cannot leave a stale copy behind, and `tsc` stays the whole build.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// Both src/cli/ and dist/cli/ sit two levels below the package root.
const packageRoot = new URL('../../', import.meta.url);

export interface VersionInfo {
  kubepeerVersion: string;
  /** The k8s.io/kubernetes release tools/controlplane pins, or null when go.mod is not shipped. */
  kubernetesVersion: string | null;
  nodeVersion: string;
}

/** The k8s.io/kubernetes version a go.mod requires (its `require` line, not a `replace`). */
export function kubernetesVersionOf(goMod: string): string | null {
  const m = /^\s*(?:require\s+)?k8s\.io\/kubernetes\s+(v\d+\.\d+\.\d+\S*)\s*(?:\/\/.*)?$/m.exec(goMod);
  return m?.[1] ?? null;
}

function readOrNull(path: string): string | null {
  try {
    return readFileSync(fileURLToPath(new URL(path, packageRoot)), 'utf8');
  } catch {
    return null;
  }
}

export function versionInfo(): VersionInfo {
  const pkg = JSON.parse(readOrNull('package.json') ?? '{}') as { version?: string };
  const goMod = readOrNull('tools/controlplane/go.mod');
  return { kubepeerVersion: pkg.version ?? 'unknown', kubernetesVersion: goMod ? kubernetesVersionOf(goMod) : null, nodeVersion: process.version };
}
