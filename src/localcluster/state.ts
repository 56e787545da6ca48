/** What a local cluster's supervisor is told (SupervisorSpec) and what it records (ClusterState). */
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface SupervisorSpec {
  name: string;
  dir: string;
  address: string;
  binDir: string;
  netns?: string;
  extraSANs?: string[];
  apiPort?: number;
  /** Remove `dir` on stop and stop when stdin closes (tests). */
  ephemeral?: boolean;
  /**
   * `real`: kubelet, containerd, kube-proxy, scheduler and CoreDNS run (needs a network-namespace
   * host: the kubelet refuses a loopback node IP). `placeholder`: a Node that runs nothing.
   * `none`: no Node at all.
   */
  node?: NodeKind;
  /** The real node's pod capacity (kubelet maxPods). */
  maxPods?: number;
}

export type NodeKind = 'real' | 'placeholder' | 'none';

/** The node of a local cluster, as recorded for `local down` and `local image`. */
export interface NodeState {
  name: string;
  kind: NodeKind;
  /** Real nodes: containerd's socket, and the cgroup under which every pod runs. */
  containerdSocket?: string;
  cgroupRoot?: string;
}

export interface ClusterState {
  name: string;
  address: string;
  netns?: string;
  apiUrl: string;
  kubeconfig: string;
  caCert: string;
  /**
   * CA of the client certificate this cluster's API server presents to admission webhooks (also in
   * ConfigMap kube-system/kubepeer-webhook-client, where the agent reads it; absent in clusters
   * started by earlier versions).
   */
  webhookClientCA?: string;
  dir: string;
  supervisorPid: number;
  pids: Record<string, number>;
  startedAt: string;
  node?: NodeState;
  /** Set by `kubepeer local up --agent`. */
  agent?: { pid: number; logFile: string; dashboardUrl?: string };
}

/** Root of CLI-managed clusters: $KUBEPEER_STATE_DIR or ~/.local/state/kubepeer. */
export function stateRoot(): string {
  return process.env.KUBEPEER_STATE_DIR ?? join(process.env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state'), 'kubepeer');
}

export function clusterDir(name: string): string {
  return join(stateRoot(), 'clusters', name);
}
