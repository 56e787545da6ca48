/**
 * Advertised numbers on a real API server and agent: the CRD refuses negative quantities (string
 * and integer forms) and an unbounded timeToLive, so a peer cannot store what would make every
 * Node write fail; what the CRD cannot check (a heartbeat from the future, absurd sizes) makes
 * the agent refuse the Advertisement with InvalidAdvertisement and make no node.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import type { LocalCluster } from '../../src/localcluster/localCluster.js';
import { ApiError, KubeClient, resourcePath } from '../../src/k8s/rest.js';
import { GVR, apiVersionOf, type Advertisement } from '../../src/api/crds.js';
import { agentMetricsUrl, startAgent, startCluster, type AgentProcess } from '../support/clusters.js';
import { virtualNode } from '../support/peering.js';
import { waitFor } from '../support/wait.js';

let a: LocalCluster;
let A: KubeClient;
let agent: AgentProcess;

beforeAll(async () => {
  a = await startCluster('advval-a');
  A = a.client();
  agent = startAgent(a, ['--no-dashboard']);
  await agentMetricsUrl(agent);
});
afterAll(async () => {
  await agent?.stop();
  await a?.stop();
});

function advertisement(id: string, spec: Record<string, unknown>) {
  return {
    apiVersion: apiVersionOf(GVR.advertisement),
    kind: 'Advertisement',
    metadata: { name: `advertisement-${id}` },
    spec: { clusterID: id, resources: { cpu: '4', memory: '8Gi', pods: '110' }, heartbeat: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), timeToLive: 30, ...spec },
  };
}

async function createError(body: unknown): Promise<ApiError | undefined> {
  try {
    await A.create(resourcePath(GVR.advertisement), body);
    return undefined;
  } catch (e) {
    return e as ApiError;
  }
}

describe('the Advertisement CRD', () => {
  it.each([
    ['a negative CPU string', { resources: { cpu: '-4', memory: '8Gi', pods: '110' } }, 'spec.resources.cpu'],
    ['a negative integer memory', { resources: { cpu: '4', memory: -1, pods: '110' } }, 'spec.resources.memory'],
    ['negative pods', { resources: { cpu: '4', memory: '8Gi', pods: '-110' } }, 'spec.resources.pods'],
    ['a timeToLive of a day', { timeToLive: 86400 }, 'spec.timeToLive'],
  ])('refuses %s', async (_what, spec, field) => {
    const err = await createError(advertisement(randomUUID(), spec));
    expect(err?.code).toBe(422);
    expect(err?.message).toContain(field);
  });

  it('stores a valid Advertisement', async () => {
    const id = randomUUID();
    expect(await createError(advertisement(id, { resources: { cpu: '2500m', memory: 8 * 2 ** 30, pods: 110 } }))).toBeUndefined();
    await A.delete(resourcePath(GVR.advertisement, { name: `advertisement-${id}` }));
  });
});

describe('the agent', () => {
  it('refuses an Advertisement with a heartbeat an hour in the future (InvalidAdvertisement) and makes no node', async () => {
    const id = randomUUID();
    await A.create(resourcePath(GVR.foreignCluster), {
      apiVersion: apiVersionOf(GVR.foreignCluster),
      kind: 'ForeignCluster',
      metadata: { name: `future-${id.slice(0, 8)}` },
      // join: true so that the Advertisement passes every other check; the peer itself does not exist
      spec: { clusterID: id, apiUrl: 'https://127.0.0.1:1', discoveryType: 'Manual', join: true },
    });
    const future = new Date(Date.now() + 3600_000).toISOString().replace(/\.\d+Z$/, 'Z');
    await A.create(resourcePath(GVR.advertisement), advertisement(id, { heartbeat: future }));
    const refused = await waitFor('the Advertisement refused', async () => {
      const adv = await A.getOrNull<Advertisement>(resourcePath(GVR.advertisement, { name: `advertisement-${id}` }));
      return adv?.status?.phase === 'Refused' ? adv : undefined;
    });
    expect(refused.status?.reason).toBe('InvalidAdvertisement');
    expect(await virtualNode(A, id)).toBeNull();
  });
});
