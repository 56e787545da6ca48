/**
 * DNS discovery from the command line (docs/design.md §4 and §7):
 *   kubepeer domain add|list|remove   manage SearchDomains (what the agent browses)
 *   kubepeer dns records              the zone records that make this cluster discoverable
 */
import type { Command } from 'commander';
import { isIP } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { ClusterInfoKeys, Names } from '../../api/constants.js';
import { GVR, apiVersionOf, clusterConfigWithDefaults, type ClusterConfig, type ForeignCluster, type SearchDomain } from '../../api/crds.js';
import { getCondition } from '../../k8s/conditions.js';
import { Core, isAlreadyExists, resourcePath, type KubeClient } from '../../k8s/rest.js';
import { readClusterID } from '../../identity/clusterID.js';
import { certificateFingerprint } from '../../trust/pki.js';
import { domainProblem, stripTrailingDot, toFqdn } from '../../discovery/dns/names.js';
import { DnsRecordsError, publishRecords, type PublishInput } from '../../discovery/dns/records.js';
import { SYNCED } from '../../discovery/dns/searchDomainPlan.js';
import { CliError, age, isStructured, kindName, printList, printObject, progress, progressDone, type Column } from '../output.js';
import { globals, seconds, withClient } from '../globals.js';
import { urlHost } from '../../net/hosts.js';

// ---------------------------------------------------------------- domain

const SEARCH_DOMAIN = kindName(GVR.searchDomain);

export const domainColumns: Column<SearchDomain>[] = [
  { header: 'Name', value: (d) => d.metadata.name },
  { header: 'Domain', value: (d) => d.spec.domain },
  { header: 'Autojoin', value: (d) => d.spec.autojoin },
  { header: 'Synced', value: (d) => getCondition(d.status?.conditions, SYNCED)?.status ?? 'Unknown' },
  // Why a domain is not synced (its server refused, timed out...): Failures counts only the
  // instances that failed in a browse that worked, so it says 0 when the whole browse failed.
  { header: 'Reason', value: (d) => syncedReason(d) },
  { header: 'Clusters', value: (d) => d.status?.clusters?.length ?? 0 },
  { header: 'Failures', value: (d) => d.status?.failures?.length ?? 0 },
  { header: 'Last Sync', value: (d) => (d.status?.lastSync ? age(d.status.lastSync) : 'never') },
  { header: 'Message', value: (d) => getCondition(d.status?.conditions, SYNCED)?.message ?? '', wide: true },
  { header: 'Age', value: (d) => age(d.metadata.creationTimestamp) },
];

/** The Synced condition's reason when it is not True (empty when synced). */
export function syncedReason(d: SearchDomain): string {
  const c = getCondition(d.status?.conditions, SYNCED);
  if (!c) return 'NotSyncedYet';
  return c.status === 'True' ? '' : c.reason ?? '';
}

/** A SearchDomain by its name, or by its domain when exactly one watches it. */
async function findDomain(client: KubeClient, nameOrDomain: string): Promise<SearchDomain> {
  const byName = await client.getOrNull<SearchDomain>(resourcePath(GVR.searchDomain, { name: nameOrDomain }));
  if (byName) return byName;
  const wanted = toFqdn(nameOrDomain).toLowerCase();
  const all = (await client.list<SearchDomain>(resourcePath(GVR.searchDomain))).items;
  const match = all.filter((d) => toFqdn(d.spec.domain).toLowerCase() === wanted);
  if (match.length === 1) return match[0]!;
  if (match.length > 1) throw new CliError(`${nameOrDomain} is watched by ${match.length} SearchDomains (${match.map((d) => d.metadata.name).join(', ')}); name one of them`);
  throw new CliError(`no SearchDomain "${nameOrDomain}" (by name or domain); see: kubepeer domain list`);
}

/** Waits for the first sync after a create and reports it. */
async function waitForSync(client: KubeClient, name: string, timeoutMs: number): Promise<SearchDomain> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const sd = await client.get<SearchDomain>(resourcePath(GVR.searchDomain, { name }));
    const synced = getCondition(sd.status?.conditions, SYNCED);
    if (synced && synced.observedGeneration === sd.metadata.generation) {
      progressDone();
      return sd;
    }
    if (Date.now() > deadline) {
      progressDone();
      throw new CliError(`timed out after ${timeoutMs / 1000}s waiting for the agent to read ${sd.spec.domain}: is the kubepeer agent running? (kubepeer status)`);
    }
    progress(`waiting for the agent to read ${sd.spec.domain} ...`);
    await sleep(500);
  }
}

function registerDomainCommands(program: Command): void {
  const domain = program
    .command('domain')
    .description('SearchDomains: DNS domains whose PTR/SRV/TXT records list clusters to discover.')
    .addHelpText(
      'after',
      `
Each SearchDomain is read on creation, on change and every resyncSeconds (ClusterConfig), from the
DNS server in ClusterConfig discoveryConfig.dnsServer ("" = the system resolver). Every cluster it
lists becomes a ForeignCluster with discoveryType WAN. Publish a cluster with: kubepeer dns records`,
    );

  domain
    .command('add <domain>')
    .description('Watch a DNS domain for clusters (creates a SearchDomain).')
    .option('--name <name>', 'SearchDomain name (default: the domain)')
    .option('--autojoin', 'peer by itself with every cluster found whose TXT record pins its CA (ca=sha256:...); the others are listed for you to connect (kubepeer peer join)')
    .option('--wait', 'wait for the first sync and print what it found')
    .option('--timeout <seconds>', 'how long --wait waits', '60')
    .addHelpText(
      'after',
      `
Examples:
  kubepeer domain add mydomain.com
  kubepeer domain add mydomain.com --autojoin --wait
  kubepeer domain add clusters.example.org --name example -o yaml`,
    )
    .action(async (domainArg: string, opts: { name?: string; autojoin?: boolean; wait?: boolean; timeout: string }, cmd: Command) => {
      const g = globals(cmd);
      const bad = domainProblem(domainArg);
      if (bad) throw new CliError(`"${domainArg}" is not a DNS domain: ${bad}`, 2);
      const name = opts.name ?? stripTrailingDot(domainArg).toLowerCase();
      const timeoutMs = seconds(opts.timeout) * 1000;
      const sd = await withClient(g, async (client) => {
        let created: SearchDomain;
        try {
          created = await client.create<SearchDomain>(resourcePath(GVR.searchDomain), {
            apiVersion: apiVersionOf(GVR.searchDomain),
            kind: 'SearchDomain',
            metadata: { name },
            spec: { domain: stripTrailingDot(domainArg), autojoin: !!opts.autojoin },
          });
        } catch (e) {
          if (isAlreadyExists(e)) throw new CliError(`searchdomain/${name} already exists; pick another --name, or remove it first: kubepeer domain remove ${name}`);
          throw e;
        }
        return opts.wait ? waitForSync(client, name, timeoutMs) : created;
      });
      printObject(g.output, sd, {
        resource: SEARCH_DOMAIN,
        text: () => {
          const lines = [`searchdomain/${name} created (domain ${sd.spec.domain}, autojoin ${sd.spec.autojoin})`];
          if (opts.wait) {
            const synced = getCondition(sd.status?.conditions, SYNCED);
            lines.push(`${synced?.status === 'True' ? 'synced' : 'NOT synced'}: ${synced?.message ?? ''}`);
            for (const c of sd.status?.clusters ?? []) lines.push(`  found ${c.clusterID} at ${c.apiUrl ?? '?'} (foreigncluster/${c.foreignCluster ?? c.clusterID})`);
            for (const f of sd.status?.failures ?? []) lines.push(`  failed ${f.instance}: ${f.reason}: ${f.message}`);
          }
          return lines.join('\n');
        },
      });
    });

  domain
    .command('list')
    .alias('ls')
    .description('List SearchDomains with the result of their last sync.')
    .addHelpText('after', '\nExamples:\n  kubepeer domain list\n  kubepeer domain list -o wide\n  kubepeer domain list -o json')
    .action(async (_o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const list = await withClient(g, (client) => client.list<SearchDomain>(resourcePath(GVR.searchDomain)));
      printList(g.output, list.items, { columns: domainColumns, resource: SEARCH_DOMAIN, empty: 'No SearchDomains. Add one with: kubepeer domain add <domain>' });
    });

  domain
    .command('remove <name>')
    .alias('rm')
    .description('Stop watching a domain (deletes the SearchDomain).')
    .addHelpText(
      'after',
      `
ForeignClusters that only this SearchDomain discovered are owned by it and are garbage-collected
with it; peerings with them end (their virtual nodes go). Clusters another source also knows stay.

Examples:
  kubepeer domain remove mydomain.com`,
    )
    .action(async (nameArg: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const { sd, owned } = await withClient(g, async (client) => {
        const found = await findDomain(client, nameArg);
        const fcs = (await client.list<ForeignCluster>(resourcePath(GVR.foreignCluster))).items;
        await client.delete(resourcePath(GVR.searchDomain, { name: found.metadata.name }));
        return { sd: found, owned: fcs.filter((f) => f.metadata.ownerReferences?.length === 1 && f.metadata.ownerReferences[0]!.uid === found.metadata.uid) };
      });
      if (owned.length) {
        const peered = owned.filter((f) => f.spec.join || (f.status?.outgoing?.phase ?? 'None') !== 'None');
        process.stderr.write(
          `${owned.length} ForeignCluster(s) discovered only through it will be deleted by the garbage collector${peered.length ? `, ending the peering with ${peered.map((f) => f.spec.clusterName || f.spec.clusterID).join(', ')}` : ''}\n`,
        );
      }
      if (isStructured(g.output)) printObject(g.output, { name: sd.metadata.name, domain: sd.spec.domain, deleted: true, foreignClustersCollected: owned.map((f) => f.metadata.name) }, { text: () => '' });
      else printObject(g.output, sd, { resource: SEARCH_DOMAIN, text: () => `searchdomain/${sd.metadata.name} deleted` });
    });
}

// ---------------------------------------------------------------- dns records

interface ConfigMap {
  data?: Record<string, string>;
}

const LOOPBACK = /^(127\.|::1$|localhost$)/i;

/** An instance label from the cluster name, else from the cluster ID. */
export function defaultInstanceName(clusterName: string | undefined, clusterID: string): string {
  const fromName = (clusterName ?? '')
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 59)
    .replace(/-+$/, '');
  return fromName || `liqo-${clusterID.toLowerCase().replace(/[^a-z0-9]/g, '').slice(0, 8)}`;
}

function registerDnsCommands(program: Command): void {
  const dns = program.command('dns').description('DNS-SD publishing of this cluster.');

  dns
    .command('records')
    .description('Print the zone records (bind9 syntax) that make this cluster discoverable in a domain.')
    .requiredOption('--domain <domain>', 'the domain peers browse (kubepeer domain add <domain> on their side)')
    .option('--name <label>', 'instance label, e.g. liqo-cluster (default: from the cluster name)')
    .option('--api-url <url>', 'https://host:port of this API server as peers reach it (default: the kubeconfig server)')
    .option('--address <ip...>', 'addresses of the API server name, when --api-url holds a name')
    .option('--ttl <seconds>', 'TTL of every record', '300')
    .option('--no-ca-pin', 'leave out the ca= pin of this cluster\'s CA from the TXT record')
    .addHelpText(
      'after',
      `
The cluster ID, namespace and cluster name come from the cluster (ConfigMap liqo/cluster-id,
ClusterConfig); the ca= pin is the sha256 of the CA in ConfigMap liqo/liqo-cluster-info, so peers
check that the API server they reach is signed by this CA. Paste the output into the zone of the
domain, bump the SOA serial and reload the zone.

Examples:
  kubepeer dns records --domain mydomain.com
  kubepeer dns records --domain mydomain.com --name liqo1 --api-url https://apiserver1.mydomain.com:6443 --address 203.0.113.10
  kubepeer dns records --domain mydomain.com --api-url https://203.0.113.10:6443 -o json`,
    )
    .action(async (opts: { domain: string; name?: string; apiUrl?: string; address?: string[]; ttl: string; caPin: boolean }, cmd: Command) => {
      const g = globals(cmd, { printsObjects: false });
      const ttl = Number(opts.ttl);
      if (!Number.isInteger(ttl) || ttl < 0) throw new CliError(`--ttl must be a whole number of seconds, not "${opts.ttl}"`, 2);
      for (const a of opts.address ?? []) if (!isIP(a)) throw new CliError(`--address "${a}" is not an IPv4 or IPv6 address`, 2);
      let input: PublishInput;
      try {
        input = await withClient(g, async (client): Promise<PublishInput> => {
          const clusterID = await readClusterID(client, g.namespace);
          if (!clusterID) {
            throw new CliError(`no cluster ID yet in ${g.namespace}/${Names.clusterIDConfigMap}: is the kubepeer agent running on this cluster? (kubepeer agent, or kubepeer local up --agent)`);
          }
          const cc = await client.getOrNull<ClusterConfig>(resourcePath(GVR.clusterConfig, { name: Names.clusterConfig }));
          const clusterName = clusterConfigWithDefaults(cc?.spec ?? {}).discoveryConfig.clusterName || undefined;
          const apiUrl = opts.apiUrl ?? client.server;
          const host = urlHost(apiUrl);
          if (LOOPBACK.test(host)) {
            process.stderr.write(`warning: ${apiUrl} is a loopback address: only peers on this host can reach it; pass --api-url with an address peers can reach\n`);
          }
          if (isIP(host)) {
            // SRV targets are names, so the records make one up; peers connect (and check TLS) by it.
            process.stderr.write(
              `warning: ${apiUrl} uses an IP address, so the SRV target is a name made up in ${opts.domain}; peers connect to that name, so it must resolve for them and be a SAN of the API server certificate. Prefer --api-url https://<name>:<port> with a name the certificate carries.\n`,
            );
          }
          let caFingerprint: string | undefined;
          if (opts.caPin) {
            const info = await client.getOrNull<ConfigMap>(resourcePath(Core.configMaps, { namespace: g.namespace, name: Names.clusterInfoConfigMap }));
            const ca = info?.data?.[ClusterInfoKeys.caCert];
            if (!ca) {
              throw new CliError(`no CA in ${g.namespace}/${Names.clusterInfoConfigMap} to pin (is the kubepeer agent running?); start it, or pass --no-ca-pin`);
            }
            try {
              caFingerprint = certificateFingerprint(ca);
            } catch (e) {
              throw new CliError(`the ca.crt in ${g.namespace}/${Names.clusterInfoConfigMap} is not a PEM certificate (${(e as Error).message}); pass --no-ca-pin`);
            }
          }
          return {
            domain: opts.domain,
            instanceName: opts.name ?? defaultInstanceName(clusterName, clusterID),
            clusterID,
            namespace: g.namespace,
            apiUrl,
            ttl,
            ...(clusterName ? { clusterName } : {}),
            ...(caFingerprint ? { caFingerprint } : {}),
            ...(opts.address?.length ? { addresses: opts.address } : {}),
          };
        });
      } catch (e) {
        if (e instanceof TypeError && /Invalid URL/.test(e.message)) throw new CliError(`--api-url "${opts.apiUrl}" is not a URL (expected https://host:port)`, 2);
        throw e;
      }
      let records: string;
      try {
        records = publishRecords(input);
      } catch (e) {
        if (e instanceof DnsRecordsError) throw new CliError(`${e.message} (${e.reason})`, 2);
        throw e;
      }
      const fqdn = toFqdn(input.domain).toLowerCase();
      const published = {
        domain: fqdn,
        instance: `${input.instanceName}._liqo._tcp.${fqdn}`,
        clusterID: input.clusterID,
        namespace: input.namespace,
        apiUrl: input.apiUrl,
        ...(input.caFingerprint ? { caFingerprint: input.caFingerprint } : {}),
        records,
      };
      printObject(g.output, published, { text: () => records });
    });
}

export function registerDnsDiscoveryCommands(program: Command): void {
  registerDomainCommands(program);
  registerDnsCommands(program);
}
