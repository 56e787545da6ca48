/**
 * What this cluster offers a peer (docs/design.md §5, step 6): the allocatable resources of its
 * own (non-virtual) nodes times `resourceSharingPercentage`, minus what its pods request, except
 * the pods it runs for that peer (its tenant namespace): the peer's own offloaded pods must not
 * shrink the offer (and the tenant's quota, which equals the offer) below what already runs.
 */
import { Labels } from '../../api/constants.js';
import { formatCPU, formatCount, formatMemory, parseQuantity } from '../../k8s/quantity.js';

interface NodeLike {
  metadata?: { name?: string; labels?: Record<string, string> };
  status?: Record<string, unknown>;
}
interface PodLike {
  metadata?: { namespace?: string };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

export interface Offer {
  cpu: string;
  memory: string;
  pods: string;
}

export function computeOffer(nodes: NodeLike[], pods: PodLike[], percentage: number, peerTenantNamespace?: string): Offer {
  const own = nodes.filter((n) => n.metadata?.labels?.[Labels.nodeType] !== 'virtual-node');
  const names = new Set(own.map((n) => n.metadata?.name));
  let cpu = 0;
  let mem = 0;
  let podSlots = 0;
  for (const n of own) {
    const a = (n.status?.allocatable ?? {}) as Record<string, string>;
    cpu += parseQuantity(a.cpu) || 0;
    mem += parseQuantity(a.memory) || 0;
    podSlots += parseQuantity(a.pods) || 0;
  }
  let usedCpu = 0;
  let usedMem = 0;
  let usedPods = 0;
  for (const p of pods) {
    const spec = p.spec as { nodeName?: string; containers?: Array<{ resources?: { requests?: Record<string, string> } }> } | undefined;
    const phase = (p.status as { phase?: string } | undefined)?.phase;
    if (!spec?.nodeName || !names.has(spec.nodeName) || phase === 'Succeeded' || phase === 'Failed') continue;
    if (peerTenantNamespace && p.metadata?.namespace === peerTenantNamespace) continue;
    usedPods++;
    for (const c of spec.containers ?? []) {
      usedCpu += parseQuantity(c.resources?.requests?.cpu) || 0;
      usedMem += parseQuantity(c.resources?.requests?.memory) || 0;
    }
  }
  const share = Math.min(100, Math.max(0, percentage)) / 100;
  return {
    cpu: formatCPU(cpu * share - usedCpu),
    memory: formatMemory(mem * share - usedMem),
    pods: formatCount(podSlots * share - usedPods),
  };
}
