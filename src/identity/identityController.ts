/**
 * Keeps this cluster's identity published: ConfigMap `cluster-id` (re-created with the same ID if
 * deleted; a changed value is put back, because peers know us by it), the public ConfigMap
 * `liqo-cluster-info` (cluster ID, name, namespace, CA) that strangers may read, and the
 * ClusterConfig `liqo-configuration` (re-created with defaults if deleted).
 */
import { GVR, apiVersionOf, type ClusterTrustMode } from '../api/crds.js';
import { ClusterInfoKeys, Labels, MANAGED_BY, Names } from '../api/constants.js';
import { Core, isAlreadyExists, resourcePath } from '../k8s/rest.js';
import { Controller } from '../k8s/controller.js';
import type { AgentContext } from '../agent/context.js';
import { certificateFingerprint } from '../trust/pki.js';
import { clusterInfoProof, peeringSecret, peeringSecretName } from '../trust/peeringSecret.js';

type ConfigMap = { apiVersion?: string; kind?: string; metadata: { name: string; namespace: string; resourceVersion?: string; uid?: string }; data?: Record<string, string> };

export const IdentityKeys = { clusterID: 'cluster-id', clusterInfo: 'cluster-info', clusterConfig: 'cluster-config' } as const;

/**
 * What strangers may read about us. With a peering secret, also the proof that we hold it, bound
 * to our ID and CA (src/trust/peeringSecret.ts); without one, the key is null so that a merge
 * patch removes a proof published before.
 */
export function clusterInfoData(ctx: Pick<AgentContext, 'clusterID' | 'clusterName' | 'namespace' | 'caPem'>, secret?: Buffer, trustMode: ClusterTrustMode = 'Untrusted'): Record<string, string | null> {
  return {
    [ClusterInfoKeys.clusterID]: ctx.clusterID,
    [ClusterInfoKeys.clusterName]: ctx.clusterName,
    [ClusterInfoKeys.namespace]: ctx.namespace,
    // trusted mode: we do not expose our CA; a cluster that wants to peer with us must trust it already
    [ClusterInfoKeys.caCert]: trustMode === 'Trusted' ? null : ctx.caPem,
    [ClusterInfoKeys.peeringProof]: secret ? clusterInfoProof(secret, ctx.clusterID, certificateFingerprint(ctx.caPem)) : null,
  };
}

export function identityController(ctx: AgentContext): Controller {
  const { client, namespace, informers } = ctx;
  const cmPath = (name?: string) => resourcePath(Core.configMaps, { namespace, name });

  async function ensureConfigMap(name: string, data: Record<string, string | null>, onDrift?: (old: Record<string, string>) => void): Promise<void> {
    const current = informers.configMaps.get(`${namespace}/${name}`) as ConfigMap | undefined;
    if (!current) {
      try {
        await client.create(cmPath(), {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name, namespace, labels: { [Labels.managedBy]: MANAGED_BY, 'app.kubernetes.io/part-of': 'kubepeer' } },
          data: Object.fromEntries(Object.entries(data).filter(([, v]) => v !== null)),
        });
      } catch (e) {
        if (!isAlreadyExists(e)) throw e;
      }
      return;
    }
    const same = Object.entries(data).every(([k, v]) => (current.data?.[k] ?? null) === v);
    if (same) return;
    onDrift?.(current.data ?? {});
    await client.mergePatch(cmPath(name), { data });
  }

  const reconcile = async (key: string) => {
    switch (key) {
      case IdentityKeys.clusterID:
        return ensureConfigMap(Names.clusterIDConfigMap, { [Names.clusterIDKey]: ctx.clusterID }, (old) => {
          const cm = informers.configMaps.get(`${namespace}/${Names.clusterIDConfigMap}`)!;
          void ctx.events.record(
            cm,
            'Warning',
            'ClusterIDRestored',
            `cluster-id was changed to "${old[Names.clusterIDKey] ?? ''}"; restored to ${ctx.clusterID} because peers know this cluster by that ID. To change identity, uninstall kubepeer (all peerings end) and delete this ConfigMap.`,
          );
        });
      case IdentityKeys.clusterInfo:
        return ensureConfigMap(Names.clusterInfoConfigMap, clusterInfoData(ctx, peeringSecret(ctx), ctx.config().peeringConfig.trustMode));
      case IdentityKeys.clusterConfig: {
        if (informers.clusterConfigs.get(Names.clusterConfig)) return;
        try {
          await client.create(resourcePath(GVR.clusterConfig), {
            apiVersion: apiVersionOf(GVR.clusterConfig),
            kind: 'ClusterConfig',
            metadata: { name: Names.clusterConfig, labels: { [Labels.managedBy]: MANAGED_BY } },
            spec: { discoveryConfig: { clusterName: ctx.clusterName }, peeringConfig: {} },
          });
          ctx.log.info('re-created ClusterConfig liqo-configuration with defaults');
        } catch (e) {
          if (!isAlreadyExists(e)) throw e;
        }
        return;
      }
    }
  };

  const c = new Controller({ name: 'identity', reconcile });
  c.watch(informers.configMaps, (cm) =>
    cm.metadata?.name === Names.clusterIDConfigMap ? IdentityKeys.clusterID : cm.metadata?.name === Names.clusterInfoConfigMap ? IdentityKeys.clusterInfo : null,
  );
  c.watch(informers.clusterConfigs, (cc) => (cc.metadata?.name === Names.clusterConfig ? [IdentityKeys.clusterConfig, IdentityKeys.clusterInfo] : null));
  // the proof in liqo-cluster-info follows the peering secret
  c.watch(informers.secrets, (s) => (s.metadata?.name && s.metadata.name === peeringSecretName(ctx) ? IdentityKeys.clusterInfo : null));
  for (const k of Object.values(IdentityKeys)) c.enqueue(k);
  return c;
}
