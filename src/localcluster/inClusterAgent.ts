/**
 * The kubepeer agent as pods of a local cluster with a real node (what `kubepeer local up NAME
 * --netns --agent=in-cluster` does): the agent image is built from this machine's Node.js and the
 * built app, imported into the node's containerd (no registry), and the install and in-cluster
 * manifests are applied, with the API URL peers reach this cluster at.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { install, applyManifest } from '../install/install.js';
import { inClusterAgentManifests } from '../install/manifests.js';
import { Core, KubeClient, resourcePath } from '../k8s/rest.js';
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
      // a pod that cannot start will not start by waiting: say why now, with its last words
      const pods = (await client.list<AgentPod>(resourcePath(Core.pods, { namespace: 'liqo' }), { labelSelector: AGENT_POD_SELECTOR })).items;
      const problem = agentPodProblem(pods);
      if (problem) {
        const logs = problem.previousLogs ? await lastLogLines(client, problem.pod, problem.container) : '';
        throw new InClusterAgentError(
          'AgentPodFailing',
          `agent pod liqo/${problem.pod} of "${cluster.name}" cannot run: ${problem.message}${logs ? `; its last run logged:\n${logs}` : ''}\nsee: kubectl -n liqo describe pod ${problem.pod}`,
        );
      }
      if (Date.now() > deadline) {
        throw new InClusterAgentError('AgentNotReady', `the agent Deployment of "${cluster.name}" has ${d?.status?.readyReplicas ?? 0}/${want} ready replicas after ${(opts.timeoutMs ?? 180_000) / 1000}s; see: kubectl -n liqo describe pods -l app.kubernetes.io/name=kubepeer-agent`);
      }
      await sleep(500);
    }
  } finally {
    client.close();
  }
}

const AGENT_POD_SELECTOR = 'app.kubernetes.io/name=kubepeer-agent';

/** What of a pod tells whether its containers can run. */
export interface AgentPod {
  metadata: { name: string };
  status?: {
    containerStatuses?: Array<{
      name: string;
      restartCount?: number;
      state?: { waiting?: { reason?: string; message?: string } };
      lastState?: { terminated?: { exitCode?: number; reason?: string } };
    }>;
  };
}

/** Waiting reasons that waiting does not cure: the image or the pod's spec is wrong. */
const HOPELESS = new Set(['ErrImagePull', 'ImagePullBackOff', 'ErrImageNeverPull', 'InvalidImageName', 'CreateContainerConfigError', 'CreateContainerError']);
/**
 * Exits before the agent is ready that make it a crash loop. The kubelet says CrashLoopBackOff
 * from the first exit on, and an agent may exit once or twice while a fresh cluster's Service
 * network comes up (it is restarted and then waits for its API server): three is a loop.
 */
const CRASH_LOOP_RESTARTS = 3;

/** The first agent pod whose container cannot run, and why. Pure. */
export function agentPodProblem(pods: AgentPod[]): { pod: string; container: string; message: string; previousLogs: boolean } | undefined {
  for (const p of pods) {
    for (const c of p.status?.containerStatuses ?? []) {
      const waiting = c.state?.waiting;
      const last = c.lastState?.terminated;
      if (waiting?.reason && HOPELESS.has(waiting.reason)) {
        return { pod: p.metadata.name, container: c.name, message: `container ${c.name} is ${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}`, previousLogs: false };
      }
      if ((c.restartCount ?? 0) >= CRASH_LOOP_RESTARTS && last) {
        const exited = `exited with code ${last.exitCode ?? '?'}${last.reason ? ` (${last.reason})` : ''}`;
        return { pod: p.metadata.name, container: c.name, message: `container ${c.name} restarted ${c.restartCount} times${waiting?.reason ? ` (${waiting.reason})` : ''}, last ${exited}`, previousLogs: true };
      }
    }
  }
  return undefined;
}

/** The end of the previous run's log of a container (at most 20 lines, 8 KiB); empty when unreadable. */
async function lastLogLines(client: KubeClient, pod: string, container: string): Promise<string> {
  try {
    const res = await client.stream(resourcePath(Core.pods, { namespace: 'liqo', name: pod, subresource: 'log' }), { container, previous: 'true', tailLines: '20', limitBytes: '8192' }, { headersTimeoutMs: 10_000 });
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8').trimEnd();
  } catch {
    return '';
  }
}
