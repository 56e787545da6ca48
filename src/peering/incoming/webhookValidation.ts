/**
 * The admission decision for PeeringRequests (DESIGN.md section 5, step 4), as pure functions:
 * `decodeAdmissionReview` turns the bytes the API server sent into a checked AdmissionReview, and
 * `validatePeeringRequest` decides on one object given a snapshot of this cluster's state. Neither
 * touches the network, so both can be fuzzed; neither throws.
 *
 * A PeeringRequest is created by a stranger (the anonymous user), so everything in it is hostile
 * until proven otherwise. The kubeconfig is held to a narrow shape: one https cluster with an inline
 * CA, one user with only a bearer token, at most one context. Anything that would make this cluster
 * read a local file (certificate-authority, tokenFile), run a program (exec), talk through a proxy,
 * skip TLS verification or present a client certificate is refused here, before it is stored.
 */
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { parseDocument } from 'yaml';
import { API_URL_PATTERN, CLUSTER_ID_PATTERN, PeeringRequestLimits, type AcceptPolicy } from '../../api/crds.js';
import { DISCOVERY_GROUP } from '../../api/constants.js';

// ---------------------------------------------------------------- decisions

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
}

const ANONYMOUS = 'system:anonymous';

const deny = (code: 400 | 403 | 429 | 500, reason: DenyReason, message: string): AdmissionDecision => ({ allowed: false, code, reason, message });
const invalid = (reason: DenyReason, message: string) => deny(400, reason, message);

const clusterIDRe = new RegExp(CLUSTER_ID_PATTERN);
const apiUrlRe = new RegExp(API_URL_PATTERN);
const namespaceRe = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A value shown inside a message: quoted, printable, short. */
function show(v: unknown, max = 80): string {
  if (typeof v === 'object' && v !== null) return Array.isArray(v) ? '(a list)' : '(an object)';
  const s = String(v);
  const printable = s.replace(/[^\x20-\x7e]/g, '?');
  return JSON.stringify(printable.length > max ? `${printable.slice(0, max)}...` : printable);
}

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
    const problem = apiUrlProblem(apiUrl, 'spec.apiUrl', s.ownApiUrl);
    if (problem) return invalid(DenyReasons.invalidApiUrl, problem);
  }

  // The cap comes before the kubeconfig, the one costly check (a YAML parse): a flood of
  // well-formed requests beyond the cap is then refused for microseconds each.
  if (s.operation === 'CREATE' && s.pendingCount >= s.maxPendingRequests) {
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

// ---------------------------------------------------------------- URLs

/** Hosts that name something inside this cluster or its machine's cloud metadata, never a peer. */
/** Why a host (name or address) must never be called back, or undefined. Shared with the callback's resolved addresses. */
export function forbiddenHost(host: string): string | undefined {
  const h = host.toLowerCase().replace(/\.$/, '');
  if (h === 'kubernetes' || h.startsWith('kubernetes.default') || h.endsWith('.svc') || h.endsWith('.svc.cluster.local') || h.endsWith('.cluster.local')) {
    return 'a Service name inside this cluster';
  }
  let ip = h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
  // An IPv4-mapped IPv6 address reaches the IPv4 one (the URL parser writes it as ::ffff:a9fe:a9fe).
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(ip);
  if (mapped) {
    const [hi, lo] = [parseInt(mapped[1]!, 16), parseInt(mapped[2]!, 16)];
    ip = `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  } else if (/^::ffff:\d+\.\d+\.\d+\.\d+$/.test(ip)) {
    ip = ip.slice(7);
  }
  const v = isIP(ip);
  if (v === 4) {
    const [a, b] = ip.split('.').map(Number) as [number, number];
    if (a === 0) return 'an unspecified address';
    if (a === 169 && b === 254) return 'a link-local address (where cloud metadata services live)';
    if (a >= 224) return 'a multicast or reserved address';
  } else if (v === 6) {
    if (ip === '::') return 'an unspecified address';
    if (/^fe[89ab]/.test(ip)) return 'a link-local address';
    if (/^ff/.test(ip)) return 'a multicast address';
  }
  return undefined;
}

function apiUrlProblem(value: unknown, field: string, ownApiUrl?: string): string | undefined {
  const example = 'e.g. https://203.0.113.10:6443 (plain http is not allowed)';
  if (typeof value !== 'string' || value === '') return `${field} is required: the https URL of the requester's API server, ${example}`;
  if (value.length > 2048 || !apiUrlRe.test(value)) return `${field} ${show(value)} must be an https:// URL with a host and an optional port, ${example}`;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `${field} ${show(value)} is not a valid URL, ${example}`;
  }
  if (url.protocol !== 'https:') return `${field} ${show(value)} must use https, ${example}`;
  if (url.port && Number(url.port) > 65535) return `${field} ${show(value)} has an invalid port`;
  if (url.username || url.password) return `${field} ${show(value)} must not carry a user name or password`;
  const bad = forbiddenHost(url.hostname);
  if (bad) return `${field} ${show(value)} points at ${bad}; it must be the requester's API server as this cluster can reach it`;
  if (ownApiUrl && sameUrl(value, ownApiUrl)) return `${field} ${show(value)} is this cluster's own API server; it must be the requester's`;
  return undefined;
}

/** The same https origin and path, ignoring case of the host, a default port and a trailing slash. */
export function sameUrl(a: string, b: string): boolean {
  try {
    const ua = new URL(a);
    const ub = new URL(b);
    return ua.origin === ub.origin && ua.pathname.replace(/\/+$/, '') === ub.pathname.replace(/\/+$/, '');
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------- kubeconfig

export interface PeerKubeconfig {
  clusterName: string;
  server: string;
  /** PEM of the requester's API server CA (from certificate-authority-data). */
  caPem: string;
  tlsServerName?: string;
  userName: string;
  token: string;
  contextName?: string;
  contextNamespace?: string;
}

export type PeerKubeconfigResult = { ok: true; value: PeerKubeconfig } | { ok: false; message: string; tooLarge?: boolean };

const TOP_LEVEL_KEYS = new Set(['apiVersion', 'kind', 'clusters', 'users', 'contexts', 'current-context', 'preferences', 'extensions']);
const CLUSTER_KEYS = new Set(['server', 'certificate-authority-data', 'tls-server-name']);
const USER_KEYS = new Set(['token']);
const CONTEXT_KEYS = new Set(['cluster', 'user', 'namespace']);
const TOKEN_RE = /^[\x21-\x7e]+$/;

/**
 * Parses and checks the kubeconfig of a PeeringRequest: exactly one https cluster with an inline
 * CA, exactly one user with only a token, at most one context referencing them. The handshake
 * controller can use the result as is (no second parser, so no parser differential).
 */
export function parsePeerKubeconfig(text: string): PeerKubeconfigResult {
  const fail = (message: string): PeerKubeconfigResult => ({ ok: false, message: `spec.kubeconfig: ${message}` });
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > PeeringRequestLimits.kubeconfigBytes) {
    return { ok: false, tooLarge: true, message: `spec.kubeconfig is ${bytes} bytes; at most ${PeeringRequestLimits.kubeconfigBytes} are accepted (a kubeconfig with one cluster, one token user and one context is a few kilobytes)` };
  }
  const shape = shapeProblem(text);
  if (shape) return fail(shape);
  let data: unknown;
  try {
    const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true, version: '1.2', strict: true, stringKeys: true });
    if (doc.errors.length) return fail(`not valid YAML or JSON (${firstLine(doc.errors[0]!.message)})`);
    data = doc.toJS({ maxAliasCount: 0 });
  } catch (e) {
    const message = (e as Error)?.message ?? String(e);
    if (/alias/i.test(message)) return fail('YAML anchors and aliases are not accepted; write the kubeconfig out in full');
    return fail(`not valid YAML or JSON (${firstLine(message)})`);
  }
  if (!isObj(data)) return fail('must be a kubeconfig: a mapping with clusters, users and contexts');
  for (const k of Object.keys(data)) if (!TOP_LEVEL_KEYS.has(k)) return fail(`the top-level field ${show(k)} is not accepted`);
  if (data.apiVersion !== undefined && data.apiVersion !== 'v1') return fail(`apiVersion must be v1, not ${show(data.apiVersion)}`);
  if (data.kind !== undefined && data.kind !== 'Config') return fail(`kind must be Config, not ${show(data.kind)}`);

  // --- the cluster
  const clusters = data.clusters;
  if (!Array.isArray(clusters) || clusters.length !== 1) {
    return fail(`must contain exactly one cluster (the requester's API server); found ${Array.isArray(clusters) ? clusters.length : 'none'}`);
  }
  const c = clusters[0];
  if (!isObj(c) || typeof c.name !== 'string' || c.name === '' || !isObj(c.cluster)) return fail('clusters[0] must have a name and a cluster with server and certificate-authority-data');
  for (const k of Object.keys(c)) if (k !== 'name' && k !== 'cluster') return fail(`clusters[0].${k} is not accepted`);
  const cluster = c.cluster;
  for (const k of Object.keys(cluster)) {
    if (!CLUSTER_KEYS.has(k)) {
      return fail(`clusters[0].cluster.${k} is not accepted; only server, certificate-authority-data and tls-server-name are (file paths, proxies and insecure-skip-tls-verify are refused)`);
    }
  }
  const server = cluster.server;
  const serverProblem = apiUrlProblem(server, 'the cluster server');
  if (serverProblem) return fail(serverProblem);
  const caData = cluster['certificate-authority-data'];
  if (typeof caData !== 'string' || caData === '') {
    return fail('the cluster must carry certificate-authority-data (the base64 PEM of the CA of the requester\'s API server) so that this cluster can verify it');
  }
  const caPem = decodeCA(caData);
  if (!caPem) return fail('certificate-authority-data is not a base64-encoded PEM certificate');
  const tlsServerName = cluster['tls-server-name'];
  if (tlsServerName !== undefined && (typeof tlsServerName !== 'string' || tlsServerName.length > 253 || !/^[A-Za-z0-9.-]+$/.test(tlsServerName))) {
    return fail('tls-server-name must be a DNS name');
  }

  // --- the user
  const users = data.users;
  if (!Array.isArray(users) || users.length !== 1) return fail(`must contain exactly one user (a bearer token); found ${Array.isArray(users) ? users.length : 'none'}`);
  const u = users[0];
  if (!isObj(u) || typeof u.name !== 'string' || u.name === '' || !isObj(u.user)) return fail('users[0] must have a name and a user with a token');
  for (const k of Object.keys(u)) if (k !== 'name' && k !== 'user') return fail(`users[0].${k} is not accepted`);
  for (const k of Object.keys(u.user)) {
    if (!USER_KEYS.has(k)) {
      return fail(
        `user ${show(u.name)} must carry only a bearer token; ${show(k)} is not accepted (client certificates, exec and auth-provider plugins, token files, username/password and impersonation are refused)`,
      );
    }
  }
  const token = u.user.token;
  if (typeof token !== 'string' || token === '') return fail(`user ${show(u.name)} must have a non-empty token`);
  if (!TOKEN_RE.test(token)) return fail(`the token of user ${show(u.name)} must be printable ASCII without spaces or line breaks`);

  // --- the context (optional)
  const contexts = data.contexts ?? [];
  if (!Array.isArray(contexts) || contexts.length > 1) return fail(`must contain at most one context; found ${Array.isArray(contexts) ? contexts.length : show(contexts)}`);
  let contextName: string | undefined;
  let contextNamespace: string | undefined;
  if (contexts.length === 1) {
    const x = contexts[0];
    if (!isObj(x) || typeof x.name !== 'string' || x.name === '' || !isObj(x.context)) return fail('contexts[0] must have a name and a context');
    for (const k of Object.keys(x)) if (k !== 'name' && k !== 'context') return fail(`contexts[0].${k} is not accepted`);
    for (const k of Object.keys(x.context)) if (!CONTEXT_KEYS.has(k)) return fail(`contexts[0].context.${k} is not accepted; only cluster, user and namespace are`);
    if (x.context.cluster !== c.name || x.context.user !== u.name) {
      return fail(`context ${show(x.name)} must reference cluster ${show(c.name)} and user ${show(u.name)}`);
    }
    if (x.context.namespace !== undefined && (typeof x.context.namespace !== 'string' || !namespaceRe.test(x.context.namespace) || x.context.namespace.length > 63)) {
      return fail(`context ${show(x.name)} has an invalid namespace`);
    }
    contextName = x.name;
    contextNamespace = x.context.namespace as string | undefined;
  }
  const current = data['current-context'];
  if (current !== undefined && current !== '' && current !== contextName) return fail(`current-context ${show(current)} names no context of the kubeconfig`);

  return {
    ok: true,
    value: { clusterName: c.name, server: server as string, caPem, tlsServerName: tlsServerName as string | undefined, userName: u.name, token, contextName, contextNamespace },
  };
}

/** Limits on a kubeconfig's text; a real one (about 20 lines) stays far below them. */
export const KubeconfigShape = { lines: 128, bracketDepth: 16, brackets: 64, indent: 64, indicatorsPerLine: 8, indicators: 256, tags: 16 } as const;

/**
 * A cheap scan that bounds the YAML parser's work before it runs. Deeply nested input (thousands
 * of "[" or "- - - ...") makes the parser recurse for hundreds of milliseconds, and, repeated a few
 * times, crashes the whole process: V8 aborts with "RegExpCompiler Allocation failed" when a
 * regular expression is compiled near the stack limit. Thousands of tiny nodes cost the parser
 * more than a hundred milliseconds each time. Brackets are counted everywhere, quoted or not: no
 * kubeconfig field (names, URLs, base64, tokens) legitimately contains more than a pair.
 */
export function shapeProblem(text: string): string | undefined {
  const L = KubeconfigShape;
  const deep = 'a kubeconfig with one cluster, one user and one context is never shaped like that';
  let lines = 1;
  let depth = 0;
  let brackets = 0;
  let indent = 0;
  let lineIndicators = 0;
  let indicators = 0;
  let tags = 0;
  let atLineStart = true;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 /* \n */) {
      if (++lines > L.lines) return `more than ${L.lines} lines; ${deep}`;
      atLineStart = true;
      indent = 0;
      lineIndicators = 0;
      continue;
    }
    if (atLineStart) {
      if (c === 32 || c === 9) {
        if (++indent > L.indent) return `lines indented more than ${L.indent} columns; ${deep}`;
        continue;
      }
      atLineStart = false;
    }
    if (c === 91 /* [ */ || c === 123 /* { */) {
      if (++depth > L.bracketDepth) return `brackets nested more than ${L.bracketDepth} deep; ${deep}`;
      if (++brackets > L.brackets) return `more than ${L.brackets} brackets; ${deep}`;
    } else if (c === 93 /* ] */ || c === 125 /* } */) {
      if (depth > 0) depth--;
    } else if (c === 45 /* - */ || c === 63 /* ? */ || c === 58 /* : */) {
      const next = i + 1 < text.length ? text.charCodeAt(i + 1) : 32;
      if (next === 32 || next === 9 || next === 10 || next === 13) {
        if (++lineIndicators > L.indicatorsPerLine) return `a line with more than ${L.indicatorsPerLine} YAML indicators ("- ", "? ", ": "); ${deep}`;
        if (++indicators > L.indicators) return `more than ${L.indicators} YAML indicators ("- ", "? ", ": "); ${deep}`;
      }
    } else if (c === 33 /* ! */ && (i === 0 || /[\s[{,]/.test(text[i - 1]!))) {
      if (++tags > L.tags) return `more than ${L.tags} YAML tags; ${deep}`;
    }
  }
  return undefined;
}

/** Recently seen CA data (a burst of requests from one requester repeats it): base64 -> PEM or null. */
const recentCAs = new Map<string, string | null>();

function decodeCA(b64: string): string | undefined {
  const seen = recentCAs.get(b64);
  if (seen !== undefined) return seen ?? undefined;
  const pem = parseCA(b64);
  if (recentCAs.size >= 64) recentCAs.delete(recentCAs.keys().next().value!);
  recentCAs.set(b64, pem ?? null);
  return pem;
}

function parseCA(b64: string): string | undefined {
  if (!/^[A-Za-z0-9+/=\s]+$/.test(b64)) return undefined;
  const pem = Buffer.from(b64, 'base64').toString('utf8');
  const first = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem)?.[0];
  if (!first) return undefined;
  try {
    new X509Certificate(first);
    return pem;
  } catch {
    return undefined;
  }
}

function firstLine(s: string): string {
  const line = s.split('\n', 1)[0] ?? '';
  return line.length > 160 ? `${line.slice(0, 160)}...` : line;
}

// ---------------------------------------------------------------- AdmissionReview

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
