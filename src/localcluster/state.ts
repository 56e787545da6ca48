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
  registerNode?: boolean;
}

export interface ClusterState {
  name: string;
  address: string;
  netns?: string;
  apiUrl: string;
  kubeconfig: string;
  caCert: string;
  dir: string;
  supervisorPid: number;
  pids: Record<string, number>;
  startedAt: string;
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
