import type { Command } from 'commander';
import { Names } from '../../api/constants.js';
import { GVR, clusterConfigWithDefaults, type ClusterConfig, type ForeignCluster, type PeeringRequest } from '../../api/crds.js';
import { ApiError, resourcePath } from '../../k8s/rest.js';
import { readClusterID } from '../../identity/clusterID.js';
import { AgentStatusKeys, agentLiveness, readAgentLease, readAgentStatus, type AgentLease, type AgentStatusData } from '../../agent/agentStatus.js';
import type { Direction, PeerOffloading } from '../../offloading/usage.js';
import { CliError, printObject } from '../output.js';
import { globals, withClient } from '../globals.js';
import { readOffloading } from './offload.js';
import { isRemoved, requestOnlyPeers } from '../../peering/peerRecords.js';

/** What `kubepeer status` reads from the cluster. */
export interface StatusObserved {
  clusterID: string;
  server: string;
  clusterConfig: ClusterConfig | null;
  lease: AgentLease | null;
  foreignClusters: ForeignCluster[];
  peeringRequests: PeeringRequest[];
  /** Pods offloaded per peer, both ways; null when this user may not read them (absent: not read). */
  offloading?: PeerOffloading[] | null;
  /** What the leading agent says it runs (ConfigMap kubepeer-agent-status); null: not written (yet). */
  agentStatus?: AgentStatusData | null;
}

/** One peer's line of the Offloading part: pods each way, and what they use of what is allowed. */
export function offloadingLine(name: string, o: Pick<PeerOffloading, 'outgoing' | 'incoming'>): string {
  const there = (d: Direction | undefined) => {
    if (!d) return 'we run nothing there (no virtual node)';
    const cpu = d.cpuLimit ? `cpu ${d.cpu} of ${d.cpuLimit}` : `cpu ${d.cpu}`;
    return `we run ${d.pods} pod${d.pods === 1 ? '' : 's'} there (${d.running} running, ${cpu})`;
  };
  const here = (d: Direction | undefined) => {
    if (!d) return 'it runs nothing here (no tenancy)';
    const quota = [d.podsLimit && `${d.podsLimit} pods`, d.cpuLimit && `cpu ${d.cpu} of ${d.cpuLimit}`].filter(Boolean).join(', ');
    return `it runs ${d.pods} here (${d.running} running${quota ? `; quota ${quota}` : ''})`;
  };
  return `${name}: ${there(o.outgoing)}; ${here(o.incoming)}`;
}

export type StatusReport = ReturnType<typeof statusReport>;

/** The status summary (also what -o json|yaml|jsonpath print). */
export function statusReport(o: StatusObserved, now = Date.now()) {
  const cfg = clusterConfigWithDefaults(o.clusterConfig?.spec);
  const live = agentLiveness(o.lease, now);
  // kubepeer-agent-status is the last leader's word: while no agent runs, it is history.
  const lastWord = live.running ? o.agentStatus : null;
  const stale = !live.running && o.agentStatus?.[AgentStatusKeys.lanDiscovery] ? `no agent has run since ${live.lastRenew ?? '(never)'}; LAN discovery was ${o.agentStatus[AgentStatusKeys.lanDiscovery]} then` : null;
  // An incoming-only peering is a peer too, also before (or without) its ForeignCluster.
  const requestOnly = requestOnlyPeers(o.foreignClusters, o.peeringRequests);
  const peers = [...o.foreignClusters, ...requestOnly];
  const count = (vals: string[]) => vals.reduce<Record<string, number>>((m, v) => ((m[v] = (m[v] ?? 0) + 1), m), {});
  return {
    clusterID: o.clusterID,
    clusterName: cfg.discoveryConfig.clusterName ?? o.clusterID,
    apiServer: o.server,
    agent: {
      healthy: live.running,
      leader: live.leader,
      lastRenewSecondsAgo: live.renewedSecondsAgo,
      /** When the last agent stopped (its last Lease renewal); null while one runs. */
      notRunningSince: live.running ? null : live.lastRenew,
    },
    /** The leading agent's dashboard (null: none, or the agent has not said). */
    dashboardUrl: lastWord?.[AgentStatusKeys.dashboardUrl] ?? null,
    /** The URL the last agent served its dashboard at, when no agent runs now (it answers again once one runs). */
    lastDashboardUrl: live.running ? null : (o.agentStatus?.[AgentStatusKeys.dashboardUrl] ?? null),
    discovery: {
      lan: cfg.discoveryConfig.enableDiscovery,
      advertise: cfg.discoveryConfig.enableAdvertisement,
      /**
       * What runs, as the leading agent says: Running, Inactive (with lanReason), Off (ClusterConfig
       * wants neither browsing nor advertising) or Unknown (the agent has not said).
       */
      lanState: !cfg.discoveryConfig.enableDiscovery && !cfg.discoveryConfig.enableAdvertisement ? 'Off' : (lastWord?.[AgentStatusKeys.lanDiscovery] ?? 'Unknown'),
      lanReason: stale ?? lastWord?.[AgentStatusKeys.lanDiscoveryReason] ?? null,
      autojoin: cfg.discoveryConfig.autojoin,
      autojoinUntrusted: cfg.discoveryConfig.autojoinUntrusted,
      dnsServer: cfg.discoveryConfig.dnsServer || '(system resolver)',
      acceptPolicy: cfg.peeringConfig.acceptPolicy,
      /** Untrusted (CA published, trust on first use allowed) or Trusted (CA not published, only trusted or pinned peers). */
      trustMode: cfg.peeringConfig.trustMode,
    },
    peers: {
      total: peers.length,
      outgoing: count(peers.map((f) => (isRemoved(f) ? 'Removed' : (f.status?.outgoing?.phase ?? 'None')))),
      incoming: count(peers.map((f) => f.status?.incoming?.phase ?? 'None')),
      requestsWaiting: o.peeringRequests.filter((p) => (p.status?.phase ?? 'Pending') === 'Pending').length,
      /** Peers known only by their request to us (no ForeignCluster for them yet, or it was deleted). */
      incomingOnly: requestOnly.map((f) => ({ clusterID: f.spec.clusterID, name: f.spec.clusterName || f.spec.clusterID, incoming: f.status?.incoming?.phase ?? 'Pending' })),
    },
    /** Per peer: what we run there (outgoing) and what it runs here (incoming); null: not readable. */
    offloading:
      o.offloading === null
        ? null
        : (o.offloading ?? []).map((p) => {
            const fc = o.foreignClusters.find((f) => f.spec.clusterID === p.peerID);
            return { peer: fc ? fc.spec.clusterName || fc.metadata.name : p.peerID, peerID: p.peerID, outgoing: p.outgoing ?? null, incoming: p.incoming ?? null };
          }),
  };
}

/** The summary for a person; -o wide prints it too, as every line already shows all there is. */
export function statusText(s: StatusReport): string {
  const fmt = (m: Record<string, number>) => Object.entries(m).map(([k, v]) => `${k}=${v}`).join(' ') || 'none';
  return [
    `Cluster:     ${s.clusterName} (${s.clusterID})`,
    `API server:  ${s.apiServer}`,
    `Agent:       ${
      s.agent.healthy
        ? `healthy (leader ${s.agent.leader}, renewed ${s.agent.lastRenewSecondsAgo}s ago)`
        : `NOT RUNNING${s.agent.notRunningSince ? ` since ${s.agent.notRunningSince} (${s.agent.lastRenewSecondsAgo}s ago): what it last published is from then` : ''}`
    }`,
    `Discovery:   ${lanText(s.discovery)}, autojoin ${s.discovery.autojoin}/${s.discovery.autojoinUntrusted} (trusted/untrusted), DNS ${s.discovery.dnsServer}`,
    ...((s.discovery.lanState === 'Inactive' || s.discovery.lanState === 'Unknown') && s.discovery.lanReason ? [`             ${s.discovery.lanReason}`] : []),
    `Accepting:   ${s.discovery.acceptPolicy}`,
    `Trust mode:  ${s.discovery.trustMode === 'Trusted' ? 'Trusted (our CA is not published; peers only with CAs trusted or pinned by a person)' : 'Untrusted (our CA is published; untrusted peers may be pinned on first use)'}`,
    `Peers:       ${s.peers.total} known; outgoing ${fmt(s.peers.outgoing)}; incoming ${fmt(s.peers.incoming)}; ${s.peers.requestsWaiting} request(s) waiting`,
    ...(s.peers.incomingOnly.length ? [`             incoming only, no ForeignCluster yet: ${s.peers.incomingOnly.map((p) => `${p.name} (${p.incoming})`).join(', ')}`] : []),
    ...offloadingText(s.offloading),
    `Dashboard:   ${
      s.dashboardUrl
        ? `${s.dashboardUrl}  (sign in with a token: kubepeer dashboard token)`
        : s.agent.healthy
          ? 'not served (agent started with --no-dashboard?)'
          : s.lastDashboardUrl
            ? `not served: the agent that served it at ${s.lastDashboardUrl} is not running since ${s.agent.notRunningSince}`
            : 'unknown (no agent running)'
    }`,
  ].join('\n');
}

/** "LAN on, advertise on" only when the agent says it runs; otherwise what is wanted and that it does not run. */
function lanText(d: StatusReport['discovery']): string {
  const wanted = `LAN ${d.lan ? 'on' : 'off'}, advertise ${d.advertise ? 'on' : 'off'}`;
  if (d.lanState === 'Off' || d.lanState === 'Running') return wanted;
  if (d.lanState === 'Inactive') return `LAN INACTIVE (ClusterConfig asks for: ${wanted})`;
  return `${wanted} (not confirmed by the agent)`;
}

function offloadingText(o: StatusReport['offloading']): string[] {
  const label = 'Offloading:  ';
  if (o === null) return [`${label}not shown: you may not list nodes, pods or resourcequotas`];
  if (!o.length) return [`${label}none (no virtual node, no tenant here)`];
  return o.map((p, i) => (i ? ' '.repeat(label.length) : label) + offloadingLine(p.peer, { outgoing: p.outgoing ?? undefined, incoming: p.incoming ?? undefined }));
}

export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description('This cluster at a glance: cluster ID, agent health, discovery settings, peers by phase, pods offloaded each way per peer.')
    .action(async (_o: unknown, cmd: Command) => {
      const g = globals(cmd, { printsObjects: false });
      const observed = await withClient(g, async (client): Promise<StatusObserved> => {
        const clusterID = await readClusterID(client, g.namespace);
        if (!clusterID) throw new CliError(`kubepeer has no cluster ID in ${g.namespace}/cluster-id: is it installed and is the agent running? (kubepeer install; kubepeer agent)`);
        return {
          clusterID,
          server: client.server,
          clusterConfig: await client.getOrNull<ClusterConfig>(resourcePath(GVR.clusterConfig, { name: Names.clusterConfig })),
          lease: await readAgentLease(client, g.namespace),
          agentStatus: await readAgentStatus(client, g.namespace).catch((e: unknown) => {
            if (e instanceof ApiError && e.code === 403) return null;
            throw e;
          }),
          foreignClusters: (await client.list<ForeignCluster>(resourcePath(GVR.foreignCluster))).items,
          peeringRequests: (await client.list<PeeringRequest>(resourcePath(GVR.peeringRequest))).items,
          offloading: await readOffloading(client).catch((e: unknown) => {
            if (e instanceof ApiError && e.code === 403) return null;
            throw e;
          }),
        };
      });
      const status = statusReport(observed);
      printObject(g.output, status, { text: () => statusText(status) });
      if (!status.agent.healthy) process.exitCode = 3;
    });
}
