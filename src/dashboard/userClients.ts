/**
 * API clients that act as the person using the dashboard: one per bearer token, so every read and
 * write is authorized by the API server against that person's RBAC, never the agent's. Clients
 * are kept while in use (keep-alive connections) and dropped after a quiet minute; the cache is
 * keyed by a hash of the token, which is never logged or stored anywhere else.
 */
import { createHash } from 'node:crypto';
import { KubeClient } from '../k8s/rest.js';
import { HttpError } from './errors.js';

const IDLE_MS = 60_000;
const MAX_CLIENTS = 256;
/** JWTs and opaque tokens: printable, no spaces, bounded. */
const TOKEN = /^[A-Za-z0-9._~+/=:-]{8,16384}$/;

interface Entry {
  client: KubeClient;
  inFlight: number;
  lastUsed: number;
}

export interface Lease {
  client: KubeClient;
  /** A short, non-reversible id of the token for logs and per-person limits. */
  id: string;
  release(): void;
}

/** The bearer token of a request, or an HttpError 401 that says what is wrong. */
export function bearerToken(header: string | undefined): string {
  if (!header) throw new HttpError(401, 'Unauthorized', 'Sign in with a Kubernetes bearer token (no token, no data).');
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m || !TOKEN.test(m[1]!)) throw new HttpError(401, 'Unauthorized', 'The Authorization header must be "Bearer <token>" with a Kubernetes token.');
  return m[1]!;
}

export class UserClients {
  private readonly entries = new Map<string, Entry>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly server: () => string,
    private readonly caPem: () => string,
  ) {
    this.timer = setInterval(() => this.sweep(), IDLE_MS / 2);
    this.timer.unref();
  }

  static idOf(token: string): string {
    return createHash('sha256').update(token).digest('hex').slice(0, 16);
  }

  /** A client for `token`; call release() when the request is done. */
  acquire(token: string): Lease {
    const id = UserClients.idOf(token);
    let e = this.entries.get(id);
    if (!e) {
      if (this.entries.size >= MAX_CLIENTS) this.sweep(true);
      e = { client: KubeClient.withToken(this.server(), token, this.caPem() || undefined), inFlight: 0, lastUsed: Date.now() };
      this.entries.set(id, e);
    }
    const entry = e;
    entry.inFlight++;
    entry.lastUsed = Date.now();
    let released = false;
    return {
      client: entry.client,
      id,
      release: () => {
        if (released) return;
        released = true;
        entry.inFlight--;
        entry.lastUsed = Date.now();
      },
    };
  }

  /** A client of its own (for long watches), closed by the caller. */
  dedicated(token: string): KubeClient {
    return KubeClient.withToken(this.server(), token, this.caPem() || undefined);
  }

  private sweep(force = false): void {
    const now = Date.now();
    for (const [id, e] of this.entries) {
      if (e.inFlight === 0 && (force || now - e.lastUsed > IDLE_MS)) {
        e.client.close();
        this.entries.delete(id);
      }
    }
  }

  close(): void {
    clearInterval(this.timer);
    for (const e of this.entries.values()) e.client.close();
    this.entries.clear();
  }
}
