/**
 * The cluster ID (docs/design.md §3): created once and never changed. Reuse ConfigMap
 * liqo/cluster-id when it holds a value; otherwise the SIG-Multicluster ClusterProperty
 * `cluster.clusterset.k8s.io` where that API exists; otherwise the kube-system namespace UID
 * (stable for the cluster's life, so a deleted ConfigMap comes back with the same ID); otherwise a
 * random UUID.
 */
import { randomUUID } from 'node:crypto';
import { Names } from '../api/constants.js';
import { Core, KubeClient, isAlreadyExists, isNotFound, resourcePath } from '../k8s/rest.js';

interface ConfigMap {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  data?: Record<string, string>;
}

export async function readClusterID(client: KubeClient, namespace: string): Promise<string | null> {
  const cm = await client.getOrNull<ConfigMap>(resourcePath(Core.configMaps, { namespace, name: Names.clusterIDConfigMap }));
  const id = cm?.data?.[Names.clusterIDKey]?.trim();
  return id ? id : null;
}

/** Where a new ID comes from, in order of preference. */
export async function proposeClusterID(client: KubeClient): Promise<{ id: string; source: 'ClusterProperty' | 'KubeSystemUID' | 'Random' }> {
  try {
    const prop = await client.get<{ spec?: { value?: string } }>(`/apis/about.k8s.io/v1alpha1/clusterproperties/${Names.clusterProperty}`);
    const v = prop.spec?.value?.trim();
    if (v) return { id: v, source: 'ClusterProperty' };
  } catch (e) {
    if (!isNotFound(e)) {
      /* the About API is optional: any failure falls through to the next source */
    }
  }
  try {
    const ns = await client.get<{ metadata: { uid?: string } }>(resourcePath(Core.namespaces, { name: 'kube-system' }));
    if (ns.metadata.uid) return { id: ns.metadata.uid, source: 'KubeSystemUID' };
  } catch {
    /* fall through */
  }
  return { id: randomUUID(), source: 'Random' };
}

/**
 * Returns the cluster ID, creating ConfigMap `cluster-id` when missing or empty. Safe against a
 * concurrent agent: whoever creates the ConfigMap first wins and the other reads its value.
 */
export async function ensureClusterID(client: KubeClient, namespace: string, preferred?: string): Promise<string> {
  const path = resourcePath(Core.configMaps, { namespace, name: Names.clusterIDConfigMap });
  const existing = await client.getOrNull<ConfigMap>(path);
  const current = existing?.data?.[Names.clusterIDKey]?.trim();
  if (current) return current;
  const id = preferred ?? (await proposeClusterID(client)).id;
  if (existing) {
    // Present but empty: fill it, guarded by resourceVersion so a concurrent writer wins.
    await client.replace(path, { ...existing, data: { ...(existing.data ?? {}), [Names.clusterIDKey]: id } });
    return (await readClusterID(client, namespace)) ?? id;
  }
  try {
    await client.create(resourcePath(Core.configMaps, { namespace }), {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: Names.clusterIDConfigMap, namespace, labels: { 'app.kubernetes.io/part-of': 'kubepeer' } },
      data: { [Names.clusterIDKey]: id },
    });
    return id;
  } catch (e) {
    if (!isAlreadyExists(e)) throw e;
    return (await readClusterID(client, namespace)) ?? id;
  }
}
