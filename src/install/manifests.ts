/**
 * Every object `kubepeer install` puts into a cluster, built here once: `kubepeer install` applies
 * them with server-side apply, and `npm run gen:crds` writes the same objects to deploy/ for people
 * who install with kubectl. A unit test fails when deploy/ is stale.
 */
import { ALL_RESOURCES, GVR, apiVersionOf, toCRD } from '../api/crds.js';
import { Annotations, CONFIG_GROUP, DISCOVERY_GROUP, LIQO_NAMESPACE, Labels, MANAGED_BY, Names, SHARING_GROUP } from '../api/constants.js';
import { tenantCredentialOnConsumer } from '../offloading/names.js';

export type Manifest = Record<string, unknown> & { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> } };

const labels = { [Labels.managedBy]: MANAGED_BY, 'app.kubernetes.io/part-of': 'kubepeer' };

export function crdManifests(): Manifest[] {
  return ALL_RESOURCES.map((d) => toCRD(d) as Manifest);
}

export interface InstallOptions {
  namespace?: string;
  clusterName?: string;
}

/** Namespace, config, public info and RBAC: what every cluster running kubepeer needs. */
export function baseManifests(opts: InstallOptions = {}): Manifest[] {
  const ns = opts.namespace ?? LIQO_NAMESPACE;
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels } },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: Names.trustedCAConfigMap, namespace: ns, labels },
      // Keys are free-form names; values are PEM CA certificates trusted for peers' API servers.
      data: {},
    },
    {
      apiVersion: apiVersionOf(GVR.clusterConfig),
      kind: 'ClusterConfig',
      metadata: { name: Names.clusterConfig, labels },
      spec: { discoveryConfig: opts.clusterName ? { clusterName: opts.clusterName } : {}, peeringConfig: {} },
    },
    // --- the agent's own identity and rights
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: Names.agentServiceAccount, namespace: ns, labels } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: Names.agentClusterRole, labels },
      rules: [
        { apiGroups: [DISCOVERY_GROUP, SHARING_GROUP, CONFIG_GROUP], resources: ['*'], verbs: ['*'] },
        { apiGroups: [''], resources: ['nodes', 'nodes/status'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] },
        // Workload offloading (docs/design.md §8). As consumer: home pods bound to virtual nodes are
        // ours to run (status, deletion once the remote pod is gone, eviction on unpeer), and the
        // ConfigMaps and Secrets they reference are read to reflect them. As provider: tenant
        // namespaces (liqo-tenant-<id>) with their quota, defaults, ServiceAccount, Role and token;
        // the Role grants A rights on pods of its namespace only, which RBAC's escalation check
        // requires the agent to hold itself.
        { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection'] },
        { apiGroups: [''], resources: ['pods/status'], verbs: ['get', 'update', 'patch'] },
        { apiGroups: [''], resources: ['pods/eviction'], verbs: ['create'] },
        { apiGroups: [''], resources: ['pods/log'], verbs: ['get'] },
        { apiGroups: [''], resources: ['pods/exec', 'pods/attach', 'pods/portforward'], verbs: ['get', 'create'] },
        { apiGroups: [''], resources: ['configmaps', 'secrets'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] },
        { apiGroups: [''], resources: ['serviceaccounts'], verbs: ['get', 'create', 'update', 'patch'] },
        { apiGroups: [''], resources: ['serviceaccounts/token'], verbs: ['create'] },
        { apiGroups: [''], resources: ['resourcequotas', 'limitranges'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch'] },
        { apiGroups: ['rbac.authorization.k8s.io'], resources: ['roles', 'rolebindings'], verbs: ['get', 'create', 'update', 'patch'] },
        { apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] },
        { apiGroups: [''], resources: ['events'], verbs: ['get', 'list', 'watch', 'create', 'patch', 'update'] },
        { apiGroups: ['admissionregistration.k8s.io'], resources: ['mutatingwebhookconfigurations'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch'] },
        { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] },
        { apiGroups: ['admissionregistration.k8s.io'], resources: ['validatingwebhookconfigurations'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch'] },
        { apiGroups: ['apiextensions.k8s.io'], resources: ['customresourcedefinitions'], verbs: ['get', 'list'] },
        { apiGroups: ['about.k8s.io'], resources: ['clusterproperties'], verbs: ['get', 'list'] },
        { apiGroups: ['authorization.k8s.io'], resources: ['selfsubjectaccessreviews'], verbs: ['create'] },
        // The virtual nodes' kubelet endpoint (docs/design.md §8) authenticates and authorizes its
        // callers as a kubelet does (TokenReview, SubjectAccessReview), and gets its serving
        // certificate through the CSR API, approving only kubelet-serving requests.
        { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
        { apiGroups: ['authorization.k8s.io'], resources: ['subjectaccessreviews'], verbs: ['create'] },
        { apiGroups: ['certificates.k8s.io'], resources: ['certificatesigningrequests'], verbs: ['create', 'get', 'list', 'watch'] },
        { apiGroups: ['certificates.k8s.io'], resources: ['certificatesigningrequests/approval'], verbs: ['update'] },
        { apiGroups: ['certificates.k8s.io'], resources: ['signers'], resourceNames: ['kubernetes.io/kubelet-serving'], verbs: ['approve'] },
        // Per-peer credentials (docs/design.md §5, step 2): a ClusterRole/Binding scoped to one
        // Advertisement name. RBAC's escalation check still limits what the agent can grant.
        { apiGroups: ['rbac.authorization.k8s.io'], resources: ['clusterroles', 'clusterrolebindings'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: Names.agentClusterRole, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: Names.agentClusterRole },
      subjects: [{ kind: 'ServiceAccount', name: Names.agentServiceAccount, namespace: ns }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: Names.agentClusterRole, namespace: ns, labels },
      rules: [
        { apiGroups: [''], resources: ['configmaps', 'secrets', 'serviceaccounts', 'events'], verbs: ['*'] },
        { apiGroups: [''], resources: ['serviceaccounts/token'], verbs: ['create'] },
        { apiGroups: ['rbac.authorization.k8s.io'], resources: ['roles', 'rolebindings'], verbs: ['*'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: Names.agentClusterRole, namespace: ns, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: Names.agentClusterRole },
      subjects: [{ kind: 'ServiceAccount', name: Names.agentServiceAccount, namespace: ns }],
    },
    // The API server's client CA (ConfigMap kube-system/extension-apiserver-authentication), which
    // the kubelet endpoint verifies client certificates against; the Role is the API server's own.
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: `${Names.agentClusterRole}-authentication-reader`, namespace: 'kube-system', labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'extension-apiserver-authentication-reader' },
      subjects: [{ kind: 'ServiceAccount', name: Names.agentServiceAccount, namespace: ns }],
    },
    // Who may scrape the agent's /metrics where it is not on loopback (it names peers): bind this
    // ClusterRole to the scraper's ServiceAccount (the agent checks it with TokenReview and
    // SubjectAccessReview, as kube-rbac-proxy does).
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'kubepeer-metrics-reader', labels },
      rules: [{ nonResourceURLs: ['/metrics'], verbs: ['get'] }],
    },
    // --- what a stranger may do (docs/design.md §5, step 3): create PeeringRequests, and read
    //     the one public ConfigMap. Nothing else.
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: Names.anonymousClusterRole, labels },
      rules: [{ apiGroups: [DISCOVERY_GROUP], resources: ['peeringrequests'], verbs: ['create'] }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: Names.anonymousClusterRole, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: Names.anonymousClusterRole },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'system:anonymous' }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: Names.anonymousRole, namespace: ns, labels },
      rules: [{ apiGroups: [''], resources: ['configmaps'], resourceNames: [Names.clusterInfoConfigMap], verbs: ['get'] }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: Names.anonymousRole, namespace: ns, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: Names.anonymousRole },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'system:anonymous' }],
    },
    ...advertisementPolicyManifests(opts),
    ...dashboardManifests(opts),
  ];
}

/**
 * Who may use the dashboard. It acts with the signed-in person's token only
 * (src/dashboard/handlers.ts), so these ClusterRoles hold exactly what its pages read and its
 * buttons write: peers, requests, domains, advertisements, virtual nodes, the pods and quotas of
 * offloading, events (cluster-wide: those about cluster-scoped objects live in "default"), the
 * public cluster-info and the agent's leader Lease (whether an agent runs). ServiceAccounts kubepeer-dashboard (operate) and kubepeer-dashboard-viewer
 * (read only) are bound to them; `kubepeer dashboard token [--read-only]` makes a token for one.
 */
export function dashboardManifests(opts: InstallOptions = {}): Manifest[] {
  const ns = opts.namespace ?? LIQO_NAMESPACE;
  const read = ['get', 'list', 'watch'];
  const rules = (write: boolean) => [
    { apiGroups: [DISCOVERY_GROUP], resources: ['foreignclusters'], verbs: write ? [...read, 'create', 'patch', 'update', 'delete'] : read },
    { apiGroups: [DISCOVERY_GROUP], resources: ['searchdomains'], verbs: write ? [...read, 'create', 'delete'] : read },
    { apiGroups: [DISCOVERY_GROUP], resources: ['peeringrequests'], verbs: write ? [...read, 'patch'] : read },
    { apiGroups: [SHARING_GROUP], resources: ['advertisements'], verbs: read },
    { apiGroups: [CONFIG_GROUP], resources: ['clusterconfigs'], verbs: ['get', 'list', 'watch'] },
    { apiGroups: [''], resources: ['nodes', 'pods', 'resourcequotas', 'events'], verbs: read },
    { apiGroups: [''], resources: ['configmaps'], resourceNames: [Names.clusterInfoConfigMap], verbs: ['get'] },
    // The agent's leader Lease: the page says when no agent runs (agentLiveness).
    { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: [Names.agentLease], verbs: ['get'] },
  ];
  const bound = (name: string, write: boolean): Manifest[] => [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: ns, labels } },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name, labels }, rules: rules(write) },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
      subjects: [{ kind: 'ServiceAccount', name, namespace: ns }],
    },
  ];
  return [...bound(Names.dashboardServiceAccount, true), ...bound(Names.dashboardViewerServiceAccount, false)];
}

/**
 * RBAC cannot limit `create` to one object name, so this policy (evaluated by the API server
 * itself) lets a peer's credential write only its own Advertisement: name and spec.clusterID must
 * both be that peer's cluster ID (docs/design.md §5, step 2).
 */
export function advertisementPolicyManifests(opts: InstallOptions = {}): Manifest[] {
  const ns = opts.namespace ?? LIQO_NAMESPACE;
  const prefix = `system:serviceaccount:${ns}:${Names.remoteCredentialPrefix}`;
  return [
    ...peerOwnedNamePolicy(prefix, {
      name: 'kubepeer-advertisement-owner',
      rule: { apiGroups: [SHARING_GROUP], apiVersions: ['*'], resources: ['advertisements'] },
      expression: `object.metadata.name == '${Names.advertisementPrefix}' + variables.peer && object.spec.clusterID == variables.peer`,
      messageExpression: `'cluster ' + variables.peer + ' may only write its own Advertisement (${Names.advertisementPrefix}' + variables.peer + ' with spec.clusterID ' + variables.peer + ')'`,
    }),
    // The one Secret a peer may write here: the credential of our tenancy on it (workload
    // offloading, docs/design.md §8).
    ...peerOwnedNamePolicy(prefix, {
      name: 'kubepeer-tenant-credential-owner',
      rule: { apiGroups: [''], apiVersions: ['v1'], resources: ['secrets'] },
      expression: `object.metadata.name == '${tenantCredentialOnConsumer('')}' + variables.peer`,
      messageExpression: `'cluster ' + variables.peer + ' may only write Secret ${tenantCredentialOnConsumer('')}' + variables.peer`,
    }),
    // A peer answers our PeeringRequest in ConfigMap `kubepeer-answer-<peer>`
    // (peering/outgoing/peerAnswers.ts): the name tells the reader who wrote the answer, and no
    // peer can answer for another.
    ...peerOwnedNamePolicy(prefix, {
      name: 'kubepeer-peer-answer-owner',
      rule: { apiGroups: [''], apiVersions: ['v1'], resources: ['configmaps'] },
      expression: `object.metadata.name == '${Names.peerAnswerPrefix}' + variables.peer`,
      messageExpression: `'cluster ' + variables.peer + ' may only write ConfigMap ${Names.peerAnswerPrefix}' + variables.peer`,
    }),
    ...tokenRenewalPolicyManifests(ns, prefix),
  ];
}

/**
 * RBAC cannot limit `create` to one object name, so a policy evaluated by the API server itself
 * binds what a peer's credential (user `<prefix><peer-id>`) writes to that peer's own names.
 */
function peerOwnedNamePolicy(
  prefix: string,
  p: { name: string; rule: { apiGroups: string[]; apiVersions: string[]; resources: string[] }; expression: string; messageExpression: string },
): Manifest[] {
  return [
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name: p.name, labels },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: { resourceRules: [{ ...p.rule, operations: ['CREATE', 'UPDATE'] }] },
        matchConditions: [{ name: 'written-by-a-peer', expression: `request.userInfo.username.startsWith('${prefix}')` }],
        variables: [{ name: 'peer', expression: `request.userInfo.username.substring(${prefix.length})` }],
        validations: [{ expression: p.expression, messageExpression: p.messageExpression, reason: 'Forbidden' }],
      },
    },
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name: p.name, labels },
      spec: { policyName: p.name, validationActions: ['Deny'] },
    },
  ];
}


/** Longest lifetime of a peer credential's token, and so of a renewal (the credential's own: 365 days). */
export const PEER_TOKEN_MAX_SECONDS = 365 * 24 * 3600;

/**
 * A peer may ask for tokens of its own ServiceAccount (RBAC: serviceaccounts/token create, its own
 * name only) so that it can renew its credential. This policy makes a renewal exactly what the
 * original credential was (docs/design.md §5 step 2): bound to the credential's Secret (same name as
 * the ServiceAccount; deleting it revokes every renewal), for this API server's own audiences only
 * (the API server fills in its defaults before admission; the agent records them on our
 * namespace, the parameter of the second policy, which refuses every peer token request while
 * they are not recorded), and for at most the original
 * lifetime. It matches every peer credential, whichever agent version minted it.
 */
function tokenRenewalPolicyManifests(ns: string, prefix: string): Manifest[] {
  const name = 'kubepeer-peer-token-renewal';
  const audiences = 'kubepeer-peer-token-audiences';
  return [
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name, labels },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: { resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['serviceaccounts/token'] }] },
        matchConditions: [{ name: 'asked-by-a-peer', expression: `request.userInfo.username.startsWith('${prefix}')` }],
        variables: [{ name: 'peer', expression: `request.userInfo.username.substring(${prefix.length})` }],
        validations: [
          {
            expression: `request.namespace == '${ns}' && request.name == '${Names.remoteCredentialPrefix}' + variables.peer`,
            messageExpression: `'cluster ' + variables.peer + ' may only ask for tokens of its own ServiceAccount ${ns}/${Names.remoteCredentialPrefix}' + variables.peer`,
            reason: 'Forbidden',
          },
          {
            // an unbound request arrives with an empty boundObjectRef: its fields are tested one by one
            expression: `has(object.spec.boundObjectRef) && has(object.spec.boundObjectRef.kind) && has(object.spec.boundObjectRef.name) && object.spec.boundObjectRef.kind == 'Secret' && object.spec.boundObjectRef.name == '${Names.remoteCredentialPrefix}' + variables.peer`,
            messageExpression: `'a token for cluster ' + variables.peer + ' must be bound to Secret ${Names.remoteCredentialPrefix}' + variables.peer + ', as its credential is (deleting that Secret revokes it)'`,
            reason: 'Forbidden',
          },
          {
            expression: `has(object.spec.expirationSeconds) && object.spec.expirationSeconds <= ${PEER_TOKEN_MAX_SECONDS}`,
            messageExpression: `'a token for cluster ' + variables.peer + ' may live at most ${PEER_TOKEN_MAX_SECONDS} seconds, as its credential does'`,
            reason: 'Forbidden',
          },
        ],
      },
    },
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name, labels },
      spec: { policyName: name, validationActions: ['Deny'] },
    },
    // The audiences, in a policy of their own, with our namespace as its parameter: the agent
    // records them there (annotation discovery.kubepeer.io/token-audiences) when it mints or
    // upgrades a credential, and a peer's token request is refused while they are not recorded
    // (fail closed). The parameter is the namespace because a missing parameter fails a policy
    // before its match conditions are evaluated: with a ConfigMap that someone deleted,
    // parameterNotFoundAction Deny would refuse every token request the binding sees, pods' and
    // the agent's own too. The namespace cannot be missing while a token of one of its
    // ServiceAccounts is asked for, and the binding sees only token requests in it, so Deny
    // refuses nothing else even after the namespace is deleted with the policies left behind.
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name: audiences, labels },
      spec: {
        failurePolicy: 'Fail',
        paramKind: { apiVersion: 'v1', kind: 'Namespace' },
        matchConstraints: { resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['serviceaccounts/token'] }] },
        matchConditions: [{ name: 'asked-by-a-peer', expression: `request.userInfo.username.startsWith('${prefix}')` }],
        variables: [
          { name: 'peer', expression: `request.userInfo.username.substring(${prefix.length})` },
          { name: 'audiences', expression: `has(params.metadata.annotations) && '${Annotations.tokenAudiences}' in params.metadata.annotations ? params.metadata.annotations['${Annotations.tokenAudiences}'] : ''` },
          { name: 'recorded', expression: `variables.audiences.split(' ').filter(a, a != '')` },
        ],
        validations: [
          {
            expression: `size(variables.recorded) > 0`,
            messageExpression: `'a token for cluster ' + variables.peer + ' is refused: the audiences of this API server are not recorded (annotation ${Annotations.tokenAudiences} on namespace ${ns}, which the kubepeer agent writes when it mints or upgrades a peer credential)'`,
            reason: 'Forbidden',
          },
          {
            expression: `size(variables.recorded) == 0 || (size(object.spec.audiences) > 0 && object.spec.audiences.all(a, a in variables.recorded))`,
            messageExpression: `'a token for cluster ' + variables.peer + ' may only be for this API server (audiences ' + variables.audiences + ')'`,
            reason: 'Forbidden',
          },
        ],
      },
    },
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name: audiences, labels },
      spec: {
        policyName: audiences,
        paramRef: { name: ns, parameterNotFoundAction: 'Deny' },
        matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } } },
        validationActions: ['Deny'],
      },
    },
  ];
}

export const AGENT_IMAGE = 'ghcr.io/kubepeer/kubepeer:0.1.0';
export const WEBHOOK_SERVICE = 'kubepeer-webhook';
export const WEBHOOK_PATH = '/validate/peeringrequests';
export const WEBHOOK_TLS_SECRET = 'kubepeer-webhook-tls';
export const DASHBOARD_TLS_SECRET = 'kubepeer-dashboard-tls';

/**
 * Running the agent inside the cluster: Deployment, Service and the webhook registration.
 *
 * The agent runs on the pod network (not hostNetwork), so both replicas fit on one node and none
 * takes host ports; the API server reaches the webhook through its Service and the virtual nodes'
 * kubelet endpoint at the leader's pod IP. What this costs: mDNS multicast does not leave a pod
 * network, so LAN discovery sees nothing from there (DNS and manual discovery work); run the agent
 * beside the cluster (`kubepeer agent`) for LAN discovery.
 */
export function inClusterAgentManifests(opts: InstallOptions & { apiUrl?: string; image?: string } = {}): Manifest[] {
  const ns = opts.namespace ?? LIQO_NAMESPACE;
  const app = { 'app.kubernetes.io/name': 'kubepeer-agent' };
  return [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'kubepeer-agent', namespace: ns, labels: { ...labels, ...app } },
      spec: {
        replicas: 2,
        selector: { matchLabels: app },
        template: {
          metadata: { labels: app },
          spec: {
            serviceAccountName: Names.agentServiceAccount,
            affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { labelSelector: { matchLabels: app }, topologyKey: 'kubernetes.io/hostname' } }] } },
            securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } },
            containers: [
              {
                name: 'agent',
                image: opts.image ?? AGENT_IMAGE,
                imagePullPolicy: 'IfNotPresent',
                args: [
                  'agent',
                  `--namespace=${ns}`,
                  '--webhook-listen=0.0.0.0:9443',
                  `--webhook-service=${ns}/${WEBHOOK_SERVICE}`,
                  // /metrics needs a token allowed to get it (ClusterRole kubepeer-metrics-reader);
                  // the probes have their own unauthenticated port
                  '--metrics-listen=0.0.0.0:9464',
                  '--health-listen=0.0.0.0:9465',
                  '--dashboard-listen=0.0.0.0:8443',
                  '--kubelet-listen=0.0.0.0:10350',
                  '--kubelet-address=$(POD_IP)',
                  // Peers must reach our API server: inside the cluster the agent only sees the
                  // `kubernetes` Service, which means nothing to them.
                  ...(opts.apiUrl ? [`--api-url=${opts.apiUrl}`] : []),
                ],
                env: [
                  { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                  { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
                ],
                ports: [
                  { name: 'webhook', containerPort: 9443 },
                  { name: 'metrics', containerPort: 9464 },
                  { name: 'health', containerPort: 9465 },
                  { name: 'dashboard', containerPort: 8443 },
                  { name: 'kubelet', containerPort: 10350 },
                ],
                readinessProbe: { httpGet: { path: '/readyz', port: 'health' }, periodSeconds: 5 },
                livenessProbe: { httpGet: { path: '/healthz', port: 'health' }, periodSeconds: 10 },
                resources: { requests: { cpu: '50m', memory: '96Mi' }, limits: { memory: '256Mi' } },
                securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
                volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
              },
            ],
            volumes: [{ name: 'tmp', emptyDir: {} }],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: WEBHOOK_SERVICE, namespace: ns, labels },
      spec: { selector: app, ports: [{ name: 'webhook', port: 443, targetPort: 'webhook' }] },
    },
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingWebhookConfiguration',
      metadata: { name: Names.webhookConfiguration, labels },
      // The agent fills caBundle from its serving CA (Secret kubepeer-webhook-tls) at start.
      webhooks: [webhookEntry({ service: { namespace: ns, name: WEBHOOK_SERVICE, path: WEBHOOK_PATH, port: 443 } })],
    },
  ];
}

/** One entry of the ValidatingWebhookConfiguration for PeeringRequests. */
export function webhookEntry(clientConfig: Record<string, unknown>): Record<string, unknown> {
  return {
    name: 'peeringrequests.discovery.liqo.io',
    admissionReviewVersions: ['v1'],
    sideEffects: 'None',
    failurePolicy: 'Fail',
    timeoutSeconds: 10,
    matchPolicy: 'Equivalent',
    clientConfig,
    rules: [{ apiGroups: [DISCOVERY_GROUP], apiVersions: ['*'], operations: ['CREATE', 'UPDATE'], resources: ['peeringrequests'], scope: 'Cluster' }],
  };
}

export function namespacedPathOf(m: Manifest): { namespace?: string; name: string } {
  return { namespace: m.metadata.namespace, name: m.metadata.name };
}
