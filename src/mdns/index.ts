/**
 * The mDNS / DNS-SD library (RFC 6762, RFC 6763): the only entry point of `src/mdns`. See README.md
 * in this folder. LAN discovery uses `LanDiscovery`; unicast DNS discovery uses the codec, the name
 * helpers, the TXT reader and the API-server URL helpers, so both read DNS-SD the same way.
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
export type { DroppedInstance } from './dropLog.js';

// DNS messages and names, shared with unicast DNS-SD
export { decodePacket, encodePacket, rcodeOf, isTruncated, type DnsPacket, type Question, type ResourceRecord, type DecodeFailure } from './codec.js';
export { CLASS_IN, Flags, LIQO_SERVICE_TYPE, MAX_TXT_BYTES, MAX_TXT_STRING_BYTES, RRType } from './constants.js';
export { absoluteNameKey, stripTrailingDot, toFqdn } from './names.js';

// the DNS-SD record of a cluster
export {
  CLUSTER_ID_PATTERN,
  CA_FINGERPRINT_PATTERN,
  DEFAULT_NAMESPACE,
  TxtKeys,
  clusterIDProblem,
  clusterNameProblem,
  interpretClusterTxt,
  mergeTxtRecords,
  namespaceProblem,
  normalizeCAPin,
  parseTxtStrings,
  readClusterTxt,
  type ClusterTxt,
  type ClusterTxtReason,
  type ClusterTxtResult,
  type TxtParseResult,
  type TxtValue,
} from './txt.js';
export { apiUrlFor, sameApiServer } from './apiUrl.js';
