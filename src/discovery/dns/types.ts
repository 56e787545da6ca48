/** What a DNS browse returns (docs/design.md §4, "DNS"). */

export interface SrvEndpoint {
  /** Absolute, lower-case target name. */
  target: string;
  port: number;
  priority: number;
  weight: number;
}

export interface DiscoveredCluster {
  /** The instance name from the PTR record, e.g. `liqo1._liqo._tcp.mydomain.com.`. */
  instance: string;
  clusterID: string;
  /** The remote agent's namespace (TXT `namespace`, default `liqo`). */
  namespace: string;
  clusterName?: string;
  /** TXT `ca=sha256:<hex>`, lower-cased: a pin the trust layer must check, never a reason to trust. */
  caFingerprint?: string;
  /** `https://<target>:<port>`; the DNS name is kept so TLS checks the name the publisher chose. */
  apiUrl: string;
  /** The chosen SRV target (absolute, lower-case). */
  target: string;
  port: number;
  /** A/AAAA of the target (after CNAMEs). Hints only: connect by `apiUrl`. */
  addresses: string[];
  /** Smallest TTL of the records used, in seconds: how long this answer may be relied on. */
  ttl: number;
  /**
   * Every usable SRV record in RFC 2782 order for this browse (the chosen one is the first whose
   * target has an address). Weighted choice is random per browse, so a controller that wants a
   * stable apiUrl can keep its current endpoint while it is still listed here.
   */
  endpoints: SrvEndpoint[];
}

/** CamelCase reasons a person can search for; each comes with a message naming the query. */
export type InstanceFailureReason =
  | 'QueryFailed'
  | 'MissingSRV'
  | 'InvalidSRV'
  | 'ServiceNotAvailable'
  | 'TargetHasNoAddress'
  | 'CNAMELoop'
  | 'CNAMEChainTooLong'
  | 'MissingTXT'
  | 'MissingClusterID'
  | 'InvalidClusterID'
  | 'InvalidTXT'
  | 'InvalidCAPin'
  | 'InvalidInstanceName'
  | 'DuplicateClusterID'
  | 'TooManyInstances';

export interface InstanceFailure {
  instance: string;
  reason: InstanceFailureReason;
  message: string;
}

export interface BrowseResult {
  /** The browsed domain, absolute. */
  domain: string;
  /** The server asked, as `host:port`. */
  server: string;
  /** Clusters found, sorted by instance name. */
  instances: DiscoveredCluster[];
  /** Instances that could not be used, sorted by instance name. */
  failures: InstanceFailure[];
  /** DNS queries sent (UDP datagrams including retries, plus TCP queries). */
  queries: number;
  /** Instances that carry our own cluster ID (not failures). */
  skippedOwn: number;
}
