/**
 * How to reach one API server: the current context of a kubeconfig (or the in-cluster service
 * account), resolved into what a TLS request needs.
 *
 * Why not `KubeConfig` from @kubernetes/client-node for everything: importing it loads the whole
 * generated API (measured here: ~520 ms and ~57 MiB RSS), which is most of the agent's start-up
 * time (LAN discovery latency counts from the agent's start) and a third of its memory. The
 * kubeconfig itself is parsed by client-node's own light `config_types` module (same field
 * mapping and validation as KubeConfig); the plain credentials (CA, client certificate, bearer
 * token or token file, basic auth) are applied here. Users with an `exec` or `auth-provider`
 * plugin are handed to client-node's KubeConfig, loaded only then.
 */
import { readFileSync, existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { newClusters, newContexts, newUsers, type Cluster, type Context, type User } from '@kubernetes/client-node/dist/config_types.js';

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** What a request to the API server needs, besides the URL path. */
export interface RequestCredentials {
  headers: Record<string, string>;
  /** Client certificate and key (PEM), when the user authenticates with one. */
  cert?: string;
  key?: string;
}

export interface ClusterAccessInit {
  server: string;
  /** PEM bundle of the CAs to trust; undefined means the system roots. */
  caPem?: string;
  skipTLSVerify?: boolean;
  tlsServerName?: string;
  /** Namespace of the context (or the service account's), if any. */
  namespace?: string;
  cert?: string;
  key?: string;
  token?: string;
  /** Read again every minute: service-account tokens are rotated on disk by the kubelet. */
  tokenFile?: string;
  username?: string;
  password?: string;
  /** `as:` in the kubeconfig user: sent as Impersonate-User. */
  impersonate?: string;
  /** Connect to this address whatever the server's host name resolves to (a checked callback). */
  pinnedAddress?: string;
  /** Credentials computed per request (exec and auth-provider plugins). */
  dynamic?: () => Promise<RequestCredentials>;
}

const TOKEN_FILE_REFRESH_MS = 60_000;

export class ClusterAccess {
  readonly server: string;
  readonly caPem?: string;
  readonly skipTLSVerify: boolean;
  readonly tlsServerName?: string;
  readonly namespace?: string;
  readonly pinnedAddress?: string;
  private tokenFileCache?: { token: string; readAt: number };

  constructor(private readonly init: ClusterAccessInit) {
    this.server = init.server.replace(/\/+$/, '');
    this.caPem = init.caPem;
    this.skipTLSVerify = init.skipTLSVerify ?? false;
    this.tlsServerName = init.tlsServerName;
    this.namespace = init.namespace;
    this.pinnedAddress = init.pinnedAddress;
  }

  /** Headers (and client certificate) for the next request. */
  async credentials(): Promise<RequestCredentials> {
    if (this.init.dynamic) return this.init.dynamic();
    const headers: Record<string, string> = {};
    if (this.init.impersonate) headers['Impersonate-User'] = this.init.impersonate;
    const token = this.init.token ?? this.fileToken();
    if (token) headers.Authorization = `Bearer ${token}`;
    else if (this.init.username !== undefined && this.init.password !== undefined) {
      headers.Authorization = `Basic ${Buffer.from(`${this.init.username}:${this.init.password}`).toString('base64')}`;
    }
    return { headers, cert: this.init.cert, key: this.init.key };
  }

  private fileToken(): string | undefined {
    const file = this.init.tokenFile;
    if (!file) return undefined;
    const now = Date.now();
    if (!this.tokenFileCache || now - this.tokenFileCache.readAt > TOKEN_FILE_REFRESH_MS) {
      this.tokenFileCache = { token: readFileSync(file, 'utf8').trim(), readAt: now };
    }
    return this.tokenFileCache.token;
  }
}

function readPemOrData(data: string | undefined, file: string | undefined, what: string): string | undefined {
  if (data) return Buffer.from(data, 'base64').toString('utf8');
  if (!file) return undefined;
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read the ${what} file ${file} named in the kubeconfig: ${(e as Error).message}`);
  }
}

interface ParsedKubeConfig {
  clusters: Cluster[];
  users: User[];
  contexts: Context[];
  currentContext?: string;
  /** The raw document, handed to client-node when a user needs a plugin. */
  raw: Record<string, unknown>;
}

function parseKubeConfigFile(file: string): ParsedKubeConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read the kubeconfig ${file}: ${(e as Error).message}`);
  }
  let raw: Record<string, unknown>;
  try {
    raw = (parseYaml(text) ?? {}) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`the kubeconfig ${file} is not valid YAML: ${(e as Error).message}`);
  }
  // Relative file paths in a kubeconfig are relative to the kubeconfig's own directory (kubectl's rule).
  const dir = dirname(file);
  const abs = (p?: string) => (p && !isAbsolute(p) ? join(dir, p) : p);
  const clusters = newClusters(raw.clusters).map((c) => ({ ...c, caFile: abs(c.caFile) }));
  const users = newUsers(raw.users).map((u) => ({ ...u, certFile: abs(u.certFile), keyFile: abs(u.keyFile) }));
  return { clusters, users, contexts: newContexts(raw.contexts), currentContext: raw['current-context'] as string | undefined, raw };
}

/** KUBECONFIG's files merged the way kubectl does: the first file to name a cluster, user or context wins. */
function mergeKubeConfigs(files: ParsedKubeConfig[]): ParsedKubeConfig {
  const firstByName = <T extends { name: string }>(lists: T[][]) => {
    const seen = new Map<string, T>();
    for (const list of lists) for (const x of list) if (!seen.has(x.name)) seen.set(x.name, x);
    return [...seen.values()];
  };
  return {
    clusters: firstByName(files.map((f) => f.clusters)),
    users: firstByName(files.map((f) => f.users)),
    contexts: firstByName(files.map((f) => f.contexts)),
    currentContext: files.map((f) => f.currentContext).find((c) => c),
    raw: files[0]?.raw ?? {},
  };
}

function inClusterAccess(): ClusterAccess | undefined {
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT;
  const tokenFile = join(SERVICE_ACCOUNT_DIR, 'token');
  if (!host || !port || !existsSync(tokenFile)) return undefined;
  const nsFile = join(SERVICE_ACCOUNT_DIR, 'namespace');
  return new ClusterAccess({
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    caPem: readPemOrData(undefined, join(SERVICE_ACCOUNT_DIR, 'ca.crt'), 'service account CA'),
    tokenFile,
    namespace: existsSync(nsFile) ? readFileSync(nsFile, 'utf8').trim() : undefined,
  });
}

/**
 * The API server of a kubeconfig's current (or named) context. Without a path: $KUBECONFIG (files
 * merged), then ~/.kube/config, then the in-cluster service account.
 */
export function loadClusterAccess(path?: string, context?: string): ClusterAccess {
  let config: ParsedKubeConfig | undefined;
  if (path) config = parseKubeConfigFile(path);
  else if (process.env.KUBECONFIG) {
    const files = process.env.KUBECONFIG.split(delimiter).filter((f) => f && existsSync(f));
    if (files.length) config = mergeKubeConfigs(files.map(parseKubeConfigFile));
  }
  if (!config) {
    const home = join(process.env.HOME ?? homedir(), '.kube', 'config');
    if (existsSync(home)) config = parseKubeConfigFile(home);
  }
  if (!config) {
    const inCluster = inClusterAccess();
    if (inCluster) return inCluster;
    throw new Error('no kubeconfig found: pass --kubeconfig, set KUBECONFIG, or create ~/.kube/config');
  }
  const contextName = context ?? config.currentContext;
  if (!contextName) throw new Error('the kubeconfig has no current context (set current-context or pass --context)');
  const ctx = config.contexts.find((c) => c.name === contextName);
  if (!ctx) throw new Error(`context "${contextName}" not found in the kubeconfig`);
  const cluster = config.clusters.find((c) => c.name === ctx.cluster);
  if (!cluster) throw new Error(`the kubeconfig's context "${contextName}" names cluster "${ctx.cluster}", which it does not define`);
  const user = config.users.find((u) => u.name === ctx.user) ?? { name: ctx.user ?? '' };
  return accessFor(cluster, user, ctx, config.raw);
}

function accessFor(cluster: Cluster, user: User, ctx: Context, raw: Record<string, unknown>): ClusterAccess {
  const base = {
    server: cluster.server,
    caPem: readPemOrData(cluster.caData, cluster.caFile, 'certificate-authority'),
    skipTLSVerify: cluster.skipTLSVerify,
    tlsServerName: cluster.tlsServerName,
    namespace: ctx.namespace,
  };
  if (user.exec || user.authProvider) return new ClusterAccess({ ...base, dynamic: pluginCredentials(raw, ctx.name) });
  const rawUser = ((raw.users as { name?: string; user?: Record<string, unknown> }[] | undefined) ?? []).find((u) => u.name === user.name)?.user ?? {};
  return new ClusterAccess({
    ...base,
    cert: readPemOrData(user.certData, user.certFile, 'client-certificate'),
    key: readPemOrData(user.keyData, user.keyFile, 'client-key'),
    token: user.token ?? undefined,
    tokenFile: typeof rawUser.tokenFile === 'string' ? rawUser.tokenFile : undefined,
    username: user.username ?? undefined,
    password: user.password ?? undefined,
    impersonate: user.impersonateUser ?? undefined,
  });
}

/** exec / auth-provider users: client-node runs the plugin (and caches its credential). */
function pluginCredentials(raw: Record<string, unknown>, contextName: string): () => Promise<RequestCredentials> {
  let kc: Promise<{ applyToHTTPSOptions(o: Record<string, unknown>): Promise<void> }> | undefined;
  return async () => {
    kc ??= import('@kubernetes/client-node').then(({ KubeConfig }) => {
      const k = new KubeConfig();
      k.loadFromString(JSON.stringify(raw));
      k.setCurrentContext(contextName);
      return k;
    });
    const opts: { headers?: Record<string, unknown>; cert?: unknown; key?: unknown; auth?: string } = {};
    await (await kc).applyToHTTPSOptions(opts);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.headers ?? {})) if (typeof v === 'string') headers[k] = v;
    if (opts.auth) headers.Authorization = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
    return { headers, cert: opts.cert ? String(opts.cert) : undefined, key: opts.key ? String(opts.key) : undefined };
  };
}
