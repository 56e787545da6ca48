/**
 * Every name that other programs, people or tests depend on: API groups, labels, annotations,
 * well-known object names and default ports. Change them here and nowhere else.
 */

export const DISCOVERY_GROUP = 'discovery.liqo.io';
export const SHARING_GROUP = 'sharing.liqo.io';
export const CONFIG_GROUP = 'config.liqo.io';

/** The agent's own namespace on every cluster (docs/design.md §2). */
export const LIQO_NAMESPACE = 'liqo';

export const Labels = {
  clusterID: 'discovery.liqo.io/cluster-id',
  discoveryType: 'discovery.liqo.io/discovery-type',
  searchDomain: 'discovery.liqo.io/searchdomain',
  /** Marks objects that kubepeer created and owns, so uninstall and garbage checks can find them. */
  managedBy: 'app.kubernetes.io/managed-by',
  /** The Node of a local cluster (real, or a placeholder). */
  localNode: 'kubepeer.io/local-node',
  /** A local cluster's Node that has no kubelet: pods will not run on it. */
  placeholderNode: 'kubepeer.io/placeholder-node',
  /** Virtual node labels (docs/design.md §5, step 7). */
  nodeType: 'type',
  nodeRole: 'kubernetes.io/role',
  remoteClusterID: 'liqo.io/remote-cluster-id',
  /** Credentials minted for a peer. */
  remoteCredential: 'discovery.liqo.io/remote-credential',
} as const;

export const MANAGED_BY = 'kubepeer';

export const Annotations = {
  /** Set on ForeignClusters by `kubepeer trust reset` to re-approve a changed CA. */
  trustResetAt: 'discovery.liqo.io/trust-reset-at',
  /** Set by `kubepeer peer accept|reject` on a PeeringRequest waiting for approval. */
  approval: 'discovery.liqo.io/approval',
  /** The `liqo-<id>`-style virtual node that an Advertisement produced. */
  virtualNode: 'sharing.liqo.io/virtual-node',
  /** On a peer credential's Secret: when its token expires. */
  tokenExpiration: 'discovery.liqo.io/token-expiration',
  /** On a peer credential's Secret: the revision of the RBAC it was made with (see credentials.ts). */
  credentialRevision: 'discovery.liqo.io/credential-revision',
  /**
   * On a ForeignCluster LAN discovery created, why it did or did not join: PeeringSecret (the peer
   * proved the peering secret; the outgoing peering checks the proof again over verified TLS) or
   * NotProven (only listed; joined when it proves the secret or a person connects). A person's
   * join or leave removes it (src/trust/peeringSecret.ts).
   */
  autojoin: 'discovery.kubepeer.io/autojoin',
  /**
   * On our own namespace: the audiences this API server gives its service-account tokens
   * (space-separated), recorded by the agent when it mints or upgrades a peer credential. The
   * token-renewal admission policy reads it (its parameter is the namespace) and refuses every
   * peer's token request while it is missing (src/install/manifests.ts).
   */
  tokenAudiences: 'discovery.kubepeer.io/token-audiences',
  /**
   * On a discovered (LAN, WAN) ForeignCluster a person removed (`kubepeer peer remove`): when.
   * The record stays with join false so that discovery, which would join it again at once, leaves
   * it alone until a person connects it (`peer join`, `peer add`, the dashboard's Connect clear it);
   * `peer remove --forget` or deleting the ForeignCluster forgets the peer (src/peering/peerRecords.ts).
   */
  removed: 'discovery.kubepeer.io/removed',
} as const;

export const Names = {
  clusterIDConfigMap: 'cluster-id',
  clusterIDKey: 'cluster-id',
  clusterInfoConfigMap: 'liqo-cluster-info',
  trustedCAConfigMap: 'trusted-ca-certificates',
  /** The Secret that `kubepeer trust secret set` writes and names in discoveryConfig.peeringSecretRef. */
  peeringSecret: 'kubepeer-peering-secret',
  clusterConfig: 'liqo-configuration',
  virtualNodePrefix: 'liqo-',
  advertisementPrefix: 'advertisement-',
  remoteCredentialPrefix: 'liqo-remote-',
  /**
   * Where agents before credential revision 6 recorded the token audiences (now the namespace
   * annotation Annotations.tokenAudiences): no longer read.
   */
  tokenAudiencesConfigMap: 'kubepeer-token-audiences',
  /** What the leading agent actually runs (dashboard URL, LAN discovery and why not), written by it; `kubepeer status` reads it (src/agent/agentStatus.ts). */
  agentStatusConfigMap: 'kubepeer-agent-status',
  /**
   * ConfigMap `kubepeer-answer-<peer-id>` in our namespace: the peer's answer about our
   * PeeringRequest. Only that peer's credential may write it (admission policy
   * kubepeer-peer-answer-owner), so its name says who wrote it.
   */
  peerAnswerPrefix: 'kubepeer-answer-',
  agentServiceAccount: 'kubepeer-agent',
  /** ServiceAccount and ClusterRole (same name) for a person operating the dashboard; `kubepeer dashboard token` makes its tokens. */
  dashboardServiceAccount: 'kubepeer-dashboard',
  /** The same, read only (`kubepeer dashboard token --read-only`). */
  dashboardViewerServiceAccount: 'kubepeer-dashboard-viewer',
  agentClusterRole: 'kubepeer-agent',
  agentLease: 'kubepeer-agent',
  anonymousClusterRole: 'kubepeer-anonymous-peering',
  anonymousRole: 'kubepeer-anonymous-cluster-info',
  webhookConfiguration: 'kubepeer-peeringrequest-validation',
  /**
   * ConfigMap in kube-system, written where kubepeer configures the API server (local clusters):
   * `ca.crt` signs the client certificate the API server presents to admission webhooks, named
   * `client-name`. The agent then answers no other caller of its webhook (webhookClientAuth.ts).
   */
  webhookClientConfigMap: 'kubepeer-webhook-client',
  virtualNodeTaintKey: 'virtual-node.liqo.io/not-allowed',
  /** ClusterProperty holding the SIG-Multicluster cluster ID, when the About API is installed. */
  clusterProperty: 'cluster.clusterset.k8s.io',
} as const;

/** Keys of the public `liqo-cluster-info` ConfigMap. */
export const ClusterInfoKeys = {
  clusterID: 'cluster-id',
  clusterName: 'cluster-name',
  namespace: 'namespace',
  caCert: 'ca.crt',
  /** HMAC of the peering secret over our cluster ID and CA fingerprint (src/trust/peeringSecret.ts). */
  peeringProof: 'peering-proof',
} as const;

export const Defaults = {
  dashboardListen: '127.0.0.1:8443',
  metricsListen: '127.0.0.1:9464',
  webhookListen: '127.0.0.1:9443',
  /**
   * Common name of the client certificate the API server presents to the admission webhook where
   * kubepeer sets its admission configuration (local clusters; `--webhook-client-ca`).
   */
  webhookClientName: 'kube-apiserver-webhook-client',
  apiServerPort: 6443,
  mdnsService: '_liqo._tcp',
  mdnsDomain: 'local.',
  mdnsName: 'MyLiqo',
  dnsServer: '8.8.8.8:53',
  ttlSeconds: 120,
  resyncSeconds: 30,
  heartbeatSeconds: 10,
  maxPendingRequests: 50,
  resourceSharingPercentage: 30,
  /** client-go leader election defaults. */
  leaseDurationSeconds: 15,
  renewDeadlineSeconds: 10,
  retryPeriodSeconds: 2,
} as const;

export const FIELD_MANAGER = 'kubepeer';
