/**
 * What every controller gets: the home cluster client, who we are, the shared informer caches,
 * the event recorder and the live ClusterConfig (changes apply without restart).
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Advertisement, ClusterConfig, ClusterConfigSpec, ForeignCluster, PeeringRequest, SearchDomain } from '../api/crds.js';
import type { Informer } from '../k8s/informer.js';
import type { EventRecorder } from '../k8s/events.js';
import type { KubeClient } from '../k8s/rest.js';
import type { Logger } from '../observability/logger.js';

export interface Informers {
  foreignClusters: Informer<ForeignCluster>;
  peeringRequests: Informer<PeeringRequest>;
  advertisements: Informer<Advertisement>;
  searchDomains: Informer<SearchDomain>;
  clusterConfigs: Informer<ClusterConfig>;
  /** ConfigMaps and Secrets of the agent namespace. */
  configMaps: Informer<KubernetesObject & { data?: Record<string, string> }>;
  secrets: Informer<KubernetesObject & { data?: Record<string, string>; type?: string }>;
  nodes: Informer<KubernetesObject & { spec?: Record<string, unknown>; status?: Record<string, unknown> }>;
  pods: Informer<KubernetesObject & { spec?: Record<string, unknown>; status?: Record<string, unknown> }>;
}

export interface AgentIdentity {
  clusterID: string;
  clusterName: string;
  namespace: string;
  /** Our API server as peers should reach it. */
  apiUrl: string;
  /** PEM of the CA that signs our API server's certificate (published in liqo-cluster-info). */
  caPem: string;
}

export interface AgentContext extends AgentIdentity {
  client: KubeClient;
  informers: Informers;
  events: EventRecorder;
  log: Logger;
  /** The current ClusterConfig spec with every default filled in. */
  config(): ClusterConfigSpec;
  now(): Date;
}
