/**
 * The kubepeer CLI against a real kube-apiserver, compared with what kubectl itself prints for the
 * same objects: list formats (-o json|yaml|name|jsonpath|wide), printer columns, input checks that
 * need the cluster (our own cluster ID), status and version. No agent runs: these are the
 * command's own manners, not the peering.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { LocalCluster } from '../../src/localcluster/localCluster.js';
import { GVR, type ForeignCluster } from '../../src/api/crds.js';
import { resourcePath } from '../../src/k8s/rest.js';
import { ensureClusterID } from '../../src/identity/clusterID.js';
import { versionInfo } from '../../src/cli/version.js';
import { kubectl, kubepeer, startCluster } from '../support/clusters.js';
import { waitFor } from '../support/wait.js';

let cluster: LocalCluster;
let ownID: string;
const kp = (...args: string[]) => kubepeer([...args, '--kubeconfig', cluster.kubeconfig]);
const PEERS = ['11111111-2222-4333-8444-555555555555', 'edge-b'];

beforeAll(async () => {
  cluster = await startCluster('cli');
  ownID = await ensureClusterID(cluster.client(), 'liqo');
  // Right after install the API server may still answer 429 "storage is (re)initializing" for a new CRD.
  await waitFor('ForeignClusters to be served', async () => (await cluster.client().list(resourcePath(GVR.foreignCluster)), true));
  for (const id of PEERS) {
    const r = kp('peer', 'add', id, '--api-url', 'https://203.0.113.10:6443', '--cluster-name', `name-${id.slice(0, 4)}`);
    expect(r.stderr).toContain(`foreigncluster/${id} created`);
  }
});

afterAll(async () => {
  await cluster?.stop();
});

describe('peer list output, as kubectl prints the same objects', () => {
  it('-o json prints the List kubectl prints, without managedFields', () => {
    const ours = kp('peer', 'list', '-o', 'json');
    expect(ours.code).toBe(0);
    const list = JSON.parse(ours.stdout);
    expect(list).toMatchObject({ apiVersion: 'v1', kind: 'List' });
    expect(list.items.map((f: ForeignCluster) => f.metadata.name).sort()).toEqual([...PEERS].sort());
    expect(JSON.stringify(list)).not.toContain('managedFields');
    const theirs = JSON.parse(kubectl(cluster, ['get', 'foreignclusters', '-o', 'json']).stdout);
    expect(list.items).toEqual(theirs.items);
  });

  it('-o yaml prints the same List', () => {
    const ours = parse(kp('peer', 'list', '-o', 'yaml').stdout);
    expect(ours).toEqual(JSON.parse(kp('peer', 'list', '-o', 'json').stdout));
  });

  it('-o name prints what kubectl get -o name prints', () => {
    expect(kp('peer', 'list', '-o', 'name').stdout).toBe(kubectl(cluster, ['get', 'foreignclusters', '-o', 'name']).stdout);
  });

  it('-o jsonpath prints what kubectl prints for the same template', () => {
    for (const template of [
      '{.items[*].metadata.name}',
      '{range .items[*]}{.spec.clusterID}{"\\t"}{.spec.clusterName}{"\\n"}{end}',
      "{.items[?(@.spec.clusterID=='edge-b')].spec.apiUrl}",
      '{.items[0].metadata.labels}',
      '{.items[-1:].spec.join}',
      '{..discoveryType}',
    ]) {
      const ours = kp('peer', 'list', '-o', `jsonpath=${template}`);
      expect(ours.code, `${template}: ${ours.stderr}`).toBe(0);
      expect(ours.stdout, template).toBe(kubectl(cluster, ['get', 'foreignclusters', '-o', `jsonpath=${template}`]).stdout);
    }
  });

  it('-o wide adds the API URL', () => {
    const narrow = kp('peer', 'list').stdout.split('\n')[0]!;
    const wide = kp('peer', 'list', '-o', 'wide').stdout;
    expect(narrow).not.toContain('API URL');
    expect(wide.split('\n')[0]).toContain('API URL');
    expect(wide).toContain('https://203.0.113.10:6443');
  });
});

describe('kubectl get', () => {
  it('shows one NAME column for ForeignClusters and PeeringRequests', () => {
    expect(kubectl(cluster, ['get', 'fc']).stdout).toMatch(/^NAME\s+CLUSTERID\s+CLUSTER-NAME\s+DISCOVERY\s+TRUST\s+OUTGOING\s+INCOMING\s+AGE\n/);
    const created = kubectl(cluster, ['create', '-f', '-'], JSON.stringify({ apiVersion: 'discovery.liqo.io/v1alpha1', kind: 'PeeringRequest', metadata: { name: 'edge-c' }, spec: { clusterID: 'edge-c', clusterName: 'c', apiUrl: 'https://203.0.113.11:6443' } }));
    expect(created.stderr).toBe('');
    expect(kubectl(cluster, ['get', 'pr']).stdout).toMatch(/^NAME\s+CLUSTERID\s+CLUSTER-NAME\s+PHASE\s+AGE\n/);
  });
});

describe('input checks', () => {
  it('peer add refuses our own cluster ID up front, and creates nothing', async () => {
    const r = kp('peer', 'add', ownID, '--api-url', 'https://203.0.113.20:6443');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${ownID} is this cluster's own ID, and a cluster never peers with itself`);
    expect(kp('peer', 'add', ownID.toUpperCase(), '--api-url', 'https://203.0.113.20:6443').code).toBe(2);
    const fcs = await cluster.client().list<ForeignCluster>(resourcePath(GVR.foreignCluster));
    expect(fcs.items.map((f) => f.spec.clusterID)).not.toContain(ownID);
  });

  it('peer add warns about a UUID cut off at 35 characters, and still adds it (it is a valid DNS label)', () => {
    const cut = '99999999-2222-4333-8444-55555555555';
    const r = kp('peer', 'add', cut, '--api-url', 'https://203.0.113.21:6443');
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`warning: "${cut}" looks like a UUID cut short (35 of 36 characters)`);
    expect(kp('peer', 'remove', cut).code).toBe(0);
  });
});

describe('status and version', () => {
  it('status -o wide prints the table', () => {
    const table = kp('status');
    expect(table.stdout).toContain(`(${ownID})`);
    expect(kp('status', '-o', 'wide').stdout).toBe(table.stdout);
  });

  it('status -o name is refused with exit code 2', () => {
    const r = kp('status', '-o', 'name');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/-o name does not apply/);
  });

  it('--version and version -o json name the Kubernetes release of tools/controlplane', () => {
    const v = versionInfo();
    expect(kubepeer(['--version'])).toMatchObject({ code: 0, stdout: `kubepeer ${v.kubepeerVersion} (Kubernetes ${v.kubernetesVersion})\n` });
    expect(JSON.parse(kubepeer(['version', '-o', 'json']).stdout)).toEqual({ ...v, nodeVersion: process.version });
    const apiserver = JSON.parse(kubectl(cluster, ['version', '-o', 'json']).stdout) as { serverVersion: { gitVersion: string } };
    expect(apiserver.serverVersion.gitVersion).toBe(v.kubernetesVersion);
  });
});

describe('help', () => {
  it('peer leave --help lists the global flags and no --timeout', () => {
    const r = kubepeer(['peer', 'leave', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Global Options:');
    expect(r.stdout).toContain('--kubeconfig <path>');
    expect(r.stdout).not.toContain('--timeout');
  });
});

describe('removing a peer (issue 13 item 2): the record a discovered peer leaves, as the CLI shows and changes it', () => {
  const fcs = async () => (await cluster.client().list<ForeignCluster>(resourcePath(GVR.foreignCluster))).items;
  const discovered = (id: string, discoveryType: 'LAN' | 'WAN') =>
    cluster.client().create(resourcePath(GVR.foreignCluster), {
      apiVersion: 'discovery.liqo.io/v1',
      kind: 'ForeignCluster',
      metadata: { name: id, labels: { 'discovery.liqo.io/cluster-id': id }, annotations: { 'discovery.kubepeer.io/autojoin': 'PeeringSecret' } },
      spec: { clusterID: id, apiUrl: 'https://203.0.113.30:6443', discoveryType, join: true },
    });

  it('peer remove keeps a LAN or WAN peer as a record (join false, marked removed, listed as Removed); --forget deletes it', async () => {
    for (const [id, type] of [['lan-peer', 'LAN'], ['wan-peer', 'WAN']] as const) {
      await discovered(id, type);
      const r = kp('peer', 'remove', id);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('kept as a record');
      const record = (await fcs()).find((f) => f.spec.clusterID === id)!;
      expect(record.spec.join).toBe(false);
      expect(record.metadata.annotations?.['discovery.kubepeer.io/removed']).toBeTruthy();
      expect(record.metadata.annotations?.['discovery.kubepeer.io/autojoin']).toBeUndefined();
      expect(kp('peer', 'list').stdout.split('\n').find((l) => l.startsWith(id))).toMatch(/\sRemoved\s/);
      const forgot = kp('peer', 'remove', id, '--forget');
      expect(forgot.code, forgot.stderr).toBe(0);
      expect(forgot.stdout).toContain(`foreigncluster/${id} deleted`);
      expect((await fcs()).some((f) => f.spec.clusterID === id)).toBe(false);
    }
  });

  it('peer join and peer add connect a removed peer again (the mark goes); a Manual peer is deleted, not kept', async () => {
    await discovered('lan-again', 'LAN');
    expect(kp('peer', 'remove', 'lan-again').code).toBe(0);
    expect(kp('peer', 'join', 'lan-again').code).toBe(0);
    let f = (await fcs()).find((x) => x.spec.clusterID === 'lan-again')!;
    expect(f.spec.join).toBe(true);
    expect(f.metadata.annotations?.['discovery.kubepeer.io/removed']).toBeUndefined();

    expect(kp('peer', 'remove', 'lan-again').code).toBe(0);
    const add = kp('peer', 'add', 'lan-again', '--api-url', 'https://203.0.113.31:6443', '--join');
    expect(add.code, add.stderr).toBe(0);
    expect(add.stderr).toContain('(removed earlier) added again');
    f = (await fcs()).find((x) => x.spec.clusterID === 'lan-again')!;
    expect(f.spec).toMatchObject({ discoveryType: 'Manual', join: true, apiUrl: 'https://203.0.113.31:6443' });
    expect(f.metadata.annotations?.['discovery.kubepeer.io/removed']).toBeUndefined();

    const manual = kp('peer', 'remove', 'lan-again');
    expect(manual.stdout).toContain('deleted');
    // (no agent here to run the finalizer of a joined peer: the ForeignCluster is only being deleted)
    await waitFor('lan-again being deleted', async () => ((await fcs()).find((x) => x.spec.clusterID === 'lan-again')?.metadata.deletionTimestamp ? true : !(await fcs()).some((x) => x.spec.clusterID === 'lan-again')));
  });

  it('peer list and status show a peer known only by its request to us', async () => {
    const id = 'asks-only';
    await cluster.client().create(resourcePath(GVR.peeringRequest), {
      apiVersion: 'discovery.liqo.io/v1alpha1',
      kind: 'PeeringRequest',
      metadata: { name: id },
      spec: { clusterID: id, clusterName: 'asker', namespace: 'liqo', apiUrl: 'https://203.0.113.40:6443' },
    });
    const row = kp('peer', 'list').stdout.split('\n').find((l) => l.includes(id));
    expect(row).toMatch(/IncomingPeering/);
    expect(row).toMatch(/Pending/);
    // -o json prints objects that exist: the ForeignClusters only
    expect(kp('peer', 'list', '-o', 'json').stdout).not.toContain(id);
    const status = JSON.parse(kp('status', '-o', 'json').stdout) as { peers: { incomingOnly: Array<{ clusterID: string; incoming: string }> } };
    expect(status.peers.incomingOnly).toContainEqual({ clusterID: id, name: 'asker', incoming: 'Pending' });
    expect(kp('status').stdout).toContain('incoming only, no ForeignCluster yet: asker (Pending)');
  });
});
