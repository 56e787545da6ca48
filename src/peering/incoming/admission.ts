/**
 * The admission decision for PeeringRequests (docs/design.md §5, step 4), as a pure function:
 * `validatePeeringRequest` decides on one object given a snapshot of this cluster's state. It
 * touches no network, so it can be fuzzed, and it never throws.
 *
 * A PeeringRequest is created by a stranger (the anonymous user), so everything in it is hostile
 * until proven otherwise; its kubeconfig is held to a narrow shape by parsePeerKubeconfig.
 */
import { CLUSTER_ID_PATTERN, PeeringRequestLimits, type AcceptPolicy } from '../../api/crds.js';
import { apiUrlProblem, sameUrl } from '../apiUrl.js';
import { parsePeerKubeconfig } from '../kubeconfig.js';
import { isObj, namespaceRe, show } from '../untrustedInput.js';

/** Why a request was refused: a CamelCase word a person can search for (also the Status reason). */
export const DenyReasons = {
  invalidObject: 'InvalidPeeringRequest',
  nameMismatch: 'NameMismatch',
  invalidClusterID: 'InvalidClusterID',
  ownClusterID: 'OwnClusterID',
  clusterIDImmutable: 'ClusterIDImmutable',
  invalidApiUrl: 'InvalidApiUrl',
  invalidNamespace: 'InvalidNamespace',
  clusterNameTooLong: 'ClusterNameTooLong',
  missingKubeconfig: 'MissingKubeconfig',
  kubeconfigTooLarge: 'KubeconfigTooLarge',
  invalidKubeconfig: 'InvalidKubeconfig',
  kubeconfigServerMismatch: 'KubeconfigServerMismatch',
  anonymousUpdate: 'AnonymousUpdate',
  rejectAll: 'PeeringRequestsRejected',
  tooManyPending: 'TooManyPendingRequests',
  internal: 'InternalError',
} as const;
export type DenyReason = (typeof DenyReasons)[keyof typeof DenyReasons];

export type AdmissionDecision =
  | { allowed: true }
  | {
      allowed: false;
      /** HTTP status carried back to the client: 400 malformed, 403 refused by policy, 429 too many pending. */
      code: 400 | 403 | 429 | 500;
      reason: DenyReason;
      message: string;
    };

export interface AdmissionSnapshot {
  ownClusterID: string;
  acceptPolicy: AcceptPolicy;
  maxPendingRequests: number;
  /** PeeringRequests whose status.phase is Pending or absent, not counting the one being decided. */
  pendingCount: number;
  operation: 'CREATE' | 'UPDATE';
  oldObject?: unknown;
  requesterUsername?: string;
  /** This cluster's own API server URL: a kubeconfig pointing there is refused. */
  ownApiUrl?: string;
  /**
   * ClusterConfig `peeringConfig.allowedPeerCIDRs`: an apiUrl whose address is outside is refused
   * here, as the identity callback would refuse to call it (src/net/addressPolicy.ts).
   */
  allowedPeerCIDRs?: readonly string[];
  /**
   * Whether a cluster ID is a peer we already know at an address of our own (a ForeignCluster not
   * made from a request): its request passes the pending cap, because the identity callback goes
   * to the address we know, so a request that squats the name gains nothing, and unverified
   * strangers filling the cap cannot keep a known peer out.
   */
  isKnownPeer?(clusterID: string): boolean;
}

const ANONYMOUS = 'system:anonymous';

const deny = (code: 400 | 403 | 429 | 500, reason: DenyReason, message: string): AdmissionDecision => ({ allowed: false, code, reason, message });
const invalid = (reason: DenyReason, message: string) => deny(400, reason, message);

const clusterIDRe = new RegExp(CLUSTER_ID_PATTERN);

/**
 * Decides on one PeeringRequest. Never throws: an unexpected failure is a refusal (500) whose
 * message says so, which is what failurePolicy Fail would do anyway.
 */
export function validatePeeringRequest(obj: unknown, snapshot: AdmissionSnapshot): AdmissionDecision {
  try {
    return decide(obj, snapshot);
  } catch (e) {
    return deny(500, DenyReasons.internal, `the PeeringRequest could not be checked (${(e as Error)?.message ?? String(e)}); this is a bug in kubepeer, please report it`);
  }
}

function decide(obj: unknown, s: AdmissionSnapshot): AdmissionDecision {
  if (s.operation === 'CREATE' && s.acceptPolicy === 'RejectAll') {
    return deny(403, DenyReasons.rejectAll, 'this cluster does not accept peering requests (acceptPolicy: RejectAll)');
  }
  if (s.operation === 'UPDATE' && s.requesterUsername === ANONYMOUS) {
    return deny(403, DenyReasons.anonymousUpdate, 'anonymous users may only create PeeringRequests, not change them');
  }
  if (!isObj(obj)) return invalid(DenyReasons.invalidObject, 'the PeeringRequest is not a JSON object');
  const meta = obj.metadata;
  const spec = obj.spec;
  if (!isObj(meta) || !isObj(spec)) return invalid(DenyReasons.invalidObject, 'the PeeringRequest must have metadata and spec');

  const old = s.operation === 'UPDATE' && isObj(s.oldObject) && isObj(s.oldObject.spec) ? s.oldObject.spec : undefined;
  // On UPDATE only what changed is checked: the agent clears spec.kubeconfig after acceptance and
  // removes finalizers of requests admitted long ago; neither may be blocked. Every checked field
  // is a string, so anything that is not the same string counts as changed (and is then refused).
  const changed = (field: string) => !old || old[field] !== spec[field] || (typeof spec[field] === 'object' && spec[field] !== null);

  const clusterID = spec.clusterID;
  if (old && changed('clusterID')) {
    return invalid(DenyReasons.clusterIDImmutable, `spec.clusterID is immutable (was ${show(old.clusterID)}, now ${show(clusterID)}): delete the PeeringRequest and create a new one`);
  }
  if (changed('clusterID')) {
    if (typeof clusterID !== 'string' || clusterID === '') {
      return invalid(DenyReasons.invalidClusterID, 'spec.clusterID is required: the requester\'s cluster ID (kubectl get configmap -n liqo cluster-id on the requester)');
    }
    if (clusterID.length > 63 || !clusterIDRe.test(clusterID)) {
      return invalid(DenyReasons.invalidClusterID, `spec.clusterID ${show(clusterID)} must be a UUID (e.g. ff5aa14a-dd6e-4fd2-80fe-eaecb827cf55) or a DNS label (lowercase letters, digits and "-", at most 63 characters)`);
    }
    if (clusterID.toLowerCase() === s.ownClusterID.toLowerCase()) {
      return invalid(DenyReasons.ownClusterID, `spec.clusterID ${show(clusterID)} is this cluster's own ID: a cluster cannot peer with itself`);
    }
  }
  if (s.operation === 'CREATE' && meta.name !== clusterID) {
    return invalid(DenyReasons.nameMismatch, `metadata.name ${show(meta.name)} must equal spec.clusterID ${show(clusterID)}: a PeeringRequest is named after the requester's cluster ID`);
  }

  if (changed('clusterName') && spec.clusterName !== undefined) {
    if (typeof spec.clusterName !== 'string') return invalid(DenyReasons.invalidObject, 'spec.clusterName must be a string');
    if (spec.clusterName.length > PeeringRequestLimits.clusterNameLength) {
      return invalid(DenyReasons.clusterNameTooLong, `spec.clusterName is ${spec.clusterName.length} characters long; at most ${PeeringRequestLimits.clusterNameLength} are allowed`);
    }
  }
  if (changed('namespace') && spec.namespace !== undefined) {
    if (typeof spec.namespace !== 'string' || spec.namespace.length > 63 || !namespaceRe.test(spec.namespace)) {
      return invalid(DenyReasons.invalidNamespace, `spec.namespace ${show(spec.namespace)} must be a DNS label such as liqo`);
    }
  }

  const apiUrl = spec.apiUrl;
  if (changed('apiUrl')) {
    const problem = apiUrlProblem(apiUrl, 'spec.apiUrl', s.ownApiUrl, s.allowedPeerCIDRs);
    if (problem) return invalid(DenyReasons.invalidApiUrl, problem);
  }

  // The cap comes before the kubeconfig, the one costly check (a YAML parse): a flood of
  // well-formed requests beyond the cap is then refused for microseconds each.
  if (s.operation === 'CREATE' && s.pendingCount >= s.maxPendingRequests && !s.isKnownPeer?.(String(clusterID))) {
    return deny(
      429,
      DenyReasons.tooManyPending,
      `too many pending peering requests (${s.pendingCount}); try again later (this cluster's administrator can accept or reject pending requests, or raise peeringConfig.maxPendingRequests)`,
    );
  }

  const kubeconfig = spec.kubeconfig;
  if (kubeconfig === undefined || kubeconfig === null || kubeconfig === '') {
    if (s.operation === 'CREATE') {
      return invalid(DenyReasons.missingKubeconfig, 'spec.kubeconfig is required: a kubeconfig with the requester\'s API server and a token this cluster uses to write its Advertisement there');
    }
  } else if (changed('kubeconfig') || changed('apiUrl')) {
    if (typeof kubeconfig !== 'string') return invalid(DenyReasons.invalidKubeconfig, 'spec.kubeconfig must be a string (a kubeconfig in YAML or JSON)');
    const parsed = parsePeerKubeconfig(kubeconfig);
    if (!parsed.ok) return invalid(parsed.tooLarge ? DenyReasons.kubeconfigTooLarge : DenyReasons.invalidKubeconfig, parsed.message);
    if (typeof apiUrl === 'string' && !sameUrl(parsed.value.server, apiUrl)) {
      return invalid(
        DenyReasons.kubeconfigServerMismatch,
        `the kubeconfig's server ${show(parsed.value.server)} must equal spec.apiUrl ${show(apiUrl)}: a peering request names one API server, the requester's`,
      );
    }
  }

  return { allowed: true };
}
