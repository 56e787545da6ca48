import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Annotations, Labels, Names } from '../../api/constants.js';
import { CLUSTER_ID_PATTERN, GVR, apiVersionOf, type ForeignCluster, type PeeringRequest } from '../../api/crds.js';
import { Core, isNotFound, resourcePath, type KubeClient } from '../../k8s/rest.js';
import { getCondition } from '../../k8s/conditions.js';
import { remoteCAConfigMapName } from '../../trust/trustEvaluator.js';
import { certificateFingerprint, splitPemBundle } from '../../trust/pki.js';
import { CliError, age, print, progress, progressDone } from '../output.js';
import { clientFor, globals } from '../globals.js';

async function findPeer(client: KubeClient, idOrName: string): Promise<ForeignCluster> {
  const byName = await client.getOrNull<ForeignCluster>(resourcePath(GVR.foreignCluster, { name: idOrName }));
  if (byName) return byName;
  const list = await client.list<ForeignCluster>(resourcePath(GVR.foreignCluster), { labelSelector: `${Labels.clusterID}=${idOrName}` });
  if (list.items[0]) return list.items[0];
  const all = await client.list<ForeignCluster>(resourcePath(GVR.foreignCluster));
  const match = all.items.filter((f) => f.spec.clusterID === idOrName || f.spec.clusterID.startsWith(idOrName) || f.spec.clusterName === idOrName);
  if (match.length === 1) return match[0]!;
  if (match.length > 1) throw new CliError(`"${idOrName}" matches ${match.length} peers: ${match.map((m) => m.metadata.name).join(', ')}`);
  throw new CliError(`no peer "${idOrName}" (by name, cluster ID or cluster name); see: kubepeer peer list`);
}

function cond(fc: ForeignCluster, type: string): string {
  const c = getCondition(fc.status?.conditions, type);
  return c ? `${c.status}` : '';
}

export const peerColumns = [
  { header: 'Name', value: (f: ForeignCluster) => f.metadata.name },
  { header: 'Cluster ID', value: (f: ForeignCluster) => f.spec.clusterID },
  { header: 'Cluster Name', value: (f: ForeignCluster) => f.spec.clusterName ?? '' },
  { header: 'Discovery', value: (f: ForeignCluster) => f.spec.discoveryType },
  { header: 'Join', value: (f: ForeignCluster) => f.spec.join },
  { header: 'Trust', value: (f: ForeignCluster) => f.status?.trustMode ?? 'Unknown' },
  { header: 'Outgoing', value: (f: ForeignCluster) => f.status?.outgoing?.phase ?? 'None' },
  { header: 'Incoming', value: (f: ForeignCluster) => f.status?.incoming?.phase ?? 'None' },
  { header: 'Node Ready', value: (f: ForeignCluster) => cond(f, 'VirtualNodeReady'), wide: true },
  { header: 'API URL', value: (f: ForeignCluster) => f.spec.apiUrl ?? '', wide: true },
  { header: 'Message', value: (f: ForeignCluster) => f.status?.outgoing?.message ?? '', wide: true },
  { header: 'Age', value: (f: ForeignCluster) => age(f.metadata.creationTimestamp) },
];

async function setJoin(client: KubeClient, fc: ForeignCluster, join: boolean) {
  await client.mergePatch(resourcePath(GVR.foreignCluster, { name: fc.metadata.name }), { spec: { join } });
}

/** Waits for the virtual node, printing each phase change. */
async function waitForPeering(client: KubeClient, name: string, timeoutMs: number): Promise<ForeignCluster> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const fc = await client.get<ForeignCluster>(resourcePath(GVR.foreignCluster, { name }));
    const out = fc.status?.outgoing;
    const line = `${fc.spec.clusterName || fc.spec.clusterID}: ${out?.phase ?? 'None'}${out?.message ? ` - ${out.message}` : ''}`;
    if (line !== last) {
      progress(line);
      if (!process.stderr.isTTY) last = line;
      last = line;
    }
    if (out?.phase === 'Established') {
      progressDone();
      return fc;
    }
    if (out?.phase === 'Denied') {
      progressDone();
      throw new CliError(`peering denied: ${out.message ?? ''}`);
    }
    if (Date.now() > deadline) {
      progressDone();
      throw new CliError(`timed out after ${timeoutMs / 1000}s; last state: ${line}`);
    }
    await sleep(500);
  }
}

export function registerPeerCommands(program: Command): void {
  const peer = program.command('peer').description('Peers (ForeignClusters) and peering requests.');

  peer
    .command('list')
    .alias('ls')
    .description('List known clusters and the state of each peering.')
    .action(async (_o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const client = clientFor(g);
      const list = await client.list<ForeignCluster>(resourcePath(GVR.foreignCluster));
      client.close();
      print(g.output, g.output === 'json' || g.output === 'yaml' ? list.items : list.items, peerColumns, 'No peers yet. Add one with: kubepeer peer add <cluster-id> --api-url https://<host>:6443');
    });

  peer
    .command('add <cluster-id>')
    .description('Add a remote cluster by hand (a Manual ForeignCluster).')
    .requiredOption('--api-url <url>', 'https URL of the remote API server')
    .option('--name <name>', 'ForeignCluster name (default: the cluster ID)')
    .option('--cluster-name <name>', 'mnemonic name of the remote cluster')
    .option('--remote-namespace <ns>', 'kubepeer namespace on the remote cluster', 'liqo')
    .option('--allow-untrusted-ca', 'pin the remote CA on first use if it is not trusted')
    .option('--ca-fingerprint <sha256:hex>', 'pin the remote CA')
    .option('--join', 'peer right away')
    .option('--wait', 'with --join: wait until the virtual node is Ready')
    .option('--timeout <seconds>', 'how long --wait waits', '120')
    .addHelpText('after', '\nExamples:\n  kubepeer peer add ff5aa14a-dd6e-4fd2-80fe-eaecb827cf55 --api-url https://203.0.113.10:6443 --allow-untrusted-ca --join --wait')
    .action(async (clusterID: string, opts: Record<string, string | boolean | undefined>, cmd: Command) => {
      const g = globals(cmd);
      if (!new RegExp(CLUSTER_ID_PATTERN).test(clusterID)) throw new CliError(`"${clusterID}" is not a cluster ID (a UUID or DNS label); get it on the remote cluster with: kubepeer cluster-id`, 2);
      if (!/^https:\/\//.test(String(opts.apiUrl))) throw new CliError(`--api-url must be an https:// URL of the remote API server, e.g. https://203.0.113.10:6443 (got "${opts.apiUrl}")`, 2);
      const client = clientFor(g);
      const name = (opts.name as string) ?? clusterID;
      const existing = (await client.list<ForeignCluster>(resourcePath(GVR.foreignCluster))).items.find((f) => f.spec.clusterID === clusterID);
      if (existing && existing.spec.discoveryType !== 'IncomingPeering') {
        client.close();
        throw new CliError(`cluster ${clusterID} is already known as foreigncluster/${existing.metadata.name} (${existing.spec.discoveryType}); use: kubepeer peer join ${existing.metadata.name}`);
      }
      if (existing) {
        // It asked to peer with us first: kubepeer created this ForeignCluster; the person now
        // declares it, so it becomes theirs (Manual) with what they gave.
        await client.mergePatch(resourcePath(GVR.foreignCluster, { name: existing.metadata.name }), {
          spec: {
            discoveryType: 'Manual',
            apiUrl: opts.apiUrl,
            namespace: opts.remoteNamespace,
            join: !!opts.join,
            allowUntrustedCA: !!opts.allowUntrustedCa,
            ...(opts.clusterName ? { clusterName: opts.clusterName } : {}),
            ...(opts.caFingerprint ? { caFingerprint: opts.caFingerprint } : {}),
          },
        });
        process.stderr.write(`foreigncluster/${existing.metadata.name} (created when ${clusterID} asked to peer with us) updated\n`);
        if (opts.join && opts.wait) await waitForPeering(client, existing.metadata.name, Number(opts.timeout) * 1000);
        client.close();
        return;
      }
      const fc = await client.create<ForeignCluster>(resourcePath(GVR.foreignCluster), {
        apiVersion: apiVersionOf(GVR.foreignCluster),
        kind: 'ForeignCluster',
        metadata: { name, labels: { [Labels.clusterID]: clusterID } },
        spec: {
          clusterID,
          apiUrl: opts.apiUrl,
          namespace: opts.remoteNamespace,
          discoveryType: 'Manual',
          join: !!opts.join,
          allowUntrustedCA: !!opts.allowUntrustedCa,
          ...(opts.clusterName ? { clusterName: opts.clusterName } : {}),
          ...(opts.caFingerprint ? { caFingerprint: opts.caFingerprint } : {}),
        },
      });
      process.stderr.write(`foreigncluster/${fc.metadata.name} created\n`);
      if (opts.join && opts.wait) {
        const done = await waitForPeering(client, name, Number(opts.timeout) * 1000);
        if (g.output === 'json' || g.output === 'yaml') print(g.output, done);
        else process.stdout.write(`peered with ${clusterID}: node ${Names.virtualNodePrefix}${clusterID} is Ready\n`);
      }
      client.close();
    });

  for (const [verb, join, what] of [
    ['join', true, 'Start peering with a known cluster (sets join: true).'],
    ['leave', false, 'Stop peering (sets join: false): removes the virtual node and revokes the credential.'],
  ] as const) {
    const c = peer
      .command(`${verb} <peer>`)
      .description(what)
      .action(async (id: string, opts: { wait?: boolean; timeout: string }, cmd: Command) => {
        const g = globals(cmd);
        const client = clientFor(g);
        const fc = await findPeer(client, id);
        await setJoin(client, fc, join);
        process.stderr.write(`foreigncluster/${fc.metadata.name}: join=${join}\n`);
        if (join && opts.wait) {
          await waitForPeering(client, fc.metadata.name, Number(opts.timeout) * 1000);
          process.stdout.write(`peered with ${fc.spec.clusterID}: node ${Names.virtualNodePrefix}${fc.spec.clusterID} is Ready\n`);
        }
        client.close();
      });
    if (join) c.option('--wait', 'wait until the virtual node is Ready, reporting each phase').option('--timeout <seconds>', 'how long --wait waits', '120');
    else c.option('--timeout <seconds>', 'unused', '0');
  }

  peer
    .command('remove <peer>')
    .alias('rm')
    .description('Delete a ForeignCluster (unpeers first; needs no call to the peer).')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const client = clientFor(g);
      const fc = await findPeer(client, id);
      await client.delete(resourcePath(GVR.foreignCluster, { name: fc.metadata.name }));
      process.stdout.write(`foreigncluster/${fc.metadata.name} deleted\n`);
      client.close();
    });

  for (const [verb, value] of [
    ['accept', 'accepted'],
    ['reject', 'rejected'],
  ] as const) {
    peer
      .command(`${verb} <cluster-id>`)
      .description(`${verb === 'accept' ? 'Accept' : 'Reject'} an incoming PeeringRequest waiting for approval.`)
      .action(async (id: string, _o: unknown, cmd: Command) => {
        const g = globals(cmd);
        const client = clientFor(g);
        try {
          await client.mergePatch(resourcePath(GVR.peeringRequest, { name: id }), { metadata: { annotations: { [Annotations.approval]: value } } });
        } catch (e) {
          if (isNotFound(e)) throw new CliError(`no PeeringRequest from ${id}; waiting requests: kubepeer peer requests`);
          throw e;
        }
        process.stdout.write(`peeringrequest/${id} ${value}\n`);
        client.close();
      });
  }

  peer
    .command('requests')
    .description('List incoming PeeringRequests.')
    .action(async (_o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const client = clientFor(g);
      const list = await client.list<PeeringRequest>(resourcePath(GVR.peeringRequest));
      client.close();
      print(g.output, list.items, [
        { header: 'Cluster ID', value: (p) => p.spec.clusterID },
        { header: 'Name', value: (p) => p.spec.clusterName ?? '' },
        { header: 'Phase', value: (p) => p.status?.phase ?? 'Pending' },
        { header: 'Reason', value: (p) => p.status?.reason ?? '' },
        { header: 'API URL', value: (p) => p.spec.apiUrl, wide: true },
        { header: 'Message', value: (p) => p.status?.message ?? '', wide: true },
        { header: 'Age', value: (p) => age(p.metadata.creationTimestamp) },
      ], 'No incoming peering requests.');
    });

  const trust = program.command('trust').description('CAs trusted for peers\' API servers.');
  trust
    .command('add-ca <file>')
    .description('Trust a CA (PEM) for peers\' API servers: adds it to ConfigMap trusted-ca-certificates (applies without restart).')
    .option('--name <key>', 'key in the ConfigMap (default: derived from the certificate subject)')
    .action(async (file: string, opts: { name?: string }, cmd: Command) => {
      const g = globals(cmd);
      const pems = splitPemBundle(readFileSync(file, 'utf8'));
      if (!pems.length) throw new CliError(`${file} contains no PEM certificate`, 2);
      for (const pem of pems) {
        try {
          if (!new X509Certificate(pem).ca) throw new CliError(`${file}: "${new X509Certificate(pem).subject}" is not a CA certificate`, 2);
        } catch (e) {
          if (e instanceof CliError) throw e;
          throw new CliError(`${file}: not a valid certificate (${(e as Error).message})`, 2);
        }
      }
      const key = (opts.name ?? new X509Certificate(pems[0]!).subject.replace(/.*CN=/s, '').split('\n')[0]!).replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 200) || 'ca';
      const client = clientFor(g);
      await client.mergePatch(resourcePath(Core.configMaps, { namespace: g.namespace, name: Names.trustedCAConfigMap }), { data: { [key]: pems.join('') } });
      client.close();
      process.stdout.write(`trusted CA "${key}" added (${pems.map((p) => certificateFingerprint(p)).join(', ')})\n`);
    });
  trust
    .command('reset <peer>')
    .description('Forget the CA pinned for a peer (after a legitimate CA change): it is pinned again on next use.')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const client = clientFor(g);
      const fc = await findPeer(client, id);
      await client.delete(resourcePath(Core.configMaps, { namespace: g.namespace, name: remoteCAConfigMapName(fc.spec.clusterID) }));
      await client.mergePatch(resourcePath(GVR.foreignCluster, { name: fc.metadata.name, subresource: 'status' }), { status: { caFingerprint: null, trustMode: 'Unknown' } });
      await client.mergePatch(resourcePath(GVR.foreignCluster, { name: fc.metadata.name }), { metadata: { annotations: { [Annotations.trustResetAt]: new Date().toISOString() } } });
      client.close();
      process.stdout.write(`trust of ${fc.spec.clusterID} reset; the agent pins the current CA on its next attempt\n`);
    });
}
