import type { Command } from 'commander';
import { Names } from '../../api/constants.js';
import { GVR, clusterConfigWithDefaults, type ClusterConfig, type ForeignCluster, type PeeringRequest } from '../../api/crds.js';
import { Core, resourcePath } from '../../k8s/rest.js';
import { readClusterID } from '../../identity/clusterID.js';
import { CliError, print } from '../output.js';
import { clientFor, globals } from '../globals.js';

export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description('This cluster at a glance: cluster ID, agent health, discovery settings, peers by phase.')
    .action(async (_o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const client = clientFor(g);
      const id = await readClusterID(client, g.namespace);
      if (!id) throw new CliError(`kubepeer has no cluster ID in ${g.namespace}/cluster-id: is it installed and is the agent running? (kubepeer install; kubepeer agent)`);
      const cc = await client.getOrNull<ClusterConfig>(resourcePath(GVR.clusterConfig, { name: Names.clusterConfig }));
      const cfg = clusterConfigWithDefaults(cc?.spec);
      const lease = await client.getOrNull<{ spec: { holderIdentity?: string; renewTime?: string; leaseDurationSeconds?: number } }>(resourcePath(Core.leases, { namespace: g.namespace, name: Names.agentLease }));
      const ageS = lease?.spec.renewTime ? (Date.now() - Date.parse(lease.spec.renewTime)) / 1000 : Infinity;
      const healthy = !!lease?.spec.holderIdentity && ageS < (lease.spec.leaseDurationSeconds ?? 15);
      const fcs = (await client.list<ForeignCluster>(resourcePath(GVR.foreignCluster))).items;
      const prs = (await client.list<PeeringRequest>(resourcePath(GVR.peeringRequest))).items;
      client.close();
      const count = (vals: string[]) => vals.reduce<Record<string, number>>((m, v) => ((m[v] = (m[v] ?? 0) + 1), m), {});
      const status = {
        clusterID: id,
        clusterName: cfg.discoveryConfig.clusterName ?? id,
        apiServer: client.server,
        agent: {
          healthy,
          leader: lease?.spec.holderIdentity || null,
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
          total: fcs.length,
          outgoing: count(fcs.map((f) => f.status?.outgoing?.phase ?? 'None')),
          incoming: count(fcs.map((f) => f.status?.incoming?.phase ?? 'None')),
          requestsWaiting: prs.filter((p) => (p.status?.phase ?? 'Pending') === 'Pending').length,
        },
      };
      if (g.output === 'json' || g.output === 'yaml') return print(g.output, status);
      const fmt = (m: Record<string, number>) => Object.entries(m).map(([k, v]) => `${k}=${v}`).join(' ') || 'none';
      process.stdout.write(
        [
          `Cluster:     ${status.clusterName} (${id})`,
          `API server:  ${status.apiServer}`,
          `Agent:       ${healthy ? 'healthy' : 'NOT RUNNING'}${status.agent.leader ? ` (leader ${status.agent.leader}, renewed ${status.agent.lastRenewSecondsAgo}s ago)` : ''}`,
          `Discovery:   LAN ${status.discovery.lan ? 'on' : 'off'}, advertise ${status.discovery.advertise ? 'on' : 'off'}, autojoin ${status.discovery.autojoin}/${status.discovery.autojoinUntrusted} (trusted/untrusted), DNS ${status.discovery.dnsServer}`,
          `Accepting:   ${status.discovery.acceptPolicy}`,
          `Peers:       ${fcs.length} known; outgoing ${fmt(status.peers.outgoing)}; incoming ${fmt(status.peers.incoming)}; ${status.peers.requestsWaiting} request(s) waiting`,
        ].join('\n') + '\n',
      );
      if (!healthy) process.exitCode = 3;
    });
}
