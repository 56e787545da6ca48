/**
 * The virtual kubelet's decisions for one home pod bound to a virtual node (docs/design.md §8), as a
 * pure function of what it observes: the home pod (or its absence), the remote pod on the provider
 * (or its absence), and what a confirming read said. Exactly one remote pod per home pod, named
 * deterministically, so a restart at any step converges: a create that already happened meets
 * AlreadyExists, a delete that already happened meets NotFound.
 *
 * - Home pod deleted (deletionTimestamp): the remote pod is deleted with the home pod's grace
 *   period; when it is gone the home pod is finalized (deleted with grace 0), as a kubelet does. A
 *   pod that never started on the peer (Pending there, or refused) is deletable the same way.
 * - Home pod gone: a remote pod left behind (agent down meanwhile) is deleted.
 * - Remote pod of an earlier home pod of the same name (other UID): deleted, then recreated.
 * - Remote pod deleted on the provider by someone else: the home pod is failed with reason
 *   RemotePodDeleted, never silently recreated (a person on B decided; A's controllers replace it).
 * - Otherwise: create the remote pod when missing, mirror its status when it differs.
 */
import { OffloadingAnnotations } from '../names.js';
import { homeStatusFrom, homeStatusNotOffloaded, homeStatusRemoteGone, offloadedCondition, remotePodFor, statusShows, type Pod, type PodStatus } from './podMapping.js';

export interface PodObserved {
  consumerID: string;
  providerName: string;
  tenantNamespace: string;
  /** undefined: not in the cache and a read said it does not exist. */
  home?: Pod;
  remote?: Pod;
  /** A read of the remote pod by name (not the cache) found nothing. */
  remoteConfirmedAbsent?: boolean;
  now: string;
}

export type PodAction =
  | { type: 'createRemote'; pod: Pod; configMaps: string[]; secrets: string[] }
  | { type: 'deleteRemote'; name: string; uid?: string; gracePeriodSeconds?: number; why: string }
  | { type: 'writeHomeStatus'; status: PodStatus }
  | { type: 'finalizeHome' }
  | { type: 'confirmRemoteAbsent' }
  | { type: 'event'; eventType: 'Normal' | 'Warning'; reason: string; message: string };

const TERMINAL = new Set(['Succeeded', 'Failed']);

export function planPod(o: PodObserved): PodAction[] {
  const { home, remote } = o;
  if (!home) {
    return remote && !remote.metadata.deletionTimestamp ? [{ type: 'deleteRemote', name: remote.metadata.name, uid: remote.metadata.uid, why: 'its home pod is gone' }] : [];
  }
  if (remote && remote.metadata.annotations?.[OffloadingAnnotations.homeUID] !== home.metadata.uid) {
    return remote.metadata.deletionTimestamp ? [] : [{ type: 'deleteRemote', name: remote.metadata.name, uid: remote.metadata.uid, gracePeriodSeconds: 0, why: 'it belongs to an earlier pod of the same name' }];
  }
  if (home.metadata.deletionTimestamp) {
    if (!remote) return [{ type: 'finalizeHome' }];
    if (remote.metadata.deletionTimestamp) return [];
    return [{ type: 'deleteRemote', name: remote.metadata.name, uid: remote.metadata.uid, gracePeriodSeconds: home.metadata.deletionGracePeriodSeconds ?? undefined, why: 'its home pod is being deleted' }];
  }
  const info = { providerName: o.providerName, remoteNamespace: o.tenantNamespace };
  if (remote) {
    const status = homeStatusFrom(remote, home, info, o.now);
    return statusShows(home, status) ? [] : [{ type: 'writeHomeStatus', status }];
  }
  if (TERMINAL.has(home.status?.phase ?? '')) return [];
  if (offloadedCondition(home)?.status === 'True') {
    if (!o.remoteConfirmedAbsent) return [{ type: 'confirmRemoteAbsent' }];
    return [
      { type: 'writeHomeStatus', status: homeStatusRemoteGone(home, o.now) },
      { type: 'event', eventType: 'Warning', reason: 'RemotePodDeleted', message: `the pod running for ${home.metadata.namespace}/${home.metadata.name} on ${o.providerName} was deleted there; not recreating it` },
    ];
  }
  const mapped = remotePodFor(home, o.consumerID, o.tenantNamespace);
  if (!mapped.ok) {
    const status = homeStatusNotOffloaded(home, mapped.reason, mapped.message, o.now);
    return statusShows(home, status) ? [] : [{ type: 'writeHomeStatus', status }, { type: 'event', eventType: 'Warning', reason: mapped.reason, message: mapped.message }];
  }
  return [{ type: 'createRemote', pod: mapped.pod, configMaps: mapped.configMaps, secrets: mapped.secrets }];
}
