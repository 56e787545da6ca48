/**
 * What the consumer side of offloading serves to its own API server (docs/design.md §8), as one
 * agent plugin:
 *
 * - the pod webhook (podWebhook.ts) on the agent's shared HTTPS webhook server, path
 *   `/mutate/pods`, and its MutatingWebhookConfiguration (podWebhookRegistration.ts, leader only);
 * - the stuck-pod reporter (enabledNamespaces.ts, leader only);
 * - the virtual nodes' kubelet endpoint (kubeletServer.ts), served by every replica; its address
 *   and port go into each virtual Node's status through kubeletEndpoint(ctx), which the
 *   advertisement controller reads.
 *
 * The endpoint's address: `--kubelet-address`, else the host of `--kubelet-listen` when it is not a
 * wildcard, else our end of a connection to the API server (kubeletEndpoint.ts says why that one).
 * It listens on `--kubelet-listen`, by default that address and port 10350 (not 10250: in the
 * cluster the agent shares the host network with a real kubelet), or a free port when taken.
 */
import type { AgentPlugin, AgentPluginFactory } from '../../agent/plugins.js';
import { parseListen } from '../../agent/listen.js';
import { isWildcardHost } from '../../net/hosts.js';
import { Core, resourcePath } from '../../k8s/rest.js';
import { createCA, issueCertificate } from '../../trust/pki.js';
import { sharedWebhook } from '../../peering/incoming/webhookPlugin.js';
import { POD_WEBHOOK_PATH, handlePodAdmission } from './podWebhook.js';
import { PodWebhookRegistration } from './podWebhookRegistration.js';
import { StuckPodReporter } from './enabledNamespaces.js';
import { KubeletAuth } from './kubeletAuth.js';
import { KubeletServer, type PodRef } from './kubeletServer.js';
import { kubeletCommonName, obtainKubeletServingCert, renewAtMs } from './kubeletCert.js';
import { apiServerFacingAddress, kubeletEndpoint } from './kubeletEndpoint.js';
import { remotePodDirectory } from './remotePods.js';
import type { KubernetesObject } from '@kubernetes/client-node';
import { Informer } from '../../k8s/informer.js';
import { MAX_REQUEUE_MS } from '../../k8s/workqueue.js';
import { OFFLOADING_ENABLED_LABEL, OffloadingAnnotations } from '../names.js';
import { StreamingServer } from './streaming/index.js';

export const DEFAULT_KUBELET_PORT = 10350;
/** How often the client CA is re-read (the API server's CA may rotate). */
const CLIENT_CA_RECHECK_MS = 5 * 60_000;

const hostPort = (host: string, port: number) => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);

export const servingPlugin: AgentPluginFactory = async (ctx, opts) => {
  const log = ctx.log.child({ component: 'offloading-serving' });
  const webhook = sharedWebhook(ctx);
  // Namespaces that opted in, for their `--peer` pin (every replica answers the webhook).
  const enabledNamespaces = new Informer<KubernetesObject>(ctx.client, Core.namespaces, { labelSelector: `${OFFLOADING_ENABLED_LABEL}=true` });
  const peerOf = (ns: string) => enabledNamespaces.get(ns)?.metadata?.annotations?.[OffloadingAnnotations.peer];
  webhook.routes.set(POD_WEBHOOK_PATH, (body: Buffer) => handlePodAdmission(body, peerOf));
  const registration = new PodWebhookRegistration({ ...ctx, log }, webhook);
  const stuck = new StuckPodReporter({ ...ctx, log });

  const auth = new KubeletAuth(ctx.client, log);
  const findPod = async (namespace: string, name: string): Promise<PodRef | undefined> =>
    (ctx.informers.pods.get(`${namespace}/${name}`) as PodRef | undefined) ??
    ((await ctx.client.getOrNull<PodRef>(resourcePath(Core.pods, { namespace, name }))) ?? undefined);
  // exec, attach and port-forward: the same authentication, the same pod lookup.
  const streaming = new StreamingServer({ auth, directory: remotePodDirectory(ctx), findPod, log });
  const server = new KubeletServer({ auth, directory: remotePodDirectory(ctx), findPod, log, streaming });
  let tls: { certPem: string; keyPem: string } | undefined;
  const timers: NodeJS.Timeout[] = [];
  const abort = new AbortController();

  async function chooseAddress(): Promise<string> {
    if (opts.kubeletAddress) return opts.kubeletAddress;
    if (opts.kubeletListen) {
      const h = parseListen(opts.kubeletListen).host;
      if (!isWildcardHost(h)) return h;
    }
    try {
      return await apiServerFacingAddress(ctx.client.server);
    } catch (e) {
      const h = parseListen(opts.webhookListen ?? '127.0.0.1:0').host;
      const fallback = isWildcardHost(h) ? '127.0.0.1' : h;
      log.warn({ err: (e as Error).message, address: fallback }, 'kubelet endpoint: cannot learn our address towards the API server; using the webhook listen host (set --kubelet-address)');
      return fallback;
    }
  }

  /** Get a certificate through the CSR API (in the background), and again before it expires. */
  function rotate(address: string): void {
    void obtainKubeletServingCert(ctx.client, { clusterID: ctx.clusterID, hosts: [address], log, signal: abort.signal }).then(
      (cert) => {
        if (abort.signal.aborted) return;
        tls = { certPem: cert.certPem, keyPem: cert.keyPem };
        server.setSecureContext(tls, auth.clientCAPem);
        // Renewal is months away, beyond what one Node timer can wait (2^31-1 ms; longer fires at
        // once, which made a new CSR every few milliseconds): wait a day at a time.
        const due = renewAtMs(cert, Date.now());
        const wait = (): void => {
          const left = due - Date.now();
          if (left <= 0) return rotate(address);
          const t = setTimeout(wait, Math.min(left, MAX_REQUEUE_MS));
          t.unref();
          timers.push(t);
        };
        wait();
      },
      (e: Error) => log.warn({ err: e.message }, 'kubelet endpoint: certificate rotation failed'),
    );
  }

  const plugin: AgentPlugin = {
    name: 'offloading-serving',

    async start() {
      enabledNamespaces.start();
      const address = await chooseAddress();
      const listen = opts.kubeletListen ?? hostPort(address, DEFAULT_KUBELET_PORT);
      await auth.loadClientCA(120_000);
      // Listen at once with a throwaway certificate: the signed one replaces it as soon as the
      // signer answers, and agent start-up never waits for the CSR API.
      const ca = await createCA('kubepeer-virtual-kubelet-temporary', 1);
      tls = await issueCertificate(ca, { commonName: kubeletCommonName(ctx.clusterID), organizations: ['system:nodes'], hosts: [address], usage: 'server', days: 1 });
      const addr = await server.start(listen, !opts.kubeletListen, tls, auth.clientCAPem);
      kubeletEndpoint(ctx).set({ address, port: addr.port });
      log.info({ address, port: addr.port, listen: hostPort(addr.host, addr.port), clientCA: !!auth.clientCAPem }, 'serving the virtual nodes\' kubelet endpoint');
      rotate(address);
      const recheck = setInterval(() => {
        void auth.loadClientCA().then((changed) => {
          if (changed && tls) server.setSecureContext(tls, auth.clientCAPem);
        });
      }, CLIENT_CA_RECHECK_MS);
      recheck.unref();
      timers.push(recheck);
    },

    controllers() {
      return [registration.makeController(), stuck.makeController()];
    },

    async onLeading() {
      registration.start();
      stuck.start();
    },

    async onNotLeading() {
      registration.stop();
      stuck.stop();
    },

    notReady() {
      return server.listening ? [] : ['kubelet endpoint not listening yet'];
    },

    async stop() {
      abort.abort();
      for (const t of timers) clearTimeout(t);
      webhook.routes.delete(POD_WEBHOOK_PATH);
      enabledNamespaces.stop();
      registration.stop();
      stuck.stop();
      kubeletEndpoint(ctx).set(undefined);
      await server.stop();
    },
  };
  return plugin;
};
