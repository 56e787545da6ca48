/**
 * The kubepeer agent as pods of a local cluster with a real node (what `kubepeer local up NAME
 * --netns --agent=in-cluster` does): the agent image is built from this machine's Node.js and the
 * built app, imported into the node's containerd (no registry), and the install and in-cluster
 * manifests are applied, with the API URL peers reach this cluster at.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { install, applyManifest } from '../install/install.js';
import { inClusterAgentManifests } from '../install/manifests.js';
import { KubeClient, resourcePath } from '../k8s/rest.js';
import { controlPlaneBinDir } from './binaries.js';
import { agentImage, Images, importImage } from './node/images.js';
import type { ClusterState } from './state.js';

export class InClusterAgentError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

const deploymentPath = (ns: string) => resourcePath({ group: 'apps', version: 'v1', plural: 'deployments', namespaced: true }, { namespace: ns, name: 'kubepeer-agent' });

/** Deploys the agent and waits until `replicas` are ready; returns the image it runs. */
export async function deployInClusterAgent(cluster: Pick<ClusterState, 'name' | 'kubeconfig' | 'apiUrl' | 'node'>, opts: { timeoutMs?: number; replicas?: number } = {}): Promise<string> {
  if (cluster.node?.kind !== 'real' || !cluster.node.containerdSocket) {
    throw new InClusterAgentError('NoRealNode', `local cluster "${cluster.name}" has no real node to run the agent's pods; start it with: kubepeer local up ${cluster.name} --netns (as root)`);
  }
  const archive = await agentImage();
  importImage(controlPlaneBinDir(), cluster.node.containerdSocket, archive);
  const client = KubeClient.fromFile(cluster.kubeconfig);
  try {
    await install(client, { clusterName: cluster.name });
    for (const m of inClusterAgentManifests({ apiUrl: cluster.apiUrl })) await applyManifest(client, m);
    const want = opts.replicas ?? 2;
    const deadline = Date.now() + (opts.timeoutMs ?? 180_000);
    for (;;) {
      const d = await client.getOrNull<{ status?: { readyReplicas?: number } }>(deploymentPath('liqo'));
      if ((d?.status?.readyReplicas ?? 0) >= want) return Images.agent();
      if (Date.now() > deadline) {
        throw new InClusterAgentError('AgentNotReady', `the agent Deployment of "${cluster.name}" has ${d?.status?.readyReplicas ?? 0}/${want} ready replicas after ${(opts.timeoutMs ?? 180_000) / 1000}s; see: kubectl -n liqo describe pods -l app.kubernetes.io/name=kubepeer-agent`);
      }
      await sleep(500);
    }
  } finally {
    client.close();
  }
}
