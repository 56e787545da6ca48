/**
 * The kubepeer API (docs/design.md §2): one definition per kind, from which both the
 * CustomResourceDefinitions in `deploy/crds/` (see scripts/gen-crds.ts) and the TypeScript types
 * used by the agent, the CLI and the dashboard are derived.
 */
import type { KubernetesObject, V1ObjectMeta } from '@kubernetes/client-node';
import { CONFIG_GROUP, Defaults, DISCOVERY_GROUP, SHARING_GROUP } from './constants.js';
import {
  array, boolean, dateTime, integer, object, optional, quantity, string, stringEnum, stringMap, withDefault,
  withDefaults, type JSONSchemaProps, type Schema, type TypeOf,
} from './schema.js';

// ---------------------------------------------------------------- shared pieces

/** A cluster ID is a UUID (the usual case) or an RFC 1123 DNS label (SIG-Multicluster About API). */
export const CLUSTER_ID_PATTERN = '^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)$';
const clusterIDMessage =
  'clusterID must be a UUID (e.g. ff5aa14a-dd6e-4fd2-80fe-eaecb827cf55) or a DNS label (lowercase letters, digits and "-", at most 63 characters); get it on the remote cluster with: kubectl get configmap -n liqo cluster-id -o jsonpath=\'{.data.cluster-id}\'';
const clusterID = (extra: JSONSchemaProps['x-kubernetes-validations'] = []) =>
  string({
    description: 'The unique ID of the cluster (ConfigMap liqo/cluster-id on that cluster).',
    maxLength: 63,
    'x-kubernetes-validations': [{ rule: `self.matches('${CLUSTER_ID_PATTERN.replaceAll('\\', '\\\\')}')`, message: clusterIDMessage }, ...extra],
  });

/** Scheme, host and port only: no user info, path, query or fragment (a requester must not choose what our agent requests). */
export const API_URL_PATTERN = '^https://(\\[[0-9a-fA-F:.]+\\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?/?$';
const apiUrl = (what: string) =>
  string({
    description: `https URL of ${what}, e.g. https://203.0.113.10:6443.`,
    maxLength: 2048,
    'x-kubernetes-validations': [
      {
        rule: `self.matches('${API_URL_PATTERN.replaceAll('\\', '\\\\')}')`,
        message: `apiUrl must be an https:// URL of ${what} with a host and an optional port only (no path, query, fragment or user info), e.g. https://203.0.113.10:6443 (plain http is not allowed)`,
      },
    ],
  });

const namespaceName = () =>
  string({
    description: 'Namespace of the kubepeer agent on that cluster.',
    maxLength: 63,
    'x-kubernetes-validations': [
      { rule: "self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')", message: 'namespace must be a DNS label such as liqo' },
    ],
  });

export const CA_FINGERPRINT_PATTERN = '^sha256:[0-9a-f]{64}$';

export const condition = object({
  type: string({ maxLength: 316 }),
  status: stringEnum(['True', 'False', 'Unknown'] as const),
  reason: string({ maxLength: 1024 }),
  message: string({ maxLength: 32768 }),
  lastTransitionTime: dateTime(),
  observedGeneration: optional(integer({ minimum: 0 })),
});
export type Condition = TypeOf<typeof condition>;
const conditions = () =>
  optional(array(condition, { 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'], maxItems: 32 }));

export const PEERING_PHASES = ['None', 'Pending', 'Established', 'Denied', 'Disconnecting'] as const;
export type PeeringPhase = (typeof PEERING_PHASES)[number];
const peeringDirection = object({
  phase: withDefault(stringEnum(PEERING_PHASES), 'None' as PeeringPhase),
  reason: optional(string()),
  message: optional(string()),
  lastTransitionTime: optional(dateTime()),
});

export const DISCOVERY_TYPES = ['LAN', 'WAN', 'Manual', 'IncomingPeering'] as const;
export type DiscoveryType = (typeof DISCOVERY_TYPES)[number];
export const TRUST_MODES = ['Unknown', 'Trusted', 'Untrusted', 'Pinned'] as const;
export type TrustMode = (typeof TRUST_MODES)[number];

// ---------------------------------------------------------------- ForeignCluster

const foreignClusterSpec = object(
  {
    clusterID: clusterID([{ rule: 'self == oldSelf', message: 'clusterID is immutable: delete and re-create the ForeignCluster to point it at another cluster' }]),
    clusterName: optional(string({ description: 'Human-friendly name of the remote cluster.', maxLength: 253 })),
    namespace: withDefault(namespaceName(), 'liqo'),
    apiUrl: optional(apiUrl('the remote API server')),
    join: withDefault(boolean({ description: 'Peer with this cluster (send a PeeringRequest and keep the peering up).' }), false),
    discoveryType: withDefault(stringEnum(DISCOVERY_TYPES, { description: 'How this cluster was found.', field: 'discoveryType' }), 'Manual' as DiscoveryType),
    allowUntrustedCA: withDefault(
      boolean({ description: 'Peer even when the remote CA is not trusted: fetch it from liqo-cluster-info and pin it (trust on first use).' }),
      false,
    ),
    caFingerprint: optional(
      string({
        description: 'Pin of the remote CA certificate: sha256:<64 hex>. Checked when present.',
        'x-kubernetes-validations': [
          { rule: `self.matches('${CA_FINGERPRINT_PATTERN}')`, message: 'caFingerprint must look like sha256:<64 lowercase hex digits> (see: kubepeer trust fingerprint)' },
        ],
        maxLength: 71,
      }),
    ),
  },
  {
    'x-kubernetes-validations': [
      {
        rule: "self.discoveryType != 'Manual' || has(self.apiUrl)",
        message: 'apiUrl is required for a Manual ForeignCluster: the https URL of the remote API server (kubectl config view -o jsonpath=\'{.clusters[*].cluster.server}\' on that cluster)',
      },
    ],
  },
);

const foreignClusterStatus = object({
  trustMode: withDefault(stringEnum(TRUST_MODES), 'Unknown' as TrustMode),
  caFingerprint: optional(string({ description: 'Fingerprint of the remote CA in use (sha256:<hex>).' })),
  apiUrl: optional(string({ description: 'The API server URL the agent last used for this peer.' })),
  outgoing: optional(peeringDirection),
  incoming: optional(peeringDirection),
  lastSeen: optional(stringMap({ description: 'Last time each discovery source (LAN, WAN, Manual, IncomingPeering) saw this cluster.' })),
  dnsAddresses: optional(
    object(
      {
        host: string({ description: 'The apiUrl host these addresses are for.', maxLength: 253 }),
        addresses: array(string({ maxLength: 45 }), { maxItems: 16 }),
        server: string({ description: 'The DNS server that answered (ClusterConfig discoveryConfig.dnsServer), host:port.', maxLength: 300 }),
      },
      {
        description:
          "Addresses the SearchDomain's DNS server gave for the apiUrl host, refreshed at every resync. The agent connects to them (the host name stays for TLS verification and SNI): the system resolver may not know a name only that server serves.",
      },
    ),
  ),
  conditions: conditions(),
});

export type ForeignClusterSpec = TypeOf<typeof foreignClusterSpec>;
export type ForeignClusterStatus = TypeOf<typeof foreignClusterStatus>;
export interface ForeignCluster extends KubernetesObject {
  metadata: V1ObjectMeta & { name: string };
  spec: ForeignClusterSpec;
  status?: ForeignClusterStatus;
}

// ---------------------------------------------------------------- SearchDomain

const searchDomainSpec = object({
  domain: string({
    description: 'DNS domain whose PTR/SRV/TXT records list kubepeer clusters.',
    maxLength: 253,
    'x-kubernetes-validations': [
      {
        rule: "self.matches('^([A-Za-z0-9_]([-A-Za-z0-9_]{0,61}[A-Za-z0-9])?\\\\.)*[A-Za-z0-9_]([-A-Za-z0-9_]{0,61}[A-Za-z0-9])?\\\\.?$')",
        message: 'domain must be a DNS name such as example.com',
      },
    ],
  }),
  autojoin: withDefault(
    boolean({
      description:
        'Join, with no person involved, the clusters this domain lists with a CA pin (TXT ca=sha256:<hex>, checked against the CA their API server presents); the others are listed (join: false) for a person to connect.',
    }),
    false,
  ),
});
const searchDomainStatus = object({
  clusters: optional(
    array(
      object({
        clusterID: string(),
        foreignCluster: optional(string()),
        apiUrl: optional(string()),
        instance: optional(string()),
      }),
    ),
  ),
  failures: optional(array(object({ instance: string(), reason: string(), message: string() }))),
  lastSync: optional(dateTime()),
  conditions: conditions(),
});
export type SearchDomainSpec = TypeOf<typeof searchDomainSpec>;
export type SearchDomainStatus = TypeOf<typeof searchDomainStatus>;
export interface SearchDomain extends KubernetesObject {
  metadata: V1ObjectMeta & { name: string };
  spec: SearchDomainSpec;
  status?: SearchDomainStatus;
}

// ---------------------------------------------------------------- ClusterConfig

export const ACCEPT_POLICIES = ['AutoAcceptKnown', 'AcceptAll', 'Manual', 'RejectAll'] as const;
export type AcceptPolicy = (typeof ACCEPT_POLICIES)[number];

const discoveryConfig = object({
  clusterName: optional(string({ maxLength: 253, description: 'Name shown to peers and in the dashboard.' })),
  name: withDefault(string({ maxLength: 40, description: 'mDNS instance prefix.' }), Defaults.mdnsName as string),
  service: withDefault(string({ maxLength: 63 }), Defaults.mdnsService as string),
  domain: withDefault(string({ maxLength: 253 }), Defaults.mdnsDomain as string),
  port: withDefault(integer({ minimum: 1, maximum: 65535, description: 'API server port announced.' }), Defaults.apiServerPort as number),
  // RFC 6762 §10: the records that carry a host name live this long (120 s recommended); the others
  // always 4500 s, since departures travel by goodbye or by the SRV expiring (src/mdns/README.md)
  ttl: withDefault(
    integer({ minimum: 1, maximum: 86400, description: 'TTL in seconds of the mDNS records that carry a host name (SRV, A, AAAA), how long peers keep a cluster that vanished without a goodbye; PTR and TXT use 4500 s.' }),
    Defaults.ttlSeconds as number,
  ),
  enableDiscovery: withDefault(boolean(), true),
  enableAdvertisement: withDefault(boolean(), true),
  autojoin: withDefault(boolean({ description: 'join: true for newly discovered LAN peers whose CA the trust store trusts.' }), true),
  autojoinUntrusted: withDefault(
    boolean({ description: 'join: true (pinning the CA on first use) for newly discovered LAN peers that proved the peering secret but whose CA is not in the trust store. A LAN peer that proves nothing is never joined by itself.' }),
    true,
  ),
  peeringSecretRef: optional(
    object({
      name: string({
        maxLength: 253,
        description: 'Secret in the agent namespace whose key "secret" holds the LAN peering secret (set it with: kubepeer trust secret set). Clusters that share it join and accept each other with no person involved; others are only listed.',
      }),
    }),
  ),
  dnsServer: withDefault(
    string({
      maxLength: 262,
      description: 'host:port or [v6]:port of the DNS server for SearchDomains; empty means the system resolver.',
      'x-kubernetes-validations': [
        {
          rule: "self == '' || self.matches('^(\\\\[[0-9a-fA-F:.]+\\\\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?$')",
          message: 'dnsServer must be host:port, [ipv6]:port, or empty for the system resolver',
        },
      ],
    }),
    Defaults.dnsServer as string,
  ),
  resyncSeconds: withDefault(integer({ minimum: 1, maximum: 86400 }), Defaults.resyncSeconds as number),
  interfaces: withDefault(array(string({ maxLength: 15 }), { maxItems: 64 }), [] as string[]),
});
export const CLUSTER_TRUST_MODES = ['Untrusted', 'Trusted'] as const;
export type ClusterTrustMode = (typeof CLUSTER_TRUST_MODES)[number];
const peeringConfig = object({
  acceptPolicy: withDefault(stringEnum(ACCEPT_POLICIES), 'AutoAcceptKnown' as AcceptPolicy),
  trustMode: withDefault(
    stringEnum(CLUSTER_TRUST_MODES, {
      description:
        'Untrusted (default): liqo-cluster-info publishes our CA, and peers whose CA we do not trust may be pinned on first use. Trusted (the seeds\' trusted mode): liqo-cluster-info carries no CA, so a cluster that wants to peer with us must already trust our CA; and we peer only with clusters whose CA our trust store trusts or a person pinned (no trust on first use).',
    }),
    'Untrusted' as ClusterTrustMode,
  ),
  maxPendingRequests: withDefault(integer({ minimum: 0, maximum: 100000 }), Defaults.maxPendingRequests as number),
  resourceSharingPercentage: withDefault(integer({ minimum: 0, maximum: 100 }), Defaults.resourceSharingPercentage as number),
  heartbeatSeconds: withDefault(integer({ minimum: 1, maximum: 3600 }), Defaults.heartbeatSeconds as number),
  allowedNodeLabels: withDefault(
    array(
      string({ maxLength: 317, description: 'A label key, or a prefix ending in "/" (e.g. example.com/), that peers may put on their virtual nodes besides liqo.io/ ones.' }),
      { maxItems: 64 },
    ),
    [] as string[],
  ),
  allowedPeerCIDRs: withDefault(
    array(
      string({
        maxLength: 43,
        description: 'A CIDR such as 198.18.0.0/15 or 2001:db8::/32.',
        'x-kubernetes-validations': [{ rule: 'isCIDR(self)', message: 'each entry must be a CIDR such as 10.0.0.0/8 or 2001:db8::/32' }],
      }),
      { maxItems: 64 },
    ),
    ['0.0.0.0/0', '::/0'] as string[],
  ),
});
const offloadingConfig = object({
  enabled: withDefault(boolean({ description: 'Whether peers may run pods here (in a tenant namespace of their own, within what we offer them).' }), true),
  maxPodsPerConsumer: optional(integer({ minimum: 0, maximum: 10000, description: 'Cap on the pods one consumer may run here, below what the offer allows.' })),
  podSecurity: withDefault(stringEnum(['baseline', 'restricted'] as const, { description: 'Pod Security level enforced in tenant namespaces.' }), 'baseline' as 'baseline' | 'restricted'),
  abandonedTenancySeconds: withDefault(
    integer({ minimum: 300, maximum: 30 * 86400, description: 'A tenant namespace whose consumer has not answered for this long is removed with its pods.' }),
    3600,
  ),
});
const clusterConfigSpec = object({
  discoveryConfig: withDefault(discoveryConfig, {} as TypeOf<typeof discoveryConfig>),
  peeringConfig: withDefault(peeringConfig, {} as TypeOf<typeof peeringConfig>),
  offloadingConfig: withDefault(offloadingConfig, {} as TypeOf<typeof offloadingConfig>),
});
export type DiscoveryConfig = TypeOf<typeof discoveryConfig>;
export type PeeringConfig = TypeOf<typeof peeringConfig>;
export type OffloadingConfig = TypeOf<typeof offloadingConfig>;
export type ClusterConfigSpec = TypeOf<typeof clusterConfigSpec>;
export interface ClusterConfig extends KubernetesObject {
  metadata: V1ObjectMeta & { name: string };
  spec: ClusterConfigSpec;
}

// ---------------------------------------------------------------- PeeringRequest

export const PEERING_REQUEST_PHASES = ['Pending', 'Accepted', 'Denied'] as const;
export type PeeringRequestPhase = (typeof PEERING_REQUEST_PHASES)[number];
/** Bounds that the webhook also enforces, with a friendlier message. */
export const PeeringRequestLimits = { kubeconfigBytes: 32 * 1024, clusterNameLength: 253 } as const;
const peeringRequestSpec = object({
  clusterID: clusterID(),
  clusterName: optional(string({ maxLength: PeeringRequestLimits.clusterNameLength })),
  namespace: withDefault(namespaceName(), 'liqo'),
  apiUrl: apiUrl("the requester's API server"),
  peeringProof: optional(
    string({
      maxLength: 64,
      description: "HMAC-SHA256 (hex) of the shared peering secret over both cluster IDs and the requester's CA fingerprint; a valid one makes the request known.",
    }),
  ),
  kubeconfig: optional(
    string({ maxLength: PeeringRequestLimits.kubeconfigBytes, description: 'Credential for the foreign side to write its Advertisement; moved into a Secret on acceptance.' }),
  ),
});
const peeringRequestStatus = object({
  phase: withDefault(stringEnum(PEERING_REQUEST_PHASES), 'Pending' as PeeringRequestPhase),
  reason: optional(string()),
  message: optional(string()),
  conditions: conditions(),
});
export type PeeringRequestSpec = TypeOf<typeof peeringRequestSpec>;
export type PeeringRequestStatus = TypeOf<typeof peeringRequestStatus>;
export interface PeeringRequest extends KubernetesObject {
  metadata: V1ObjectMeta & { name: string };
  spec: PeeringRequestSpec;
  status?: PeeringRequestStatus;
}

// ---------------------------------------------------------------- Advertisement

const advertisementSpec = object({
  clusterID: clusterID(),
  clusterName: optional(string({ maxLength: 253 })),
  // never negative (a Node refuses negative capacity); upper bounds are checked where the Node is made (virtualnode/advertisementLimits.ts)
  resources: object({ cpu: quantity({ nonNegative: true, maxLength: 64 }), memory: quantity({ nonNegative: true, maxLength: 64 }), pods: quantity({ nonNegative: true, maxLength: 64 }) }),
  labels: optional(stringMap({ maxProperties: 64 })),
  heartbeat: dateTime({ description: 'Refreshed by the foreign cluster every heartbeatSeconds.' }),
  timeToLive: withDefault(integer({ minimum: 1, maximum: 3600, description: 'Seconds without heartbeat before the virtual node goes NotReady.' }), 30),
});
const advertisementStatus = object({
  phase: optional(stringEnum(['Accepted', 'Refused'] as const)),
  reason: optional(string()),
  virtualNode: optional(string()),
});
export type AdvertisementSpec = TypeOf<typeof advertisementSpec>;
export type AdvertisementStatus = TypeOf<typeof advertisementStatus>;
export interface Advertisement extends KubernetesObject {
  metadata: V1ObjectMeta & { name: string };
  spec: AdvertisementSpec;
  status?: AdvertisementStatus;
}

// ---------------------------------------------------------------- CRD descriptions

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'date' | 'boolean';
  jsonPath: string;
  priority?: number;
  description?: string;
}

export interface ResourceDefinition {
  group: string;
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  categories: string[];
  versions: string[];
  storageVersion: string;
  spec: Schema<unknown>;
  status?: Schema<unknown>;
  printerColumns: PrinterColumn[];
  description: string;
}

const age: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

export const ForeignClusterResource: ResourceDefinition = {
  group: DISCOVERY_GROUP,
  kind: 'ForeignCluster',
  plural: 'foreignclusters',
  singular: 'foreigncluster',
  shortNames: ['fc'],
  categories: ['liqo', 'kubepeer'],
  versions: ['v1alpha1', 'v1'],
  storageVersion: 'v1',
  spec: foreignClusterSpec,
  status: foreignClusterStatus,
  description: 'A remote cluster this cluster knows about (discovered over LAN or DNS, added by hand, or peering with us).',
  printerColumns: [
    { name: 'ClusterID', type: 'string', jsonPath: '.spec.clusterID' },
    // kubectl prints the object's own NAME first; a second "Name" column would be ambiguous.
    { name: 'Cluster-Name', type: 'string', jsonPath: '.spec.clusterName' },
    { name: 'Discovery', type: 'string', jsonPath: '.spec.discoveryType' },
    { name: 'Trust', type: 'string', jsonPath: '.status.trustMode' },
    { name: 'Outgoing', type: 'string', jsonPath: '.status.outgoing.phase' },
    { name: 'Incoming', type: 'string', jsonPath: '.status.incoming.phase' },
    { name: 'Join', type: 'boolean', jsonPath: '.spec.join', priority: 1 },
    { name: 'API URL', type: 'string', jsonPath: '.spec.apiUrl', priority: 1 },
    age,
  ],
};

export const SearchDomainResource: ResourceDefinition = {
  group: DISCOVERY_GROUP,
  kind: 'SearchDomain',
  plural: 'searchdomains',
  singular: 'searchdomain',
  shortNames: ['sd'],
  categories: ['liqo', 'kubepeer'],
  versions: ['v1alpha1', 'v1'],
  storageVersion: 'v1',
  spec: searchDomainSpec,
  status: searchDomainStatus,
  description: 'A DNS domain whose PTR/SRV/TXT records list clusters to discover.',
  printerColumns: [
    { name: 'Domain', type: 'string', jsonPath: '.spec.domain' },
    { name: 'Autojoin', type: 'boolean', jsonPath: '.spec.autojoin' },
    { name: 'Synced', type: 'string', jsonPath: ".status.conditions[?(@.type=='Synced')].status" },
    { name: 'Last Sync', type: 'date', jsonPath: '.status.lastSync' },
    age,
  ],
};

export const ClusterConfigResource: ResourceDefinition = {
  group: CONFIG_GROUP,
  kind: 'ClusterConfig',
  plural: 'clusterconfigs',
  singular: 'clusterconfig',
  shortNames: ['cc'],
  categories: ['liqo', 'kubepeer'],
  versions: ['v1alpha1'],
  storageVersion: 'v1alpha1',
  spec: clusterConfigSpec,
  description: 'Discovery and peering settings of this cluster (a single object named liqo-configuration).',
  printerColumns: [
    { name: 'Discovery', type: 'boolean', jsonPath: '.spec.discoveryConfig.enableDiscovery' },
    { name: 'Advertisement', type: 'boolean', jsonPath: '.spec.discoveryConfig.enableAdvertisement' },
    { name: 'Accept Policy', type: 'string', jsonPath: '.spec.peeringConfig.acceptPolicy' },
    age,
  ],
};

export const PeeringRequestResource: ResourceDefinition = {
  group: DISCOVERY_GROUP,
  kind: 'PeeringRequest',
  plural: 'peeringrequests',
  singular: 'peeringrequest',
  shortNames: ['pr'],
  categories: ['liqo', 'kubepeer'],
  versions: ['v1alpha1'],
  storageVersion: 'v1alpha1',
  spec: peeringRequestSpec,
  status: peeringRequestStatus,
  description: 'A request from another cluster to peer with this one (created anonymously by the requester).',
  printerColumns: [
    { name: 'ClusterID', type: 'string', jsonPath: '.spec.clusterID' },
    // kubectl prints the object's own NAME first; a second "Name" column would be ambiguous.
    { name: 'Cluster-Name', type: 'string', jsonPath: '.spec.clusterName' },
    { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
    { name: 'Reason', type: 'string', jsonPath: '.status.reason', priority: 1 },
    age,
  ],
};

export const AdvertisementResource: ResourceDefinition = {
  group: SHARING_GROUP,
  kind: 'Advertisement',
  plural: 'advertisements',
  singular: 'advertisement',
  shortNames: ['adv'],
  categories: ['liqo', 'kubepeer'],
  versions: ['v1alpha1'],
  storageVersion: 'v1alpha1',
  spec: advertisementSpec,
  status: advertisementStatus,
  description: 'Resources a foreign cluster offers to this one; becomes the virtual node liqo-<clusterID>.',
  printerColumns: [
    { name: 'ClusterID', type: 'string', jsonPath: '.spec.clusterID' },
    { name: 'CPU', type: 'string', jsonPath: '.spec.resources.cpu' },
    { name: 'Memory', type: 'string', jsonPath: '.spec.resources.memory' },
    { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
    { name: 'Heartbeat', type: 'date', jsonPath: '.spec.heartbeat' },
    age,
  ],
};

export const ALL_RESOURCES = [
  ForeignClusterResource,
  SearchDomainResource,
  PeeringRequestResource,
  ClusterConfigResource,
  AdvertisementResource,
] as const;

/** Group/version/plural of each kind at the version the agent uses. */
export const GVR = {
  foreignCluster: { group: DISCOVERY_GROUP, version: 'v1', plural: 'foreignclusters', kind: 'ForeignCluster' },
  searchDomain: { group: DISCOVERY_GROUP, version: 'v1', plural: 'searchdomains', kind: 'SearchDomain' },
  peeringRequest: { group: DISCOVERY_GROUP, version: 'v1alpha1', plural: 'peeringrequests', kind: 'PeeringRequest' },
  clusterConfig: { group: CONFIG_GROUP, version: 'v1alpha1', plural: 'clusterconfigs', kind: 'ClusterConfig' },
  advertisement: { group: SHARING_GROUP, version: 'v1alpha1', plural: 'advertisements', kind: 'Advertisement' },
} as const;
export type GroupVersionResource = (typeof GVR)[keyof typeof GVR];
export const apiVersionOf = (g: GroupVersionResource) => `${g.group}/${g.version}`;

/** The CustomResourceDefinition object for one kind. */
export function toCRD(def: ResourceDefinition): Record<string, unknown> {
  const openAPIV3Schema: JSONSchemaProps = {
    type: 'object',
    description: def.description,
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      metadata: { type: 'object' },
      spec: def.spec.json,
      ...(def.status ? { status: def.status.json } : {}),
    },
    required: ['spec'],
  };
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${def.plural}.${def.group}`, labels: { 'app.kubernetes.io/part-of': 'kubepeer' } },
    spec: {
      group: def.group,
      scope: 'Cluster',
      names: { kind: def.kind, listKind: `${def.kind}List`, plural: def.plural, singular: def.singular, shortNames: def.shortNames, categories: def.categories },
      versions: def.versions.map((name) => ({
        name,
        served: true,
        storage: name === def.storageVersion,
        schema: { openAPIV3Schema },
        subresources: def.status ? { status: {} } : {},
        additionalPrinterColumns: def.printerColumns,
      })),
    },
  };
}

/** A ClusterConfig spec with every absent field set to its schema default. */
export function clusterConfigWithDefaults(spec: unknown): ClusterConfigSpec {
  return withDefaults<ClusterConfigSpec>(clusterConfigSpec.json, spec);
}
