/**
 * 100,000 mutated and random AdmissionReview bodies through the webhook's decoder and decision
 * (bit flips, truncation, wrong types, huge strings, deep nesting, mangled kubeconfigs): nothing
 * may throw, no decision may come from the internal-error safety net, whatever is admitted must
 * really be well-formed, and memory must stay bounded.
 */
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { createCA } from '../../../src/trust/pki.js';
import { CLUSTER_ID_PATTERN } from '../../../src/api/crds.js';
import { validatePeeringRequest, type AdmissionSnapshot } from '../../../src/peering/incoming/admission.js';
import { AdmissionDecodeError, admissionResponse, decodeAdmissionReview } from '../../../src/peering/incoming/admissionReview.js';
import { parsePeerKubeconfig } from '../../../src/peering/kubeconfig.js';
import { rng, type Rng } from '../../support/rng.js';

const ITERATIONS = 100_000;
const OWN_ID = '11111111-2222-4333-8444-555555555555';
const PEER_ID = 'ff5aa14a-dd6e-4fd2-80fe-eaecb827cf55';
const API_URL = 'https://198.18.0.10:6443';


function gc(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

let seeds: Array<{ review: Record<string, unknown>; kubeconfig: string }> = [];

beforeAll(async () => {
  const caData = Buffer.from((await createCA('requester-ca')).certPem).toString('base64');
  const kc = (server = API_URL) =>
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'a', cluster: { server, 'certificate-authority-data': caData } }],
      users: [{ name: 'a', user: { token: 'eyJhbGciOiJFUzI1NiJ9.payload.signature' } }],
      contexts: [{ name: 'a', context: { cluster: 'a', user: 'a' } }],
      'current-context': 'a',
    });
  const obj = (id: string, kubeconfig: string | undefined) => ({
    apiVersion: 'discovery.liqo.io/v1alpha1',
    kind: 'PeeringRequest',
    metadata: { name: id, uid: '0d6e3a1c-0000-4000-8000-000000000001', creationTimestamp: null },
    spec: { clusterID: id, clusterName: 'cluster-a', namespace: 'liqo', apiUrl: API_URL, ...(kubeconfig === undefined ? {} : { kubeconfig }) },
  });
  const review = (operation: string, object: unknown, oldObject: unknown, username = 'system:anonymous') => ({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
      kind: { group: 'discovery.liqo.io', version: 'v1alpha1', kind: 'PeeringRequest' },
      resource: { group: 'discovery.liqo.io', version: 'v1alpha1', resource: 'peeringrequests' },
      requestKind: { group: 'discovery.liqo.io', version: 'v1alpha1', kind: 'PeeringRequest' },
      name: PEER_ID,
      operation,
      userInfo: { username, uid: '', groups: ['system:unauthenticated'] },
      object,
      oldObject,
      dryRun: false,
      options: { kind: 'CreateOptions', apiVersion: 'meta.k8s.io/v1' },
    },
  });
  const good = kc();
  const json = JSON.stringify({ clusters: [{ name: 'c', cluster: { server: API_URL, 'certificate-authority-data': caData } }], users: [{ name: 'u', user: { token: 'abc' } }] });
  seeds = [
    { review: review('CREATE', obj(PEER_ID, good), null), kubeconfig: good },
    { review: review('CREATE', obj('cluster-a', json), null), kubeconfig: json },
    { review: review('UPDATE', obj(PEER_ID, undefined), obj(PEER_ID, good), 'system:serviceaccount:liqo:kubepeer-agent'), kubeconfig: good },
    { review: review('CREATE', obj(PEER_ID, kc('https://10.1.2.3:6443')), null), kubeconfig: kc('https://10.1.2.3:6443') },
  ];
});

/** A value of a wrong type, a huge string or a deep structure (built only when picked). */
const WEIRD_VALUES: Array<(r: Rng) => unknown> = [
  () => null,
  () => true,
  () => 0,
  () => -1,
  () => 1e308,
  () => '',
  () => [],
  () => ({}),
  (r) => 'x'.repeat(r.int(300_000)),
  () => '\u0000\uffff\ud800',
  (r) => nested(r.int(1000), r.next() < 0.5),
  () => JSON.parse('{"__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}}}'),
  () => [PEER_ID, PEER_ID],
  () => OWN_ID,
  () => 'http://198.18.0.10:6443',
  () => 'https://169.254.169.254',
];
const weird = (r: Rng) => r.pick(WEIRD_VALUES)(r);

function nested(depth: number, arrays: boolean): unknown {
  let v: unknown = 'bottom';
  for (let i = 0; i < depth; i++) v = arrays ? [v] : { a: v };
  return v;
}

/** Every path to a value in a JSON tree (bounded). */
function paths(v: unknown, prefix: Array<string | number> = [], out: Array<Array<string | number>> = []): Array<Array<string | number>> {
  if (out.length > 500) return out;
  out.push(prefix);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...prefix, i], out));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) paths(x, [...prefix, k], out);
  return out;
}

/** Replaces the value at `path` (the paths were listed before earlier replacements: skip stale ones). */
function setAt(root: unknown, path: Array<string | number>, value: unknown): unknown {
  if (path.length === 0) return value;
  if (typeof root !== 'object' || root === null) return root;
  let cur = root as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) {
    const next = cur[k];
    if (typeof next !== 'object' || next === null) return root;
    cur = next as Record<string | number, unknown>;
  }
  cur[path[path.length - 1]!] = value;
  return root;
}

function flipBits(r: Rng, buf: Buffer, n: number): Buffer {
  for (let i = 0; i < n; i++) {
    const at = r.int(buf.length);
    buf[at] = buf[at]! ^ (1 << r.int(8));
  }
  return buf;
}

function mangle(r: Rng, s: string): string {
  switch (r.int(6)) {
    case 0:
      return flipBits(r, Buffer.from(s), 1 + r.int(6)).toString('utf8');
    case 1:
      return s.slice(0, r.int(s.length));
    case 2: {
      const at = r.int(s.length);
      return s.slice(0, at) + r.pick(['[', '{', '&a ', '*a', '!!binary ', '<<: ', '\t', '\n- ', ': ', '%YAML 1.1\n---\n', '"', '\u0000']) + s.slice(at);
    }
    case 3:
      return '['.repeat(r.int(40_000)) + s;
    case 4:
      return s.replace(/token: .*/, r.pick(['exec: {command: sh}', 'tokenFile: /etc/shadow', 'token: ""', 'username: a', `token: ${'t'.repeat(40_000)}`]));
    default:
      return s + s;
  }
}

function mutate(r: Rng, i: number): Buffer {
  const seed = r.pick(seeds);
  const mode = i % 9;
  if (mode === 0) return flipBits(r, Buffer.from(JSON.stringify(seed.review)), 1 + r.int(8));
  if (mode === 1) {
    const b = Buffer.from(JSON.stringify(seed.review));
    return b.subarray(0, r.int(b.length));
  }
  if (mode === 2) {
    const buf = Buffer.alloc(r.int(2048));
    for (let j = 0; j < buf.length; j++) buf[j] = r.int(256);
    return buf;
  }
  const review = structuredClone(seed.review);
  if (mode === 3 || mode === 4) {
    // wrong types and huge strings at a random place of the tree
    const all = paths(review);
    let tree: unknown = review;
    for (let k = 0; k < 1 + r.int(3); k++) tree = setAt(tree, r.pick(all), weird(r));
    return Buffer.from(JSON.stringify(tree) ?? 'null');
  }
  if (mode === 5 || mode === 6) {
    // the kubeconfig, mangled: exercises the YAML parser and the shape checks
    const req = review.request as { object: { spec: Record<string, unknown> } };
    if (req.object?.spec) req.object.spec.kubeconfig = mangle(r, seed.kubeconfig);
    return Buffer.from(JSON.stringify(review));
  }
  if (mode === 7) {
    // deep nesting around the review, or in place of any of its values (built as text: too deep
    // for JSON.stringify, not for JSON.parse)
    const depth = r.int(20_000);
    if (r.next() < 0.3) return Buffer.from('['.repeat(depth) + JSON.stringify(review) + ']'.repeat(depth));
    const tree = setAt(review, r.pick(paths(review)), '__DEEP__');
    const deep = r.next() < 0.5 ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth >> 2) + '1' + '}'.repeat(depth >> 2);
    return Buffer.from((JSON.stringify(tree) ?? 'null').replace('"__DEEP__"', deep));
  }
  // a valid-looking review with random identity fields
  const req = review.request as { object: { metadata: Record<string, unknown>; spec: Record<string, unknown> }; operation: string };
  const id = r.pick([PEER_ID, OWN_ID, 'Cluster_A', 'a'.repeat(64), '', 'cluster-b', PEER_ID.toUpperCase()]);
  if (req.object?.metadata) req.object.metadata.name = r.next() < 0.7 ? id : 'someone-else';
  if (req.object?.spec) req.object.spec.clusterID = id;
  req.operation = r.pick(['CREATE', 'UPDATE', 'DELETE', 'CONNECT', 'create']);
  return Buffer.from(JSON.stringify(review));
}

describe('webhook request decoding under fuzzing', () => {
  it(`survives ${ITERATIONS.toLocaleString('en')} mutated and random AdmissionReviews`, () => {
    const collect = gc();
    const r = rng(0xc0ffee);
    const clusterIDRe = new RegExp(CLUSTER_ID_PATTERN);
    const stats = { decoded: 0, undecodable: 0, allowed: 0, denied: 0 };
    const reasons = new Map<string, number>();
    collect();
    const heapBefore = process.memoryUsage().heapUsed;
    let heapPeak = heapBefore;
    for (let i = 0; i < ITERATIONS; i++) {
      const body = mutate(r, i);
      let review: ReturnType<typeof decodeAdmissionReview>;
      try {
        review = decodeAdmissionReview(body);
      } catch (e) {
        throw new Error(`iteration ${i}: decodeAdmissionReview threw ${(e as Error).message}`);
      }
      if (review instanceof AdmissionDecodeError) {
        stats.undecodable++;
        continue;
      }
      stats.decoded++;
      const op = review.request.operation;
      if (op !== 'CREATE' && op !== 'UPDATE') continue;
      const snapshot: AdmissionSnapshot = {
        ownClusterID: OWN_ID,
        ownApiUrl: 'https://127.0.0.1:6443',
        acceptPolicy: i % 50 === 0 ? 'RejectAll' : 'AutoAcceptKnown',
        maxPendingRequests: 50,
        pendingCount: i % 7,
        operation: op,
        oldObject: review.request.oldObject,
        requesterUsername: review.request.userInfo.username,
      };
      const decision = validatePeeringRequest(review.request.object, snapshot);
      // the answer must always be encodable
      JSON.stringify(admissionResponse(review.request.uid, decision));
      if (decision.allowed) {
        stats.allowed++;
        if (op === 'CREATE') {
          const o = review.request.object as { metadata: { name: unknown }; spec: { clusterID: string; apiUrl: string; kubeconfig: string } };
          expect(o.metadata.name, `iteration ${i}`).toBe(o.spec.clusterID);
          expect(clusterIDRe.test(o.spec.clusterID), `iteration ${i}`).toBe(true);
          expect(o.spec.clusterID.toLowerCase()).not.toBe(OWN_ID);
          expect(o.spec.apiUrl.startsWith('https://'), `iteration ${i}`).toBe(true);
          expect(parsePeerKubeconfig(o.spec.kubeconfig).ok, `iteration ${i}`).toBe(true);
        }
      } else {
        stats.denied++;
        reasons.set(decision.reason, (reasons.get(decision.reason) ?? 0) + 1);
        expect(decision.reason, `iteration ${i}: ${decision.message}`).not.toBe('InternalError');
        expect(decision.message.length).toBeGreaterThan(10);
        expect(decision.message.length).toBeLessThan(2000);
      }
      if (i % 5000 === 0) heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
    }
    collect();
    const heapAfter = process.memoryUsage().heapUsed;
    console.log(
      `webhook fuzz: ${ITERATIONS} inputs, ${stats.undecodable} undecodable, ${stats.decoded} decoded, ${stats.allowed} admitted, ${stats.denied} refused; ` +
        `heap ${(heapBefore / 2 ** 20).toFixed(1)} -> ${(heapAfter / 2 ** 20).toFixed(1)} MiB (peak sample ${(heapPeak / 2 ** 20).toFixed(1)}); reasons ${JSON.stringify(Object.fromEntries(reasons))}`,
    );
    // every kind of input was exercised
    expect(stats.undecodable).toBeGreaterThan(ITERATIONS / 10);
    expect(stats.allowed).toBeGreaterThan(100);
    expect(reasons.get('InvalidKubeconfig') ?? 0).toBeGreaterThan(1000);
    // nothing retained across inputs
    expect(heapAfter - heapBefore).toBeLessThan(32 * 2 ** 20);
    // A generous bound: the unit and integration projects share two cores under `npm test`
    // (290 s seen there); this test asserts behaviour, not speed.
  }, 900_000);
});
