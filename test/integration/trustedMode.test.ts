/**
 * The seeds' trusted mode (issue 12, High 9), between two real clusters with real agents: a stays
 * in the default untrusted mode, b is in trusted mode. b's liqo-cluster-info carries no CA, so a
 * cannot pin b on first use; b pins nobody on first use. Once a person adds each CA to the other's
 * trusted-ca-certificates (kubepeer trust add-ca), both directions peer as Trusted. kubepeer
 * status shows each cluster's mode.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LocalCluster } from '../../src/localcluster/localCluster.js';
import { Core, resourcePath, type KubeClient } from '../../src/k8s/rest.js';
import { GVR, apiVersionOf, type ForeignCluster, type PeeringRequest } from '../../src/api/crds.js';
import { Labels, Names } from '../../src/api/constants.js';
import { kubectl, kubepeer, startAgent, startCluster, type AgentProcess } from '../support/clusters.js';
import { clusterIDOf, describeFC, foreignCluster, setClusterConfig, waitForReadyNode } from '../support/peering.js';
import { waitFor } from '../support/wait.js';
import { scratchDir } from '../support/scratch.js';

let a: LocalCluster;
let b: LocalCluster;
let agents: AgentProcess[] = [];
let A: KubeClient;
let B: KubeClient;
let idA: string;
let idB: string;

const caOf = (c: LocalCluster) => Buffer.from(kubectl(c, ['config', 'view', '--raw', '-o', 'jsonpath={.clusters[0].cluster.certificate-authority-data}']).stdout, 'base64').toString('utf8');
const clusterInfo = (k: KubeClient) => k.get<{ data?: Record<string, string> }>(resourcePath(Core.configMaps, { namespace: 'liqo', name: Names.clusterInfoConfigMap }));

async function manualPeer(on: KubeClient, name: string, id: string, apiUrl: string): Promise<void> {
  await on.create(resourcePath(GVR.foreignCluster), {
    apiVersion: apiVersionOf(GVR.foreignCluster),
    kind: 'ForeignCluster',
    metadata: { name, labels: { [Labels.clusterID]: id } },
    spec: { clusterID: id, apiUrl, discoveryType: 'Manual', join: true, allowUntrustedCA: true },
  });
}

const outgoingReason = (k: KubeClient, name: string, reason: string) => async () => {
  const fc = await foreignCluster(k, name);
  return fc?.status?.outgoing?.reason === reason ? fc : undefined;
};

describe('trusted mode', () => {
  beforeAll(async () => {
    [a, b] = await Promise.all([startCluster('trusted-a'), startCluster('trusted-b')]);
    A = a.client();
    B = b.client();
    await setClusterConfig(B, { peeringConfig: { trustMode: 'Trusted' } });
    agents = [startAgent(a), startAgent(b)];
    [idA, idB] = await Promise.all([clusterIDOf(A), clusterIDOf(B)]);
  });

  afterAll(async () => {
    await Promise.all(agents.map((x) => x.stop()));
    await Promise.all([a?.stop(), b?.stop()]);
  });

  it('liqo-cluster-info carries the CA in untrusted mode, and only the cluster ID in trusted mode', async () => {
    const onA = await waitFor('a: liqo-cluster-info with its CA', async () => ((await clusterInfo(A)).data?.['ca.crt'] ? (await clusterInfo(A)).data : undefined));
    expect(onA['cluster-id']).toBe(idA);
    const onB = await waitFor('b: liqo-cluster-info without a CA', async () => {
      const d = (await clusterInfo(B)).data;
      return d?.['cluster-id'] && !d['ca.crt'] ? d : undefined;
    });
    expect(onB['cluster-id']).toBe(idB);
  });

  it('kubepeer status shows the mode', () => {
    expect(kubepeer(['status', '--kubeconfig', b.kubeconfig]).stdout).toMatch(/Trust mode:\s+Trusted/);
    expect(kubepeer(['status', '--kubeconfig', a.kubeconfig]).stdout).toMatch(/Trust mode:\s+Untrusted/);
    expect(JSON.parse(kubepeer(['status', '-o', 'json', '--kubeconfig', b.kubeconfig]).stdout).discovery.trustMode).toBe('Trusted');
  });

  it('without trust, neither side peers on first use: a finds no CA to pin, b refuses to pin', async () => {
    await manualPeer(A, 'to-b', idB, b.apiUrl);
    await manualPeer(B, 'to-a', idA, a.apiUrl);
    await waitFor('a: no CA published by b', outgoingReason(A, 'to-b', 'NoPublishedCA'), { timeoutMs: 60_000, describe: describeFC(A, 'to-b') });
    await waitFor('b: trusted mode refuses trust on first use', outgoingReason(B, 'to-a', 'TrustedModeUntrustedCA'), { timeoutMs: 60_000, describe: describeFC(B, 'to-a') });
    // nothing was sent either way
    expect(await A.getOrNull<PeeringRequest>(resourcePath(GVR.peeringRequest, { name: idB }))).toBeNull();
    expect(await B.getOrNull<PeeringRequest>(resourcePath(GVR.peeringRequest, { name: idA }))).toBeNull();
  });

  it('with each CA added to the other trust store, both directions peer as Trusted', { timeout: 420_000 }, async () => {
    const dir = scratchDir('kubepeer-trusted-');
    writeFileSync(join(dir, 'a.crt'), caOf(a));
    writeFileSync(join(dir, 'b.crt'), caOf(b));
    for (const [file, on] of [['b.crt', a], ['a.crt', b]] as const) {
      const r = kubepeer(['trust', 'add-ca', join(dir, file), '--name', 'peer', '--kubeconfig', on.kubeconfig]);
      expect(r.code, r.stderr).toBe(0);
    }
    await waitForReadyNode(A, idB, 300_000, async () => ({ a: await describeFC(A, 'to-b')(), b: await describeFC(B, 'to-a')(), requestOnB: (await B.getOrNull<PeeringRequest>(resourcePath(GVR.peeringRequest, { name: idA })))?.status }));
    await waitForReadyNode(B, idA, 240_000, describeFC(B, 'to-a'));
    for (const [k, name] of [[A, 'to-b'], [B, 'to-a']] as const) {
      const fc = (await foreignCluster(k, name)) as ForeignCluster;
      expect(fc.status?.trustMode).toBe('Trusted');
    }
  });
});
