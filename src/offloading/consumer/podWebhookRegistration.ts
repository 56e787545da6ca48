/**
 * Keeps the MutatingWebhookConfiguration `kubepeer-offloading` pointing at the pod webhook this
 * agent serves (podWebhook.ts) on its shared HTTPS webhook server, with the serving CA as caBundle.
 * Only the leader writes it (server-side apply, field manager `kubepeer-offloading`), when what is
 * stored differs, and looks again every minute and whenever someone changes it.
 *
 * Like the PeeringRequest configuration it is left in place when the agent stops: with
 * failurePolicy Ignore, an absent agent only means pods are created without the toleration.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { Labels, MANAGED_BY } from '../../api/constants.js';
import { Controller, type ReconcileResult } from '../../k8s/controller.js';
import { Informer } from '../../k8s/informer.js';
import { resourcePath, type ResourceRef } from '../../k8s/rest.js';
import type { AgentContext } from '../../agent/context.js';
import { isSubset } from '../../peering/incoming/webhookRegistration.js';
import type { SharedWebhook } from '../../peering/incoming/webhookPlugin.js';
import { POD_WEBHOOK_CONFIGURATION, POD_WEBHOOK_PATH, podWebhookEntry } from './podWebhook.js';

export const POD_WEBHOOK_FIELD_MANAGER = 'kubepeer-offloading';
const RECHECK_MS = 60_000;
const KEY = POD_WEBHOOK_CONFIGURATION;

export const MutatingWebhooks: ResourceRef = { group: 'admissionregistration.k8s.io', version: 'v1', plural: 'mutatingwebhookconfigurations' };

export function desiredPodWebhookConfiguration(clientConfig: Record<string, unknown>): KubernetesObject & Record<string, unknown> {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: POD_WEBHOOK_CONFIGURATION, labels: { [Labels.managedBy]: MANAGED_BY, 'app.kubernetes.io/part-of': 'kubepeer' } },
    webhooks: [podWebhookEntry(clientConfig)],
  };
}

/** True when the stored configuration has exactly our one webhook with every field we set. */
export function podWebhookUpToDate(desired: Record<string, unknown>, observed: Record<string, unknown> | undefined): boolean {
  const hooks = observed?.webhooks;
  if (!Array.isArray(hooks) || hooks.length !== 1) return false;
  const want = (desired.webhooks as Array<Record<string, unknown>>)[0]!;
  const have = hooks[0] as Record<string, unknown>;
  const cc = have.clientConfig as Record<string, unknown> | undefined;
  const wantCC = want.clientConfig as Record<string, unknown>;
  // A URL and a Service are exclusive: one left by another writer means rewrite.
  if (!cc || ('url' in wantCC ? cc.service !== undefined : cc.url !== undefined)) return false;
  return isSubset(want, have);
}

export class PodWebhookRegistration {
  private informer?: Informer<KubernetesObject & Record<string, unknown>>;
  private controller?: Controller;
  private unsubscribe?: () => void;

  constructor(
    private readonly ctx: AgentContext,
    private readonly webhook: SharedWebhook,
  ) {}

  /** A fresh controller for a leadership term (its informer starts in `start`). */
  makeController(): Controller {
    this.informer?.stop();
    this.informer = new Informer(this.ctx.client, MutatingWebhooks, { fieldSelector: `metadata.name=${KEY}` });
    this.controller = new Controller({ name: 'offloading-webhook-registration', reconcile: () => this.reconcile() }).watch(this.informer, () => KEY);
    return this.controller;
  }

  start(): void {
    const informer = this.informer;
    if (!informer) return;
    informer.start();
    this.unsubscribe = this.webhook.onChange(() => this.controller?.enqueue(KEY));
    const first = () => this.controller?.enqueue(KEY);
    informer.waitForSync(30_000).then(first, first);
  }

  stop(): void {
    this.unsubscribe?.();
    this.informer?.stop();
    this.informer = undefined;
    this.controller = undefined;
  }

  async reconcile(): Promise<ReconcileResult> {
    const clientConfig = this.webhook.clientConfig(POD_WEBHOOK_PATH);
    if (!clientConfig) return { requeueAfterMs: 500 };
    const desired = desiredPodWebhookConfiguration(clientConfig);
    const path = resourcePath(MutatingWebhooks, { name: KEY });
    const observed = this.informer?.hasSynced() ? this.informer.get(KEY) : await this.ctx.client.getOrNull<Record<string, unknown>>(path);
    if (!podWebhookUpToDate(desired, observed ?? undefined)) {
      await this.ctx.client.apply(path, desired, POD_WEBHOOK_FIELD_MANAGER, true);
      this.ctx.log.info({ webhookConfiguration: KEY, url: clientConfig.url, service: clientConfig.service, existed: !!observed }, 'registered the offloading pod webhook');
    }
    return { requeueAfterMs: RECHECK_MS };
  }
}
