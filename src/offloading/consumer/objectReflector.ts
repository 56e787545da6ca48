/**
 * Keeps one peer's copies of ConfigMaps and Secrets in step with their home objects (decisions in
 * reflectedObjects.ts). It watches the copies on B (our tenant namespace, our consumer label: a
 * small set) and, at home, only the namespaces those copies come from: one ConfigMap and one
 * Secret informer per such namespace, started when its first copy appears and stopped when its
 * last one goes. Watching every Secret of the cluster would cost memory and a wide read for
 * objects that nothing offloaded uses.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { Controller, type ChangeSource } from '../../k8s/controller.js';
import { Informer } from '../../k8s/informer.js';
import { Core, isNotFound, resourcePath, type ResourceRef } from '../../k8s/rest.js';
import type { AgentContext } from '../../agent/context.js';
import { OffloadingLabels, remoteName } from '../names.js';
import { homeOfCopy, parseReflectedKey, planReflectedObject, reflectedKey, type ReflectableObject, type ReflectedKind } from './reflectedObjects.js';
import type { ReflectorTarget } from './podReflector.js';

const REFS: Record<ReflectedKind, ResourceRef> = { configmaps: Core.configMaps, secrets: Core.secrets };
const KINDS: ReflectedKind[] = ['configmaps', 'secrets'];

/** As the informers hold them; the API server always gives a name. */
type Obj = KubernetesObject & Omit<ReflectableObject, 'metadata'>;
const asReflectable = (o: Obj) => o as unknown as ReflectableObject;

export class ObjectReflector {
  readonly controller: Controller;
  private readonly copies: Record<ReflectedKind, Informer<Obj>>;
  /** Home informers per namespace that has copies on B. */
  private readonly home = new Map<string, Record<ReflectedKind, Informer<Obj>>>();
  /** Fans the changes of the home informers (made and dropped as namespaces come and go) into the controller. */
  private readonly homeChanges = new Set<(key: string) => void>();

  constructor(
    private readonly ctx: AgentContext,
    private readonly target: ReflectorTarget,
  ) {
    const selector = `${OffloadingLabels.consumer}=${ctx.clusterID}`;
    this.copies = {
      configmaps: new Informer<Obj>(target.client, Core.configMaps, { namespace: target.tenantNamespace, labelSelector: selector }),
      secrets: new Informer<Obj>(target.client, Core.secrets, { namespace: target.tenantNamespace, labelSelector: selector }),
    };
    this.controller = new Controller({ name: `reflect-${target.providerID.slice(0, 8)}`, reconcile: (key) => this.reconcile(key), workers: 2 });
    for (const kind of KINDS) {
      this.controller.watch(this.copies[kind], (copy, change) => {
        const home = homeOfCopy(asReflectable(copy));
        if (!home) return null;
        if (change !== 'delete') this.watchHomeNamespace(home.namespace);
        return reflectedKey(kind, home.namespace, home.name);
      });
    }
    const source: ChangeSource<string> = {
      onChange: (listener) => {
        this.homeChanges.add(listener);
        return () => this.homeChanges.delete(listener);
      },
    };
    this.controller.watch(source, (key) => key);
  }

  start(): void {
    for (const kind of KINDS) this.copies[kind].start();
    this.controller.start();
  }

  async stop(): Promise<void> {
    await this.controller.stop();
    for (const kind of KINDS) this.copies[kind].stop();
    for (const ns of [...this.home.keys()]) this.unwatchHomeNamespace(ns);
  }

  private watchHomeNamespace(ns: string): void {
    if (this.home.has(ns)) return;
    const informers = {} as Record<ReflectedKind, Informer<Obj>>;
    for (const kind of KINDS) {
      const informer = new Informer<Obj>(this.ctx.client, REFS[kind], { namespace: ns });
      const emit = (o: Obj) => {
        // Only objects that have a copy: the informer sees the whole namespace.
        if (!this.copies[kind].get(`${this.target.tenantNamespace}/${remoteName(ns, o.metadata!.name!)}`)) return;
        for (const l of this.homeChanges) l(reflectedKey(kind, ns, o.metadata!.name!));
      };
      informer.on('add', emit);
      informer.on('update', (_old: Obj, o: Obj) => emit(o));
      informer.on('delete', emit);
      informer.start();
      informers[kind] = informer;
    }
    this.home.set(ns, informers);
  }

  private unwatchHomeNamespace(ns: string): void {
    const informers = this.home.get(ns);
    if (!informers) return;
    for (const kind of KINDS) informers[kind].stop();
    this.home.delete(ns);
  }


  private async reconcile(key: string): Promise<void> {
    const k = parseReflectedKey(key);
    if (!k) return;
    const copyName = remoteName(k.namespace, k.name);
    const copy = this.copies[k.kind].get(`${this.target.tenantNamespace}/${copyName}`);
    const informer = this.home.get(k.namespace)?.[k.kind];
    // Until the namespace's informer has synced, ask the API server: "not in the cache" must not
    // read as "deleted at home".
    const home = informer?.hasSynced()
      ? informer.get(`${k.namespace}/${k.name}`)
      : ((await this.ctx.client.getOrNull<Obj>(resourcePath(REFS[k.kind], { namespace: k.namespace, name: k.name }))) ?? undefined);
    const actions = planReflectedObject({ kind: k.kind, homeNamespace: k.namespace, ...(home ? { home: asReflectable(home) } : {}), ...(copy ? { copy: asReflectable(copy) } : {}) }, this.target.tenantNamespace, this.ctx.clusterID);
    for (const a of actions) {
      const path = resourcePath(REFS[k.kind], { namespace: this.target.tenantNamespace, name: a.type === 'deleteCopy' ? a.name : a.body.metadata.name });
      if (a.type === 'deleteCopy') {
        try {
          await this.target.client.delete(path);
        } catch (e) {
          if (!isNotFound(e)) throw e;
        }
        this.ctx.log.info({ object: `${k.kind}/${k.namespace}/${k.name}`, peer: this.target.providerID }, 'home object deleted: its copy on the peer removed');
      } else {
        await this.target.client.apply(path, a.body, 'kubepeer-offloading');
        this.ctx.log.info({ object: `${k.kind}/${k.namespace}/${k.name}`, peer: this.target.providerID }, 'home object changed: its copy on the peer updated');
      }
    }
    if (![...KINDS].some((kind) => this.copies[kind].list().some((c) => homeOfCopy(asReflectable(c))?.namespace === k.namespace))) this.unwatchHomeNamespace(k.namespace);
  }
}
