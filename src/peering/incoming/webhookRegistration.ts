/**
 * Keeps the ValidatingWebhookConfiguration `kubepeer-peeringrequest-validation` pointing at this
 * agent's webhook with the serving CA as caBundle: a URL (`https://<host>:<port>/validate/...`)
 * when the agent runs outside the cluster, the Service when it runs inside. Only the leader writes
 * it (server-side apply, field manager `kubepeer-webhook`); it watches the object so that a person
 * deleting or editing it gets it back within a moment, and re-checks every minute regardless.
 *
 * The configuration is never removed when the agent stops: with failurePolicy Fail, no agent
 * means no PeeringRequest gets in, which is the safe way to fail.
 */
import { Names, Labels, MANAGED_BY } from '../../api/constants.js';
import { Core, resourcePath } from '../../k8s/rest.js';
import { Controller, type ReconcileResult } from '../../k8s/controller.js';
import { Informer } from '../../k8s/informer.js';
import { WEBHOOK_PATH, webhookEntry } from '../../install/manifests.js';
import type { AgentContext } from '../../agent/context.js';
import type { KubernetesObject } from '@kubernetes/client-node';
import { isWildcardHost } from '../../net/hosts.js';

export const WEBHOOK_FIELD_MANAGER = 'kubepeer-webhook';
const RECHECK_MS = 60_000;
const KEY = Names.webhookConfiguration;

/** Where the API server should send admission requests. */
export type WebhookTarget = { url: string } | { service: { namespace: string; name: string; port?: number } };

/** `namespace/name` of the in-cluster Service (the --webhook-service flag). */
export function parseServiceRef(ref: string): { namespace: string; name: string } {
  const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-a-z0-9]*[a-z0-9])?)$/.exec(ref);
  if (!m) throw new Error(`--webhook-service "${ref}" must be namespace/name, e.g. liqo/kubepeer-webhook`);
  return { namespace: m[1]!, name: m[3]! };
}

/** https URL of the webhook for a host and port (IPv6 hosts in brackets). */
export function webhookUrl(host: string, port: number): string {
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return `https://${h}:${port}${WEBHOOK_PATH}`;
}

/** The host registered in the URL: the flag, else the listen host unless it is a wildcard. */
export function registeredHost(listenHost: string, webhookHost?: string): string {
  if (webhookHost) return webhookHost;
  return isWildcardHost(listenHost) ? '127.0.0.1' : listenHost;
}

export function webhookClientConfig(target: WebhookTarget, caPem: string): Record<string, unknown> {
  const caBundle = Buffer.from(caPem).toString('base64');
  if ('url' in target) return { url: target.url, caBundle };
  return { service: { namespace: target.service.namespace, name: target.service.name, path: WEBHOOK_PATH, port: target.service.port ?? 443 }, caBundle };
}

/** The object the leader applies. */
export function desiredWebhookConfiguration(target: WebhookTarget, caPem: string): KubernetesObject & Record<string, unknown> {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: { name: Names.webhookConfiguration, labels: { [Labels.managedBy]: MANAGED_BY, 'app.kubernetes.io/part-of': 'kubepeer' } },
    webhooks: [webhookEntry(webhookClientConfig(target, caPem))],
  };
}

/** True when every field of `want` is present in `have` with the same value (the server adds defaults). */
export function isSubset(want: unknown, have: unknown): boolean {
  if (Array.isArray(want)) {
    return Array.isArray(have) && want.length === have.length && want.every((w, i) => isSubset(w, have[i]));
  }
  if (typeof want === 'object' && want !== null) {
    if (typeof have !== 'object' || have === null || Array.isArray(have)) return false;
    return Object.entries(want).every(([k, v]) => isSubset(v, (have as Record<string, unknown>)[k]));
  }
  return want === have;
}

/** Does the stored configuration already say what we want (and nothing contradicting it)? */
export function registrationUpToDate(desired: Record<string, unknown>, observed: Record<string, unknown> | undefined): boolean {
  if (!observed) return false;
  const want = (desired.webhooks as Array<Record<string, unknown>>)[0]!;
  const hooks = observed.webhooks as Array<Record<string, unknown>> | undefined;
  if (!Array.isArray(hooks) || hooks.length !== 1) return false;
  const have = hooks[0]!;
  const cc = have.clientConfig as Record<string, unknown> | undefined;
  // A URL and a Service are exclusive: a stale one left by another writer means rewrite.
  const wantCC = want.clientConfig as Record<string, unknown>;
  if (!cc || ('url' in wantCC ? cc.service !== undefined : cc.url !== undefined)) return false;
  return isSubset(want, have);
}

/**
 * The leader's controller for the registration. `target()` and `caPem()` are read at every
 * reconcile, so a new port or CA is registered by enqueueing the key.
 */
export class WebhookRegistration {
  private informer?: Informer<KubernetesObject & Record<string, unknown>>;
  private controller?: Controller;

  constructor(
    private readonly ctx: AgentContext,
    private readonly target: () => WebhookTarget | undefined,
    private readonly caPem: () => string | undefined,
  ) {}

  /** A fresh controller for a leadership term (its informer starts in `start`). */
  makeController(): Controller {
    this.informer?.stop();
    this.informer = new Informer(this.ctx.client, Core.validatingWebhooks, { fieldSelector: `metadata.name=${Names.webhookConfiguration}` });
    this.controller = new Controller({ name: 'webhook-registration', reconcile: () => this.reconcile() }).watch(this.informer, () => KEY);
    return this.controller;
  }

  start(): void {
    const informer = this.informer;
    if (!informer) return;
    informer.start();
    // First look once the cache holds the object (or knows it is absent): an earlier look would
    // read it directly, apply, and then apply again when the cache delivers the old version.
    const first = () => this.controller?.enqueue(KEY);
    informer.waitForSync(30_000).then(first, first);
  }

  stop(): void {
    this.informer?.stop();
    this.informer = undefined;
    this.controller = undefined;
  }

  /** Ask for a check now (the port or the CA changed). */
  poke(): void {
    this.controller?.enqueue(KEY);
  }

  async reconcile(): Promise<ReconcileResult> {
    const target = this.target();
    const caPem = this.caPem();
    if (!target || !caPem) return { requeueAfterMs: 500 };
    const desired = desiredWebhookConfiguration(target, caPem);
    const observed = this.informer?.hasSynced() ? this.informer.get(KEY) : await this.ctx.client.getOrNull<Record<string, unknown>>(resourcePath(Core.validatingWebhooks, { name: KEY }));
    if (!registrationUpToDate(desired, observed ?? undefined)) {
      await this.ctx.client.apply(resourcePath(Core.validatingWebhooks, { name: KEY }), desired, WEBHOOK_FIELD_MANAGER, true);
      const cc = (desired.webhooks as Array<{ clientConfig: Record<string, unknown> }>)[0]!.clientConfig;
      this.ctx.log.info({ webhookConfiguration: KEY, url: cc.url, service: cc.service, existed: !!observed }, 'registered the PeeringRequest admission webhook');
    }
    return { requeueAfterMs: RECHECK_MS };
  }
}
