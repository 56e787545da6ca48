/**
 * The dashboard's API operations. Each one gets the API client of the person asking (their
 * bearer token), so the API server's RBAC and admission decide what they may see and do; nothing
 * here uses the agent's own credentials.
 */
import { joinPatch } from '../trust/peeringSecret.js';
import { Annotations, ClusterInfoKeys, Labels, Names } from '../api/constants.js';
import {
  GVR, apiVersionOf, type Advertisement, type ClusterConfig, type ForeignCluster, type GroupVersionResource, type PeeringRequest, type SearchDomain,
} from '../api/crds.js';
import { ApiError, Core, resourcePath, type KubeClient, type ResourceRef } from '../k8s/rest.js';
import type { NodeLike } from '../virtualnode/virtualNode.js';
import type { PeerDetails, PeerView, Session, State, Overview, EventView } from './api.js';
import { HttpError, fromApiError } from './errors.js';
import {
  advertisementNameFor, counts, domainView, eventView, peerView, peerViews, requestView, scrub, sortEvents, sortedConditions, virtualNodeNameFor,
  type CoreEvent, type Snapshot,
} from './peerView.js';
import { checkNewDomain, checkNewPeer } from './validation.js';
import { OffloadingLabels, tenantNamespace } from '../offloading/names.js';
import { offloadingByPeer, type PeerOffloading } from '../offloading/usage.js';
import { EndPeeringError, endBothDirections, type EndedPeering } from '../peering/endPeering.js';
import { agentLiveness, readAgentLease } from '../agent/agentStatus.js';

/** Who this agent is: only public facts (also published anonymously in liqo-cluster-info). */
export interface DashboardIdentity {
  clusterID: string;
  clusterName: string;
  namespace: string;
}

const res = (g: GroupVersionResource | ResourceRef) => ('group' in g && g.group ? `${g.plural}.${g.group}` : g.plural);

/** Runs a read; a 403 becomes a warning (and `fallback`), anything else is thrown as an HttpError. */
async function optional<T>(p: Promise<T>, fallback: T, warnings: string[], verb: string, ref: GroupVersionResource | ResourceRef, consequence: string): Promise<T> {
  try {
    return await p;
  } catch (e) {
    if (e instanceof ApiError && e.code === 403) {
      warnings.push(`forbidden: you may not ${verb} ${res(ref)}, so ${consequence}`);
      return fallback;
    }
    throw fromApiError(e, { verb, resource: res(ref), doing: `read ${res(ref)}` });
  }
}

async function required<T>(p: Promise<T>, verb: string, ref: GroupVersionResource | ResourceRef, doing: string): Promise<T> {
  try {
    return await p;
  } catch (e) {
    throw fromApiError(e, { verb, resource: res(ref), doing });
  }
}

const ResourceQuotas: ResourceRef = { group: '', version: 'v1', plural: 'resourcequotas', namespaced: true };
type Obj = Record<string, any>;

/**
 * Pods offloaded each way, read with the person's token: the pods bound to each virtual node (we
 * run there) and, for each tenant quota here, the pods of its namespace (the peer runs here). One
 * list per virtual node and per tenant, never every pod of the cluster. Forbidden reads become a
 * warning and leave that direction out.
 */
async function readOffloading(kube: KubeClient, nodes: NodeLike[], warnings: string[], peerID?: string): Promise<PeerOffloading[]> {
  const items = <T>(p: Promise<{ items: T[] }>) => p.then((l) => l.items);
  const quotas = await optional(
    items(kube.list<Obj>('/api/v1/resourcequotas', { labelSelector: peerID ? `${OffloadingLabels.consumer}=${peerID}` : OffloadingLabels.consumer })).then((qs) =>
      // With one peer in mind, only its own tenant namespace counts (a label is not a proof of origin).
      peerID ? qs.filter((q) => q.metadata?.namespace === tenantNamespace(peerID)) : qs,
    ),
    [],
    warnings,
    'list',
    ResourceQuotas,
    'the pods peers run here are not shown',
  );
  const live = 'status.phase!=Succeeded,status.phase!=Failed';
  const virtual = nodes.filter((n) => n.metadata.name.startsWith(Names.virtualNodePrefix) && n.metadata.labels?.[Labels.remoteClusterID]);
  const pods = await optional(
    Promise.all([
      ...virtual.map((n) => items(kube.list<Obj>(resourcePath(Core.pods), { fieldSelector: `spec.nodeName=${n.metadata.name},${live}` }))),
      ...quotas.map((q) => items(kube.list<Obj>(resourcePath(Core.pods, { namespace: q.metadata.namespace }), { fieldSelector: live }))),
    ]).then((lists) => lists.flat()),
    null,
    warnings,
    'list',
    Core.pods,
    'offloaded pods are not shown',
  );
  if (!pods) return [];
  return offloadingByPeer({ nodes: virtual, pods, quotas });
}

export async function snapshot(kube: KubeClient, warnings: string[]): Promise<Snapshot> {
  const items = <T>(p: Promise<{ items: T[] }>) => p.then((l) => l.items);
  const [fcs, advertisements, nodes, requests, domains] = await Promise.all([
    required(items(kube.list<ForeignCluster>(resourcePath(GVR.foreignCluster))), 'list', GVR.foreignCluster, 'list peers'),
    optional(items(kube.list<Advertisement>(resourcePath(GVR.advertisement))), [], warnings, 'list', GVR.advertisement, 'resources and heartbeats are not shown'),
    optional(items(kube.list<NodeLike>(resourcePath(Core.nodes), { labelSelector: Labels.remoteClusterID })), [], warnings, 'list', Core.nodes, 'virtual nodes are not shown'),
    optional(items(kube.list<PeeringRequest>(resourcePath(GVR.peeringRequest))), [], warnings, 'list', GVR.peeringRequest, 'incoming requests are not shown'),
    optional(items(kube.list<SearchDomain>(resourcePath(GVR.searchDomain))), [], warnings, 'list', GVR.searchDomain, 'search domains are not shown'),
  ]);
  const offloading = await readOffloading(kube, nodes, warnings);
  return { fcs, advertisements, nodes, requests, domains, offloading };
}

type ConfigMap = { data?: Record<string, string> };

export async function overviewOf(kube: KubeClient, id: DashboardIdentity, s: Snapshot, warnings: string[], now: Date): Promise<Overview> {
  const [info, config, lease] = await Promise.all([
    optional(kube.getOrNull<ConfigMap>(resourcePath(Core.configMaps, { namespace: id.namespace, name: Names.clusterInfoConfigMap })), null, warnings, 'get', Core.configMaps, 'the cluster ID is shown from the agent'),
    optional(kube.getOrNull<ClusterConfig>(resourcePath(GVR.clusterConfig, { name: Names.clusterConfig })), null, [], 'get', GVR.clusterConfig, ''),
    // Not every token may read the Lease; then the agent's liveness is simply not shown.
    readAgentLease(kube, id.namespace).then((l) => l ?? ('none' as const), () => undefined),
  ]);
  const agent = lease === undefined ? undefined : agentLiveness(lease === 'none' ? null : lease, now.getTime());
  const peers = peerViews(s, now);
  const requests = s.requests.map((r) => requestView(r, s.fcs));
  const clusterID = info?.data?.[ClusterInfoKeys.clusterID];
  return {
    clusterID: clusterID || id.clusterID,
    clusterName: config?.spec?.discoveryConfig?.clusterName || info?.data?.[ClusterInfoKeys.clusterName] || id.clusterName,
    identitySource: clusterID ? 'api' : 'agent',
    acceptPolicy: config?.spec?.peeringConfig?.acceptPolicy,
    trustMode: config?.spec?.peeringConfig?.trustMode ?? 'Untrusted',
    ...(agent ? { agent: { running: agent.running, text: agent.text, ...(agent.running || !agent.lastRenew ? {} : { since: agent.lastRenew }) } } : {}),
    counts: counts(peers, requests, s.domains.map(domainView)),
  };
}

export async function state(kube: KubeClient, id: DashboardIdentity, now = new Date()): Promise<State> {
  const warnings: string[] = [];
  const s = await snapshot(kube, warnings);
  const overview = await overviewOf(kube, id, s, warnings, now);
  return {
    overview,
    peers: peerViews(s, now),
    requests: s.requests.map((r) => requestView(r, s.fcs)).sort((a, b) => (a.createdAt ?? '').localeCompare(b.createdAt ?? '')),
    domains: s.domains.map(domainView).sort((a, b) => a.domain.localeCompare(b.domain)),
    warnings,
    now: now.toISOString(),
  };
}

/** Only the peers that the Available / Connected lists show (for GET /api/peers). */
export const listedPeers = (peers: PeerView[]) => peers.filter((p) => p.listed);

async function getPeer(kube: KubeClient, name: string): Promise<ForeignCluster> {
  const fc = await required(kube.getOrNull<ForeignCluster>(resourcePath(GVR.foreignCluster, { name })), 'get', GVR.foreignCluster, `read peer "${name}"`);
  if (!fc) throw new HttpError(404, 'NotFound', `There is no peer named "${name}" (it may have just been removed).`);
  return fc;
}

/** Events about `name` of `kind`: cluster-wide when allowed, else in the namespaces the agent writes to. */
async function eventsAbout(kube: KubeClient, objects: Array<{ kind: string; name: string }>, namespaces: string[], warnings: string[]): Promise<EventView[]> {
  const found: CoreEvent[] = [];
  let forbidden = 0;
  let attempts = 0;
  const forbiddenIn = new Set<string>();
  await Promise.all(
    objects.map(async ({ kind, name }) => {
      const query = { fieldSelector: `involvedObject.name=${name},involvedObject.kind=${kind}` };
      try {
        attempts++;
        found.push(...(await kube.list<CoreEvent>(resourcePath(Core.events), query)).items);
        return;
      } catch (e) {
        if (!(e instanceof ApiError && e.code === 403)) throw fromApiError(e, { verb: 'list', resource: 'events', doing: 'read events' });
        forbidden++;
      }
      for (const namespace of namespaces) {
        attempts++;
        try {
          found.push(...(await kube.list<CoreEvent>(resourcePath(Core.events, { namespace }), query)).items);
        } catch (e) {
          if (!(e instanceof ApiError && e.code === 403)) throw fromApiError(e, { verb: 'list', resource: 'events', doing: 'read events' });
          forbidden++;
          forbiddenIn.add(namespace);
        }
      }
    }),
  );
  if (forbidden && found.length === 0 && forbidden === attempts) warnings.push('forbidden: you may not list events, so the history of this peer is not shown');
  // Events about cluster-scoped objects (ForeignCluster, Node, PeeringRequest, Advertisement) are
  // kept in namespace "default": without that right part of the history is missing, so say so.
  else if (forbiddenIn.size)
    warnings.push(
      `forbidden: you may not list events in namespace${forbiddenIn.size > 1 ? 's' : ''} ${[...forbiddenIn].map((n) => `"${n}"`).join(', ')}${forbiddenIn.has('default') ? ', where Kubernetes keeps the events about cluster-scoped objects (this peer\'s ForeignCluster, Advertisement, PeeringRequest and virtual node)' : ''}, so those events are not shown`,
    );
  const seen = new Set<string>();
  return sortEvents(
    found.filter((e) => {
      const k = e.metadata?.uid ?? `${e.metadata?.name}`;
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    }).map(eventView),
  );
}

export async function details(kube: KubeClient, id: DashboardIdentity, name: string, now = new Date()): Promise<PeerDetails> {
  const warnings: string[] = [];
  const fc = await getPeer(kube, name);
  const cid = fc.spec.clusterID;
  const [advertisement, node, request] = await Promise.all([
    optional(kube.getOrNull<Advertisement>(resourcePath(GVR.advertisement, { name: advertisementNameFor(cid) })), null, warnings, 'get', GVR.advertisement, 'the Advertisement is not shown'),
    optional(kube.getOrNull<NodeLike>(resourcePath(Core.nodes, { name: virtualNodeNameFor(cid) })), null, warnings, 'get', Core.nodes, 'the virtual node is not shown'),
    optional(kube.getOrNull<PeeringRequest>(resourcePath(GVR.peeringRequest, { name: cid })), null, warnings, 'get', GVR.peeringRequest, 'its request is not shown'),
  ]);
  const [offloading] = await readOffloading(kube, node ? [node] : [], warnings, cid);
  const events = await eventsAbout(
    kube,
    [
      { kind: 'ForeignCluster', name },
      { kind: 'Advertisement', name: advertisementNameFor(cid) },
      { kind: 'Node', name: virtualNodeNameFor(cid) },
      { kind: 'PeeringRequest', name: cid },
      { kind: 'ServiceAccount', name: `${Names.remoteCredentialPrefix}${cid}` },
    ],
    [...new Set(['default', id.namespace])],
    warnings,
  );
  return {
    peer: peerView({ fc, advertisement: advertisement ?? undefined, node: node ?? undefined, request: request ?? undefined, offloading, now }),
    conditions: sortedConditions(fc.status?.conditions),
    events,
    request: request ? requestView(request, [fc]) : undefined,
    raw: { foreignCluster: scrub(fc), advertisement: advertisement ? scrub(advertisement) : undefined, peeringRequest: request ? scrub(request) : undefined },
    warnings,
    now: now.toISOString(),
  };
}

// ---------------------------------------------------------------- writes

export async function addPeer(kube: KubeClient, id: DashboardIdentity, body: unknown): Promise<PeerView> {
  const { value, fields } = checkNewPeer(body);
  if (!value) throw new HttpError(400, 'Invalid', 'Some fields need fixing.', fields);
  if (value.clusterID.toLowerCase() === id.clusterID.toLowerCase()) {
    throw new HttpError(400, 'Invalid', 'That is this cluster: a cluster cannot peer with itself.', { clusterID: `${value.clusterID} is the ID of this cluster; enter the ID of the remote cluster.` });
  }
  // A duplicate would be refused by the agent later (DuplicateClusterID); say it now. Without the
  // right to list peers the create below is refused anyway.
  let existing: ForeignCluster[] = [];
  try {
    existing = (await kube.list<ForeignCluster>(resourcePath(GVR.foreignCluster))).items;
  } catch (e) {
    if (!(e instanceof ApiError && e.code === 403)) throw fromApiError(e, { verb: 'list', resource: res(GVR.foreignCluster), doing: 'check for an existing peer' });
  }
  const dup = existing.find((f) => f.spec.clusterID.toLowerCase() === value.clusterID.toLowerCase());
  if (dup) throw new HttpError(409, 'AlreadyExists', `Cluster ${value.clusterID} is already a peer ("${dup.metadata.name}").`, { clusterID: `Already known as peer "${dup.metadata.name}": use Connect on it instead.` });
  try {
    const fc = await kube.create<ForeignCluster>(resourcePath(GVR.foreignCluster), {
      apiVersion: apiVersionOf(GVR.foreignCluster),
      kind: 'ForeignCluster',
      metadata: { name: value.name, labels: { [Labels.clusterID]: value.clusterID } },
      spec: {
        clusterID: value.clusterID,
        apiUrl: value.apiUrl,
        namespace: value.namespace,
        discoveryType: 'Manual',
        join: value.join,
        allowUntrustedCA: value.allowUntrustedCA,
        ...(value.clusterName ? { clusterName: value.clusterName } : {}),
      },
    });
    return peerView({ fc, now: new Date() });
  } catch (e) {
    const err = fromApiError(e, { verb: 'create', resource: res(GVR.foreignCluster), doing: `add peer ${value.clusterID}` });
    if (err.reason === 'AlreadyExists') throw new HttpError(409, 'AlreadyExists', err.message, { name: `A peer named "${value.name}" already exists: choose another name.` });
    throw err;
  }
}

/**
 * Connect or disconnect. `{"join": true, "allowUntrustedCA": true}` also lets the agent pin the
 * peer's CA on first use, as `kubepeer peer join --allow-untrusted-ca` does: what a person does
 * about a peer whose CA this cluster does not trust.
 */
export async function setJoin(kube: KubeClient, name: string, body: unknown): Promise<PeerView> {
  const { join, allowUntrustedCA } = (body ?? {}) as { join?: unknown; allowUntrustedCA?: unknown };
  if (typeof join !== 'boolean') throw new HttpError(400, 'Invalid', 'The body must be {"join": true} or {"join": false}.');
  if (allowUntrustedCA !== undefined && allowUntrustedCA !== true) throw new HttpError(400, 'Invalid', '"allowUntrustedCA" can only be true (unset it on the ForeignCluster to trust only known CAs again).');
  const doing = join ? `connect to peer "${name}"` : `disconnect from peer "${name}"`;
  const current = await getPeerFor(kube, name, doing);
  const patch = joinPatch(current, join) as { spec: Record<string, unknown> };
  if (allowUntrustedCA) patch.spec.allowUntrustedCA = true;
  const fc = await required(kube.mergePatch<ForeignCluster>(resourcePath(GVR.foreignCluster, { name }), patch), 'patch', GVR.foreignCluster, doing);
  return peerView({ fc, now: new Date() });
}

/** Reads the peer first so that "not found" is not mistaken for a permission problem, and vice versa. */
async function getPeerFor(kube: KubeClient, name: string, doing: string): Promise<ForeignCluster | undefined> {
  try {
    return await getPeer(kube, name);
  } catch (e) {
    // Allowed to write but not to read? Let the write decide.
    if (e instanceof HttpError && e.status === 403) return undefined;
    if (e instanceof HttpError && e.status === 404) throw new HttpError(404, 'NotFound', `Cannot ${doing}: there is no peer named "${name}".`);
    throw e;
  }
}

/**
 * Removes a peer: both directions end (as `kubepeer peer remove`, see endBothDirections); a
 * discovered one stays as a removal record unless `forget`.
 */
export async function removePeer(kube: KubeClient, name: string, opts: { forget?: boolean } = {}): Promise<EndedPeering> {
  const doing = `remove peer "${name}"`;
  const fc = await required(kube.getOrNull<ForeignCluster>(resourcePath(GVR.foreignCluster, { name })), 'get', GVR.foreignCluster, doing);
  if (!fc) throw new HttpError(404, 'NotFound', `Cannot ${doing}: there is no peer named "${name}".`);
  try {
    return await endBothDirections(kube, { name, clusterID: fc.spec.clusterID, discoveryType: fc.spec.discoveryType }, opts);
  } catch (e) {
    throw e instanceof EndPeeringError ? fromApiError(e, { verb: e.step.verb, resource: res(e.step.resource), doing }) : fromApiError(e, { verb: 'delete', resource: res(GVR.foreignCluster), doing });
  }
}

export async function addDomain(kube: KubeClient, body: unknown): Promise<{ name: string; domain: string }> {
  const { value, fields } = checkNewDomain(body);
  if (!value) throw new HttpError(400, 'Invalid', 'Some fields need fixing.', fields);
  try {
    const sd = await kube.create<SearchDomain>(resourcePath(GVR.searchDomain), {
      apiVersion: apiVersionOf(GVR.searchDomain),
      kind: 'SearchDomain',
      metadata: { name: value.name },
      spec: { domain: value.domain, autojoin: value.join },
    });
    return { name: sd.metadata.name, domain: sd.spec.domain };
  } catch (e) {
    const err = fromApiError(e, { verb: 'create', resource: res(GVR.searchDomain), doing: `add domain ${value.domain}` });
    if (err.reason === 'AlreadyExists') throw new HttpError(409, 'AlreadyExists', err.message, { name: `A search domain named "${value.name}" already exists.` });
    throw err;
  }
}

export async function removeDomain(kube: KubeClient, name: string): Promise<void> {
  const ok = await required(kube.delete(resourcePath(GVR.searchDomain, { name })), 'delete', GVR.searchDomain, `remove domain "${name}"`);
  if (!ok) throw new HttpError(404, 'NotFound', `There is no search domain named "${name}".`);
}

export async function decide(kube: KubeClient, name: string, accept: boolean): Promise<void> {
  const doing = `${accept ? 'accept' : 'reject'} the request from ${name}`;
  let pr: PeeringRequest | null = null;
  try {
    pr = await kube.getOrNull<PeeringRequest>(resourcePath(GVR.peeringRequest, { name }));
    if (!pr) throw new HttpError(404, 'NotFound', `Cannot ${doing}: there is no peering request from ${name}.`);
  } catch (e) {
    if (e instanceof HttpError) throw e;
    if (!(e instanceof ApiError && e.code === 403)) throw fromApiError(e, { verb: 'get', resource: res(GVR.peeringRequest), doing });
  }
  if (pr?.status?.phase === 'Accepted' || pr?.status?.phase === 'Denied') {
    throw new HttpError(409, 'AlreadyDecided', `The request from ${name} is already ${pr.status.phase === 'Accepted' ? 'accepted' : 'denied'}.`);
  }
  await required(
    kube.mergePatch(resourcePath(GVR.peeringRequest, { name }), { metadata: { annotations: { [Annotations.approval]: accept ? 'accepted' : 'rejected' } } }),
    'patch',
    GVR.peeringRequest,
    doing,
  );
}

// ---------------------------------------------------------------- who is asking

type Review = { status?: { userInfo?: { username?: string; groups?: string[] }; allowed?: boolean } };

export async function session(kube: KubeClient): Promise<Session> {
  const access = (g: GroupVersionResource, verb: string) =>
    kube.create<Review>('/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SelfSubjectAccessReview',
      spec: { resourceAttributes: { group: g.group, resource: g.plural, verb } },
    });
  const ssr = { group: 'authentication.k8s.io', version: 'v1', plural: 'selfsubjectreviews' };
  let review: Review;
  try {
    review = await kube.create<Review>(resourcePath(ssr), { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' });
  } catch (e) {
    // API servers before 1.28 have no SelfSubjectReview: an access review still proves the token.
    if (!(e instanceof ApiError && e.code === 404)) throw fromApiError(e, { verb: 'create', resource: res(ssr), doing: 'sign in' });
    await required(access(GVR.foreignCluster, 'list'), 'create', { group: 'authorization.k8s.io', version: 'v1', plural: 'selfsubjectaccessreviews' }, 'sign in');
    review = { status: { userInfo: { username: '(name not available before Kubernetes 1.28)' } } };
  }
  const can = async (g: GroupVersionResource, verb: string) => {
    try {
      return (await access(g, verb)).status?.allowed === true;
    } catch {
      return false;
    }
  };
  const [connect, addPeer, remove, addDomain, approve] = await Promise.all([
    can(GVR.foreignCluster, 'patch'),
    can(GVR.foreignCluster, 'create'),
    can(GVR.foreignCluster, 'delete'),
    can(GVR.searchDomain, 'create'),
    can(GVR.peeringRequest, 'patch'),
  ]);
  return {
    username: review.status?.userInfo?.username ?? 'unknown',
    groups: review.status?.userInfo?.groups ?? [],
    can: { connect, addPeer, remove, addDomain, approve },
  };
}
