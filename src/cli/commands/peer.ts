import { joinPatch } from '../../trust/peeringSecret.js';
import { generatePeeringSecret, readPeeringSecret, setPeeringSecret } from '../../trust/peeringSecretStore.js';
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Annotations, Labels, Names } from '../../api/constants.js';
import { GVR, apiVersionOf, type ForeignCluster, type PeeringRequest } from '../../api/crds.js';
import { ApiError, Core, isNotFound, resourcePath, type KubeClient } from '../../k8s/rest.js';
import { getCondition } from '../../k8s/conditions.js';
import { remoteCAConfigMapName } from '../../trust/trustEvaluator.js';
import { certificateFingerprint, splitPemBundle } from '../../trust/pki.js';
import { readClusterID } from '../../identity/clusterID.js';
import { CliError, age, isStructured, kindName, printList, printObject, progress, progressDone, type Column } from '../output.js';
import { globals, seconds, withClient, type GlobalOptions } from '../globals.js';
import { damagedUUID, isClusterID } from '../../api/clusterIDInput.js';
import { describeDirection, type PeerOffloading } from '../../offloading/usage.js';
import { readOffloading } from './offload.js';
import { endBothDirections } from '../../peering/endPeering.js';
import { allPeers, isRemoved } from '../../peering/peerRecords.js';

const FOREIGN_CLUSTER = kindName(GVR.foreignCluster);
const PEERING_REQUEST = kindName(GVR.peeringRequest);

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

export const peerColumns: Column<ForeignCluster>[] = [
  { header: 'Name', value: (f: ForeignCluster) => f.metadata.name },
  { header: 'Cluster ID', value: (f: ForeignCluster) => f.spec.clusterID },
  { header: 'Cluster Name', value: (f: ForeignCluster) => f.spec.clusterName ?? '' },
  { header: 'Discovery', value: (f: ForeignCluster) => f.spec.discoveryType },
  { header: 'Join', value: (f: ForeignCluster) => f.spec.join },
  { header: 'Trust', value: (f: ForeignCluster) => f.status?.trustMode ?? 'Unknown' },
  // A person removed it (a record that keeps discovery from joining it again): says so instead of None.
  { header: 'Outgoing', value: (f: ForeignCluster) => (isRemoved(f) ? 'Removed' : (f.status?.outgoing?.phase ?? 'None')) },
  { header: 'Incoming', value: (f: ForeignCluster) => f.status?.incoming?.phase ?? 'None' },
  { header: 'Node Ready', value: (f: ForeignCluster) => cond(f, 'VirtualNodeReady'), wide: true },
  { header: 'API URL', value: (f: ForeignCluster) => f.spec.apiUrl ?? '', wide: true },
  { header: 'Message', value: (f: ForeignCluster) => f.status?.outgoing?.message || f.status?.incoming?.message || '', wide: true },
  { header: 'Age', value: (f: ForeignCluster) => age(f.metadata.creationTimestamp) },
];

/**
 * The rows of `peer list` as a table: every ForeignCluster, then each peer known only by its
 * request to us (incoming only, its ForeignCluster not made yet or deleted), so that an incoming
 * peering always shows. -o json|yaml|name print the ForeignClusters only: objects that exist.
 */
export function peerRows(fcs: ForeignCluster[], requests: PeeringRequest[]): ForeignCluster[] {
  return allPeers(fcs, requests);
}

/**
 * `peer list -o wide`: the peer columns with two more, what we run on each peer (pods bound to its
 * virtual node, their requests against what it offers) and what it runs here (pods of its tenant
 * namespace against its quota). `offloading` undefined: it could not be read ('?').
 */
export function peerWideColumns(offloading: PeerOffloading[] | undefined): Column<ForeignCluster>[] {
  const of = (f: ForeignCluster) => offloading?.find((o) => o.peerID === f.spec.clusterID);
  const cell = (f: ForeignCluster, dir: 'outgoing' | 'incoming') => (offloading ? describeDirection(of(f)?.[dir]) : '?');
  const extra: Column<ForeignCluster>[] = [
    { header: 'We Run There', value: (f) => cell(f, 'outgoing'), wide: true },
    { header: 'It Runs Here', value: (f) => cell(f, 'incoming'), wide: true },
  ];
  const at = peerColumns.findIndex((c) => c.header === 'API URL');
  return [...peerColumns.slice(0, at), ...extra, ...peerColumns.slice(at)];
}

/** The offloading figures for -o wide, or undefined (with a warning) when this user may not read them. */
async function offloadingForWide(client: KubeClient): Promise<PeerOffloading[] | undefined> {
  try {
    return await readOffloading(client);
  } catch (e) {
    if (!(e instanceof ApiError && e.code === 403)) throw e;
    process.stderr.write(`warning: offloading not shown (${e.message}); it needs list on nodes, pods and resourcequotas\n`);
    return undefined;
  }
}

/** Accepting a removed peer's request is connecting it again: the removal record's mark goes (src/peering/peerRecords.ts). */
async function clearRemoval(client: KubeClient, clusterID: string): Promise<void> {
  const fcs = await client.list<ForeignCluster>(resourcePath(GVR.foreignCluster), { labelSelector: `${Labels.clusterID}=${clusterID}` });
  for (const fc of fcs.items.filter((f) => isRemoved(f))) {
    await client.mergePatch(resourcePath(GVR.foreignCluster, { name: fc.metadata.name }), { metadata: { annotations: { [Annotations.removed]: null } } });
    process.stderr.write(`foreigncluster/${fc.metadata.name}: no longer marked removed\n`);
  }
}

/** Incoming PeeringRequests, or none (with a warning) when this user may not list them. */
async function requestsIfAllowed(client: KubeClient): Promise<PeeringRequest[]> {
  try {
    return (await client.list<PeeringRequest>(resourcePath(GVR.peeringRequest))).items;
  } catch (e) {
    if (!(e instanceof ApiError && e.code === 403)) throw e;
    process.stderr.write(`warning: peers known only by their request to us are not shown (${e.message})\n`);
    return [];
  }
}

async function setJoin(client: KubeClient, fc: ForeignCluster, join: boolean, trust: { allowUntrustedCA?: boolean; caFingerprint?: string } = {}) {
  const patch = joinPatch(fc, join) as { spec: Record<string, unknown> };
  await client.mergePatch(resourcePath(GVR.foreignCluster, { name: fc.metadata.name }), { ...patch, spec: { ...patch.spec, ...trust } });
}

/**
 * Outgoing reasons that waiting cannot fix: a person must act (trust the CA, reset trust, fix the
 * ForeignCluster). `--wait` stops at once on them; the others (unreachable, pending, refused for
 * now) are waited out.
 */
export const TERMINAL_REASONS = new Set(['UntrustedCA', 'CAChanged', 'CAPinMismatch', 'IdentityMismatch', 'CertificateInvalid', 'NoPublishedCA', 'MissingApiUrl', 'ForbiddenAddress', 'OwnCluster', 'DuplicateClusterID', 'Denied']);

/** The terminal reason the ForeignCluster is in for its current spec, if any (a condition written for an older generation does not count). */
export function terminalReason(fc: ForeignCluster): { reason: string; message: string } | undefined {
  const out = fc.status?.outgoing;
  if (!out) return undefined;
  if (out.phase === 'Denied') return { reason: 'Denied', message: out.message ?? '' };
  if (!out.reason || !TERMINAL_REASONS.has(out.reason)) return undefined;
  const current = (fc.status?.conditions ?? []).some((c) => c.reason === out.reason && c.status === 'False' && (c.observedGeneration ?? 0) >= (fc.metadata.generation ?? 0));
  return current ? { reason: out.reason, message: out.message ?? '' } : undefined;
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
      last = line;
    }
    if (out?.phase === 'Established') {
      progressDone();
      return fc;
    }
    const terminal = terminalReason(fc);
    if (terminal) {
      progressDone();
      throw new CliError(terminal.reason === 'Denied' ? `peering denied: ${terminal.message}` : `${terminal.reason}: ${terminal.message} (waiting cannot fix this)`);
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
    .description('List known clusters and the state of each peering; -o wide adds the pods offloaded each way (we run there / it runs here).')
    .addHelpText('after', "\nExamples:\n  kubepeer peer list -o wide\n  kubepeer peer list -o jsonpath='{range .items[*]}{.spec.clusterID}{\"\\t\"}{.status.outgoing.phase}{\"\\n\"}{end}'")
    .action(async (_o: unknown, cmd: Command) => {
      const g = globals(cmd);
      // Offloading costs a list of every pod: read only for the columns that show it.
      const wide = g.output.format === 'wide';
      const table = g.output.format === 'table' || wide;
      const { items, requests, offloading } = await withClient(g, async (client) => ({
        items: (await client.list<ForeignCluster>(resourcePath(GVR.foreignCluster))).items,
        requests: table ? await requestsIfAllowed(client) : [],
        offloading: wide ? await offloadingForWide(client) : undefined,
      }));
      const columns = wide ? peerWideColumns(offloading) : peerColumns;
      printList(g.output, table ? peerRows(items, requests) : items, { columns, resource: FOREIGN_CLUSTER, empty: 'No peers yet. Add one with: kubepeer peer add <cluster-id> --api-url https://<host>:6443' });
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
      if (!isClusterID(clusterID)) throw new CliError(`"${clusterID}" is not a cluster ID (a UUID or DNS label); get it on the remote cluster with: kubepeer cluster-id`, 2);
      const damaged = damagedUUID(clusterID);
      if (damaged) process.stderr.write(`warning: ${damaged}; check it on the remote cluster with: kubepeer cluster-id\n`);
      if (!/^https:\/\//.test(String(opts.apiUrl))) throw new CliError(`--api-url must be an https:// URL of the remote API server, e.g. https://203.0.113.10:6443 (got "${opts.apiUrl}")`, 2);
      const timeoutMs = seconds(String(opts.timeout)) * 1000;
      const spec = {
        apiUrl: opts.apiUrl,
        namespace: opts.remoteNamespace,
        discoveryType: 'Manual',
        join: !!opts.join,
        allowUntrustedCA: !!opts.allowUntrustedCa,
        ...(opts.clusterName ? { clusterName: opts.clusterName } : {}),
        ...(opts.caFingerprint ? { caFingerprint: opts.caFingerprint } : {}),
      };
      const fc = await withClient(g, async (client) => {
        // A UUID typed in capitals is still our own.
        if (clusterID.toLowerCase() === (await readClusterID(client, g.namespace))?.toLowerCase()) {
          throw new CliError(`${clusterID} is this cluster's own ID, and a cluster never peers with itself; run "kubepeer cluster-id" against the remote cluster for its ID`, 2);
        }
        const existing = (await client.list<ForeignCluster>(resourcePath(GVR.foreignCluster))).items.find((f) => f.spec.clusterID === clusterID);
        if (existing && isRemoved(existing)) {
          // A peer a person removed: adding it again connects it, and the record becomes the person's (Manual).
          const readded = await client.mergePatch<ForeignCluster>(resourcePath(GVR.foreignCluster, { name: existing.metadata.name }), {
            metadata: { annotations: { [Annotations.removed]: null, [Annotations.autojoin]: null } },
            spec,
          });
          process.stderr.write(`foreigncluster/${readded.metadata.name} (removed earlier) added again\n`);
          return opts.join && opts.wait ? waitForPeering(client, readded.metadata.name, timeoutMs) : readded;
        }
        if (existing && existing.spec.discoveryType !== 'IncomingPeering') {
          throw new CliError(`cluster ${clusterID} is already known as foreigncluster/${existing.metadata.name} (${existing.spec.discoveryType}); use: kubepeer peer join ${existing.metadata.name}`);
        }
        let fc: ForeignCluster;
        if (existing) {
          // It asked to peer with us first: kubepeer created this ForeignCluster; the person now
          // declares it, so it becomes theirs (Manual) with what they gave.
          fc = await client.mergePatch<ForeignCluster>(resourcePath(GVR.foreignCluster, { name: existing.metadata.name }), { spec });
          process.stderr.write(`foreigncluster/${fc.metadata.name} (created when ${clusterID} asked to peer with us) updated\n`);
        } else {
          fc = await client.create<ForeignCluster>(resourcePath(GVR.foreignCluster), {
            apiVersion: apiVersionOf(GVR.foreignCluster),
            kind: 'ForeignCluster',
            metadata: { name: (opts.name as string) ?? clusterID, labels: { [Labels.clusterID]: clusterID } },
            spec: { clusterID, ...spec },
          });
          process.stderr.write(`foreigncluster/${fc.metadata.name} created\n`);
        }
        return opts.join && opts.wait ? waitForPeering(client, fc.metadata.name, timeoutMs) : fc;
      });
      reportPeer(g, fc, !!(opts.join && opts.wait));
    });

  for (const [verb, join, what] of [
    ['join', true, 'Start peering with a known cluster (sets join: true).'],
    ['leave', false, 'Stop peering (sets join: false): removes the virtual node and revokes the credential.'],
  ] as const) {
    const c = peer
      .command(`${verb} <peer>`)
      .description(what)
      .action(async (id: string, opts: { wait?: boolean; timeout?: string; allowUntrustedCa?: boolean; caFingerprint?: string }, cmd: Command) => {
        const g = globals(cmd);
        const timeoutMs = opts.wait ? seconds(String(opts.timeout)) * 1000 : 0;
        const fc = await withClient(g, async (client) => {
          const found = await findPeer(client, id);
          await setJoin(client, found, join, { ...(opts.allowUntrustedCa ? { allowUntrustedCA: true } : {}), ...(opts.caFingerprint ? { caFingerprint: opts.caFingerprint } : {}) });
          process.stderr.write(`foreigncluster/${found.metadata.name}: join=${join}\n`);
          if (join && opts.wait) return waitForPeering(client, found.metadata.name, timeoutMs);
          return found;
        });
        reportPeer(g, fc, !!(join && opts.wait));
      });
    if (join) {
      c.option('--wait', 'wait until the virtual node is Ready, reporting each phase; stops at once on what waiting cannot fix (untrusted CA, changed CA, identity mismatch, denied, own cluster, duplicate ID)')
        .option('--timeout <seconds>', 'how long --wait waits', '120')
        .option('--allow-untrusted-ca', 'pin the remote CA on first use if it is not trusted (sets spec.allowUntrustedCA)')
        .option('--ca-fingerprint <sha256:hex>', 'pin the remote CA (sets spec.caFingerprint)');
    }
  }

  peer
    .command('remove <peer>')
    .alias('rm')
    .description(
      'Remove a peer: ends both directions (our peering with it, and its incoming request to us: request and credential deleted, no more heartbeats, the peer told); needs no call to the peer. ' +
        'A peer discovery would find again (LAN, SearchDomain) stays as a record (join: false, annotation discovery.kubepeer.io/removed) so that it is not joined again until you connect it (peer join); --forget deletes that too.',
    )
    .option('--forget', 'delete the ForeignCluster even of a discovered peer: discovery may then find and join it again')
    .addHelpText('after', '\nExamples:\n  kubepeer peer remove edge-b\n  kubepeer peer remove edge-b --forget')
    .action(async (id: string, opts: { forget?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const { fc, ended } = await withClient(g, async (client) => {
        const found = await findPeer(client, id);
        const ended = await endBothDirections(client, { name: found.metadata.name, clusterID: found.spec.clusterID, discoveryType: found.spec.discoveryType }, { forget: !!opts.forget });
        return { fc: ended.kept ? await client.get<ForeignCluster>(resourcePath(GVR.foreignCluster, { name: found.metadata.name })) : found, ended };
      });
      const name = fc.metadata.name;
      const what = ended.kept
        ? `foreigncluster/${name} removed: kept as a record (join: false) so that discovery does not join it again; "kubepeer peer join ${name}" connects it, "kubepeer peer remove --forget ${name}" forgets it`
        : `foreigncluster/${name} deleted`;
      printObject(g.output, fc, { resource: FOREIGN_CLUSTER, text: () => `${what}${ended.incoming ? `; its incoming peering ends too (peeringrequest/${fc.spec.clusterID})` : ''}` });
    });

  for (const [verb, value] of [
    ['accept', 'accepted'],
    ['reject', 'rejected'],
  ] as const) {
    peer
      .command(`${verb} <cluster-id>`)
      .description(verb === 'accept' ? 'Accept an incoming PeeringRequest waiting for approval.' : 'Reject an incoming PeeringRequest: a waiting one is denied, an accepted one ends (its credential is deleted and the peer told).')
      .action(async (id: string, _o: unknown, cmd: Command) => {
        const g = globals(cmd);
        const pr = await withClient(g, async (client) => {
          const current = await client.getOrNull<PeeringRequest>(resourcePath(GVR.peeringRequest, { name: id }));
          if (current?.status?.phase === 'Denied') throw new CliError(`peeringrequest/${id} is already denied (${current.status.reason}: ${current.status.message}); there is nothing to ${verb}`);
          let pr: PeeringRequest;
          try {
            pr = await client.mergePatch<PeeringRequest>(resourcePath(GVR.peeringRequest, { name: id }), { metadata: { annotations: { [Annotations.approval]: value } } });
          } catch (e) {
            if (isNotFound(e)) throw new CliError(`no PeeringRequest from ${id}; waiting requests: kubepeer peer requests`);
            throw e;
          }
          if (value === 'accepted') await clearRemoval(client, pr.spec.clusterID);
          return pr;
        });
        const ends = value === 'rejected' && pr.status?.phase === 'Accepted';
        printObject(g.output, pr, {
          resource: PEERING_REQUEST,
          text: () => (ends ? `peeringrequest/${id} rejected: its incoming peering ends (request and credential deleted, no more heartbeats, ${id} is told)` : `peeringrequest/${id} ${value}`),
        });
      });
  }

  peer
    .command('requests')
    .description('List incoming PeeringRequests.')
    .action(async (_o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const list = await withClient(g, (client) => client.list<PeeringRequest>(resourcePath(GVR.peeringRequest)));
      printList(g.output, list.items, { columns: requestColumns, resource: PEERING_REQUEST, empty: 'No incoming peering requests.' });
    });

  const trust = program.command('trust').description('CAs trusted for peers\' API servers.');
  trust
    .command('add-ca <file>')
    .description('Trust a CA (PEM) for peers\' API servers: adds it to ConfigMap trusted-ca-certificates (applies without restart).')
    .option('--name <key>', 'key in the ConfigMap (default: derived from the certificate subject)')
    .action(async (file: string, opts: { name?: string }, cmd: Command) => {
      const g = globals(cmd, { printsObjects: false });
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
      await withClient(g, (client) => client.mergePatch(resourcePath(Core.configMaps, { namespace: g.namespace, name: Names.trustedCAConfigMap }), { data: { [key]: pems.join('') } }));
      const fingerprints = pems.map((p) => certificateFingerprint(p));
      printObject(g.output, { key, fingerprints }, { text: () => `trusted CA "${key}" added (${fingerprints.join(', ')})` });
    });
  const secret = trust.command('secret').description('The LAN peering secret: clusters that share it join and accept each other by themselves; others are only listed.');
  secret
    .command('set')
    .description('Set the LAN peering secret (generated when --value is not given; set the same value on the other clusters of the LAN).')
    .option('--value <secret>', 'the secret shared by the clusters of this LAN (at least 16 bytes)')
    .action(async (opts: { value?: string }, cmd: Command) => {
      const g = globals(cmd, { printsObjects: false });
      const value = opts.value ?? generatePeeringSecret();
      const info = await withClient(g, (client) => setPeeringSecret(client, g.namespace, value).catch((e: unknown) => {
        throw e instanceof Error && !(e instanceof ApiError) ? new CliError(e.message, 2) : e;
      }));
      printObject(g.output, { ...info, ...(opts.value ? {} : { value }) }, {
        text: () =>
          `peering secret set in Secret ${info.secretRef} (${info.fingerprint})` +
          (opts.value ? '' : `\nset the same value on the other clusters of this LAN:\n  kubepeer trust secret set --value '${value}'`),
      });
    });
  secret
    .command('show')
    .description('Show whether a LAN peering secret is set, and a short hash of it to compare clusters.')
    .option('--reveal', 'also print the secret itself')
    .action(async (opts: { reveal?: boolean }, cmd: Command) => {
      const g = globals(cmd, { printsObjects: false });
      const { value, ...info } = await withClient(g, (client) => readPeeringSecret(client, g.namespace));
      printObject(g.output, { ...info, ...(opts.reveal && value ? { value } : {}) }, {
        text: () =>
          info.configured
            ? `peering secret: Secret ${info.secretRef} (${info.fingerprint})${opts.reveal ? `\nvalue: ${value}` : ''}`
            : info.secretRef
              ? `no usable peering secret: Secret ${info.secretRef} is missing or too short; set one with: kubepeer trust secret set`
              : 'no peering secret: LAN clusters are listed but never joined by themselves; set one with: kubepeer trust secret set',
      });
    });
  trust
    .command('reset <peer>')
    .description('Forget the CA pinned for a peer (after a legitimate CA change): it is pinned again on next use.')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const fc = await withClient(g, async (client) => {
        const found = await findPeer(client, id);
        await client.delete(resourcePath(Core.configMaps, { namespace: g.namespace, name: remoteCAConfigMapName(found.spec.clusterID) }));
        await client.mergePatch(resourcePath(GVR.foreignCluster, { name: found.metadata.name, subresource: 'status' }), { status: { caFingerprint: null, trustMode: 'Unknown' } });
        return client.mergePatch<ForeignCluster>(resourcePath(GVR.foreignCluster, { name: found.metadata.name }), { metadata: { annotations: { [Annotations.trustResetAt]: new Date().toISOString() } } });
      });
      printObject(g.output, fc, { resource: FOREIGN_CLUSTER, text: () => `trust of ${fc.spec.clusterID} reset; the agent pins the current CA on its next attempt` });
    });
}

export const requestColumns: Column<PeeringRequest>[] = [
  { header: 'Cluster ID', value: (p) => p.spec.clusterID },
  { header: 'Cluster Name', value: (p) => p.spec.clusterName ?? '' },
  { header: 'Phase', value: (p) => p.status?.phase ?? 'Pending' },
  { header: 'Reason', value: (p) => p.status?.reason ?? '' },
  { header: 'API URL', value: (p) => p.spec.apiUrl, wide: true },
  { header: 'Message', value: (p) => p.status?.message ?? '', wide: true },
  { header: 'Age', value: (p) => age(p.metadata.creationTimestamp) },
];

/** What add/join/leave print: the object for programs; for a person, the result of --wait (the progress went to stderr). */
function reportPeer(g: GlobalOptions, fc: ForeignCluster, waited: boolean): void {
  if (isStructured(g.output) || g.output.format === 'name') return printObject(g.output, fc, { resource: FOREIGN_CLUSTER, text: () => '' });
  if (waited) process.stdout.write(`peered with ${fc.spec.clusterID}: node ${Names.virtualNodePrefix}${fc.spec.clusterID} is Ready\n`);
}
