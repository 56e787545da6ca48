/**
 * Decoding of the AdmissionReview the API server posts to the webhook, and the answer to it. The
 * bytes come off a socket anyone on the network may reach, so the decoder checks every field it
 * uses, bounds the body, and returns an error instead of throwing.
 */
import { DISCOVERY_GROUP } from '../../api/constants.js';
import { firstLine, isObj, show } from '../untrustedInput.js';
import type { AdmissionDecision } from './admission.js';

/** Bodies larger than this are refused before parsing. */
export const MAX_ADMISSION_REVIEW_BYTES = 256 * 1024;

export type AdmissionOperation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
const OPERATIONS = new Set<string>(['CREATE', 'UPDATE', 'DELETE', 'CONNECT']);

export interface AdmissionRequest {
  uid: string;
  kind: { group: string; version: string; kind: string };
  resource: { group: string; version: string; resource: string };
  subResource?: string;
  name?: string;
  /** The object's namespace (namespaced resources). */
  namespace?: string;
  operation: AdmissionOperation;
  userInfo: { username?: string };
  object?: unknown;
  oldObject?: unknown;
  dryRun?: boolean;
}

export interface AdmissionReview {
  apiVersion: 'admission.k8s.io/v1';
  kind: 'AdmissionReview';
  request: AdmissionRequest;
}

export class AdmissionDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AdmissionDecodeError';
  }
}

const gvOk = (v: unknown, keys: string[]): v is Record<string, string> => isObj(v) && keys.every((k) => typeof v[k] === 'string' && (v[k] as string).length <= 253);

/** Checks the bytes the API server sent; returns the review, or an error saying what is wrong. */
export function decodeAdmissionReview(body: Buffer): AdmissionReview | AdmissionDecodeError {
  if (body.length === 0) return new AdmissionDecodeError('empty body: expected an AdmissionReview (admission.k8s.io/v1) as JSON');
  if (body.length > MAX_ADMISSION_REVIEW_BYTES) return new AdmissionDecodeError(`body of ${body.length} bytes exceeds the limit of ${MAX_ADMISSION_REVIEW_BYTES}`);
  let data: unknown;
  try {
    data = JSON.parse(body.toString('utf8'));
  } catch (e) {
    return new AdmissionDecodeError(`body is not JSON (${firstLine((e as Error)?.message ?? String(e))})`);
  }
  if (!isObj(data)) return new AdmissionDecodeError('body is not a JSON object');
  if (data.apiVersion !== 'admission.k8s.io/v1' || data.kind !== 'AdmissionReview') {
    return new AdmissionDecodeError(`expected apiVersion admission.k8s.io/v1 and kind AdmissionReview, got ${show(data.apiVersion)} ${show(data.kind)}`);
  }
  const r = data.request;
  if (!isObj(r)) return new AdmissionDecodeError('request is missing');
  if (typeof r.uid !== 'string' || r.uid === '' || r.uid.length > 128 || !/^[\x21-\x7e]+$/.test(r.uid)) return new AdmissionDecodeError('request.uid must be a non-empty printable string');
  if (typeof r.operation !== 'string' || !OPERATIONS.has(r.operation)) return new AdmissionDecodeError(`request.operation ${show(r.operation)} is not CREATE, UPDATE, DELETE or CONNECT`);
  if (!gvOk(r.kind, ['group', 'version', 'kind'])) return new AdmissionDecodeError('request.kind must have string group, version and kind');
  if (!gvOk(r.resource, ['group', 'version', 'resource'])) return new AdmissionDecodeError('request.resource must have string group, version and resource');
  if (r.subResource !== undefined && typeof r.subResource !== 'string') return new AdmissionDecodeError('request.subResource must be a string');
  if (r.name !== undefined && typeof r.name !== 'string') return new AdmissionDecodeError('request.name must be a string');
  if (r.dryRun !== undefined && typeof r.dryRun !== 'boolean') return new AdmissionDecodeError('request.dryRun must be a boolean');
  const userInfo = r.userInfo ?? {};
  if (!isObj(userInfo) || (userInfo.username !== undefined && typeof userInfo.username !== 'string')) return new AdmissionDecodeError('request.userInfo.username must be a string');
  if ((r.operation === 'CREATE' || r.operation === 'UPDATE') && !isObj(r.object)) return new AdmissionDecodeError(`request.object must be an object for ${r.operation}`);
  if (r.operation === 'UPDATE' && !isObj(r.oldObject)) return new AdmissionDecodeError('request.oldObject must be an object for UPDATE');
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: r.uid,
      kind: { group: r.kind.group!, version: r.kind.version!, kind: r.kind.kind! },
      resource: { group: r.resource.group!, version: r.resource.version!, resource: r.resource.resource! },
      subResource: r.subResource as string | undefined,
      name: r.name as string | undefined,
      namespace: typeof r.namespace === 'string' ? r.namespace : undefined,
      operation: r.operation as AdmissionOperation,
      userInfo: { username: userInfo.username as string | undefined },
      object: r.object,
      oldObject: r.oldObject === null ? undefined : r.oldObject,
      dryRun: r.dryRun as boolean | undefined,
    },
  };
}

/** True when the review is about the PeeringRequest resource itself (not a subresource, not another kind). */
export function isPeeringRequestReview(req: AdmissionRequest): boolean {
  return req.resource.group === DISCOVERY_GROUP && req.resource.resource === 'peeringrequests' && !req.subResource;
}

/** The AdmissionReview answer for a decision. */
export function admissionResponse(uid: string, decision: AdmissionDecision): Record<string, unknown> {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: decision.allowed
      ? { uid, allowed: true }
      : { uid, allowed: false, status: { status: 'Failure', code: decision.code, reason: decision.reason, message: decision.message } },
  };
}
