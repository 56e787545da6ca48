/** The kubeconfig a requester hands to its peer: one https cluster with its CA, one token user. */
import { stringify } from 'yaml';
import { parsePeerKubeconfig } from './incoming/webhookValidation.js';

export interface TokenKubeconfig {
  server: string;
  caPem: string;
  token: string;
}

export function buildTokenKubeconfig(k: TokenKubeconfig, name = 'peer'): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name, cluster: { server: k.server, 'certificate-authority-data': Buffer.from(k.caPem).toString('base64') } }],
    users: [{ name, user: { token: k.token } }],
    contexts: [{ name, context: { cluster: name, user: name } }],
    'current-context': name,
  });
}

/**
 * Reads a peer's kubeconfig with the same bounded parser and rules as the admission webhook (a
 * crafted YAML document cannot exhaust the agent here either).
 */
export function parseTokenKubeconfig(text: string): TokenKubeconfig {
  const r = parsePeerKubeconfig(text);
  if (!r.ok) throw new Error(r.message);
  return { server: r.value.server, caPem: r.value.caPem, token: r.value.token };
}
