/**
 * The admission webhook as an agent plugin: every replica serves it (so a Service in front of
 * several replicas always finds one), the leader keeps it registered. It is ready once it listens.
 *
 * - start(): read or create the shared serving Secret, listen on `--webhook-listen` (default
 *   127.0.0.1:9443, or a free port when that one is taken), follow the Secret for changes.
 * - controllers()/onLeading(): the registration controller (webhookRegistration.ts).
 * - urls(): the webhook URL this replica serves.
 */
import { Defaults } from '../../api/constants.js';
import { WEBHOOK_TLS_SECRET } from '../../install/manifests.js';
import { keyOf } from '../../k8s/informer.js';
import { untilServing } from '../../k8s/untilServing.js';
import { parseListen } from '../../agent/listen.js';
import type { AgentPlugin, AgentPluginFactory } from '../../agent/plugins.js';
import type { KubernetesObject } from '@kubernetes/client-node';
import { PendingRequests } from './pendingRequests.js';
import { candidatesOf } from './candidates.js';
import type { PeeringRequest } from '../../api/crds.js';
import { LogBudget, WebhookServer, type AdmissionRoute, type WebhookPolicy } from './webhookServer.js';
import { ensureServingSecret, materialOf, servingHosts, servingProblem, type ServingMaterial } from '../../trust/servingSecret.js';
import { discoverWebhookClientAuth, loadWebhookClientAuth } from './webhookClientAuth.js';
import { WebhookRegistration, parseServiceRef, registeredHost, webhookUrl, type WebhookTarget } from './webhookRegistration.js';

/** How often each replica re-checks its certificate's expiry (it also reacts to Secret changes). */
const TLS_RECHECK_MS = 6 * 3600_000;

/**
 * The agent's webhook server as other plugins see it (the offloading pod webhook): more admission
 * paths on the same HTTPS server, and the clientConfig (URL or Service, with the serving CA) under
 * which the API server reaches a path, for the configuration those plugins register themselves.
 */
export class SharedWebhook {
  readonly routes = new Map<string, AdmissionRoute>();
  /** Set by the webhook plugin once it listens and has a certificate. */
  clientConfigFor?: (path: string) => Record<string, unknown> | undefined;
  private readonly listeners = new Set<() => void>();

  clientConfig(path: string): Record<string, unknown> | undefined {
    return this.clientConfigFor?.(path);
  }

  /** Called when the address or the serving CA changes; returns its unsubscribe. */
  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  changed(): void {
    for (const fn of this.listeners) fn();
  }
}

const shared = new WeakMap<object, SharedWebhook>();
export function sharedWebhook(ctx: object): SharedWebhook {
  let s = shared.get(ctx);
  if (!s) shared.set(ctx, (s = new SharedWebhook()));
  return s;
}

export const webhookPlugin: AgentPluginFactory = async (ctx, opts) => {
  const log = ctx.log.child({ component: 'webhook' });
  const listen = opts.webhookListen ?? Defaults.webhookListen;
  const listenHost = parseListen(listen).host;
  const service = opts.webhookService ? parseServiceRef(opts.webhookService) : undefined;
  const host = registeredHost(listenHost, opts.webhookHost);
  const hosts = servingHosts({ listenHost, webhookHost: host, service });
  const secretKey = `${ctx.namespace}/${WEBHOOK_TLS_SECRET}`;

  const pending = new PendingRequests();
  const policy = (): WebhookPolicy => {
    const { acceptPolicy, maxPendingRequests, allowedPeerCIDRs } = ctx.config().peeringConfig;
    // the same allowlist as the identity callback's (requesterClient.ts): an apiUrl we would
    // never call is refused before it is stored
    return { ownClusterID: ctx.clusterID, ownApiUrl: ctx.apiUrl, acceptPolicy, maxPendingRequests, allowedPeerCIDRs, isKnownPeer };
  };
  // Known at an address of our own: the identity callback goes there, not to the request's apiUrl.
  const isKnownPeer = (id: string) => ctx.informers.foreignClusters.list().some((f) => f.spec.clusterID === id && f.spec.discoveryType !== 'IncomingPeering' && !!f.spec.apiUrl && !f.metadata.deletionTimestamp);
  const candidates = candidatesOf(ctx);
  const shared = sharedWebhook(ctx);
  // Only the API server may call: where kubepeer configured it to present a client certificate
  // (local clusters); otherwise any caller is answered and forged calls are made harmless.
  const clientAuth = opts.webhookClientCA ? loadWebhookClientAuth(opts.webhookClientCA, opts.webhookClientName) : await discoverWebhookClientAuth(ctx.client, log);
  const server = new WebhookServer(
    { policy, pending, log, logBudget: new LogBudget(), admitted: (obj) => candidates.offer(obj as PeeringRequest) },
    { listen, fallback: !opts.webhookListen, routes: shared.routes, ...(clientAuth ? { clientAuth } : {}) },
  );
  let tls: ServingMaterial | undefined;
  let url: string | undefined;
  let stopped = false;

  const target = (): WebhookTarget | undefined => {
    if (service) return { service };
    const port = server.listening?.port;
    return port ? { url: webhookUrl(host, port) } : undefined;
  };
  const registration = new WebhookRegistration({ ...ctx, log }, target, () => tls?.caPem);
  shared.clientConfigFor = (path) => {
    const t = target();
    if (!t || !tls) return undefined;
    const caBundle = Buffer.from(tls.caPem).toString('base64');
    if ('service' in t) return { service: { namespace: t.service.namespace, name: t.service.name, path, port: t.service.port ?? 443 }, caBundle };
    return { url: new URL(path, t.url).toString(), caBundle };
  };

  // --- the Secret: follow changes made by other replicas or people (deleted, re-issued, new CA)
  let refreshing: Promise<void> | undefined;
  let again = false;
  const refreshTls = (): void => {
    if (stopped) return;
    if (refreshing) {
      again = true;
      return;
    }
    refreshing = (async () => {
      do {
        again = false;
        try {
          const cached = materialOf(ctx.informers.secrets.get(secretKey)?.data);
          const next = cached && !servingProblem(cached, hosts) ? cached : await ensureServingSecret(ctx.client, ctx.namespace, hosts, log);
          if (!tls || next.certPem !== tls.certPem || next.keyPem !== tls.keyPem || next.caPem !== tls.caPem) {
            const caChanged = tls?.caPem !== next.caPem;
            tls = { caPem: next.caPem, certPem: next.certPem, keyPem: next.keyPem };
            server.setCertificate(tls);
            log.info({ caChanged }, 'serving the webhook certificate from the Secret');
            if (caChanged) {
              registration.poke();
              shared.changed();
            }
          }
        } catch (e) {
          log.warn({ err: (e as Error).message }, 'could not refresh the webhook certificate; retrying');
          setTimeout(refreshTls, 2_000).unref();
        }
      } while (again && !stopped);
      refreshing = undefined;
    })();
  };
  const onSecret = (obj: KubernetesObject) => {
    if (keyOf(obj) === secretKey) refreshTls();
  };
  const onSecretUpdate = (_old: KubernetesObject, obj: KubernetesObject) => onSecret(obj);
  let recheck: NodeJS.Timeout | undefined;

  const plugin: AgentPlugin = {
    name: 'webhook',

    async start() {
      pending.follow(ctx.informers.peeringRequests);
      tls = await untilServing(() => ensureServingSecret(ctx.client, ctx.namespace, hosts, log), { what: `read or create Secret ${secretKey}`, log });
      const addr = await server.start(tls);
      url = webhookUrl(host, addr.port);
      shared.changed();
      log.info(
        { webhookUrl: url, listen: `${addr.host}:${addr.port}`, service: opts.webhookService, callerAuthenticated: !!clientAuth, ...(clientAuth ? { clientName: clientAuth.commonName } : {}) },
        clientAuth ? 'serving the PeeringRequest admission webhook (to the API server only: its client certificate is required)' : 'serving the PeeringRequest admission webhook',
      );
      ctx.informers.secrets.on('add', onSecret);
      ctx.informers.secrets.on('update', onSecretUpdate);
      ctx.informers.secrets.on('delete', onSecret);
      recheck = setInterval(refreshTls, TLS_RECHECK_MS);
      recheck.unref();
    },

    controllers() {
      return [registration.makeController()];
    },

    async onLeading() {
      registration.start();
    },

    async onNotLeading() {
      registration.stop();
    },

    notReady() {
      return server.listening ? [] : ['admission webhook not listening yet'];
    },

    urls() {
      return url ? { webhook: url } : {};
    },

    async stop() {
      stopped = true;
      if (recheck) clearInterval(recheck);
      ctx.informers.secrets.off('add', onSecret);
      ctx.informers.secrets.off('update', onSecretUpdate);
      ctx.informers.secrets.off('delete', onSecret);
      registration.stop();
      pending.stop();
      await server.stop();
    },
  };
  return plugin;
};
