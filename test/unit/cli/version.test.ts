import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { kubernetesVersionOf, versionInfo } from '../../../src/cli/version.js';

describe('version', () => {
  it('reads the k8s.io/kubernetes release from a require block, not from comments or replace lines', () => {
    const goMod = [
      'module kubepeer.io/tools/controlplane',
      '// k8s.io/kubernetes v9.9.9 is only mentioned here',
      'require (',
      '\tk8s.io/kubectl v0.35.4',
      '\tk8s.io/kubernetes v1.35.4',
      ')',
      'replace k8s.io/api => k8s.io/api v0.35.4',
    ].join('\n');
    expect(kubernetesVersionOf(goMod)).toBe('v1.35.4');
    expect(kubernetesVersionOf('require k8s.io/kubernetes v1.34.0 // indirect')).toBe('v1.34.0');
    expect(kubernetesVersionOf('module x')).toBeNull();
  });

  it('reports the package version and the pin in tools/controlplane/go.mod', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    const goMod = readFileSync(new URL('../../../tools/controlplane/go.mod', import.meta.url), 'utf8');
    expect(versionInfo()).toEqual({ kubepeerVersion: pkg.version, kubernetesVersion: kubernetesVersionOf(goMod), nodeVersion: process.version });
    expect(versionInfo().kubernetesVersion).toMatch(/^v1\.\d+\.\d+/);
  });
});
