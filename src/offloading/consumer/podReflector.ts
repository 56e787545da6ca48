/**
 * The virtual kubelet of one virtual node `liqo-<B-id>`: a controller of its own (its own work
 * queue, workers and watch of the provider), so one slow or unreachable peer never stalls the
 * others. Keys are home pods (`namespace/name`); the decisions are planPod's; this file observes
 * (the shared home pod cache, a cache of our tenant namespace's pods on B) and carries out actions.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { ApiError, Core, isAlreadyExists, isNotFound, resourcePath, type KubeClient } from '../../k8s/rest.js';
import { Controller } from '../../k8s/controller.js';
import { Informer, keyOf, splitKey } from '../../k8s/informer.js';
import type { AgentContext } from '../../agent/context.js';
import { isoSeconds } from '../../k8s/time.js';
import { OffloadingAnnotations, OffloadingLabels, remoteName } from '../names.js';
import { homeStatusNotOffloaded, type Pod, type PodStatus } from './podMapping.js';
import { planPod, type PodAction, type PodObserved } from './podPlan.js';
import { offloadMetrics } from './metrics.js';
import { ObjectReflector } from './objectReflector.js';
import { reflectedObjectBody, type ReflectableObject, type ReflectedKind } from './reflectedObjects.js';

const STRATEGIC = 'application/strategic-merge-patch+json';

export interface ReflectorTarget {
  providerID: string;
  providerName: string;
  nodeName: string;
  client: KubeClient;
  tenantNamespace: string;
}

export class PodReflector {
  readonly controller: Controller;
  readonly remotePods: Informer<KubernetesObject>;
  /** Keeps the copies of the ConfigMaps and Secrets the pods use in step with home. */
  readonly objects: ObjectReflector;
  /** Home pods seen bound to our node, for the create -> Running figure. */
  private readonly createdAt = new Map<string, number>();

  constructor(
    private readonly ctx: AgentContext,
    readonly target: ReflectorTarget,
  ) {
    this.remotePods = new Informer(target.client, Core.pods, { namespace: target.tenantNamespace, labelSelector: `${OffloadingLabels.consumer}=${ctx.clusterID}` });
    this.controller = new Controller({ name: `offload-${target.providerID.slice(0, 8)}`, reconcile: (key) => this.reconcile(key), workers: 4 });
    this.objects = new ObjectReflector(ctx, target);
    const nodeName = target.nodeName;
    this.controller.watch(ctx.informers.pods, (p) => ((p.spec as { nodeName?: string } | undefined)?.nodeName === nodeName ? keyOf(p) : null));
    this.controller.watch(this.remotePods, (rp) => {
      const a = rp.metadata?.annotations ?? {};
      const ns = a[OffloadingAnnotations.homeNamespace];
      const name = a[OffloadingAnnotations.homeName];
      return ns && name ? `${ns}/${name}` : null;
    });
  }

  start(): void {
    this.remotePods.start();
    this.controller.start();
    this.objects.start();
  }

  async stop(): Promise<void> {
    await this.controller.stop();
    await this.objects.stop();
    this.remotePods.stop();
  }

  private homePath(ns: string, name: string, subresource?: string): string {
    return resourcePath(Core.pods, { namespace: ns, name, ...(subresource ? { subresource } : {}) });
  }

  private async observe(key: string): Promise<PodObserved> {
    const { namespace, name } = splitKey(key);
    const ns = namespace!;
    let home = this.ctx.informers.pods.get(key) as Pod | undefined;
    // The shared cache leaves out finished pods: a finished pod is still there, only its status changed.
    if (!home) home = (await this.ctx.client.getOrNull<Pod>(this.homePath(ns, name))) ?? undefined;
    if (home && (home.spec as { nodeName?: string }).nodeName !== this.target.nodeName) home = undefined;
    const remote = this.remotePods.get(`${this.target.tenantNamespace}/${remoteName(ns, name)}`) as unknown as Pod | undefined;
    return {
      consumerID: this.ctx.clusterID,
      providerName: this.target.providerName,
      tenantNamespace: this.target.tenantNamespace,
      ...(home ? { home } : {}),
      ...(remote ? { remote } : {}),
      now: isoSeconds(this.ctx.now()),
    };
  }

  private async reconcile(key: string) {
    let observed = await this.observe(key);
    for (let round = 0; round < 3; round++) {
      const actions = planPod(observed);
      if (!actions.length) break;
      const next = await this.execute(key, observed, actions);
      if (!next) break;
      observed = next;
    }
    this.recordStartup(key, observed);
  }

  /** Carries out the actions; returns what the next round observes when a read answered a question. */
  private async execute(key: string, o: PodObserved, actions: PodAction[]): Promise<PodObserved | undefined> {
    const { client, tenantNamespace } = this.target;
    const home = o.home;
    for (const a of actions) {
      switch (a.type) {
        case 'confirmRemoteAbsent': {
          const found = await client.getOrNull<Pod>(resourcePath(Core.pods, { namespace: tenantNamespace, name: remoteName(home!.metadata.namespace, home!.metadata.name) }));
          return found ? { ...o, remote: found } : { ...o, remoteConfirmedAbsent: true };
        }
        case 'createRemote':
          await this.createRemote(home!, a.pod, a.configMaps, a.secrets);
          break;
        case 'deleteRemote': {
          const query: Record<string, string | number> = {};
          if (a.gracePeriodSeconds !== undefined) query.gracePeriodSeconds = a.gracePeriodSeconds;
          try {
            await client.request('DELETE', resourcePath(Core.pods, { namespace: tenantNamespace, name: a.name }), {
              body: { apiVersion: 'v1', kind: 'DeleteOptions', ...(a.gracePeriodSeconds !== undefined ? { gracePeriodSeconds: a.gracePeriodSeconds } : {}), ...(a.uid ? { preconditions: { uid: a.uid } } : {}) },
            });
            this.ctx.log.info({ pod: key, remote: `${tenantNamespace}/${a.name}`, why: a.why }, 'remote pod deleted');
          } catch (e) {
            if (!isNotFound(e) && !(e instanceof ApiError && e.code === 409)) throw e;
          }
          break;
        }
        case 'finalizeHome':
          try {
            await this.ctx.client.request('DELETE', this.homePath(home!.metadata.namespace, home!.metadata.name), {
              body: { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0, preconditions: { uid: home!.metadata.uid } },
            });
          } catch (e) {
            if (!isNotFound(e) && !(e instanceof ApiError && e.code === 409)) throw e;
          }
          break;
        case 'writeHomeStatus':
          await this.writeStatus(home!, a.status);
          break;
        case 'event':
          void this.ctx.events.record(podRef(home!), a.eventType, a.reason, a.message);
          break;
      }
    }
    return undefined;
  }

  private async writeStatus(home: Pod, status: PodStatus): Promise<void> {
    // Strategic merge: conditions merge by type (the home cluster's PodScheduled and readiness-gate
    // conditions stay); fields this side does not set are removed explicitly.
    const patch = { status: { ...status, reason: status.reason ?? null, message: status.message ?? null } };
    try {
      await this.ctx.client.request('PATCH', this.homePath(home.metadata.namespace, home.metadata.name, 'status'), { body: patch, contentType: STRATEGIC });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  private async createRemote(home: Pod, pod: Pod, configMaps: string[], secrets: string[]): Promise<void> {
    const { client, tenantNamespace } = this.target;
    const ns = home.metadata.namespace;
    try {
      for (const [kind, names] of [['configmaps', configMaps], ['secrets', secrets]] as const) {
        for (const name of names) await this.reflectObject(kind, ns, name);
      }
      await client.create(resourcePath(Core.pods, { namespace: tenantNamespace }), pod);
      offloadMetrics.created.inc({ peer: this.target.providerID });
      this.createdAt.set(`${ns}/${home.metadata.name}`, Date.parse(home.metadata.creationTimestamp ?? '') || Date.now());
      this.ctx.log.info({ pod: `${ns}/${home.metadata.name}`, remote: `${tenantNamespace}/${pod.metadata.name}` }, 'pod offloaded');
    } catch (e) {
      if (isAlreadyExists(e)) return;
      const { reason, message } = explainRefusal(e, this.target.providerName);
      offloadMetrics.errors.inc({ peer: this.target.providerID, reason });
      const status = homeStatusNotOffloaded(home, reason, message, isoSeconds(this.ctx.now()));
      await this.writeStatus(home, status);
      void this.ctx.events.record(podRef(home), 'Warning', reason, message);
      // Retried with the work queue's backoff (the quota may free up, the peer may come back).
      throw new Error(message);
    }
  }

  /**
   * Copies ConfigMap/Secret `name` of home namespace `ns` to the tenant namespace (created or
   * replaced); from then on the object reflector keeps the copy in step with its home object.
   */
  private async reflectObject(kind: ReflectedKind, ns: string, name: string): Promise<void> {
    const ref = kind === 'configmaps' ? Core.configMaps : Core.secrets;
    const src = await this.ctx.client.getOrNull<ReflectableObject>(resourcePath(ref, { namespace: ns, name }));
    if (!src) throw new ApiError(404, 'NotFound', `${kind === 'configmaps' ? 'ConfigMap' : 'Secret'} ${ns}/${name}, which the pod references, does not exist`);
    const body = reflectedObjectBody(kind, ns, src, this.target.tenantNamespace, this.ctx.clusterID);
    await this.target.client.apply(resourcePath(ref, { namespace: this.target.tenantNamespace, name: body.metadata.name }), body, 'kubepeer-offloading');
  }

  private recordStartup(key: string, o: PodObserved): void {
    const since = this.createdAt.get(key);
    if (since === undefined) return;
    if (o.remote?.status?.phase === 'Running') {
      offloadMetrics.startup.observe({ peer: this.target.providerID }, (Date.now() - since) / 1000);
      this.createdAt.delete(key);
    } else if (!o.home) this.createdAt.delete(key);
  }
}

/** A refusal of the provider, as a reason a person can search for and a message that says what to do. */
export function explainRefusal(e: unknown, provider: string): { reason: string; message: string } {
  if (e instanceof ApiError) {
    if (e.code === 403 && /exceeded quota/i.test(e.message)) return { reason: 'RemoteQuotaExceeded', message: `${provider} refused the pod: it would exceed what ${provider} offers this cluster (${e.message}); it is retried as resources free up` };
    if (e.code === 403 && /violates PodSecurity/i.test(e.message)) return { reason: 'RemotePodSecurity', message: `${provider} refused the pod under its Pod Security policy: ${e.message}` };
    if (e.code === 404) return { reason: 'OffloadingBackOff', message: e.message };
    if (e.code === 0) return { reason: 'PeerUnreachable', message: `cannot reach ${provider}: ${e.message}; retrying` };
    return { reason: 'OffloadingBackOff', message: `${provider} refused the pod (${e.code} ${e.reason}): ${e.message}` };
  }
  return { reason: 'OffloadingBackOff', message: (e as Error).message };
}

/** The pod as an Event's involved object. */
export function podRef(p: Pod): KubernetesObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name: p.metadata.name, namespace: p.metadata.namespace, uid: p.metadata.uid } };
}
