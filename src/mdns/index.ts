/**
 * LAN discovery over mDNS / DNS-SD (RFC 6762, RFC 6763). See README.md in this folder.
 */
export { LanDiscovery, LanConfigError, resolveLanConfig, type LanDiscoveryOptions, type ResolvedConfig } from './lanDiscovery.js';
export type {
  AdvertisementStatus,
  DiscoveredPeer,
  LanDiscoveryConfig,
  LanEvents,
  PeerConflict,
  PeerDown,
  PeerField,
  PeerUpdate,
  RenameEvent,
} from './types.js';
export { MdnsCounters, DROP_REASONS, IGNORE_REASONS, type CounterSnapshot, type DropReason, type IgnoreReason } from './counters.js';
export { MdnsEngine, DEFAULT_LIMITS, type EngineLimits, type Datagram, type PacketSink } from './engine.js';
export { listLinks, type Link } from './links.js';
export { systemClock, type Clock, type Random } from './clock.js';
