/**
 * The CAs we trust for peers' API servers: the system roots plus every PEM certificate in
 * ConfigMap `trusted-ca-certificates` (read from the informer cache on every use, so edits apply
 * at once, without the restart Liqo 2020 needed).
 */
import { rootCertificates } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { Names } from '../api/constants.js';
import { certificateFingerprint, splitPemBundle } from './pki.js';
import type { AgentContext } from '../agent/context.js';

export interface TrustedCA {
  source: string;
  pem: string;
  fingerprint: string;
}

/** The CAs of ConfigMap trusted-ca-certificates (invalid entries are skipped and reported). */
export function configuredCAs(ctx: Pick<AgentContext, 'informers' | 'namespace'>): { cas: TrustedCA[]; invalid: string[] } {
  const cm = ctx.informers.configMaps.get(`${ctx.namespace}/${Names.trustedCAConfigMap}`);
  const cas: TrustedCA[] = [];
  const invalid: string[] = [];
  for (const [key, value] of Object.entries(cm?.data ?? {})) {
    const pems = splitPemBundle(value);
    if (!pems.length) invalid.push(key);
    for (const pem of pems) {
      try {
        new X509Certificate(pem);
        cas.push({ source: `${Names.trustedCAConfigMap}/${key}`, pem, fingerprint: certificateFingerprint(pem) });
      } catch {
        invalid.push(key);
      }
    }
  }
  return { cas, invalid };
}

/** System roots + configured CAs, as a `ca` option for TLS. */
export function trustedCABundle(ctx: Pick<AgentContext, 'informers' | 'namespace'>): string[] {
  return [...rootCertificates, ...configuredCAs(ctx).cas.map((c) => c.pem)];
}
