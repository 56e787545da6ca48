/**
 * A home pod as it runs on the provider, and the provider's pod status as the home pod shows it:
 * pure functions (docs/design.md §8).
 *
 * The remote spec is the home spec with what refers to the home cluster taken out:
 * - scheduling constraints (nodeName, nodeSelector, affinity, tolerations, topology spread,
 *   scheduler, priority, preemption): they name A's nodes and classes; B's scheduler places the pod;
 * - the service-account token: A's token is useless on B and B's must never be mounted by accident,
 *   so the pod runs as the tenant namespace's `default` ServiceAccount with
 *   `automountServiceAccountToken: false`, and A's projected token volume (`kube-api-access-*`) is
 *   dropped with its mounts. A pod on B therefore cannot call either API server (documented);
 * - host namespaces (network, PID, IPC) are forced off, and B's Pod Security (baseline) refuses
 *   what else a tenant may not do (privileged, hostPath, host ports);
 * - Service environment links are off (they would describe B's Services, not A's).
 * ConfigMaps and Secrets the pod references are renamed as on B (names.ts) and reflected; volume
 * types that cannot follow a pod (persistentVolumeClaim, hostPath, ...) make the pod unoffloadable,
 * with a reason.
 *
 * The pod's IP on B is not copied into status.podIP: B's pod network is not reachable from A, so
 * the address must not enter A's EndpointSlices. It is shown in the Offloaded condition's message.
 */
import { homeHostname, homeNamespaceHash, OffloadingAnnotations, OffloadingLabels, remoteName } from '../names.js';

export interface PodMeta {
  name: string;
  namespace: string;
  uid?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  creationTimestamp?: string;
  resourceVersion?: string;
}

export interface PodCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
  lastProbeTime?: string | null;
}

export interface PodStatus {
  phase?: string;
  reason?: string;
  message?: string;
  conditions?: PodCondition[];
  containerStatuses?: unknown[];
  initContainerStatuses?: unknown[];
  startTime?: string;
  podIP?: string;
  podIPs?: Array<{ ip: string }>;
  hostIP?: string;
  qosClass?: string;
}

export interface Pod {
  apiVersion?: string;
  kind?: string;
  metadata: PodMeta;
  spec: Record<string, any>;
  status?: PodStatus;
}

/** The pod condition kubepeer owns on home pods: whether (and where) the pod runs on the peer. */
export const OFFLOADED_CONDITION = 'offloading.kubepeer.io/Offloaded';

export type MappingResult = { ok: true; pod: Pod; configMaps: string[]; secrets: string[] } | { ok: false; reason: string; message: string };

const KEPT_SPEC_FIELDS = [
  'containers',
  'initContainers',
  'volumes',
  'restartPolicy',
  'terminationGracePeriodSeconds',
  'activeDeadlineSeconds',
  'dnsConfig',
  'securityContext',
  'subdomain',
  'hostAliases',
  'shareProcessNamespace',
  'os',
  'hostname',
] as const;

function isServiceAccountVolume(v: any): boolean {
  return !!v.projected?.sources?.some((s: any) => s.serviceAccountToken);
}

export function remotePodFor(home: Pod, consumerID: string, tenantNamespace: string): MappingResult {
  const ns = home.metadata.namespace;
  const rename = (name: string) => remoteName(ns, name);
  const configMaps = new Set<string>();
  const secrets = new Set<string>();
  const dropped = new Set<string>();
  const volumes: any[] = [];
  for (const v of (home.spec.volumes ?? []) as any[]) {
    if (isServiceAccountVolume(v)) {
      dropped.add(v.name);
      continue;
    }
    if (v.configMap) {
      configMaps.add(v.configMap.name);
      volumes.push({ ...v, configMap: { ...v.configMap, name: rename(v.configMap.name) } });
    } else if (v.secret) {
      secrets.add(v.secret.secretName);
      volumes.push({ ...v, secret: { ...v.secret, secretName: rename(v.secret.secretName) } });
    } else if (v.projected) {
      const sources = (v.projected.sources ?? []).map((s: any) => {
        if (s.configMap) {
          configMaps.add(s.configMap.name);
          return { ...s, configMap: { ...s.configMap, name: rename(s.configMap.name) } };
        }
        if (s.secret) {
          secrets.add(s.secret.name);
          return { ...s, secret: { ...s.secret, name: rename(s.secret.name) } };
        }
        if (s.downwardAPI) return s;
        return undefined;
      });
      if (sources.includes(undefined)) return { ok: false, reason: 'OffloadingUnsupported', message: `volume ${v.name}: only ConfigMap, Secret and downward API projections can follow a pod to another cluster` };
      volumes.push({ ...v, projected: { ...v.projected, sources } });
    } else if (v.emptyDir || v.downwardAPI) {
      volumes.push(v);
    } else {
      const kind = Object.keys(v).find((k) => k !== 'name') ?? 'unknown';
      return { ok: false, reason: 'OffloadingUnsupported', message: `volume ${v.name} is of type ${kind}, which cannot follow a pod to another cluster (emptyDir, configMap, secret, downwardAPI and projected can)` };
    }
  }
  const mapContainer = (c: any) => {
    const env = (c.env ?? []).map((e: any) => {
      const from = e.valueFrom;
      if (from?.configMapKeyRef) {
        configMaps.add(from.configMapKeyRef.name);
        return { ...e, valueFrom: { configMapKeyRef: { ...from.configMapKeyRef, name: rename(from.configMapKeyRef.name) } } };
      }
      if (from?.secretKeyRef) {
        secrets.add(from.secretKeyRef.name);
        return { ...e, valueFrom: { secretKeyRef: { ...from.secretKeyRef, name: rename(from.secretKeyRef.name) } } };
      }
      return e;
    });
    const envFrom = (c.envFrom ?? []).map((e: any) => {
      if (e.configMapRef) {
        configMaps.add(e.configMapRef.name);
        return { ...e, configMapRef: { ...e.configMapRef, name: rename(e.configMapRef.name) } };
      }
      if (e.secretRef) {
        secrets.add(e.secretRef.name);
        return { ...e, secretRef: { ...e.secretRef, name: rename(e.secretRef.name) } };
      }
      return e;
    });
    const out = { ...c, volumeMounts: (c.volumeMounts ?? []).filter((m: any) => !dropped.has(m.name)) };
    if (c.env) out.env = env;
    if (c.envFrom) out.envFrom = envFrom;
    if (!out.volumeMounts.length) delete out.volumeMounts;
    return out;
  };
  const spec: Record<string, any> = {};
  for (const f of KEPT_SPEC_FIELDS) if (home.spec[f] !== undefined) spec[f] = home.spec[f];
  spec.containers = (home.spec.containers ?? []).map(mapContainer);
  if (home.spec.initContainers) spec.initContainers = home.spec.initContainers.map(mapContainer);
  spec.volumes = volumes;
  if (!volumes.length) delete spec.volumes;
  spec.hostname ??= homeHostname(home.metadata.name);
  spec.dnsPolicy = home.spec.dnsPolicy === 'None' ? 'None' : home.spec.dnsPolicy === 'Default' ? 'Default' : 'ClusterFirst';
  spec.serviceAccountName = 'default';
  spec.automountServiceAccountToken = false;
  spec.enableServiceLinks = false;
  spec.hostNetwork = false;
  spec.hostPID = false;
  spec.hostIPC = false;
  const labels = Object.fromEntries(Object.entries(home.metadata.labels ?? {}).filter(([k]) => !k.startsWith('offloading.kubepeer.io/')));
  return {
    ok: true,
    pod: {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: remoteName(ns, home.metadata.name),
        namespace: tenantNamespace,
        labels: { ...labels, [OffloadingLabels.consumer]: consumerID, [OffloadingLabels.homeNamespaceHash]: homeNamespaceHash(ns) },
        annotations: {
          [OffloadingAnnotations.homeNamespace]: ns,
          [OffloadingAnnotations.homeName]: home.metadata.name,
          ...(home.metadata.uid ? { [OffloadingAnnotations.homeUID]: home.metadata.uid } : {}),
        },
      },
      spec,
    },
    configMaps: [...configMaps].sort(),
    secrets: [...secrets].sort(),
  };
}

export interface OffloadedInfo {
  providerName: string;
  remoteNamespace: string;
}

/** The status the home pod should show for `remote` (the parts the provider's kubelet knows). */
export function homeStatusFrom(remote: Pod, home: Pod, info: OffloadedInfo, now: string): PodStatus {
  const rs = remote.status ?? {};
  const keep = (home.status?.conditions ?? []).filter((c) => c.type === 'PodScheduled');
  const fromRemote = (rs.conditions ?? []).filter((c) => c.type !== 'PodScheduled' && c.type !== OFFLOADED_CONDITION).map(({ lastProbeTime: _p, ...c }) => c);
  const where = `${info.remoteNamespace}/${remote.metadata.name}`;
  const offloaded = condition(home, { type: OFFLOADED_CONDITION, status: 'True', reason: 'RunningOnPeer', message: `runs on ${info.providerName} as ${where}${rs.podIP ? ` (IP ${rs.podIP} in the peer's pod network)` : ''}` }, now);
  const out: PodStatus = {
    phase: rs.phase ?? 'Pending',
    conditions: [...keep, ...fromRemote, offloaded],
    ...(rs.reason ? { reason: rs.reason } : {}),
    ...(rs.message ? { message: rs.message } : {}),
    ...(rs.startTime ? { startTime: rs.startTime } : {}),
    ...(rs.containerStatuses ? { containerStatuses: rs.containerStatuses.map(homeContainerStatus) } : {}),
    ...(rs.initContainerStatuses ? { initContainerStatuses: rs.initContainerStatuses.map(homeContainerStatus) } : {}),
  };
  return out;
}

/**
 * A container status as the home pod shows it: what the container did, not the resources B
 * allocated (B's LimitRange may have given requests the home spec does not have, and kubectl
 * describe node panics on a status that allocates what the spec never requested).
 */
function homeContainerStatus(c: unknown): unknown {
  if (typeof c !== 'object' || c === null) return c;
  const { allocatedResources: _a, resources: _r, allocatedResourcesStatus: _s, ...rest } = c as Record<string, unknown>;
  return rest;
}

/** The home status while the pod cannot be created on the peer (quota, unsupported spec, ...). */
export function homeStatusNotOffloaded(home: Pod, reason: string, message: string, now: string): PodStatus {
  const keep = (home.status?.conditions ?? []).filter((c) => c.type !== OFFLOADED_CONDITION);
  return {
    phase: 'Pending',
    reason,
    message,
    conditions: [...keep, condition(home, { type: OFFLOADED_CONDITION, status: 'False', reason, message }, now)],
  };
}

/** The home status of a pod whose remote pod someone else deleted (its controller replaces it). */
export function homeStatusRemoteGone(home: Pod, now: string): PodStatus {
  const message = 'the pod running for it on the peer was deleted there (not by kubepeer); it is not recreated: its controller, if any, replaces this pod';
  const keep = (home.status?.conditions ?? []).filter((c) => c.type !== OFFLOADED_CONDITION && c.type !== 'Ready' && c.type !== 'ContainersReady');
  return {
    phase: 'Failed',
    reason: 'RemotePodDeleted',
    message,
    conditions: [
      ...keep,
      condition(home, { type: 'Ready', status: 'False', reason: 'RemotePodDeleted' }, now),
      condition(home, { type: 'ContainersReady', status: 'False', reason: 'RemotePodDeleted' }, now),
      condition(home, { type: OFFLOADED_CONDITION, status: 'False', reason: 'RemotePodDeleted', message }, now),
    ],
  };
}

/** A condition with lastTransitionTime kept while its status does not change. */
function condition(home: Pod, c: PodCondition, now: string): PodCondition {
  const prev = home.status?.conditions?.find((x) => x.type === c.type);
  return { ...c, lastTransitionTime: prev && prev.status === c.status && prev.lastTransitionTime ? prev.lastTransitionTime : now };
}

export function offloadedCondition(home: Pod): PodCondition | undefined {
  return home.status?.conditions?.find((c) => c.type === OFFLOADED_CONDITION);
}

/** Whether the home pod already shows `s` (the fields this side writes): no write when it does. */
export function statusShows(home: Pod, s: PodStatus): boolean {
  const h = home.status ?? {};
  const pick = (x: PodStatus) =>
    JSON.stringify([
      x.phase,
      x.reason ?? '',
      x.message ?? '',
      x.startTime ?? '',
      normConditions(x.conditions),
      x.containerStatuses ?? [],
      x.initContainerStatuses ?? [],
    ]);
  return pick(h) === pick({ ...s, conditions: mergeConditions(h.conditions ?? [], s.conditions ?? []) });
}

function normConditions(cs: PodCondition[] | undefined): unknown {
  return [...(cs ?? [])].map(({ lastProbeTime: _p, ...c }) => c).sort((a, b) => a.type.localeCompare(b.type));
}

/** How the API server merges the conditions list (strategic merge, keyed by type). */
export function mergeConditions(current: PodCondition[], patch: PodCondition[]): PodCondition[] {
  const out = current.map((c) => patch.find((p) => p.type === c.type) ?? c);
  for (const p of patch) if (!current.some((c) => c.type === p.type)) out.push(p);
  return out;
}
