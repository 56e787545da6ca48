/**
 * `kubepeer uninstall`: the reverse of install, and of everything the agent made since, without
 * leaving a peer in the dark or an object stuck on a finalizer.
 *
 * 1. Peerings end through the agent while it runs: every ForeignCluster is deleted and the agent's
 *    finalizer ends both directions (credential revoked, virtual node and Advertisement removed,
 *    the peer's request rejected, so the peer learns it at its next call). Without a running agent
 *    nobody can do this; the peers are named in the report as not told.
 * 2. The agent must be stopped before anything else goes, or it would register its webhooks
 *    again: an in-cluster Deployment is deleted (its replicas release the Lease on SIGTERM); an
 *    agent run elsewhere that still leads stops the uninstall with a message saying so.
 * 3. Then the rest: webhook configurations first (a PeeringRequest webhook without its agent would
 *    refuse the finalizer removals), kubepeer's finalizers, every kubepeer object (the CRs, virtual
 *    nodes, credentials and their RBAC, admission policies, tenant namespaces, our namespace) and
 *    the CRDs, found by name (install's manifests) and by label (app.kubernetes.io/managed-by).
 *
 * Idempotent: a second run finds nothing and says so. Objects of the cluster's users are not
 * touched (a namespace's liqo.io/enabled label, their pods: those bound to a virtual node are
 * removed by the pod garbage collector with the node, and their controllers place them again).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { GVR, type ForeignCluster, type PeeringRequest } from '../api/crds.js';
import { LIQO_NAMESPACE, Labels, MANAGED_BY, Names } from '../api/constants.js';
import { agentLiveness, readAgentLease } from '../agent/agentStatus.js';
import { Core, resourcePath, type KubeClient, type ResourceRef } from '../k8s/rest.js';
import { FINALIZER } from '../peering/outgoing/plan.js';
import { REQUEST_FINALIZER } from '../peering/incoming/plan.js';
import { baseManifests, crdManifests, inClusterAgentManifests, type Manifest } from './manifests.js';
import { refOf } from './install.js';

const MutatingWebhooks: ResourceRef = { group: 'admissionregistration.k8s.io', version: 'v1', plural: 'mutatingwebhookconfigurations' };
const Policies: ResourceRef = { group: 'admissionregistration.k8s.io', version: 'v1', plural: 'validatingadmissionpolicies' };
const PolicyBindings: ResourceRef = { group: 'admissionregistration.k8s.io', version: 'v1', plural: 'validatingadmissionpolicybindings' };
const Deployments: ResourceRef = { group: 'apps', version: 'v1', plural: 'deployments', namespaced: true };

/** Cluster-wide kinds the agent creates with the managed-by label (credentials' RBAC, webhooks, tenants). */
const LABELLED_CLUSTER_KINDS: Array<[string, ResourceRef]> = [
  ['ValidatingWebhookConfiguration', Core.validatingWebhooks],
  ['MutatingWebhookConfiguration', MutatingWebhooks],
  ['ValidatingAdmissionPolicyBinding', PolicyBindings],
  ['ValidatingAdmissionPolicy', Policies],
  ['ClusterRoleBinding', Core.clusterRoleBindings],
  ['ClusterRole', Core.clusterRoles],
];

export interface UninstallOptions {
  namespace?: string;
  /** How long to wait for the agent to end the peerings, and for namespaces and CRDs to go. */
  timeoutMs?: number;
  /** Leave the CRDs (and so nothing of their objects but what uninstall deleted). */
  keepCRDs?: boolean;
  /** One line per step, for people. */
  progress?: (line: string) => void;
}

export interface UninstallReport {
  /** Peers whose peering the running agent ended (they were told). */
  peeringsEnded: string[];
  /** Peers that were not told (no agent ran, or it did not finish in time). */
  peersNotTold: string[];
  /** What was deleted, as Kind/[namespace/]name. */
  deleted: string[];
  /** What was still there when the wait ended (a namespace terminating, a CRD being removed). */
  remaining: string[];
}

/** The agent still leads after the peerings ended and no Deployment of ours runs it. */
export class AgentStillRunning extends Error {}

const idOf = (kind: string, m: { metadata: { name: string; namespace?: string } }) => `${kind}/${m.metadata.namespace ? `${m.metadata.namespace}/` : ''}${m.metadata.name}`;
const selector = `${Labels.managedBy}=${MANAGED_BY}`;

export async function uninstall(client: KubeClient, opts: UninstallOptions = {}): Promise<UninstallReport> {
  const ns = opts.namespace ?? LIQO_NAMESPACE;
  const say = opts.progress ?? (() => {});
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const report: UninstallReport = { peeringsEnded: [], peersNotTold: [], deleted: [], remaining: [] };
  const crdsServed = (await client.getOrNull(resourcePath(Core.crds, { name: `${GVR.foreignCluster.plural}.${GVR.foreignCluster.group}` }))) !== null;
  const agentRuns = async () => agentLiveness(await readAgentLease(client, ns).catch(() => null), Date.now());

  // 1. the peerings, ended by the agent
  if (crdsServed) {
    const peers = (await client.list<ForeignCluster>(resourcePath(GVR.foreignCluster))).items;
    const names = (fcs: ForeignCluster[]) => fcs.map((f) => f.spec.clusterName || f.spec.clusterID);
    const live = await agentRuns();
    if (peers.length && live.running) {
      say(`ending ${peers.length} peering(s) through the running agent (${live.leader}): each credential revoked, each peer's request rejected`);
      for (const fc of peers) await client.delete(resourcePath(GVR.foreignCluster, { name: fc.metadata.name }));
      const deadline = Date.now() + timeoutMs;
      let left: ForeignCluster[] = peers;
      let requests = 0;
      while (Date.now() < deadline) {
        left = (await client.list<ForeignCluster>(resourcePath(GVR.foreignCluster))).items;
        requests = (await client.list<PeeringRequest>(resourcePath(GVR.peeringRequest))).items.length;
        if (!left.length && !requests) break;
        await sleep(250);
      }
      const leftIDs = new Set(left.map((f) => f.spec.clusterID));
      report.peeringsEnded = names(peers.filter((f) => !leftIDs.has(f.spec.clusterID)));
      report.peersNotTold = names(left);
      if (left.length || requests) say(`the agent did not end every peering within ${timeoutMs / 1000}s (${left.length} ForeignCluster(s), ${requests} request(s) left): removing them without it`);
    } else if (peers.length) {
      report.peersNotTold = names(peers);
      say(`no kubepeer agent runs (${live.text}): ${peers.length} peer(s) will not be told (${report.peersNotTold.join(', ')}); their virtual nodes for this cluster go NotReady and their credentials here are deleted`);
    }
  }

  // 2. the agent stopped: an in-cluster one goes with its Deployment (it releases the Lease)
  let deployments = 0;
  for (const d of (await client.list<Manifest>(resourcePath(Deployments, { namespace: ns }), { labelSelector: selector }).catch(() => ({ items: [] as Manifest[] }))).items) {
    if (await client.delete(resourcePath(Deployments, { namespace: ns, name: d.metadata.name }))) report.deleted.push(idOf('Deployment', d));
    deployments++;
  }
  // waiting helps only for the replicas of a Deployment we deleted; an agent run elsewhere is a person's to stop
  const stopDeadline = Date.now() + (deployments ? Math.min(timeoutMs, 60_000) : 0);
  let live = await agentRuns();
  while (live.running && Date.now() < stopDeadline) {
    await sleep(500);
    live = await agentRuns();
  }
  if (live.running) {
    throw new AgentStillRunning(
      `the kubepeer agent still runs (leader ${live.leader}, Lease renewed ${live.renewedSecondsAgo}s ago) and would register its webhooks again: ` +
        `stop it (Ctrl-C where it runs, or kill its process: a default identity is <host>-<pid>), then run kubepeer uninstall again` +
        (report.peeringsEnded.length ? `; the peerings with ${report.peeringsEnded.join(', ')} are already ended` : ''),
    );
  }

  // 3. everything else: webhooks first (nothing may call a webhook whose agent is gone)
  say('removing webhook configurations, finalizers, virtual nodes, credentials, policies, namespaces and CRDs');
  for (const [kind, ref] of LABELLED_CLUSTER_KINDS.slice(0, 2)) await deleteLabelled(client, kind, ref, report);
  if (crdsServed) {
    await stripFinalizers(client, GVR.foreignCluster, FINALIZER);
    await stripFinalizers(client, GVR.peeringRequest, REQUEST_FINALIZER);
    for (const g of Object.values(GVR)) {
      for (const o of (await client.list<Manifest>(resourcePath(g)).catch(() => ({ items: [] as Manifest[] }))).items) {
        if (await client.delete(resourcePath(g, { name: o.metadata.name }))) report.deleted.push(idOf(g.kind, o));
      }
    }
  }
  for (const n of (await client.list<Manifest>(resourcePath(Core.nodes), { labelSelector: Labels.remoteClusterID })).items) {
    if (n.metadata.labels?.[Labels.nodeType] !== 'virtual-node') continue;
    if (await client.delete(resourcePath(Core.nodes, { name: n.metadata.name }))) report.deleted.push(idOf('Node', n));
  }
  for (const [kind, ref] of LABELLED_CLUSTER_KINDS.slice(2)) await deleteLabelled(client, kind, ref, report);
  // what install made, by name (a person may have removed a label), namespaced objects with their namespace
  const installed = [...inClusterAgentManifests({ namespace: ns }), ...baseManifests({ namespace: ns })].reverse();
  for (const m of installed) {
    // our namespace's objects go with it; those elsewhere (kube-system) one by one
    if (m.metadata.namespace === ns || m.kind === 'Namespace' || m.kind === 'ClusterConfig') continue;
    if (await client.delete(resourcePath(refOf(m), { namespace: m.metadata.namespace, name: m.metadata.name }))) report.deleted.push(idOf(m.kind, m));
  }
  const namespaces = (await client.list<Manifest>(resourcePath(Core.namespaces), { labelSelector: selector })).items.map((n) => n.metadata.name);
  if (!namespaces.includes(ns) && (await client.getOrNull(resourcePath(Core.namespaces, { name: ns })))) namespaces.push(ns);
  for (const name of namespaces) {
    if (await client.delete(resourcePath(Core.namespaces, { name }))) report.deleted.push(`Namespace/${name}`);
  }
  const crds = opts.keepCRDs ? [] : crdManifests().map((c) => c.metadata.name);
  for (const name of crds) {
    if (await client.delete(resourcePath(Core.crds, { name }))) report.deleted.push(`CustomResourceDefinition/${name}`);
  }

  // namespaces and CRDs go asynchronously: wait, and say what is left
  const waiting = [...namespaces.map((name) => ({ id: `Namespace/${name}`, path: resourcePath(Core.namespaces, { name }) })), ...crds.map((name) => ({ id: `CustomResourceDefinition/${name}`, path: resourcePath(Core.crds, { name }) }))];
  const deadline = Date.now() + timeoutMs;
  let left = waiting;
  while (left.length && Date.now() < deadline) {
    const present = await Promise.all(left.map(async (w) => ((await client.getOrNull(w.path)) ? w : null)));
    left = present.filter((w): w is (typeof waiting)[number] => w !== null);
    if (left.length) await sleep(500);
  }
  report.remaining = left.map((w) => w.id);
  return report;
}

async function deleteLabelled(client: KubeClient, kind: string, ref: ResourceRef, report: UninstallReport): Promise<void> {
  const items = (await client.list<Manifest>(resourcePath(ref), { labelSelector: selector }).catch(() => ({ items: [] as Manifest[] }))).items;
  for (const o of items) if (await client.delete(resourcePath(ref, { name: o.metadata.name }))) report.deleted.push(idOf(kind, o));
}

/** Removes kubepeer's finalizer from every object of a kind: no agent is left to remove it. */
async function stripFinalizers(client: KubeClient, ref: ResourceRef, finalizer: string): Promise<void> {
  type WithFinalizers = Manifest & { metadata: { finalizers?: string[]; resourceVersion?: string } };
  for (let attempt = 0; ; attempt++) {
    const holding = (await client.list<WithFinalizers>(resourcePath(ref))).items.filter((o) => o.metadata.finalizers?.includes(finalizer));
    if (!holding.length) return;
    if (attempt === 5) throw new Error(`could not remove finalizer ${finalizer} from ${holding.map((o) => o.metadata.name).join(', ')} (changed while we tried); run kubepeer uninstall again`);
    for (const o of holding) {
      const finalizers = (o.metadata.finalizers ?? []).filter((f) => f !== finalizer);
      // with the resourceVersion: a concurrent change fails (409) and the next round sees it
      await client.mergePatch(resourcePath(ref, { name: o.metadata.name }), { metadata: { finalizers, resourceVersion: o.metadata.resourceVersion } }).catch((e: unknown) => {
        const code = (e as { code?: number }).code;
        if (code !== 404 && code !== 409) throw e;
      });
    }
  }
}
