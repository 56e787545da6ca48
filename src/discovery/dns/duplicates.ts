/**
 * Two instances that claim one cluster ID. With the same apiUrl they are one cluster published
 * twice (kept once); with different apiUrls we cannot tell which is real, so neither is returned and
 * both are reported (docs/design.md §3: flagged, never merged).
 */
import type { DiscoveredCluster, InstanceFailure } from './types.js';

export function separateDuplicates(found: readonly DiscoveredCluster[]): { unique: DiscoveredCluster[]; failures: InstanceFailure[] } {
  const byID = new Map<string, DiscoveredCluster[]>();
  for (const c of found) {
    const key = c.clusterID.toLowerCase();
    byID.set(key, [...(byID.get(key) ?? []), c]);
  }
  const unique: DiscoveredCluster[] = [];
  const failures: InstanceFailure[] = [];
  for (const group of byID.values()) {
    const sorted = [...group].sort((a, b) => a.instance.localeCompare(b.instance));
    const urls = new Set(sorted.map((c) => c.apiUrl));
    if (urls.size === 1) {
      unique.push(sorted[0]!);
      continue;
    }
    for (const c of sorted) {
      const others = sorted.filter((o) => o !== c && o.apiUrl !== c.apiUrl).map((o) => `${o.instance} (${o.apiUrl})`);
      failures.push({
        instance: c.instance,
        reason: 'DuplicateClusterID',
        message: `TXT ${c.instance}: cluster ID ${c.clusterID} is also claimed by ${others.join(', ')} with a different API server; neither is used until the records agree`,
      });
    }
  }
  return { unique, failures };
}
