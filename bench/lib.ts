/** Shared pieces of `npm run bench`: figures, percentiles, process memory, API request counts. */
import { readFileSync } from 'node:fs';
import type { KubeClient } from '../src/k8s/rest.js';
import type { Informer } from '../src/k8s/informer.js';

export interface Figure {
  name: string;
  unit: string;
  samples: number[];
  /** Human-readable target, e.g. "< 2000 ms (p50)". */
  target?: string;
  /** Whether the target holds; undefined when the figure has no target. */
  pass?: boolean;
  note?: string;
}

export interface BenchSection {
  figures: Figure[];
  /** Why the section measured nothing on this machine (e.g. "needs root"). */
  skipped?: string;
}

export function percentile(samples: number[], p: number): number {
  if (!samples.length) return NaN;
  const s = [...samples].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[i]!;
}

export const p50 = (s: number[]) => percentile(s, 50);
export const p95 = (s: number[]) => percentile(s, 95);

/** Resident set size of a process in MiB (from /proc). */
export function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** CPU seconds (user+system) a process has used so far. */
export function cpuSeconds(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return NaN;
  }
}

/**
 * Requests the API server has served, by verb, from its own Prometheus metrics
 * (apiserver_request_total), so counts include every client, not only ours.
 */
export async function apiRequestCounts(
  client: KubeClient,
  filter: (labels: Record<string, string>) => boolean = () => true,
  key: (labels: Record<string, string>) => string = (l) => l.verb!,
): Promise<Record<string, number>> {
  const text = await client.get<string>('/metrics', { timeoutMs: 20_000 });
  return countersOf(String(text), 'apiserver_request_total', filter, key);
}

/** Sums of one Prometheus counter's samples, grouped by `key(labels)`, for samples `filter` keeps. */
export function countersOf(
  text: string,
  metric: string,
  filter: (labels: Record<string, string>) => boolean = () => true,
  key: (labels: Record<string, string>) => string = (l) => l.verb!,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${metric}{`)) continue;
    const m = /^\w+\{([^}]*)\} ([0-9.e+]+)$/.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1]!, x[2]!]));
    if (!filter(labels)) continue;
    const k = key(labels);
    out[k] = (out[k] ?? 0) + Number(m[2]);
  }
  return out;
}

/** The agent's own API requests (kubepeer_api_requests_total from its /metrics). */
export async function agentRequestCounts(
  metricsUrl: string,
  filter: (labels: Record<string, string>) => boolean = () => true,
  key: (labels: Record<string, string>) => string = (l) => `${l.verb} ${l.resource}`,
): Promise<Record<string, number>> {
  const res = await fetch(`${metricsUrl}/metrics`);
  return countersOf(await res.text(), 'kubepeer_api_requests_total', filter, key);
}

export function diffCounts(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const d = (after[k] ?? 0) - (before[k] ?? 0);
    if (d) out[k] = d;
  }
  return out;
}

export const WRITE_VERBS = ['POST', 'PUT', 'PATCH', 'DELETE', 'APPLY', 'CREATE', 'UPDATE', 'DELETECOLLECTION'];
/** A metrics sample (labels) of a write request. */
export const isWriteSample = (labels: Record<string, string>) => WRITE_VERBS.includes(labels.verb!);
/** The total of one or more count maps. */
export const sumCounts = (...counts: Record<string, number>[]) => counts.reduce((acc, c) => acc + Object.values(c).reduce((a, b) => a + b, 0), 0);
/** Count maps added key by key. */
export function mergeCounts(counts: Record<string, number>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of counts) for (const [k, v] of Object.entries(c)) out[k] = (out[k] ?? 0) + v;
  return out;
}
/** `key: rate, ...` with each count turned into a rate by `rate`, or 'none'. */
export const ratesText = (counts: Record<string, number>, rate: (n: number) => number, digits: number, suffix = '') =>
  Object.entries(counts)
    .map(([k, v]) => `${k}: ${rate(v).toFixed(digits)}${suffix}`)
    .join(', ') || 'none';
export const sumWrites = (c: Record<string, number>) => Object.entries(c).filter(([v]) => WRITE_VERBS.includes(v)).reduce((a, [, n]) => a + n, 0);
export const sumAll = (c: Record<string, number>) => Object.entries(c).filter(([v]) => v !== 'WATCH' && v !== 'CONNECT').reduce((a, [, n]) => a + n, 0);

export function ms(since: bigint): number {
  return Number(process.hrtime.bigint() - since) / 1e6;
}

/**
 * Waits on an informer's events until `probe` returns a value (one LIST + WATCH for a whole
 * bench instead of polling, so API request counts are the agents' own).
 */
export function waitInformer<T>(what: string, informer: Informer<any>, probe: () => T | undefined, timeoutMs: number): Promise<{ value: T; at: number }> {
  const now = probe();
  if (now !== undefined) return Promise.resolve({ value: now, at: Date.now() });
  return new Promise((resolve, reject) => {
    const check = () => {
      const v = probe();
      if (v === undefined) return;
      cleanup();
      resolve({ value: v, at: Date.now() });
    };
    const t = setTimeout(() => (cleanup(), reject(new Error(`bench: timed out after ${timeoutMs / 1000}s waiting for ${what}`))), timeoutMs);
    const cleanup = () => {
      clearTimeout(t);
      informer.off('add', check);
      informer.off('update', check);
      informer.off('delete', check);
    };
    informer.on('add', check);
    informer.on('update', check);
    informer.on('delete', check);
  });
}

