/**
 * Public types of LAN discovery: configuration, discovered peers and events.
 */

/** What ClusterConfig `spec.discoveryConfig` (plus the cluster's identity) says about LAN discovery. */
export interface LanDiscoveryConfig {
  /** Our cluster ID: published in TXT `id`; announcements carrying it are ignored. */
  clusterID: string;
  /** Our API server URL, published in TXT `url`. Default `https://<first IPv4 of the links>:<port>`. */
  url?: string;
  /** mDNS instance prefix (`name` in ClusterConfig, default `MyLiqo`). */
  name?: string;
  /** Human cluster name, published in TXT `name` when set. */
  clusterName?: string;
  /** Remote agent namespace, TXT `namespace` (default `liqo`). */
  namespace?: string;
  /** API server port published in SRV (default 6443). */
  port?: number;
  /**
   * Seconds, for the records that carry a host name: SRV, A and AAAA (default 120, RFC 6762 §10).
   * They carry a departure without a goodbye: browsers drop us when the SRV expires. PTR, TXT and
   * the service-enumeration PTR always use 4500 s (§10), so browsers do not keep asking for them.
   */
  ttl?: number;
  /** Service type (default `_liqo._tcp`). */
  service?: string;
  /** Domain (default `local.`). */
  domain?: string;
  /** Browse for peers (default true). */
  enableDiscovery?: boolean;
  /** Announce ourselves (default true). */
  enableAdvertisement?: boolean;
  /** Interface names to use; empty = every multicast-capable, non-loopback interface. */
  interfaces?: string[];
}

export interface DiscoveredPeer {
  /** Full instance name, e.g. `MyLiqo-1234abcd._liqo._tcp.local`. */
  instance: string;
  clusterID: string;
  namespace: string;
  /** TXT `name`, when the peer publishes one. */
  name?: string;
  /** TXT `url`: the peer's API server. */
  url: string;
  /** SRV port. */
  port: number;
  /** SRV target host name. */
  host: string;
  /** A/AAAA of the SRV target that we have seen (may be empty at first; then an `update` follows). */
  addresses: string[];
  /** TTL (seconds) of the peer's SRV record: how long the sighting lasts without a refresh or goodbye. */
  ttl: number;
  /** Source address of the packet that last carried the peer's TXT. */
  sourceAddress: string;
  /** Interface the peer was seen on. */
  interface: string;
}

export type PeerField = 'instance' | 'url' | 'port' | 'host' | 'addresses' | 'namespace' | 'name';

export interface PeerUpdate extends DiscoveredPeer {
  changed: PeerField[];
}

export interface PeerDown {
  clusterID: string;
  instance: string;
  /** goodbye: the peer sent TTL 0; expired: its records timed out; disabled: we stopped browsing. */
  reason: 'goodbye' | 'expired' | 'disabled';
}

export interface PeerConflict {
  /** The claimed cluster ID. */
  clusterID: string;
  /** The instance making the conflicting claim, and what it claims. */
  instance: string;
  url: string;
  sourceAddress: string;
  /** The instance we keep for this ID (ours when `own` is true). */
  existing: { instance: string; url: string };
  /** The claim is on our own cluster ID. */
  own: boolean;
}

export interface RenameEvent {
  kind: 'instance' | 'host';
  from: string;
  to: string;
}

export interface AdvertisementStatus {
  instance: string;
  host: string;
  phase: 'probing' | 'announcing' | 'announced';
}

export interface LanEvents {
  up: DiscoveredPeer;
  update: PeerUpdate;
  down: PeerDown;
  conflict: PeerConflict;
  /** Our instance or host name was taken; we now use `to`. */
  renamed: RenameEvent;
  /** Probing succeeded and the first announcement went out (again after every re-probe). */
  announced: AdvertisementStatus;
  /** Goodbye sent for this instance (advertisement disabled, renamed by config, or stopped). */
  withdrawn: { instance: string };
}
