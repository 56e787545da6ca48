/** The kubeconfig a requester hands to its peer: one https cluster with its CA, one token user. */
import { parse, stringify } from 'yaml';

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

/** Reads back what buildTokenKubeconfig wrote (the webhook has already checked the shape). */
export function parseTokenKubeconfig(text: string): TokenKubeconfig {
  const doc = parse(text) as {
    clusters?: Array<{ cluster?: { server?: string; 'certificate-authority-data'?: string } }>;
    users?: Array<{ user?: { token?: string } }>;
  };
  const cluster = doc?.clusters?.[0]?.cluster;
  const token = doc?.users?.[0]?.user?.token;
  if (!cluster?.server || !cluster['certificate-authority-data'] || !token) throw new Error('kubeconfig lacks a server, a CA or a token');
  return { server: cluster.server, caPem: Buffer.from(cluster['certificate-authority-data'], 'base64').toString('utf8'), token };
}
