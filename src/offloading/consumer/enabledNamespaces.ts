/**
 * No pod stuck without a reason (Liqo #924). The webhook (podWebhook.ts) adds the virtual-node
 * toleration only to pods created while their namespace carries `liqo.io/enabled=true` and the
 * agent answered; a pod created before the label, or while the agent was down (failurePolicy
 * Ignore), has no toleration and can never go to a virtual node. This controller tells each such
 * pod's owner with an Event on the pod:
 *
 * - a pod that the scheduler cannot place (Pending, PodScheduled=False/Unschedulable) in an enabled
 *   namespace: Warning, whenever it is seen stuck;
 * - every other pod of a namespace at the moment it gains the label: Normal, once.
 *
 * Both say what to do: delete the pod, and its controller recreates it with the toleration. Only
 * when at least one virtual node exists (otherwise the toleration would not help either). The
 * decision (`offloadingNotice`) is pure; the controller gathers pods and namespaces from caches.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { Labels } from '../../api/constants.js';
import { Controller } from '../../k8s/controller.js';
import { Informer } from '../../k8s/informer.js';
import { Core } from '../../k8s/rest.js';
import type { AgentContext } from '../../agent/context.js';
import { VIRTUAL_NODE_TAINT, VIRTUAL_NODE_TYPE } from '../../virtualnode/virtualNode.js';
import { OFFLOADING_ENABLED_LABEL } from '../names.js';
import { hasVirtualNodeToleration } from './podWebhook.js';

export const NOTICE_REASON = 'NoVirtualNodeToleration';

export interface PodLike {
  metadata?: { name?: string; namespace?: string; uid?: string; deletionTimestamp?: string; ownerReferences?: Array<{ kind?: string; name?: string; controller?: boolean }> };
  spec?: { nodeName?: string; tolerations?: unknown };
  status?: { phase?: string; conditions?: Array<{ type?: string; status?: string; reason?: string }> };
}

export interface Notice {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export const isEnabledNamespace = (ns: KubernetesObject | undefined): boolean => ns?.metadata?.labels?.[OFFLOADING_ENABLED_LABEL] === 'true';

/** Pending and refused by the scheduler (what `kubectl describe` shows as FailedScheduling). */
export function isUnschedulable(pod: PodLike): boolean {
  if (pod.spec?.nodeName || (pod.status?.phase && pod.status.phase !== 'Pending')) return false;
  return (pod.status?.conditions ?? []).some((c) => c.type === 'PodScheduled' && c.status === 'False' && c.reason === 'Unschedulable');
}

/** What to tell the owner of `pod`, a pod of an enabled namespace; undefined: nothing to say. */
export function offloadingNotice(pod: PodLike, o: { namespace: string; namespaceJustEnabled: boolean; virtualNodes: string[] }): Notice | undefined {
  if (pod.metadata?.deletionTimestamp || hasVirtualNodeToleration(pod)) return undefined;
  if (o.virtualNodes.length === 0) return undefined;
  const phase = pod.status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') return undefined;
  if (pod.spec?.nodeName && o.virtualNodes.includes(pod.spec.nodeName)) return undefined;
  const owner = pod.metadata?.ownerReferences?.find((r) => r.controller);
  const todo = owner
    ? `delete the pod (kubectl delete pod -n ${o.namespace} ${pod.metadata?.name}): its ${owner.kind} ${owner.name} recreates it, and the new pod gets the toleration`
    : `create the pod again (it has no controller to recreate it); the new pod gets the toleration`;
  const why = `it has no toleration for the virtual-node taint ${VIRTUAL_NODE_TAINT.key}, because it was created before namespace ${o.namespace} was labelled ${OFFLOADING_ENABLED_LABEL}=true or while the kubepeer agent's webhook did not answer`;
  if (isUnschedulable(pod)) {
    return { type: 'Warning', reason: NOTICE_REASON, message: `this pod cannot be placed on a virtual node (${o.virtualNodes.join(', ')}): ${why}. To offload it, ${todo}.` };
  }
  if (o.namespaceJustEnabled) {
    return { type: 'Normal', reason: NOTICE_REASON, message: `namespace ${o.namespace} now offloads to virtual nodes, but this pod stays where it is: ${why}. To let it be offloaded, ${todo}.` };
  }
  return undefined;
}

const isVirtualNode = (n: KubernetesObject) => n.metadata?.labels?.[Labels.nodeType] === VIRTUAL_NODE_TYPE;

/**
 * The controller (leader only). Its key is a namespace; namespaces that just gained the label are
 * remembered until their reconcile; pods already told (by UID and notice type) are not told again
 * while this agent runs (a restart tells stuck pods once more, which is what a person would want).
 */
export class StuckPodReporter {
  private namespaces?: Informer;
  private readonly justEnabled = new Set<string>();
  private readonly told = new Map<string, string>();

  constructor(private readonly ctx: AgentContext) {}

  makeController(): Controller {
    this.namespaces?.stop();
    const namespaces = (this.namespaces = new Informer(this.ctx.client, Core.namespaces));
    const c = new Controller({ name: 'offloading-stuck-pods', reconcile: (key) => this.reconcile(key) });
    c.watch(namespaces, (ns, change) => {
      const name = ns.metadata?.name;
      if (!name) return null;
      if (change === 'delete' || !isEnabledNamespace(ns)) {
        this.justEnabled.delete(name);
        return null;
      }
      return name;
    });
    // Only label changes of a namespace matter (and adds, covered above).
    namespaces.on('update', (old, ns) => {
      if (!isEnabledNamespace(old) && isEnabledNamespace(ns) && ns.metadata?.name && namespaces.hasSynced()) this.justEnabled.add(ns.metadata.name);
    });
    c.watch(this.ctx.informers.pods, (pod, change) => {
      if (change === 'delete') {
        this.told.delete(pod.metadata?.uid ?? '');
        return null;
      }
      return isUnschedulable(pod as PodLike) && !hasVirtualNodeToleration(pod as PodLike) ? (pod.metadata?.namespace ?? null) : null;
    });
    return c;
  }

  start(): void {
    this.namespaces?.start();
  }

  stop(): void {
    this.namespaces?.stop();
    this.namespaces = undefined;
    this.justEnabled.clear();
  }

  async reconcile(namespace: string): Promise<void> {
    const ns = this.namespaces?.get(namespace);
    const justEnabled = this.justEnabled.delete(namespace);
    if (!isEnabledNamespace(ns)) return;
    const virtualNodes = this.ctx.informers.nodes.list().filter(isVirtualNode).map((n) => n.metadata!.name!).sort();
    for (const pod of this.ctx.informers.pods.list()) {
      if (pod.metadata?.namespace !== namespace) continue;
      const notice = offloadingNotice(pod as PodLike, { namespace, namespaceJustEnabled: justEnabled, virtualNodes });
      const uid = pod.metadata?.uid ?? '';
      if (!notice || this.told.get(uid) === notice.type) continue;
      this.told.set(uid, notice.type);
      this.ctx.log.info({ controller: 'offloading-stuck-pods', pod: `${namespace}/${pod.metadata?.name}`, type: notice.type }, notice.message);
      await this.ctx.events.record({ apiVersion: 'v1', kind: 'Pod', metadata: pod.metadata }, notice.type, notice.reason, notice.message);
    }
  }
}
