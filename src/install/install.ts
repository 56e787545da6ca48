/**
 * `kubepeer install`: idempotent. Objects the agent or a person edits afterwards (ClusterConfig,
 * trusted-ca-certificates) are created only when missing; everything else is server-side applied
 * so a re-install repairs drift. CRDs are waited for until Established. The cluster ID
 * (ConfigMap cluster-id) is created here when missing, never changed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { GVR } from '../api/crds.js';
import { LIQO_NAMESPACE, Names } from '../api/constants.js';
import { ensureClusterID } from '../identity/clusterID.js';
import { Core, KubeClient, isAlreadyExists, resourcePath, type ResourceRef } from '../k8s/rest.js';
import { baseManifests, crdManifests, type InstallOptions, type Manifest } from './manifests.js';

const FIELD_MANAGER = 'kubepeer-install';

const REFS: Record<string, ResourceRef> = {
  Namespace: Core.namespaces,
  ConfigMap: Core.configMaps,
  ServiceAccount: Core.serviceAccounts,
  ClusterRole: Core.clusterRoles,
  ClusterRoleBinding: Core.clusterRoleBindings,
  Role: Core.roles,
  RoleBinding: Core.roleBindings,
  CustomResourceDefinition: Core.crds,
  ValidatingWebhookConfiguration: Core.validatingWebhooks,
  ValidatingAdmissionPolicy: { group: 'admissionregistration.k8s.io', version: 'v1', plural: 'validatingadmissionpolicies' },
  ValidatingAdmissionPolicyBinding: { group: 'admissionregistration.k8s.io', version: 'v1', plural: 'validatingadmissionpolicybindings' },
  ClusterConfig: GVR.clusterConfig,
  Service: { group: '', version: 'v1', plural: 'services', namespaced: true },
  Deployment: { group: 'apps', version: 'v1', plural: 'deployments', namespaced: true },
};

export function refOf(m: Manifest): ResourceRef {
  const ref = REFS[m.kind];
  if (!ref) throw new Error(`no resource mapping for kind ${m.kind}`);
  return ref;
}

/** Objects people edit after install: never overwritten. */
function createOnly(m: Manifest): boolean {
  return m.kind === 'ClusterConfig' || (m.kind === 'ConfigMap' && m.metadata.name === Names.trustedCAConfigMap);
}

export interface InstallReport {
  applied: string[];
  created: string[];
  kept: string[];
}

export async function applyManifest(client: KubeClient, m: Manifest, report?: InstallReport, dryRun = false): Promise<void> {
  const ref = refOf(m);
  const id = `${m.kind}/${m.metadata.namespace ? m.metadata.namespace + '/' : ''}${m.metadata.name}`;
  if (createOnly(m) && !dryRun) {
    try {
      await client.create(resourcePath(ref, { namespace: m.metadata.namespace }), m);
      report?.created.push(id);
    } catch (e) {
      if (!isAlreadyExists(e)) throw e;
      report?.kept.push(id);
    }
    return;
  }
  await client.apply(resourcePath(ref, { namespace: m.metadata.namespace, name: m.metadata.name }), m, FIELD_MANAGER, true, dryRun);
  report?.applied.push(id);
}

export async function waitForCRDs(client: KubeClient, names: string[], timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const name of names) {
    for (;;) {
      const crd = await client.getOrNull<{ status?: { conditions?: Array<{ type: string; status: string }> } }>(resourcePath(Core.crds, { name }));
      if (crd?.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
      if (Date.now() > deadline) throw new Error(`CustomResourceDefinition ${name} not Established after ${timeoutMs / 1000}s`);
      await sleep(100);
    }
  }
}

export async function install(client: KubeClient, opts: InstallOptions = {}): Promise<InstallReport> {
  const report: InstallReport = { applied: [], created: [], kept: [] };
  const crds = crdManifests();
  for (const crd of crds) await applyManifest(client, crd, report);
  await waitForCRDs(client, crds.map((c) => c.metadata.name));
  for (const m of baseManifests(opts)) await applyManifest(client, m, report);
  // The cluster ID exists as soon as install returns (commands that need it, e.g. `dns records`,
  // work before the agent's first reconcile); the agent keeps the value it finds.
  await ensureClusterID(client, opts.namespace ?? LIQO_NAMESPACE);
  return report;
}
