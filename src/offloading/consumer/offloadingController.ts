/**
 * The consumer side of offloading: one PodReflector per peer that delivered us a tenant credential
 * (Secret `kubepeer-tenant-<B-id>` in our namespace, written by B, bound to B's identity by an
 * admission policy) and whose virtual node exists. The credential's arrival, renewal or removal
 * (unpeer) starts, restarts or stops that peer's reflector; the RemotePodDirectory follows.
 *
 * Unpeer: the virtual node goes away with the Advertisement; before that, `evictOffloadedPods`
 * evicts the home pods bound to it through the Eviction API (PodDisruptionBudgets apply), with an
 * Event on each.
 */
import type { AgentContext } from '../../agent/context.js';
import { Labels, Names } from '../../api/constants.js';
import { Controller } from '../../k8s/controller.js';
import { KubeClient, Core, isNotFound, resourcePath } from '../../k8s/rest.js';
import { parseTokenKubeconfig } from '../../peering/kubeconfig.js';
import { tenantCredentialOnConsumer } from '../names.js';
import { PodReflector } from './podReflector.js';
import { offloadMetrics } from './metrics.js';
import { remotePodDirectory } from './remotePods.js';
import { apiUrlProblem } from '../../peering/apiUrl.js';
import { policyFor } from '../../net/addressPolicy.js';
import { resolvePeerTarget } from '../../net/peerAddress.js';
import { findForeignCluster } from '../../discovery/foreignClusterUpsert.js';

const PREFIX = tenantCredentialOnConsumer('');

interface TenantSecret {
  metadata: { name: string; namespace?: string; resourceVersion?: string };
  data?: Record<string, string>;
}

function decode(s: TenantSecret, key: string): string | undefined {
  const v = s.data?.[key];
  return v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8');
}

export function offloadingController(ctx: AgentContext): { controller: Controller; stop(): Promise<void> } {
  const reflectors = new Map<string, { version: string; reflector: PodReflector }>();
  const directory = remotePodDirectory(ctx);

  async function stopReflector(providerID: string): Promise<void> {
    const r = reflectors.get(providerID);
    if (!r) return;
    reflectors.delete(providerID);
    directory.delete(r.reflector.target.nodeName);
    await r.reflector.stop();
    r.reflector.target.client.close();
  }

  /**
   * Where to connect for the API server the peer put in its tenant credential: that URL is the
   * peer's word, so it gets the policy and the resolution of every call to a peer (docs/design.md
   * §9), including the addresses a SearchDomain's DNS server gave for a name only it knows.
   */
  async function checkedAddress(server: string, providerID: string): Promise<string | undefined> {
    const allowedCIDRs = ctx.config().peeringConfig.allowedPeerCIDRs;
    const problem = apiUrlProblem(server, `the API server in the tenant credential of ${providerID}`, ctx.apiUrl, allowedCIDRs);
    if (problem) throw new Error(`not offloading to ${providerID}: ${problem}`);
    const known = findForeignCluster(ctx, providerID)?.status?.dnsAddresses;
    const target = await resolvePeerTarget(server, policyFor(ctx.apiUrl, allowedCIDRs), { known });
    if (!target.ok) throw new Error(`not offloading to ${providerID}: ${target.message}`);
    return target.address;
  }

  async function reconcile(providerID: string) {
    const secret = ctx.informers.secrets.get(`${ctx.namespace}/${tenantCredentialOnConsumer(providerID)}`) as TenantSecret | undefined;
    const nodeName = `${Names.virtualNodePrefix}${providerID}`;
    const node = ctx.informers.nodes.get(nodeName);
    if (!secret || !node) {
      await stopReflector(providerID);
      return;
    }
    const version = secret.metadata.resourceVersion ?? '';
    if (reflectors.get(providerID)?.version === version) return;
    await stopReflector(providerID);
    const text = decode(secret, 'kubeconfig');
    const namespace = decode(secret, 'namespace');
    if (!text || !namespace) throw new Error(`Secret ${secret.metadata.name} from ${providerID} lacks kubeconfig or namespace`);
    const kc = parseTokenKubeconfig(text);
    const client = KubeClient.withToken(kc.server, kc.token, kc.caPem, false, await checkedAddress(kc.server, providerID));
    const providerName = decode(secret, 'clusterName') || providerID;
    const reflector = new PodReflector(ctx, { providerID, providerName, nodeName, client, tenantNamespace: namespace });
    reflectors.set(providerID, { version, reflector });
    directory.set(nodeName, { providerID, client, namespace });
    reflector.start();
    ctx.log.info({ peer: providerID, namespace }, 'offloading to peer enabled');
  }

  const controller = new Controller({ name: 'offloading', reconcile });
  controller.watch(ctx.informers.secrets, (s) => (s.metadata?.name?.startsWith(PREFIX) ? s.metadata.name.slice(PREFIX.length) : null));
  controller.watch(ctx.informers.nodes, (n) => {
    const id = (n.metadata?.labels as Record<string, string> | undefined)?.[Labels.remoteClusterID];
    return id ?? null;
  });
  const gauge = setInterval(() => {
    offloadMetrics.pods.reset();
    for (const { reflector } of reflectors.values()) {
      const counts: Record<string, number> = {};
      for (const p of reflector.remotePods.list()) {
        const phase = (p as { status?: { phase?: string } }).status?.phase ?? 'Pending';
        counts[phase] = (counts[phase] ?? 0) + 1;
      }
      for (const [phase, n] of Object.entries(counts)) offloadMetrics.pods.set({ peer: reflector.target.providerID, phase }, n);
    }
  }, 5_000);
  gauge.unref();
  return {
    controller,
    stop: async () => {
      clearInterval(gauge);
      for (const id of [...reflectors.keys()]) await stopReflector(id);
    },
  };
}

/**
 * Evicts every home pod bound to `nodeName` (unpeer), as `kubectl drain` would: through the Eviction
 * API, so PodDisruptionBudgets hold; returns the pods still there (a budget said not yet).
 */
export async function evictOffloadedPods(ctx: AgentContext, nodeName: string, why: string): Promise<string[]> {
  const left: string[] = [];
  for (const p of ctx.informers.pods.list()) {
    if ((p.spec as { nodeName?: string } | undefined)?.nodeName !== nodeName || p.metadata?.deletionTimestamp) continue;
    const ns = p.metadata!.namespace!;
    const name = p.metadata!.name!;
    try {
      await ctx.client.create(resourcePath(Core.pods, { namespace: ns, name, subresource: 'eviction' }), { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace: ns } });
      void ctx.events.record({ apiVersion: 'v1', kind: 'Pod', metadata: p.metadata }, 'Normal', 'EvictedFromVirtualNode', `evicted from ${nodeName}: ${why}`);
    } catch (e) {
      if (isNotFound(e)) continue;
      left.push(`${ns}/${name}: ${(e as Error).message}`);
    }
  }
  return left;
}
