/**
 * The kubepeer agent: one per cluster (more replicas stand by behind a Lease). It is stateless:
 * all state is Kubernetes objects, so it can be killed at any moment and restarted.
 *
 * Start-up: resolve the cluster ID, serve /healthz /readyz /metrics and the admission webhook (in
 * every replica), start the informer caches (warm standby), then run the controllers only while
 * holding the leader Lease.
 */
import { createServer, type Server } from 'node:http';
import { hostname } from 'node:os';
import { GVR, clusterConfigWithDefaults, type ClusterConfig, type ClusterConfigSpec } from '../api/crds.js';
import { Defaults, LIQO_NAMESPACE, Labels, Names } from '../api/constants.js';
import { Core, KubeClient } from '../k8s/rest.js';
import { Informer } from '../k8s/informer.js';
import { EventRecorder } from '../k8s/events.js';
import { LeaderElector } from '../k8s/leaderElection.js';
import type { Controller } from '../k8s/controller.js';
import { ensureClusterID } from '../identity/clusterID.js';
import { AgentStatusKeys, writeAgentStatus, type AgentStatusData } from './agentStatus.js';
import { identityController } from '../identity/identityController.js';
import { Counter } from 'prom-client';
import { registry } from '../observability/metrics.js';
import { logger } from '../observability/logger.js';
import { listenWithFallback, parseListen } from './listen.js';
import { MetricsAuthorizer } from './metricsAuth.js';
import { installLastResortHandlers } from './lastResort.js';
import type { AgentContext, Informers } from './context.js';
import { agentPlugins, type AgentPlugin } from './plugins.js';

const log = logger('agent');

const isLoopbackHost = (host: string) => host === 'localhost' || host === '::1' || host === '[::1]' || /^127\./.test(host);

const apiRequests = new Counter({
  name: 'kubepeer_api_requests_total',
  help: 'Requests the agent sent to its own cluster API server, by verb, resource and client (leader-election: the agent Lease; agent: everything else)',
  labelNames: ['verb', 'resource', 'client'] as const,
  registers: [registry],
});

export interface AgentOptions {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  /** Our API server URL as peers reach it (default: the kubeconfig's server). */
  apiUrl?: string;
  metricsListen?: string;
  /** Serve /metrics only to a token allowed to get it (TokenReview + SubjectAccessReview); default: when metricsListen is not loopback. */
  metricsAuth?: boolean;
  /** Also serve the health probes (/healthz, /livez, /readyz) here, unauthenticated, on their own port. */
  healthListen?: string;
  webhookListen?: string;
  /** `namespace/name` of the Service in front of the webhook (in-cluster); else a URL is registered. */
  webhookService?: string;
  /** Host put in the registered webhook URL (default: the webhook listen host, or 127.0.0.1). */
  webhookHost?: string;
  /**
   * PEM file of the CA that signs the API server's webhook client certificate: when set, only a
   * caller with such a certificate (named `webhookClientName`) reaches the webhook. Without it the
   * agent reads ConfigMap kube-system/kubepeer-webhook-client, which local clusters write
   * (src/peering/incoming/webhookClientAuth.ts).
   */
  webhookClientCA?: string;
  /** Common name that certificate must carry (default kube-apiserver-webhook-client). */
  webhookClientName?: string;
  dashboardListen?: string;
  /** Serve the dashboard over plain HTTP (loopback only). */
  dashboardInsecureHttp?: boolean;
  disableDashboard?: boolean;
  identity?: string;
  leaseDurationMs?: number;
  /** host:port of the virtual nodes' kubelet endpoint (default: the kubelet address, port 10350, or a free port if taken). */
  kubeletListen?: string;
  /** Address the API server reaches that endpoint at, written into virtual Nodes (default: ours towards the API server). */
  kubeletAddress?: string;
}

export interface RunningAgent {
  ctx: AgentContext;
  metricsUrl: string;
  webhookUrl?: string;
  dashboardUrl?: string;
  isLeader(): boolean;
  stop(): Promise<void>;
}

export async function startAgent(opts: AgentOptions = {}): Promise<RunningAgent> {
  installLastResortHandlers(log);
  const client = KubeClient.fromFile(opts.kubeconfig, opts.context);
  client.onRequest = (verb, resource) => apiRequests.inc({ verb, resource, client: 'agent' });
  // Its own client (same credentials, own connections): Lease renewals are counted apart, and a
  // slow request elsewhere never delays a renewal.
  const electionClient = new KubeClient(client.access);
  electionClient.onRequest = (verb, resource) => apiRequests.inc({ verb, resource, client: 'leader-election' });
  const namespace = opts.namespace ?? LIQO_NAMESPACE;
  const identity = opts.identity ?? process.env.POD_NAME ?? `${hostname()}-${process.pid}`;

  // Fail early, and clearly, when kubepeer is not installed.
  try {
    await client.get(`/apis/${GVR.foreignCluster.group}/${GVR.foreignCluster.version}`);
  } catch (e) {
    throw new Error(`kubepeer is not installed in the cluster at ${client.server} (${(e as Error).message}); run: kubepeer install${opts.kubeconfig ? ` --kubeconfig ${opts.kubeconfig}` : ''}`);
  }
  const clusterID = await ensureClusterID(client, namespace);

  const nsOpts = { namespace };
  const informers: Informers = {
    foreignClusters: new Informer(client, GVR.foreignCluster),
    peeringRequests: new Informer(client, GVR.peeringRequest),
    advertisements: new Informer(client, GVR.advertisement),
    searchDomains: new Informer(client, GVR.searchDomain),
    clusterConfigs: new Informer(client, GVR.clusterConfig),
    configMaps: new Informer(client, Core.configMaps, nsOpts),
    secrets: new Informer(client, Core.secrets, nsOpts),
    // virtual nodes: which labels our server-side apply owns is read from managedFields
    nodes: new Informer(client, Core.nodes, { keepManagedFields: true }),
    pods: new Informer(client, Core.pods, { fieldSelector: 'status.phase!=Succeeded,status.phase!=Failed' }),
  };

  let kubeRootCA = '';
  const config = (): ClusterConfigSpec => clusterConfigWithDefaults((informers.clusterConfigs.get(Names.clusterConfig) as ClusterConfig | undefined)?.spec ?? {});
  const ctx: AgentContext = {
    client,
    namespace,
    clusterID,
    get clusterName() {
      return config().discoveryConfig.clusterName || clusterID;
    },
    apiUrl: opts.apiUrl ?? client.server,
    get caPem() {
      return client.access.caPem || kubeRootCA;
    },
    informers,
    events: new EventRecorder(client, 'kubepeer-agent', identity),
    log,
    config,
    now: () => new Date(),
  };

  // --- health, readiness, metrics
  const plugins: AgentPlugin[] = [];
  let controllers: Controller[] = [];
  let stopping = false;
  /** The health probes, never authenticated (they say "ok" or which cache is not synced). */
  const serveHealth = (url: string, res: import('node:http').ServerResponse): boolean => {
    if (url === '/healthz' || url === '/livez') {
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok');
      return true;
    }
    if (url === '/readyz') {
      const notSynced = Object.entries(informers).filter(([, i]) => !i.hasSynced()).map(([n]) => n);
      const pluginIssues = plugins.flatMap((p) => p.notReady?.() ?? []);
      const problems = [...(stopping ? ['shutting down'] : []), ...notSynced.map((n) => `cache ${n} not synced`), ...pluginIssues];
      res.writeHead(problems.length ? 503 : 200, { 'Content-Type': 'text/plain' }).end(problems.length ? problems.join('\n') : 'ok');
      return true;
    }
    return false;
  };
  // /metrics names peers and what the agent does: off loopback, only for callers RBAC allows (metricsAuth.ts).
  const metricsListen = opts.metricsListen ?? Defaults.metricsListen;
  const metricsAuth = (opts.metricsAuth ?? !isLoopbackHost(parseListen(metricsListen).host)) ? new MetricsAuthorizer(client) : undefined;
  const metricsServer: Server = createServer(async (req, res) => {
    const url = req.url ?? '/';
    if (serveHealth(url, res)) return;
    if (url === '/metrics') {
      const verdict = metricsAuth ? await metricsAuth.check(req.headers.authorization) : undefined;
      if (verdict && verdict.status !== 200) {
        res.writeHead(verdict.status, { 'Content-Type': 'text/plain', ...(verdict.status === 401 ? { 'WWW-Authenticate': 'Bearer' } : {}) }).end(verdict.message);
        return;
      }
      res.writeHead(200, { 'Content-Type': registry.contentType }).end(await registry.metrics());
    } else {
      res.writeHead(404).end();
    }
  });
  const m = await listenWithFallback(metricsServer, metricsListen, !opts.metricsListen);
  const metricsUrl = `http://${m.host.includes(':') ? `[${m.host}]` : m.host}:${m.port}`;
  log.info({ metricsUrl, clusterID, metricsAuth: !!metricsAuth }, 'serving /healthz, /readyz and /metrics');
  const healthServer: Server | undefined = opts.healthListen
    ? createServer((req, res) => {
        if (!serveHealth(req.url ?? '/', res)) res.writeHead(404).end();
      })
    : undefined;
  if (healthServer) {
    const h = await listenWithFallback(healthServer, opts.healthListen!, false);
    log.info({ healthUrl: `http://${h.host.includes(':') ? `[${h.host}]` : h.host}:${h.port}` }, 'serving /healthz, /livez and /readyz (unauthenticated)');
  }

  // Stops whatever has started so far: also when start-up fails half-way, so that a failed agent
  // exits (to be restarted) instead of lingering with caches and no servers.
  let elector: LeaderElector | undefined;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await elector?.stop();
    for (const p of [...plugins].reverse()) await Promise.resolve(p.stop?.()).catch((e: unknown) => log.warn({ err: (e as Error).message, plugin: p.name }, 'plugin did not stop cleanly'));
    for (const i of Object.values(informers)) i.stop();
    if (metricsServer.listening) await new Promise<void>((r) => metricsServer.close(() => r()));
    if (healthServer?.listening) await new Promise<void>((r) => healthServer.close(() => r()));
    metricsServer.closeAllConnections?.();
    client.close();
    electionClient.close();
  };

  try {
    for (const i of Object.values(informers)) i.start();
    await Promise.all(Object.values(informers).map((i) => i.waitForSync(120_000)));
    const rootCA = informers.configMaps.get(`${namespace}/kube-root-ca.crt`);
    kubeRootCA = rootCA?.data?.['ca.crt'] ?? '';

    // Plugins: the webhook, dashboard, peering, discovery. Each contributes servers (started in
    // every replica) and controllers (run by the leader only). Leader election starts while the
    // servers start: LAN discovery only needs the caches, and its RFC 6762 probing (~1 s) is the
    // longest step between an agent's start and its peers seeing it.
    for (const make of agentPlugins) plugins.push(await make(ctx, opts));
    const serversStarted = (async () => {
      for (const p of plugins) await p.start?.();
    })();
    serversStarted.catch(() => {});

    elector = new LeaderElector(electionClient, {
      namespace,
      name: Names.agentLease,
      identity,
      leaseDurationMs: opts.leaseDurationMs,
      onStartedLeading: async () => {
        log.info({ identity }, 'leading: starting controllers');
        controllers = [identityController(ctx), ...plugins.flatMap((p) => p.controllers?.() ?? [])];
        await Promise.all(plugins.map((p) => p.onLeadingEarly?.()));
        // A server that failed to start fails startAgent itself, which then stops the elector.
        if (!(await serversStarted.then(() => true, () => false))) return;
        for (const c of controllers) c.start();
        for (const p of plugins) await p.onLeading?.();
        // What this term actually runs, for `kubepeer status` (the servers are up: their URLs are known).
        const dashboardUrl = plugins.map((p) => p.urls?.().dashboard).find(Boolean);
        const running: AgentStatusData = Object.assign({ [AgentStatusKeys.leader]: identity, [AgentStatusKeys.metricsUrl]: metricsUrl, [AgentStatusKeys.dashboardUrl]: dashboardUrl }, ...plugins.map((p) => p.status?.() ?? {}));
        await writeAgentStatus(client, namespace, running).catch((e: unknown) => log.warn({ err: (e as Error).message }, `could not write ConfigMap ${namespace}/${Names.agentStatusConfigMap}; kubepeer status will not show what runs`));
      },
      onStoppedLeading: async () => {
        log.info({ identity }, 'no longer leading: stopping controllers');
        for (const p of plugins) await p.onNotLeading?.();
        await Promise.all(controllers.map((c) => c.stop()));
        controllers = [];
      },
    });
    elector.start();
    await serversStarted;
  } catch (e) {
    await stop();
    throw e;
  }

  return {
    ctx,
    metricsUrl,
    get webhookUrl() {
      return plugins.map((p) => p.urls?.().webhook).find(Boolean);
    },
    get dashboardUrl() {
      return plugins.map((p) => p.urls?.().dashboard).find(Boolean);
    },
    isLeader: () => !!elector?.isLeader,
    stop,
  };
}

export { Labels };
