/**
 * Prometheus metrics of LAN discovery: the mDNS layer's own counters (packets sent, received and
 * dropped by reason) read at scrape time, the peers currently seen, and how long a sighting takes
 * to become a ForeignCluster. Several agents in one process (tests) add up.
 */
import { Counter, Gauge, Histogram } from 'prom-client';
import { registry } from '../../observability/metrics.js';
import { DROP_REASONS, IGNORE_REASONS, type CounterSnapshot } from '../../mdns/index.js';

/** What one running lan-discovery controller contributes at scrape time. */
export interface LanMetricsSource {
  /** mDNS counters since the agent started (across restarts of the mDNS engine). */
  counters(): CounterSnapshot;
  /** Clusters currently seen on the LAN. */
  peers(): number;
}

const sources = new Set<LanMetricsSource>();

export function addLanMetricsSource(source: LanMetricsSource): () => void {
  sources.add(source);
  return () => sources.delete(source);
}

export function zeroSnapshot(): CounterSnapshot {
  return {
    packetsSent: 0,
    packetsReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    queriesSent: 0,
    responsesSent: 0,
    probesSent: 0,
    announcementsSent: 0,
    goodbyesSent: 0,
    queriesReceived: 0,
    responsesReceived: 0,
    sendErrors: 0,
    conflicts: 0,
    renames: 0,
    suppressedAnswers: 0,
    rateLimitedAnswers: 0,
    dropped: Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as CounterSnapshot['dropped'],
    ignoredRecords: Object.fromEntries(IGNORE_REASONS.map((r) => [r, 0])) as CounterSnapshot['ignoredRecords'],
  };
}

/** a + b, field by field (to carry counters over a restart of the mDNS engine). */
export function addSnapshots(a: CounterSnapshot, b: CounterSnapshot | undefined): CounterSnapshot {
  if (!b) return a;
  const out = zeroSnapshot();
  for (const k of Object.keys(out) as Array<keyof CounterSnapshot>) {
    if (k === 'dropped' || k === 'ignoredRecords') continue;
    out[k] = a[k] + b[k];
  }
  for (const r of DROP_REASONS) out.dropped[r] = a.dropped[r] + b.dropped[r];
  for (const r of IGNORE_REASONS) out.ignoredRecords[r] = a.ignoredRecords[r] + b.ignoredRecords[r];
  return out;
}

function total(): CounterSnapshot {
  let sum = zeroSnapshot();
  for (const s of sources) sum = addSnapshots(sum, s.counters());
  return sum;
}

/** A counter whose value is read from the mDNS layer at scrape time. */
function mirrored(name: string, help: string, read: (s: CounterSnapshot) => number): Counter {
  return new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read(total()));
    },
  });
}

mirrored('kubepeer_mdns_packets_sent_total', 'mDNS datagrams sent by LAN discovery.', (s) => s.packetsSent);
mirrored('kubepeer_mdns_packets_received_total', 'mDNS datagrams received by LAN discovery (before any check).', (s) => s.packetsReceived);
mirrored('kubepeer_mdns_bytes_sent_total', 'Bytes of mDNS datagrams sent.', (s) => s.bytesSent);
mirrored('kubepeer_mdns_bytes_received_total', 'Bytes of mDNS datagrams received.', (s) => s.bytesReceived);
mirrored('kubepeer_mdns_send_errors_total', 'mDNS datagrams the socket refused to send.', (s) => s.sendErrors);
mirrored('kubepeer_mdns_conflicts_total', 'Name conflicts met while probing or defending our records (RFC 6762 section 9).', (s) => s.conflicts);
mirrored('kubepeer_mdns_suppressed_answers_total', 'Answers not sent because the querier already knew them (known-answer suppression).', (s) => s.suppressedAnswers);

new Counter({
  name: 'kubepeer_mdns_messages_sent_total',
  help: 'mDNS messages sent, by kind (query, response, probe, announcement, goodbye).',
  labelNames: ['kind'],
  registers: [registry],
  collect() {
    const s = total();
    this.reset();
    this.inc({ kind: 'query' }, s.queriesSent);
    this.inc({ kind: 'response' }, s.responsesSent);
    this.inc({ kind: 'probe' }, s.probesSent);
    this.inc({ kind: 'announcement' }, s.announcementsSent);
    this.inc({ kind: 'goodbye' }, s.goodbyesSent);
  },
});

new Counter({
  name: 'kubepeer_mdns_packets_dropped_total',
  help: 'mDNS datagrams dropped before use, by reason (malformed, off-link, rate-limited, ...).',
  labelNames: ['reason'],
  registers: [registry],
  collect() {
    const s = total();
    this.reset();
    for (const r of DROP_REASONS) this.inc({ reason: r }, s.dropped[r]);
  },
});

new Counter({
  name: 'kubepeer_mdns_records_ignored_total',
  help: 'Records inside accepted mDNS datagrams that were ignored, by reason (other service, own ID, limits, ...).',
  labelNames: ['reason'],
  registers: [registry],
  collect() {
    const s = total();
    this.reset();
    for (const r of IGNORE_REASONS) this.inc({ reason: r }, s.ignoredRecords[r]);
  },
});

new Gauge({
  name: 'kubepeer_lan_peers',
  help: 'Clusters currently seen on the LAN (one per cluster ID).',
  registers: [registry],
  collect() {
    let n = 0;
    for (const s of sources) n += s.peers();
    this.set(n);
  },
});

const DISCOVERY_DURATION = 'kubepeer_discovery_duration_seconds';

/**
 * From a discovery source reporting a cluster to its ForeignCluster being written, by source.
 * Shared with the other discovery sources; whichever module loads first declares it.
 */
export const discoveryDuration: Histogram<'source'> =
  (registry.getSingleMetric(DISCOVERY_DURATION) as Histogram<'source'> | undefined) ??
  new Histogram({
    name: DISCOVERY_DURATION,
    help: 'From a discovery source reporting a cluster (LAN: its mDNS records resolved) to its ForeignCluster being written.',
    labelNames: ['source'],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
