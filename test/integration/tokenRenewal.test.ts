/**
 * A peer's credential may renew its own token, and nothing more: on a real API server with the
 * policies `kubepeer install` applies, the renewal the peer's agent does is allowed, while an
 * unbound token, a token for another audience, one bound to another object or one of ten years
 * is refused; revoking the credential ends every token it minted; and a credential of an
 * earlier version (no recorded audiences, older revision) is upgraded in place. While the
 * audiences are not recorded, every token request of a peer is refused (fail closed).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { LocalCluster } from '../../src/localcluster/localCluster.js';
import { ApiError, Core, KubeClient, resourcePath } from '../../src/k8s/rest.js';
import { GVR, apiVersionOf, type ForeignCluster } from '../../src/api/crds.js';
import { Annotations } from '../../src/api/constants.js';
import type { AgentContext } from '../../src/agent/context.js';
import { CREDENTIAL_REVISION, credentialName, ensureCredential, keepAudiencesRecorded, revokeCredential } from '../../src/peering/outgoing/credentials.js';
import { renewPeerToken } from '../../src/peering/incoming/tokenRenewal.js';
import { startCluster } from '../support/clusters.js';
import { waitFor } from '../support/wait.js';

let a: LocalCluster;
let A: KubeClient;
let caPem: string;
const ns = 'liqo';
const clients: KubeClient[] = [];

beforeAll(async () => {
  a = await startCluster('token-a');
  A = a.client();
  caPem = readFileSync(a.caCert, 'utf8');
});
afterAll(async () => {
  for (const c of clients) c.close();
  await a?.stop();
});

/** A peer's ForeignCluster on A (no agent runs: the test drives the credential functions the agent uses). */
async function peerCredential(): Promise<{ id: string; token: string; ctx: AgentContext; fc: ForeignCluster }> {
  const id = randomUUID();
  const fc = await A.create<ForeignCluster>(resourcePath(GVR.foreignCluster), {
    apiVersion: apiVersionOf(GVR.foreignCluster),
    kind: 'ForeignCluster',
    metadata: { name: `peer-${id.slice(0, 8)}` },
    spec: { clusterID: id, apiUrl: 'https://127.0.0.1:1', discoveryType: 'Manual', join: false },
  });
  const ctx = { client: A, namespace: ns } as AgentContext;
  return { id, token: await ensureCredential(ctx, fc), ctx, fc };
}

function as(token: string): KubeClient {
  const c = KubeClient.withToken(a.apiUrl, token, caPem);
  clients.push(c);
  return c;
}

/** Who the API server says the token is (401 when it no longer authenticates). */
async function whoAmI(token: string): Promise<string> {
  const r = await as(token).create<{ status: { userInfo: { username: string } } }>('/apis/authentication.k8s.io/v1/selfsubjectreviews', { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' });
  return r.status.userInfo.username;
}

async function tokenRequest(token: string, id: string, spec: Record<string, unknown>): Promise<{ ok: true } | { ok: false; code: number; message: string }> {
  try {
    await as(token).create(resourcePath(Core.serviceAccounts, { namespace: ns, name: credentialName(id), subresource: 'token' }), { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec });
    return { ok: true };
  } catch (e) {
    return { ok: false, code: (e as ApiError).code, message: (e as Error).message };
  }
}

describe("a peer's token requests", () => {
  it('renew the credential as it was, and nothing broader: unbound, other audience, other object or 10 years are refused', async () => {
    const { id, token } = await peerCredential();
    const secret = await A.get<{ metadata: { uid: string } }>(resourcePath(Core.secrets, { namespace: ns, name: credentialName(id) }));
    const bound = { boundObjectRef: { apiVersion: 'v1', kind: 'Secret', name: credentialName(id), uid: secret.metadata.uid } };
    // The two policies take a moment each to be served after install, the audiences one longer
    // (it waits for its parameter, the namespace): wait until each refuses its broadest request.
    const unbound = await waitFor('an unbound 10-year token refused', async () => {
      const r = await tokenRequest(token, id, { expirationSeconds: 10 * 365 * 86400 });
      return r.ok ? undefined : r;
    }, { timeoutMs: 30_000 });
    await waitFor('a token for another audience refused', async () => {
      const r = await tokenRequest(token, id, { ...bound, expirationSeconds: 3600, audiences: ['vault'] });
      return r.ok ? undefined : r;
    }, { timeoutMs: 30_000 });
    expect(unbound.code, unbound.message).toBe(403);
    expect(unbound.message).toContain(`must be bound to Secret ${credentialName(id)}`);

    // what the peer's agent does to renew: same binding, same lifetime
    const renewed = await renewPeerToken(as(token), token);
    expect(await whoAmI(renewed.token)).toBe(`system:serviceaccount:${ns}:${credentialName(id)}`);

    const other = await A.create<{ metadata: { uid: string; name: string } }>(resourcePath(Core.secrets, { namespace: ns }), { apiVersion: 'v1', kind: 'Secret', metadata: { name: `other-${id.slice(0, 8)}` } });
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ['another audience', { ...bound, expirationSeconds: 3600, audiences: ['vault'] }, 'may only be for this API server'],
      ['bound to another Secret', { boundObjectRef: { apiVersion: 'v1', kind: 'Secret', name: other.metadata.name, uid: other.metadata.uid }, expirationSeconds: 3600 }, 'must be bound to Secret'],
      ['ten years, bound', { ...bound, expirationSeconds: 10 * 365 * 86400 }, 'may live at most'],
      ['unbound, one hour', { expirationSeconds: 3600 }, 'must be bound to Secret'],
    ];
    for (const [what, spec, message] of cases) {
      const r = await tokenRequest(token, id, spec);
      expect(r, what).toMatchObject({ ok: false, code: 403 });
      expect((r as { message: string }).message, what).toContain(message);
    }
  });

  it('end with the credential: revoking it makes the original and every renewed token fail (401)', async () => {
    const { id, token, ctx } = await peerCredential();
    const renewed = await waitFor('a renewal allowed', () => renewPeerToken(as(token), token).catch(() => undefined), { timeoutMs: 30_000 });
    expect(await whoAmI(token)).toContain(credentialName(id));
    expect(await whoAmI(renewed.token)).toContain(credentialName(id));
    await revokeCredential(ctx, id);
    for (const t of [token, renewed.token]) {
      const code = await waitFor('the token rejected', () => whoAmI(t).then(() => undefined, (e: ApiError) => e.code), { timeoutMs: 30_000 });
      expect(code).toBe(401);
    }
  });
});

/** Removes the recorded audiences from our namespace (what a person, or an agent before revision 6, leaves). */
async function forgetAudiences(): Promise<void> {
  await A.mergePatch(resourcePath(Core.namespaces, { name: ns }), { metadata: { annotations: { [Annotations.tokenAudiences]: null } } });
}

describe('the recorded audiences (the parameter of policy kubepeer-peer-token-audiences)', () => {
  it("when missing, every token request of a peer is refused (fail closed), and no one else's is", async () => {
    const { id, token, ctx, fc } = await peerCredential();
    await waitFor('a renewal allowed', () => renewPeerToken(as(token), token).catch(() => undefined), { timeoutMs: 30_000 });
    await forgetAudiences();
    // the renewal the peer's agent does, for the API server's own audiences, is refused now
    const refused = await waitFor('a renewal refused without recorded audiences', () => renewPeerToken(as(token), token).then(() => undefined, (e: ApiError) => e), { timeoutMs: 30_000 });
    expect(refused.code, refused.message).toBe(403);
    expect(refused.message).toContain('the audiences of this API server are not recorded');
    // tokens of anyone else in the namespace (the kubelet's for pods, the agent minting a
    // credential: here the admin) and elsewhere are not the policy's business
    const admin = await A.create<{ status: { token: string } }>(resourcePath(Core.serviceAccounts, { namespace: ns, name: credentialName(id), subresource: 'token' }), { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 600 } });
    expect(admin.status.token).toBeTruthy();
    const other = await peerCredential(); // mints a token in the namespace: records the audiences again
    expect(other.token).toBeTruthy();
    // recorded again: minting records them, so does upgrading a credential, and the agent's next
    // look at an established credential (at most every 10 minutes; forced here) finds them gone
    await forgetAudiences();
    expect(await ensureCredential(ctx, fc)).toBe(token);
    await keepAudiencesRecorded(ctx, token, true);
    const ns0 = await A.get<{ metadata: { annotations?: Record<string, string> } }>(resourcePath(Core.namespaces, { name: ns }));
    expect(ns0.metadata.annotations?.[Annotations.tokenAudiences]).toBe(`${a.apiUrl}`);
    const renewed = await waitFor('a renewal allowed again', () => renewPeerToken(as(token), token).catch(() => undefined), { timeoutMs: 30_000 });
    expect(await whoAmI(renewed.token)).toContain(credentialName(id));
  });
});

describe('a credential minted by an earlier version', () => {
  it('is upgraded in place: the audiences are recorded, renewal works again, and a token for another audience stays refused', async () => {
    const { id, token, ctx, fc } = await peerCredential();
    const secret = await A.get<{ metadata: { uid: string } }>(resourcePath(Core.secrets, { namespace: ns, name: credentialName(id) }));
    const otherAudience = { boundObjectRef: { apiVersion: 'v1', kind: 'Secret', name: credentialName(id), uid: secret.metadata.uid }, expirationSeconds: 3600, audiences: ['vault'] };
    // What an earlier agent left: no audiences on the namespace (it kept them in a ConfigMap,
    // which is no longer read), an older revision. Its peer gets no token at all until the upgrade.
    await forgetAudiences();
    await A.mergePatch(resourcePath(Core.secrets, { namespace: ns, name: credentialName(id) }), { metadata: { annotations: { [Annotations.credentialRevision]: '3' } } });
    const before = await waitFor('another audience refused before the upgrade', async () => {
      const r = await tokenRequest(token, id, otherAudience);
      return r.ok ? undefined : r;
    }, { timeoutMs: 30_000 });
    expect(before.message).toContain('not recorded');

    expect(await ensureCredential(ctx, fc)).toBe(token); // the token stays; what it may renew into is recorded
    const upgraded = await A.get<{ metadata: { annotations: Record<string, string> } }>(resourcePath(Core.secrets, { namespace: ns, name: credentialName(id) }));
    expect(upgraded.metadata.annotations[Annotations.credentialRevision]).toBe(CREDENTIAL_REVISION);
    const refused = await waitFor('another audience refused for its audience', async () => {
      const r = await tokenRequest(token, id, otherAudience);
      return !r.ok && r.message.includes('may only be for this API server') ? r : undefined;
    }, { timeoutMs: 30_000 });
    expect(refused).toMatchObject({ code: 403 });
    const renewed = await waitFor('a renewal allowed', () => renewPeerToken(as(token), token).catch(() => undefined), { timeoutMs: 30_000 });
    expect(await whoAmI(renewed.token)).toContain(credentialName(id));
  });
});
