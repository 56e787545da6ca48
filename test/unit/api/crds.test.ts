import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { renderDeployFiles } from '../../../src/api/render.js';
import { ALL_RESOURCES, CLUSTER_ID_PATTERN, clusterConfigWithDefaults, toCRD } from '../../../src/api/crds.js';
import { Defaults } from '../../../src/api/constants.js';

describe('CRD definitions', () => {
  it('deploy/ matches src/api and src/install (run `npm run gen:crds` after changing them)', () => {
    for (const [file, text] of Object.entries(renderDeployFiles())) {
      expect(readFileSync(new URL(`../../../deploy/${file}`, import.meta.url), 'utf8'), `deploy/${file} is stale`).toBe(text);
    }
  });

  it('serves ForeignCluster and SearchDomain as v1alpha1 and v1 with one storage version', () => {
    for (const def of ALL_RESOURCES) {
      const versions = (toCRD(def).spec as { versions: Array<{ name: string; storage: boolean; served: boolean }> }).versions;
      expect(versions.filter((v) => v.storage)).toHaveLength(1);
      if (def.kind === 'ForeignCluster' || def.kind === 'SearchDomain') expect(versions.map((v) => v.name)).toEqual(['v1alpha1', 'v1']);
    }
  });

  it('declares the printer columns operators read in kubectl get foreignclusters, with one NAME column', () => {
    const fc = ALL_RESOURCES.find((d) => d.kind === 'ForeignCluster')!;
    expect(fc.printerColumns.filter((c) => !c.priority).map((c) => c.name)).toEqual(['ClusterID', 'Cluster-Name', 'Discovery', 'Trust', 'Outgoing', 'Incoming', 'Age']);
    expect(fc.shortNames).toContain('fc');
  });

  it('no kind has a printer column that kubectl would also print as NAME (the object name comes first)', () => {
    for (const def of ALL_RESOURCES) expect(def.printerColumns.map((c) => c.name.toUpperCase()), def.kind).not.toContain('NAME');
  });

  it('accepts UUIDs and DNS labels as cluster IDs, and nothing else', () => {
    const re = new RegExp(CLUSTER_ID_PATTERN);
    for (const ok of ['ff5aa14a-dd6e-4fd2-80fe-eaecb827cf55', 'FF5AA14A-DD6E-4FD2-80FE-EAECB827CF55', 'edge-1', 'a']) expect(re.test(ok), ok).toBe(true);
    for (const bad of ['', 'Edge_1', '-a', 'a-', 'x'.repeat(64), 'has space', 'a.b']) expect(re.test(bad), bad).toBe(false);
  });

  it('fills ClusterConfig defaults from the schema (the same values the API server applies)', () => {
    const spec = clusterConfigWithDefaults({ peeringConfig: { acceptPolicy: 'Manual' } });
    expect(spec.peeringConfig).toEqual({
      acceptPolicy: 'Manual',
      maxPendingRequests: 50,
      resourceSharingPercentage: 30,
      heartbeatSeconds: 10,
      trustMode: 'Untrusted',
      allowedNodeLabels: [],
      allowedPeerCIDRs: ['0.0.0.0/0', '::/0'],
    });
    expect(spec.offloadingConfig).toEqual({ enabled: true, podSecurity: 'baseline', abandonedTenancySeconds: 3600 });
    expect(spec.discoveryConfig).toMatchObject({ name: 'MyLiqo', service: '_liqo._tcp', domain: 'local.', port: 6443, ttl: 120, dnsServer: Defaults.dnsServer, resyncSeconds: 30, autojoin: true, autojoinUntrusted: true, interfaces: [] });
    expect(clusterConfigWithDefaults(undefined).discoveryConfig.enableDiscovery).toBe(true);
  });
});
