/**
 * Wire constants and RFC 6762 timing rules, in one place so the pure modules and the socket edge
 * agree. Section numbers refer to RFC 6762 (mDNS) unless marked 6763 (DNS-SD).
 */

export const MDNS_PORT = 5353;

/** The DNS-SD service type of kubepeer (and Liqo) clusters, on the LAN and in unicast DNS. */
export const LIQO_SERVICE_TYPE = '_liqo._tcp';

/** What `LanDiscovery` publishes and browses when the configuration leaves a field out. */
export const LanDefaults = {
  service: LIQO_SERVICE_TYPE,
  domain: 'local.',
  instanceName: 'MyLiqo',
  namespace: 'liqo',
  apiServerPort: 6443,
} as const;
export const MDNS_IPV4_GROUP = '224.0.0.251';
export const MDNS_IPV6_GROUP = 'ff02::fb';

/**
 * RR type codes the codec understands (mDNS needs A, AAAA, PTR, SRV, TXT; unicast DNS-SD also
 * CNAME, NS and SOA); everything else is carried as opaque rdata.
 */
export const RRType = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  NSEC: 47,
  ANY: 255,
} as const;

export const CLASS_IN = 1;
export const CLASS_ANY = 255;

/** Header flag bits. */
export const Flags = {
  response: 0x8000,
  authoritative: 0x0400,
  truncated: 0x0200,
  recursionDesired: 0x0100,
} as const;

/**
 * §10: records whose name or rdata is a host name (SRV, A, AAAA) live 120 s by default; the
 * configured `ttl` (ClusterConfig `discoveryConfig.ttl`) replaces this value and nothing else.
 */
export const HOST_RECORD_TTL_SECONDS = 120;
/**
 * §10: the other records (service PTR, TXT, the service-enumeration PTR) live 75 minutes. Departures
 * are carried by goodbyes and by the SRV/A TTL: a browser drops an instance whose SRV expired even
 * while its PTR is still cached. A short PTR TTL only makes browsers query more (python-zeroconf
 * even clamps short PTR TTLs up).
 */
export const SERVICE_RECORD_TTL_SECONDS = 4500;

/** §11: replies to legacy unicast queries carry a TTL no longer than 10 s. */
export const LEGACY_UNICAST_MAX_TTL_SECONDS = 10;

/** §8.1 probing: random 0–250 ms wait, then three probes 250 ms apart. */
export const PROBE_WAIT_MAX_MS = 250;
export const PROBE_INTERVAL_MS = 250;
export const PROBE_COUNT = 3;
/** §8.2: the loser of a simultaneous-probe tie-break waits one second before probing again. */
export const PROBE_DEFER_MS = 1000;

/** §8.3: at least two announcements one second apart; we send three (1 s, then 2 s). */
export const ANNOUNCE_COUNT = 3;
export const ANNOUNCE_FIRST_INTERVAL_MS = 1000;

/** §9: after 15 conflicts within 10 s, wait at least 5 s before each new probe sequence. */
export const CONFLICT_WINDOW_MS = 10_000;
export const CONFLICT_BURST = 15;
export const CONFLICT_BACKOFF_MS = 5_000;

/** §6: shared-record answers wait a random 20–120 ms; TC queries 400–500 ms. */
export const SHARED_DELAY_MIN_MS = 20;
export const SHARED_DELAY_MAX_MS = 120;
export const TC_DELAY_MIN_MS = 400;
export const TC_DELAY_MAX_MS = 500;

/** §6: a record is multicast on an interface at most once per second (250 ms for probe defence). */
export const MULTICAST_RATE_LIMIT_MS = 1000;
export const PROBE_DEFENCE_RATE_LIMIT_MS = 250;

/** §5.2 continuous querying: 20–120 ms, then 1 s, doubling, capped at 60 min. */
export const QUERY_FIRST_MIN_MS = 20;
export const QUERY_FIRST_MAX_MS = 120;
export const QUERY_SECOND_INTERVAL_MS = 1000;
export const QUERY_MAX_INTERVAL_MS = 60 * 60 * 1000;

/** §5.2 cache maintenance: refresh queries at 80/85/90/95 % of the TTL plus 0–2 % jitter. */
export const REFRESH_FRACTIONS = [0.8, 0.85, 0.9, 0.95] as const;
export const REFRESH_JITTER_FRACTION = 0.02;

/** §10.1: a goodbye (TTL 0) makes a record live one more second; §10.2: so does a cache flush. */
export const GOODBYE_GRACE_MS = 1000;
export const CACHE_FLUSH_GRACE_MS = 1000;

/** §17: an mDNS message may be up to 9000 bytes; we refuse bigger ones without parsing them. */
export const MAX_PACKET_BYTES = 9000;
/** What we aim to send in one datagram (fits an Ethernet MTU with IPv6 + UDP headers). */
export const TARGET_SEND_BYTES = 1400;

/**
 * RFC 6763 §6.2: TXT records above 1300 bytes are discouraged; we refuse them (a cluster's TXT is
 * about 150 bytes). RFC 1035: one character-string holds at most 255 bytes.
 */
export const MAX_TXT_BYTES = 1300;
export const MAX_TXT_STRING_BYTES = 255;

/** The DNS-SD service-type enumeration name (RFC 6763 §9), relative to the domain. */
export const SERVICES_ENUMERATION = '_services._dns-sd._udp';
