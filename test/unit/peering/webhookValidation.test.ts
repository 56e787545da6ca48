import { beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { createCA } from '../../../src/trust/pki.js';
import { PeeringRequestLimits } from '../../../src/api/crds.js';
import { buildTokenKubeconfig } from '../../../src/peering/kubeconfig.js';
import { validatePeeringRequest, type AdmissionDecision, type AdmissionSnapshot } from '../../../src/peering/incoming/admission.js';
import { AdmissionDecodeError, decodeAdmissionReview } from '../../../src/peering/incoming/admissionReview.js';
import { parsePeerKubeconfig } from '../../../src/peering/kubeconfig.js';
import { PendingRequests, RESERVATION_TTL_MS } from '../../../src/peering/incoming/pendingRequests.js';
import { LogBudget, handleAdmission } from '../../../src/peering/incoming/webhookServer.js';
import { isSubset, registrationUpToDate, desiredWebhookConfiguration, parseServiceRef, registeredHost, webhookUrl } from '../../../src/peering/incoming/webhookRegistration.js';
import { servingHosts, servingProblem } from '../../../src/trust/servingSecret.js';
import { resolveCallbackAddress } from '../../../src/peering/incoming/requesterClient.js';
import { issueCertificate } from '../../../src/trust/pki.js';

const OWN_ID = '11111111-2222-4333-8444-555555555555';
const PEER_ID = 'ff5aa14a-dd6e-4fd2-80fe-eaecb827cf55';
const API_URL = 'https://198.18.0.10:6443';
let caPem = '';
let caData = '';

beforeAll(async () => {
  caPem = (await createCA('requester-ca')).certPem;
  caData = Buffer.from(caPem).toString('base64');
});

type KC = Record<string, unknown>;
function kubeconfigObject(over: { cluster?: KC; user?: KC; contexts?: unknown; extra?: KC } = {}): KC {
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'a', cluster: { server: API_URL, 'certificate-authority-data': caData, ...over.cluster } }],
    users: [{ name: 'a', user: { token: 'eyJhbGciOiJFUzI1NiJ9.payload.signature', ...over.user } }],
    contexts: over.contexts ?? [{ name: 'a', context: { cluster: 'a', user: 'a' } }],
    'current-context': 'a',
    ...over.extra,
  };
}
const yamlKC = (over?: Parameters<typeof kubeconfigObject>[0]) => stringify(kubeconfigObject(over));

function request(spec: Record<string, unknown> = {}, name: string = PEER_ID): Record<string, unknown> {
  return {
    apiVersion: 'discovery.liqo.io/v1alpha1',
    kind: 'PeeringRequest',
    metadata: { name },
    spec: { clusterID: PEER_ID, clusterName: 'cluster-a', namespace: 'liqo', apiUrl: API_URL, kubeconfig: yamlKC(), ...spec },
  };
}

function snap(over: Partial<AdmissionSnapshot> = {}): AdmissionSnapshot {
  return { ownClusterID: OWN_ID, acceptPolicy: 'AutoAcceptKnown', maxPendingRequests: 50, pendingCount: 0, operation: 'CREATE', requesterUsername: 'system:anonymous', ...over };
}

function refused(d: AdmissionDecision): { code: number; reason: string; message: string } {
  if (d.allowed) throw new Error('expected a refusal, got allowed');
  return d;
}

describe('validatePeeringRequest: accepted requests', () => {
  it('admits a well-formed request with a YAML kubeconfig', () => {
    expect(validatePeeringRequest(request(), snap())).toEqual({ allowed: true });
  });

  it('admits a JSON kubeconfig, one without contexts, and one with a trailing-slash server', () => {
    expect(validatePeeringRequest(request({ kubeconfig: JSON.stringify(kubeconfigObject()) }), snap()).allowed).toBe(true);
    const noContext = kubeconfigObject({ contexts: [] });
    delete noContext['current-context'];
    expect(validatePeeringRequest(request({ kubeconfig: stringify(noContext) }), snap()).allowed).toBe(true);
    expect(validatePeeringRequest(request({ kubeconfig: yamlKC({ cluster: { server: `${API_URL}/` } }) }), snap()).allowed).toBe(true);
  });

  it('admits the kubeconfig the requester side builds (src/peering/kubeconfig.ts)', () => {
    const kc = buildTokenKubeconfig({ server: API_URL, caPem, token: 'abc.def.ghi' }, 'cluster-a');
    expect(validatePeeringRequest(request({ kubeconfig: kc }), snap())).toEqual({ allowed: true });
  });

  it('admits a DNS-label cluster ID (SIG-Multicluster About API)', () => {
    expect(validatePeeringRequest(request({ clusterID: 'cluster-a' }, 'cluster-a'), snap()).allowed).toBe(true);
  });

  it('admits updates that clear the kubeconfig or touch only metadata, whatever the policy', () => {
    const old = request();
    const cleared = request({ kubeconfig: undefined });
    for (const acceptPolicy of ['RejectAll', 'AcceptAll'] as const) {
      expect(validatePeeringRequest(cleared, snap({ operation: 'UPDATE', oldObject: old, acceptPolicy, requesterUsername: 'system:serviceaccount:liqo:kubepeer-agent', pendingCount: 1000 })).allowed).toBe(true);
    }
    // a request admitted before a rule existed can still lose its finalizers
    const legacy = request({ kubeconfig: 'not: [a kubeconfig' });
    expect(validatePeeringRequest({ ...legacy, metadata: { name: PEER_ID, finalizers: [] } }, snap({ operation: 'UPDATE', oldObject: legacy, requesterUsername: 'admin' })).allowed).toBe(true);
  });
});

describe('validatePeeringRequest: refusals, each with a message a person understands', () => {
  const cases: Array<[string, () => [unknown, AdmissionSnapshot], number, string, RegExp]> = [
    ['a name other than spec.clusterID', () => [request({}, 'someone'), snap()], 400, 'NameMismatch', /metadata.name "someone" must equal spec.clusterID "ff5aa14a-.*named after the requester's cluster ID/],
    ['a cluster ID that is neither a UUID nor a DNS label', () => [request({ clusterID: 'Not A Valid ID!' }, 'x'), snap()], 400, 'InvalidClusterID', /must be a UUID .* or a DNS label/],
    ['a missing cluster ID', () => [request({ clusterID: undefined }), snap()], 400, 'InvalidClusterID', /spec.clusterID is required/],
    ['our own cluster ID', () => [request({ clusterID: OWN_ID }, OWN_ID), snap()], 400, 'OwnClusterID', /a cluster cannot peer with itself/],
    ['our own cluster ID in upper case', () => [request({ clusterID: OWN_ID.toUpperCase() }, OWN_ID), snap()], 400, 'OwnClusterID', /cannot peer with itself/],
    ['a plain http apiUrl', () => [request({ apiUrl: 'http://198.18.0.10:6443' }), snap()], 400, 'InvalidApiUrl', /must be an https:\/\/ URL/],
    ['an apiUrl with credentials in it', () => [request({ apiUrl: 'https://u:p@198.18.0.10:6443' }), snap()], 400, 'InvalidApiUrl', /https:\/\/ URL|user name or password/],
    ['an apiUrl at the cloud metadata address', () => [request({ apiUrl: 'https://169.254.169.254', kubeconfig: yamlKC({ cluster: { server: 'https://169.254.169.254' } }) }), snap()], 400, 'InvalidApiUrl', /link-local/],
    ['an apiUrl at the metadata address written as IPv4-mapped IPv6', () => [request({ apiUrl: 'https://[::ffff:169.254.169.254]:443' }), snap()], 400, 'InvalidApiUrl', /link-local/],
    ['an apiUrl at the metadata address written as one number', () => [request({ apiUrl: 'https://2852039166' }), snap()], 400, 'InvalidApiUrl', /link-local/],
    ['an apiUrl naming a Service of this cluster', () => [request({ apiUrl: 'https://kubernetes.default.svc' }), snap()], 400, 'InvalidApiUrl', /Service name inside this cluster/],
    ['an apiUrl that is our own API server', () => [request({ apiUrl: 'https://127.0.0.1:6443' }), snap({ ownApiUrl: 'https://127.0.0.1:6443/' })], 400, 'InvalidApiUrl', /this cluster's own API server/],
    ['a clusterName over 253 characters', () => [request({ clusterName: 'x'.repeat(254) }), snap()], 400, 'ClusterNameTooLong', /254 characters long; at most 253/],
    ['a namespace that is not a DNS label', () => [request({ namespace: 'Liqo_NS' }), snap()], 400, 'InvalidNamespace', /must be a DNS label/],
    ['no kubeconfig', () => [request({ kubeconfig: undefined }), snap()], 400, 'MissingKubeconfig', /spec.kubeconfig is required/],
    ['an oversized kubeconfig', () => [request({ kubeconfig: yamlKC({ user: { token: 'a'.repeat(PeeringRequestLimits.kubeconfigBytes) } }) }), snap()], 400, 'KubeconfigTooLarge', /bytes; at most 32768 are accepted/],
    ['a kubeconfig that is not YAML', () => [request({ kubeconfig: 'clusters: [unclosed' }), snap()], 400, 'InvalidKubeconfig', /not valid YAML or JSON/],
    ['a kubeconfig with duplicate keys', () => [request({ kubeconfig: 'clusters: []\nclusters: []\n' }), snap()], 400, 'InvalidKubeconfig', /not valid YAML or JSON/],
    ['a kubeconfig that is a list', () => [request({ kubeconfig: '- a\n- b\n' }), snap()], 400, 'InvalidKubeconfig', /must be a kubeconfig/],
    ['a kubeconfig with YAML aliases', () => [request({ kubeconfig: `x: &a [1]\nclusters: *a\n` }), snap()], 400, 'InvalidKubeconfig', /YAML anchors and aliases are not accepted/],
    ['two clusters', () => [request({ kubeconfig: stringify({ ...kubeconfigObject(), clusters: [...(kubeconfigObject().clusters as unknown[]), { name: 'b', cluster: { server: API_URL, 'certificate-authority-data': caData } }] }) }), snap()], 400, 'InvalidKubeconfig', /exactly one cluster .*found 2/],
    ['no clusters', () => [request({ kubeconfig: stringify({ ...kubeconfigObject(), clusters: [] }) }), snap()], 400, 'InvalidKubeconfig', /exactly one cluster .*found 0/],
    ['a cluster server that is not https', () => [request({ kubeconfig: yamlKC({ cluster: { server: 'http://198.18.0.10:6443' } }) }), snap()], 400, 'InvalidKubeconfig', /the cluster server .* must be an https:\/\/ URL/],
    ['a cluster server other than spec.apiUrl', () => [request({ kubeconfig: yamlKC({ cluster: { server: 'https://10.0.0.7:6443' } }) }), snap()], 400, 'KubeconfigServerMismatch', /must equal spec.apiUrl .* names one API server/],
    ['a cluster without a CA', () => [request({ kubeconfig: yamlKC({ cluster: { 'certificate-authority-data': undefined } }) }), snap()], 400, 'InvalidKubeconfig', /must carry certificate-authority-data/],
    ['a CA that is not a certificate', () => [request({ kubeconfig: yamlKC({ cluster: { 'certificate-authority-data': Buffer.from('hello').toString('base64') } }) }), snap()], 400, 'InvalidKubeconfig', /not a base64-encoded PEM certificate/],
    ['a CA given as a file path', () => [request({ kubeconfig: yamlKC({ cluster: { 'certificate-authority': '/etc/kubernetes/pki/ca.crt' } }) }), snap()], 400, 'InvalidKubeconfig', /certificate-authority is not accepted.*file paths/],
    ['insecure-skip-tls-verify', () => [request({ kubeconfig: yamlKC({ cluster: { 'insecure-skip-tls-verify': true } }) }), snap()], 400, 'InvalidKubeconfig', /insecure-skip-tls-verify is not accepted/],
    ['a proxy', () => [request({ kubeconfig: yamlKC({ cluster: { 'proxy-url': 'http://10.0.0.1:3128' } }) }), snap()], 400, 'InvalidKubeconfig', /proxy-url is not accepted/],
    ['two users', () => [request({ kubeconfig: stringify({ ...kubeconfigObject(), users: [{ name: 'a', user: { token: 't' } }, { name: 'b', user: { token: 't' } }] }) }), snap()], 400, 'InvalidKubeconfig', /exactly one user .*found 2/],
    ['a client certificate', () => [request({ kubeconfig: yamlKC({ user: { 'client-certificate-data': 'AAAA', 'client-key-data': 'AAAA' } }) }), snap()], 400, 'InvalidKubeconfig', /must carry only a bearer token; "client-certificate-data" is not accepted/],
    ['an exec plugin', () => [request({ kubeconfig: yamlKC({ user: { token: undefined, exec: { command: '/bin/sh', args: ['-c', 'id'], apiVersion: 'client.authentication.k8s.io/v1' } } }) }), snap()], 400, 'InvalidKubeconfig', /"exec" is not accepted \(client certificates, exec and auth-provider plugins/],
    ['an auth-provider plugin', () => [request({ kubeconfig: yamlKC({ user: { 'auth-provider': { name: 'gcp' } } }) }), snap()], 400, 'InvalidKubeconfig', /"auth-provider" is not accepted/],
    ['username and password', () => [request({ kubeconfig: yamlKC({ user: { token: undefined, username: 'admin', password: 'x' } }) }), snap()], 400, 'InvalidKubeconfig', /"username" is not accepted/],
    ['a token file', () => [request({ kubeconfig: yamlKC({ user: { tokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token' } }) }), snap()], 400, 'InvalidKubeconfig', /"tokenFile" is not accepted/],
    ['impersonation', () => [request({ kubeconfig: yamlKC({ user: { as: 'system:admin' } }) }), snap()], 400, 'InvalidKubeconfig', /"as" is not accepted/],
    ['an empty token', () => [request({ kubeconfig: yamlKC({ user: { token: '' } }) }), snap()], 400, 'InvalidKubeconfig', /must have a non-empty token/],
    ['a token with a line break', () => [request({ kubeconfig: yamlKC({ user: { token: 'abc\r\nX-Evil: 1' } }) }), snap()], 400, 'InvalidKubeconfig', /printable ASCII without spaces/],
    ['two contexts', () => [request({ kubeconfig: yamlKC({ contexts: [{ name: 'a', context: { cluster: 'a', user: 'a' } }, { name: 'b', context: { cluster: 'a', user: 'a' } }] }) }), snap()], 400, 'InvalidKubeconfig', /at most one context; found 2/],
    ['a context naming another user', () => [request({ kubeconfig: yamlKC({ contexts: [{ name: 'a', context: { cluster: 'a', user: 'root' } }] }) }), snap()], 400, 'InvalidKubeconfig', /context "a" must reference cluster "a" and user "a"/],
    ['a current-context that does not exist', () => [request({ kubeconfig: yamlKC({ extra: { 'current-context': 'other' } }) }), snap()], 400, 'InvalidKubeconfig', /current-context "other" names no context/],
    ['an unknown top-level field (a YAML merge key)', () => [request({ kubeconfig: yamlKC({ extra: { '<<': { users: [] } } }) }), snap()], 400, 'InvalidKubeconfig', /top-level field "<<" is not accepted/],
    ['a kubeconfig that is not a string', () => [request({ kubeconfig: { clusters: [] } }), snap()], 400, 'InvalidKubeconfig', /must be a string/],
    ['acceptPolicy RejectAll', () => [request(), snap({ acceptPolicy: 'RejectAll' })], 403, 'PeeringRequestsRejected', /^this cluster does not accept peering requests \(acceptPolicy: RejectAll\)$/],
    ['a full pending queue', () => [request(), snap({ pendingCount: 2, maxPendingRequests: 2 })], 429, 'TooManyPendingRequests', /^too many pending peering requests \(2\); try again later/],
    ['maxPendingRequests 0', () => [request(), snap({ pendingCount: 0, maxPendingRequests: 0 })], 429, 'TooManyPendingRequests', /too many pending peering requests \(0\)/],
    ['a change of spec.clusterID', () => [request({ clusterID: 'other-cluster' }), snap({ operation: 'UPDATE', oldObject: request(), requesterUsername: 'admin' })], 400, 'ClusterIDImmutable', /spec.clusterID is immutable .*delete the PeeringRequest/],
    ['an update by the anonymous user', () => [request(), snap({ operation: 'UPDATE', oldObject: request() })], 403, 'AnonymousUpdate', /anonymous users may only create/],
    ['a changed kubeconfig on update that is invalid', () => [request({ kubeconfig: yamlKC({ user: { exec: {} } }) }), snap({ operation: 'UPDATE', oldObject: request(), requesterUsername: 'admin' })], 400, 'InvalidKubeconfig', /"exec" is not accepted/],
    ['an object that is not an object', () => ['a string', snap()], 400, 'InvalidPeeringRequest', /not a JSON object/],
    ['an object without spec', () => [{ metadata: { name: PEER_ID } }, snap()], 400, 'InvalidPeeringRequest', /must have metadata and spec/],
  ];

  for (const [what, make, code, reason, message] of cases) {
    it(`rejects ${what}`, () => {
      const [obj, s] = make();
      const d = refused(validatePeeringRequest(obj, s));
      expect({ code: d.code, reason: d.reason }).toEqual({ code, reason });
      expect(d.message).toMatch(message);
    });
  }

  it('checks the identity fields before the pending cap, and the cap before parsing the kubeconfig', () => {
    expect(refused(validatePeeringRequest(request({ clusterID: OWN_ID }, OWN_ID), snap({ pendingCount: 99, maxPendingRequests: 1 }))).reason).toBe('OwnClusterID');
    expect(refused(validatePeeringRequest(request({ apiUrl: 'http://x' }), snap({ pendingCount: 99, maxPendingRequests: 1 }))).reason).toBe('InvalidApiUrl');
    expect(refused(validatePeeringRequest(request({ kubeconfig: '[' }), snap({ pendingCount: 99, maxPendingRequests: 1 }))).reason).toBe('TooManyPendingRequests');
  });

  it('refuses deeply nested or bloated kubeconfigs before parsing them, however often they come', () => {
    // Without the shape check, the second of these crashed the process ("RegExpCompiler
    // Allocation failed"): the YAML parser recursed to the stack limit.
    for (let i = 0; i < 5; i++) {
      const d = refused(validatePeeringRequest(request({ kubeconfig: '['.repeat(30_000) }), snap()));
      expect(d.message).toMatch(/brackets nested more than 16 deep/);
    }
    expect(refused(validatePeeringRequest(request({ kubeconfig: '- '.repeat(5000) + 'x' }), snap())).message).toMatch(/more than 8 YAML indicators/);
    expect(refused(validatePeeringRequest(request({ kubeconfig: 'a: b\n'.repeat(200) }), snap())).message).toMatch(/more than 128 lines/);
    expect(refused(validatePeeringRequest(request({ kubeconfig: ' '.repeat(70) + 'a: b' }), snap())).message).toMatch(/indented more than 64 columns/);
  });

  it('never throws, even on objects JSON cannot produce', () => {
    const circular: Record<string, unknown> = { metadata: { name: PEER_ID } };
    circular.spec = { clusterID: PEER_ID, apiUrl: API_URL, kubeconfig: yamlKC(), clusterName: 1n };
    const d = validatePeeringRequest(circular, snap({ operation: 'UPDATE', oldObject: circular, requesterUsername: 'admin' }));
    expect(d.allowed === true || d.allowed === false).toBe(true);
  });
});

describe('parsePeerKubeconfig', () => {
  it('returns what the handshake controller needs', () => {
    const r = parsePeerKubeconfig(yamlKC());
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value).toMatchObject({ server: API_URL, caPem, token: 'eyJhbGciOiJFUzI1NiJ9.payload.signature', clusterName: 'a', userName: 'a', contextName: 'a' });
  });
});

const review = (over: Record<string, unknown> = {}, req: Record<string, unknown> = {}) =>
  Buffer.from(
    JSON.stringify({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
        kind: { group: 'discovery.liqo.io', version: 'v1alpha1', kind: 'PeeringRequest' },
        resource: { group: 'discovery.liqo.io', version: 'v1alpha1', resource: 'peeringrequests' },
        name: PEER_ID,
        operation: 'CREATE',
        userInfo: { username: 'system:anonymous', groups: ['system:unauthenticated'] },
        object: request(),
        oldObject: null,
        dryRun: false,
        ...req,
      },
      ...over,
    }),
  );

describe('decodeAdmissionReview', () => {
  it('decodes what the API server sends', () => {
    const r = decodeAdmissionReview(review());
    expect(r).not.toBeInstanceOf(AdmissionDecodeError);
    if (r instanceof AdmissionDecodeError) return;
    expect(r.request.operation).toBe('CREATE');
    expect(r.request.oldObject).toBeUndefined();
    expect(r.request.userInfo.username).toBe('system:anonymous');
  });

  it.each([
    ['an empty body', Buffer.alloc(0), /empty body/],
    ['a body that is not JSON', Buffer.from('{"apiVersion":'), /not JSON/],
    ['a JSON array', Buffer.from('[]'), /not a JSON object/],
    ['another apiVersion', review({ apiVersion: 'admission.k8s.io/v1beta1' }), /expected apiVersion admission.k8s.io\/v1/],
    ['no request', review({ request: null }), /request is missing/],
    ['no uid', review({}, { uid: '' }), /uid/],
    ['an unknown operation', review({}, { operation: 'PATCH' }), /operation "PATCH"/],
    ['a resource without strings', review({}, { resource: { group: 1 } }), /request.resource/],
    ['a CREATE without object', review({}, { object: null }), /request.object must be an object/],
    ['an UPDATE without oldObject', review({}, { operation: 'UPDATE' }), /oldObject must be an object/],
    ['a body over 256 KiB', Buffer.alloc(256 * 1024 + 1, 0x20), /exceeds the limit/],
  ])('refuses %s', (_what, body, message) => {
    const r = decodeAdmissionReview(body);
    expect(r).toBeInstanceOf(AdmissionDecodeError);
    expect((r as AdmissionDecodeError).message).toMatch(message);
  });
});

describe('validatePeeringRequest: the ClusterConfig allowlist (peeringConfig.allowedPeerCIDRs)', () => {
  const OWN_URL = 'https://198.18.0.1:6443';
  const allowed = ['198.18.0.0/16', '2001:db8::/32'];
  const at = (apiUrl: string) => request({ apiUrl, kubeconfig: yamlKC({ cluster: { server: apiUrl } }) });
  const decide = (apiUrl: string, cidrs?: readonly string[]) => validatePeeringRequest(at(apiUrl), snap({ ownApiUrl: OWN_URL, ...(cidrs ? { allowedPeerCIDRs: cidrs } : {}) }));

  it('refuses an apiUrl outside the allowlist, in every form of the address, and admits one inside', () => {
    expect(decide('https://198.18.7.7:6443', allowed)).toEqual({ allowed: true });
    expect(decide('https://[2001:db8::7]:6443', allowed)).toEqual({ allowed: true });
    for (const outside of ['https://203.0.113.10:6443', 'https://[::ffff:203.0.113.10]:6443', 'https://[64:ff9b::cb00:710a]:6443', 'https://3405803786:6443', 'https://[2001:db9::1]:6443']) {
      const r = refused(decide(outside, allowed));
      expect(r.reason, outside).toBe('InvalidApiUrl');
      expect(r.message, outside).toContain('outside the allowed CIDRs (peeringConfig.allowedPeerCIDRs: 198.18.0.0/16, 2001:db8::/32)');
    }
  });

  it('keeps the default (everything but the fixed refusals) when the ClusterConfig names none', () => {
    expect(decide('https://203.0.113.10:6443')).toEqual({ allowed: true });
    expect(refused(decide('https://169.254.169.254:443')).message).toMatch(/link-local/);
  });

  it('never lets the allowlist override a fixed refusal', () => {
    expect(refused(decide('https://169.254.169.254:443', ['0.0.0.0/0', '169.254.0.0/16'])).message).toMatch(/link-local/);
  });

  it('decides as the identity callback does, for the same allowlist (one address policy)', async () => {
    const noDns = async () => [] as string[];
    const urls = ['https://198.18.7.7:6443', 'https://203.0.113.10:6443', 'https://[::ffff:203.0.113.10]:6443', 'https://[2001:db8::7]:6443', 'https://[2001:db9::1]:6443', 'https://169.254.169.254:443', 'https://127.0.0.1:6443'];
    for (const url of urls) {
      const webhook = decide(url, allowed).allowed;
      const callback = await resolveCallbackAddress(url, OWN_URL, noDns, allowed).then(() => true, () => false);
      expect(webhook, url).toBe(callback);
    }
  });
});

describe('handleAdmission', () => {
  const policy = () => ({ ownClusterID: OWN_ID, acceptPolicy: 'AutoAcceptKnown' as const, maxPendingRequests: 2 });

  it('answers with the uid, the decision and a Status the API server passes on', () => {
    const pending = new PendingRequests();
    const ok = handleAdmission(review(), { policy, pending });
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: '705ab4f5-6393-11e8-b7cc-42010a800002', allowed: true } });
    const bad = handleAdmission(review({}, { object: request({ clusterID: OWN_ID }, OWN_ID) }), { policy, pending });
    expect((bad.body as { response: unknown }).response).toMatchObject({ allowed: false, status: { code: 400, reason: 'OwnClusterID', status: 'Failure' } });
    expect(handleAdmission(Buffer.from('garbage'), { policy, pending }).status).toBe(400);
  });

  it('caps admissions made faster than the cache can see them, and frees the slot when the object shows up', () => {
    let now = 1_000;
    const pending = new PendingRequests(() => now);
    const create = (id: string, dryRun = false) =>
      handleAdmission(review({}, { name: id, dryRun, object: request({ clusterID: id }, id) }), { policy, pending }).decision!;
    expect(create('cluster-x', true).allowed).toBe(true); // a dry run holds no slot
    expect(create('cluster-a').allowed).toBe(true);
    expect(create('cluster-b').allowed).toBe(true);
    expect(refused(create('cluster-c')).reason).toBe('TooManyPendingRequests');
    // a retried create of an admitted name is not its own rival (it will get AlreadyExists)
    expect(create('cluster-a').allowed).toBe(true);
    // the informer sees a, then a is denied: one slot frees up
    pending.observe({ metadata: { name: 'cluster-a' }, spec: {} } as never);
    expect(pending.count()).toBe(2);
    pending.observe({ metadata: { name: 'cluster-a' }, spec: {}, status: { phase: 'Denied' } } as never);
    expect(pending.count()).toBe(1);
    expect(create('cluster-c').allowed).toBe(true);
    // reservations that never materialise lapse
    now += RESERVATION_TTL_MS + 1;
    expect(pending.count()).toBe(0);
  });

  it('logs at most 20 decisions per 10 s and sums up the rest', () => {
    let now = 0;
    const budget = new LogBudget(20, 10_000, () => now);
    const summaries: number[] = [];
    const taken = Array.from({ length: 1000 }, () => budget.take((n) => summaries.push(n))).filter(Boolean).length;
    expect(taken).toBe(20);
    now += 10_000;
    expect(budget.take((n) => summaries.push(n))).toBe(true);
    expect(summaries).toEqual([980]);
  });

  it('lets through what is not a PeeringRequest create or update', () => {
    const pending = new PendingRequests();
    expect(handleAdmission(review({}, { operation: 'DELETE', object: null }), { policy, pending }).result).toBe('allowed');
    expect(handleAdmission(review({}, { subResource: 'status', operation: 'UPDATE', oldObject: request(), object: { spec: 1 } }), { policy, pending }).result).toBe('allowed');
  });
});

describe('webhook registration and TLS', () => {
  it('registers a URL outside the cluster and the Service inside', () => {
    expect(registeredHost('0.0.0.0')).toBe('127.0.0.1');
    expect(registeredHost('198.18.0.5')).toBe('198.18.0.5');
    expect(registeredHost('0.0.0.0', 'agent.example.com')).toBe('agent.example.com');
    expect(webhookUrl('::1', 9443)).toBe('https://[::1]:9443/validate/peeringrequests');
    expect(parseServiceRef('liqo/kubepeer-webhook')).toEqual({ namespace: 'liqo', name: 'kubepeer-webhook' });
    expect(() => parseServiceRef('kubepeer-webhook')).toThrow(/namespace\/name/);
    const url = desiredWebhookConfiguration({ url: 'https://127.0.0.1:9443/validate/peeringrequests' }, 'PEM');
    const hook = (url.webhooks as Array<Record<string, unknown>>)[0]!;
    expect(hook).toMatchObject({ failurePolicy: 'Fail', clientConfig: { url: 'https://127.0.0.1:9443/validate/peeringrequests', caBundle: Buffer.from('PEM').toString('base64') } });
    const svc = desiredWebhookConfiguration({ service: { namespace: 'liqo', name: 'kubepeer-webhook' } }, 'PEM');
    expect((svc.webhooks as Array<{ clientConfig: unknown }>)[0]!.clientConfig).toEqual({ service: { namespace: 'liqo', name: 'kubepeer-webhook', path: '/validate/peeringrequests', port: 443 }, caBundle: Buffer.from('PEM').toString('base64') });
  });

  it('sees a stored configuration with server defaults as up to date, and a changed port or CA as not', () => {
    const desired = desiredWebhookConfiguration({ url: 'https://127.0.0.1:9443/validate/peeringrequests' }, 'PEM');
    const stored = JSON.parse(JSON.stringify(desired));
    Object.assign(stored.webhooks[0], { namespaceSelector: {}, objectSelector: {}, matchConditions: [] });
    stored.metadata.uid = 'x';
    expect(registrationUpToDate(desired, stored)).toBe(true);
    expect(registrationUpToDate(desiredWebhookConfiguration({ url: 'https://127.0.0.1:9444/validate/peeringrequests' }, 'PEM'), stored)).toBe(false);
    expect(registrationUpToDate(desiredWebhookConfiguration({ url: 'https://127.0.0.1:9443/validate/peeringrequests' }, 'OTHER'), stored)).toBe(false);
    expect(registrationUpToDate(desired, undefined)).toBe(false);
    stored.webhooks[0].clientConfig.service = { name: 'x', namespace: 'y' };
    expect(registrationUpToDate(desired, stored)).toBe(false);
    expect(isSubset({ a: [1, { b: 2 }] }, { a: [1, { b: 2, c: 3 }], d: 4 })).toBe(true);
  });

  it('issues serving certificates for every name the API server may use', async () => {
    const hosts = servingHosts({ listenHost: '0.0.0.0', webhookHost: '198.18.0.5', service: { namespace: 'liqo', name: 'kubepeer-webhook' } });
    expect(hosts).toEqual(['127.0.0.1', 'localhost', '::1', '198.18.0.5', 'kubepeer-webhook.liqo.svc', 'kubepeer-webhook.liqo.svc.cluster.local', 'kubepeer-webhook.liqo', 'kubepeer-webhook']);
    const ca = await createCA('webhook-ca');
    const leaf = await issueCertificate(ca, { commonName: 'w', hosts: hosts.slice(0, 3), usage: 'server' });
    expect(servingProblem({ caPem: ca.certPem, ...leaf }, hosts.slice(0, 3))).toBeUndefined();
    expect(servingProblem({ caPem: ca.certPem, ...leaf }, hosts)).toMatch(/does not name 198.18.0.5/);
    const other = await createCA('other');
    expect(servingProblem({ caPem: other.certPem, ...leaf }, hosts.slice(0, 3))).toBe('not issued by the CA');
  });
});
