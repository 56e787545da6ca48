/**
 * Who may call the admission webhook. Where kubepeer sets the API server's admission configuration
 * (local clusters: src/localcluster/controlplane.ts), the API server presents a client certificate
 * to webhooks, signed by a CA of its own, with common name `kube-apiserver-webhook-client`. An
 * agent given that CA (ConfigMap kube-system/kubepeer-webhook-client, which local clusters write, or
 * `--webhook-client-ca`) asks every caller for a certificate in the TLS
 * handshake, refuses the handshake without one that chains to the CA, and refuses a request whose
 * certificate names anyone else (403): a forged AdmissionReview is then never read.
 *
 * Without the CA (an agent beside or inside a user's cluster, whose API server kubepeer cannot
 * configure) the caller is not authenticated; forged calls are made harmless instead
 * (pendingRequests.ts, docs/design.md §9).
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { TLSSocket } from 'node:tls';
import { Defaults, Names } from '../../api/constants.js';
import { ApiError, Core, resourcePath, type KubeClient } from '../../k8s/rest.js';
import type { Logger } from '../../observability/logger.js';
import { untilServing } from '../../k8s/untilServing.js';
import { splitPemBundle } from '../../trust/pki.js';

export interface WebhookClientAuth {
  /** PEM bundle of the CA(s) the API server's client certificate must chain to. */
  caPem: string;
  /** The common name that certificate must carry. */
  commonName: string;
}

export class WebhookClientAuthError extends Error {}

/** A CA bundle and name as read from `where`; a bundle that holds no valid certificate is an error. */
export function parseWebhookClientAuth(text: string, commonName: string, where: string): WebhookClientAuth {
  const certs = splitPemBundle(text);
  if (certs.length === 0) throw new WebhookClientAuthError(`${where} holds no PEM certificate`);
  for (const pem of certs) {
    try {
      new X509Certificate(pem);
    } catch (e) {
      throw new WebhookClientAuthError(`${where} holds a certificate that does not parse: ${(e as Error).message}`);
    }
  }
  if (!commonName) throw new WebhookClientAuthError(`${where}: the webhook client name must not be empty`);
  return { caPem: certs.join(''), commonName };
}

/** Reads and checks the CA file of `--webhook-client-ca`: a missing or unreadable CA stops the agent. */
export function loadWebhookClientAuth(caFile: string, commonName: string = Defaults.webhookClientName): WebhookClientAuth {
  let text: string;
  try {
    text = readFileSync(caFile, 'utf8');
  } catch (e) {
    throw new WebhookClientAuthError(`cannot read the webhook client CA ${caFile} (--webhook-client-ca): ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseWebhookClientAuth(text, commonName, `${caFile} (--webhook-client-ca)`);
}

/**
 * What the cluster says about its API server's webhook client certificate: ConfigMap
 * kube-system/kubepeer-webhook-client, which local clusters write (src/localcluster/controlplane.ts)
 * and which a person who gave their own API server such a certificate may write too. Undefined when
 * there is none (or the agent may not read it: a warning). A ConfigMap that is there but unusable
 * stops the agent rather than leave the webhook open by mistake.
 */
export async function discoverWebhookClientAuth(client: KubeClient, log?: Logger, opts: { waitMs: number } = { waitMs: 120_000 }): Promise<WebhookClientAuth | undefined> {
  const where = `ConfigMap kube-system/${Names.webhookClientConfigMap}`;
  let cm: { data?: Record<string, string> } | null;
  // An API server that is restarting is waited for: the agent must not give up its webhook, nor
  // serve it open, because of one failed read at start.
  try {
    cm = await untilServing(() => client.getOrNull<{ data?: Record<string, string> }>(resourcePath(Core.configMaps, { namespace: 'kube-system', name: Names.webhookClientConfigMap })), { what: `read ${where}`, log, waitMs: opts.waitMs });
  } catch (e) {
    if (e instanceof ApiError && e.code === 403) {
      log?.warn({ err: e.message }, `cannot read ${where}: the webhook answers any caller (give the agent get on it, or pass --webhook-client-ca)`);
      return undefined;
    }
    throw e;
  }
  if (!cm) return undefined;
  return parseWebhookClientAuth(cm.data?.['ca.crt'] ?? '', cm.data?.['client-name'] ?? Defaults.webhookClientName, where);
}

/**
 * Why the caller on this socket is not the API server, or undefined when it is. The TLS layer has
 * already refused callers without a certificate of the CA (rejectUnauthorized); this also checks
 * the name, since a CA may sign for more than one client.
 */
export function webhookCallerProblem(socket: TLSSocket, auth: WebhookClientAuth): string | undefined {
  if (!socket.authorized) return `no client certificate signed by the webhook client CA (${socket.authorizationError ?? 'none presented'})`;
  const cert = socket.getPeerCertificate();
  const cn = cert?.subject?.CN;
  const names = Array.isArray(cn) ? cn : cn ? [cn] : [];
  if (names.length !== 1 || names[0] !== auth.commonName) return `the client certificate names ${names.length ? names.join(', ') : 'no one'}, not ${auth.commonName}`;
  return undefined;
}
