/**
 * The credential a home cluster mints for a peer (docs/design.md §5, step 2): ServiceAccount
 * `liqo-remote-<id>`, RBAC that allows only what the peer needs (its own Advertisement, our
 * cluster-id, its own answer ConfigMap), and a TokenRequest token bound to a Secret we own, so
 * that deleting the Secret revokes the token (and every renewal of it: the peer may ask for a
 * fresh token of its own ServiceAccount, bound to the same Secret, before the old one expires).
 * Everything is owned by the ForeignCluster.
 */
import { Annotations, Labels, MANAGED_BY, Names } from '../../api/constants.js';
import { SHARING_GROUP } from '../../api/constants.js';
import type { ForeignCluster } from '../../api/crds.js';
import { Core, isAlreadyExists, resourcePath, type ResourceRef } from '../../k8s/rest.js';
import type { AgentContext } from '../../agent/context.js';
import { tenantCredentialOnConsumer } from '../../offloading/names.js';

export const credentialName = (clusterID: string) => `${Names.remoteCredentialPrefix}${clusterID}`;
/**
 * Bumped when the credential's RBAC changes, so that credentials made by an earlier agent are
 * brought up to date once (2: the peer may renew its own token; 3: the peer may deliver the
 * credential of our tenancy on it, Secret kubepeer-tenant-<id>, bound to it by admission policy;
 * 4: the audiences of its token are recorded for the token-renewal policy, which otherwise denies
 * every renewal; 5: the peer answers in ConfigMap kubepeer-answer-<id> and may no longer create
 * Events, whose source a reader cannot verify; 6: the audiences are recorded on our namespace, and
 * the policy refuses every renewal while they are missing).
 */
export const CREDENTIAL_REVISION = '6';
const TOKEN_SECONDS = 365 * 24 * 3600;

interface Secret {
  metadata: { name: string; uid: string; annotations?: Record<string, string> };
  data?: Record<string, string>;
}

function owner(fc: ForeignCluster) {
  return [{ apiVersion: fc.apiVersion ?? 'discovery.liqo.io/v1', kind: 'ForeignCluster', name: fc.metadata.name, uid: fc.metadata.uid!, blockOwnerDeletion: false }];
}

/** The objects of the credential, in creation order (RBAC first, Secret last). */
export function credentialObjects(ctx: Pick<AgentContext, 'namespace'>, fc: ForeignCluster): Array<{ ref: ResourceRef; body: Record<string, unknown> }> {
  const id = fc.spec.clusterID;
  const name = credentialName(id);
  const ns = ctx.namespace;
  const meta = (namespaced: boolean) => ({
    name,
    ...(namespaced ? { namespace: ns } : {}),
    labels: { [Labels.clusterID]: id, [Labels.remoteCredential]: 'true', [Labels.managedBy]: MANAGED_BY },
    ownerReferences: owner(fc),
  });
  const subject = [{ kind: 'ServiceAccount', name, namespace: ns }];
  return [
    { ref: Core.serviceAccounts, body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(true) } },
    {
      ref: Core.clusterRoles,
      body: {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        metadata: meta(false),
        rules: [
          // create cannot be limited to a name by RBAC; the admission policy installed with
          // kubepeer limits it to this peer's own Advertisement.
          { apiGroups: [SHARING_GROUP], resources: ['advertisements'], verbs: ['create'] },
          { apiGroups: [SHARING_GROUP], resources: ['advertisements'], resourceNames: [`${Names.advertisementPrefix}${id}`], verbs: ['get', 'update'] },
        ],
      },
    },
    {
      ref: Core.clusterRoleBindings,
      body: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: meta(false), roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name }, subjects: subject },
    },
    {
      ref: Core.roles,
      body: {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: meta(true),
        rules: [
          { apiGroups: [''], resources: ['configmaps'], resourceNames: [Names.clusterIDConfigMap], verbs: ['get'] },
          // The peer answers our PeeringRequest in ConfigMap kubepeer-answer-<id> (peerAnswers.ts).
          // RBAC cannot limit create to a name: the admission policy installed with kubepeer does.
          { apiGroups: [''], resources: ['configmaps'], verbs: ['create'] },
          { apiGroups: [''], resources: ['configmaps'], resourceNames: [`${Names.peerAnswerPrefix}${id}`], verbs: ['get', 'update'] },
          // The peer hands us the credential of our tenancy on it (workload offloading). RBAC cannot
          // limit create to a name: the admission policy installed with kubepeer does.
          { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
          { apiGroups: [''], resources: ['secrets'], resourceNames: [tenantCredentialOnConsumer(id)], verbs: ['get', 'update'] },
          // the peer renews its own token before it expires (and only its own)
          { apiGroups: [''], resources: ['serviceaccounts/token'], resourceNames: [name], verbs: ['create'] },
        ],
      },
    },
    {
      ref: Core.roleBindings,
      body: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: meta(true), roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name }, subjects: subject },
    },
    { ref: Core.secrets, body: { apiVersion: 'v1', kind: 'Secret', type: 'Opaque', metadata: meta(true) } },
  ];
}

async function createIfMissing(ctx: AgentContext, ref: ResourceRef, body: Record<string, unknown>): Promise<void> {
  const md = body.metadata as { name: string; namespace?: string };
  try {
    await ctx.client.create(resourcePath(ref, { namespace: md.namespace }), body);
  } catch (e) {
    if (!isAlreadyExists(e)) throw e;
  }
}

/**
 * Makes sure the credential exists and returns its token. Idempotent: the token is minted once
 * and kept in the Secret it is bound to.
 */
export async function ensureCredential(ctx: AgentContext, fc: ForeignCluster): Promise<string> {
  const id = fc.spec.clusterID;
  const name = credentialName(id);
  const secretPath = resourcePath(Core.secrets, { namespace: ctx.namespace, name });
  const existing = await ctx.client.getOrNull<Secret>(secretPath);
  const token = existing?.data?.token && Buffer.from(existing.data.token, 'base64').toString('utf8');
  if (token) {
    if (existing?.metadata.annotations?.[Annotations.credentialRevision] !== CREDENTIAL_REVISION) await upgradeCredential(ctx, fc, secretPath, token);
    else await keepAudiencesRecorded(ctx, token);
    return token;
  }
  for (const { ref, body } of credentialObjects(ctx, fc)) await createIfMissing(ctx, ref, body);
  const secret = await ctx.client.get<Secret>(secretPath);
  const tr = await ctx.client.create<{ status: { token: string; expirationTimestamp: string } }>(
    resourcePath(Core.serviceAccounts, { namespace: ctx.namespace, name, subresource: 'token' }),
    {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { expirationSeconds: TOKEN_SECONDS, boundObjectRef: { apiVersion: 'v1', kind: 'Secret', name, uid: secret.metadata.uid } },
    },
  );
  await recordTokenAudiences(ctx, tr.status.token);
  await ctx.client.mergePatch(secretPath, {
    metadata: { annotations: { [Annotations.tokenExpiration]: tr.status.expirationTimestamp, [Annotations.credentialRevision]: CREDENTIAL_REVISION } },
    data: { token: Buffer.from(tr.status.token).toString('base64') },
  });
  return tr.status.token;
}

/** The `aud` claim of a service-account token (a JWT we minted ourselves), space-separated. */
export function tokenAudiences(token: string): string | undefined {
  try {
    const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { aud?: unknown };
    const aud = typeof claims.aud === 'string' ? [claims.aud] : Array.isArray(claims.aud) ? claims.aud.filter((a): a is string => typeof a === 'string') : [];
    return aud.length ? aud.join(' ') : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Records the audiences this API server gives its tokens by default (read from a token it just
 * minted for a peer) on our namespace (annotation discovery.kubepeer.io/token-audiences): the
 * token-renewal admission policy (install/manifests.ts) lets a peer renew only for these, and
 * refuses every renewal while they are not recorded.
 */
async function recordTokenAudiences(ctx: AgentContext, token: string): Promise<void> {
  const audiences = tokenAudiences(token);
  if (!audiences) return;
  await ctx.client.mergePatch(resourcePath(Core.namespaces, { name: ctx.namespace }), { metadata: { annotations: { [Annotations.tokenAudiences]: audiences } } });
}

/** When each namespace's recorded audiences were last looked at (keepAudiencesRecorded). */
const audiencesCheckedAt = new Map<string, number>();
export const AUDIENCES_RECHECK_MS = 10 * 60_000;

/**
 * Records the audiences again when someone removed them: without them the policy refuses every
 * peer's renewal (it fails closed). Looked at once per AUDIENCES_RECHECK_MS per namespace, so an
 * established credential costs no extra request in most reconciles. `forget` starts over (tests).
 */
export async function keepAudiencesRecorded(ctx: AgentContext, token: string, forget = false): Promise<void> {
  const now = Date.now();
  if (forget) audiencesCheckedAt.delete(ctx.namespace);
  if (now - (audiencesCheckedAt.get(ctx.namespace) ?? -Infinity) < AUDIENCES_RECHECK_MS) return;
  audiencesCheckedAt.set(ctx.namespace, now);
  try {
    const ns = await ctx.client.getOrNull<{ metadata: { annotations?: Record<string, string> } }>(resourcePath(Core.namespaces, { name: ctx.namespace }));
    if (ns && !ns.metadata.annotations?.[Annotations.tokenAudiences]) await recordTokenAudiences(ctx, token);
  } catch (e) {
    // not this credential's business: looked at again at the next call
    audiencesCheckedAt.delete(ctx.namespace);
    ctx.log?.debug({ err: (e as Error).message }, 'could not check the recorded token audiences');
  }
}

/**
 * Brings a credential made by an earlier agent up to date: its RBAC, and the audiences the
 * token-renewal policy allows (the token stays as it is; what it may renew into is now bounded).
 */
async function upgradeCredential(ctx: AgentContext, fc: ForeignCluster, secretPath: string, token: string): Promise<void> {
  await recordTokenAudiences(ctx, token);
  for (const { ref, body } of credentialObjects(ctx, fc)) {
    if (ref === Core.secrets || ref === Core.serviceAccounts) continue;
    const md = body.metadata as { name: string; namespace?: string };
    await ctx.client.apply(resourcePath(ref, { namespace: md.namespace, name: md.name }), body, 'kubepeer-credentials', true);
  }
  await ctx.client.mergePatch(secretPath, { metadata: { annotations: { [Annotations.credentialRevision]: CREDENTIAL_REVISION } } });
}

/** Deletes every credential object for a peer. Needs no call to the peer. Returns what existed. */
export async function revokeCredential(ctx: AgentContext, clusterID: string): Promise<number> {
  const name = credentialName(clusterID);
  let deleted = 0;
  // The Secret first: its deletion alone invalidates the bound token.
  const targets: Array<[ResourceRef, string | undefined]> = [
    [Core.secrets, ctx.namespace],
    [Core.roleBindings, ctx.namespace],
    [Core.roles, ctx.namespace],
    [Core.clusterRoleBindings, undefined],
    [Core.clusterRoles, undefined],
    [Core.serviceAccounts, ctx.namespace],
  ];
  for (const [ref, namespace] of targets) if (await ctx.client.delete(resourcePath(ref, { namespace, name }))) deleted++;
  return deleted;
}
