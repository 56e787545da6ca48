import type { Command } from 'commander';
import { Names } from '../../api/constants.js';
import { GVR, clusterConfigWithDefaults, type ClusterConfig, type ForeignCluster, type PeeringRequest } from '../../api/crds.js';
import { Core, resourcePath } from '../../k8s/rest.js';
import { readClusterID } from '../../identity/clusterID.js';
import { CliError, printObject } from '../output.js';
import { globals, withClient } from '../globals.js';

interface AgentLease {
  spec: { holderIdentity?: string; renewTime?: string; leaseDurationSeconds?: number };
}

/** What `kubepeer status` reads from the cluster. */
export interface StatusObserved {
  clusterID: string;
  server: string;
  clusterConfig: ClusterConfig | null;
  lease: AgentLease | null;
  foreignClusters: ForeignCluster[];
  peeringRequests: PeeringRequest[];
}

export type StatusReport = ReturnType<typeof statusReport>;

/** The status summary (also what -o json|yaml|jsonpath print). */
export function statusReport(o: StatusObserved, now = Date.now()) {
  const cfg = clusterConfigWithDefaults(o.clusterConfig?.spec);
  const ageS = o.lease?.spec.renewTime ? (now - Date.parse(o.lease.spec.renewTime)) / 1000 : Infinity;
  const count = (vals: string[]) => vals.reduce<Record<string, number>>((m, v) => ((m[v] = (m[v] ?? 0) + 1), m), {});
  return {
    clusterID: o.clusterID,
    clusterName: cfg.discoveryConfig.clusterName ?? o.clusterID,
    apiServer: o.server,
    agent: {
      healthy: !!o.lease?.spec.holderIdentity && ageS < (o.lease.spec.leaseDurationSeconds ?? 15),
      leader: o.lease?.spec.holderIdentity || null,
      lastRenewSecondsAgo: Number.isFinite(ageS) ? Math.round(ageS) : null,
    },
    discovery: {
      lan: cfg.discoveryConfig.enableDiscovery,
      advertise: cfg.discoveryConfig.enableAdvertisement,
      autojoin: cfg.discoveryConfig.autojoin,
      autojoinUntrusted: cfg.discoveryConfig.autojoinUntrusted,
      dnsServer: cfg.discoveryConfig.dnsServer || '(system resolver)',
      acceptPolicy: cfg.peeringConfig.acceptPolicy,
    },
    peers: {
      total: o.foreignClusters.length,
      outgoing: count(o.foreignClusters.map((f) => f.status?.outgoing?.phase ?? 'None')),
      incoming: count(o.foreignClusters.map((f) => f.status?.incoming?.phase ?? 'None')),
      requestsWaiting: o.peeringRequests.filter((p) => (p.status?.phase ?? 'Pending') === 'Pending').length,
    },
  };
}

/** The summary for a person; -o wide prints it too, as every line already shows all there is. */
export function statusText(s: StatusReport): string {
  const fmt = (m: Record<string, number>) => Object.entries(m).map(([k, v]) => `${k}=${v}`).join(' ') || 'none';
  return [
    `Cluster:     ${s.clusterName} (${s.clusterID})`,
    `API server:  ${s.apiServer}`,
    `Agent:       ${s.agent.healthy ? 'healthy' : 'NOT RUNNING'}${s.agent.leader ? ` (leader ${s.agent.leader}, renewed ${s.agent.lastRenewSecondsAgo}s ago)` : ''}`,
    `Discovery:   LAN ${s.discovery.lan ? 'on' : 'off'}, advertise ${s.discovery.advertise ? 'on' : 'off'}, autojoin ${s.discovery.autojoin}/${s.discovery.autojoinUntrusted} (trusted/untrusted), DNS ${s.discovery.dnsServer}`,
    `Accepting:   ${s.discovery.acceptPolicy}`,
    `Peers:       ${s.peers.total} known; outgoing ${fmt(s.peers.outgoing)}; incoming ${fmt(s.peers.incoming)}; ${s.peers.requestsWaiting} request(s) waiting`,
  ].join('\n');
}

export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description('This cluster at a glance: cluster ID, agent health, discovery settings, peers by phase.')
    .action(async (_o: unknown, cmd: Command) => {
      const g = globals(cmd, { printsObjects: false });
      const observed = await withClient(g, async (client): Promise<StatusObserved> => {
        const clusterID = await readClusterID(client, g.namespace);
        if (!clusterID) throw new CliError(`kubepeer has no cluster ID in ${g.namespace}/cluster-id: is it installed and is the agent running? (kubepeer install; kubepeer agent)`);
        return {
          clusterID,
          server: client.server,
          clusterConfig: await client.getOrNull<ClusterConfig>(resourcePath(GVR.clusterConfig, { name: Names.clusterConfig })),
          lease: await client.getOrNull<AgentLease>(resourcePath(Core.leases, { namespace: g.namespace, name: Names.agentLease })),
          foreignClusters: (await client.list<ForeignCluster>(resourcePath(GVR.foreignCluster))).items,
          peeringRequests: (await client.list<PeeringRequest>(resourcePath(GVR.peeringRequest))).items,
        };
      });
      const status = statusReport(observed);
      printObject(g.output, status, { text: () => statusText(status) });
      if (!status.agent.healthy) process.exitCode = 3;
    });
}
