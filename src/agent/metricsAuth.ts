/**
 * /metrics lists peer IDs and what the agent does: off loopback it is served only to callers the
 * cluster allows, the way kube-rbac-proxy guards a metrics port. The caller's bearer token is
 * checked with a TokenReview, then a SubjectAccessReview asks whether that user may `get` the
 * non-resource URL `/metrics` (ClusterRole `kubepeer-metrics-reader` grants it, as the
 * `system:monitoring` role does for the API server's own). Verdicts are cached for a short while
 * (by token hash), so a scraper costs two API calls a minute and a flood of bad tokens no more
 * than the cache allows. Health probes stay unauthenticated (their own port in-cluster).
 */
import { createHash } from 'node:crypto';
import type { KubeClient } from '../k8s/rest.js';

export interface MetricsVerdict {
  status: 200 | 401 | 403 | 503;
  message: string;
}

const CACHE_MS = 30_000;
const CACHE_MAX = 1000;

export class MetricsAuthorizer {
  private readonly cache = new Map<string, { verdict: MetricsVerdict; until: number }>();

  constructor(private readonly client: KubeClient, private readonly now: () => number = Date.now) {}

  async check(authorization: string | undefined): Promise<MetricsVerdict> {
    const m = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
    if (!m) return { status: 401, message: 'send a bearer token allowed to get /metrics (ClusterRole kubepeer-metrics-reader)\n' };
    const key = createHash('sha256').update(m[1]!).digest('hex');
    const hit = this.cache.get(key);
    if (hit && hit.until > this.now()) return hit.verdict;
    const verdict = await this.review(m[1]!);
    // a failure to ask is not cached: the next scrape asks again
    if (verdict.status !== 503) {
      if (this.cache.size >= CACHE_MAX) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(key, { verdict, until: this.now() + CACHE_MS });
    }
    return verdict;
  }

  private async review(token: string): Promise<MetricsVerdict> {
    try {
      const tr = await this.client.create<{ status?: { authenticated?: boolean; user?: { username?: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> } } }>(
        '/apis/authentication.k8s.io/v1/tokenreviews',
        { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } },
      );
      const user = tr.status?.user;
      if (!tr.status?.authenticated || !user?.username) return { status: 401, message: 'the token is not valid for this cluster\n' };
      const sar = await this.client.create<{ status?: { allowed?: boolean } }>('/apis/authorization.k8s.io/v1/subjectaccessreviews', {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: { user: user.username, uid: user.uid, groups: user.groups, extra: user.extra, nonResourceAttributes: { path: '/metrics', verb: 'get' } },
      });
      if (!sar.status?.allowed) return { status: 403, message: `${user.username} may not get /metrics (bind ClusterRole kubepeer-metrics-reader)\n` };
      return { status: 200, message: 'ok' };
    } catch (e) {
      return { status: 503, message: `cannot check the token now: ${(e as Error).message}\n` };
    }
  }
}
