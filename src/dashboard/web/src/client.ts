/**
 * Talking to the dashboard server. The token lives in sessionStorage (gone when the tab closes) and
 * travels only in the Authorization header: never in a URL or a cookie. Live updates are read with
 * fetch() rather than EventSource, because EventSource cannot send that header.
 */
import type { ApiErrorBody, LiveEvent } from '../../api.js';

const TOKEN_KEY = 'kubepeer.token';

export const tokenStore = {
  get: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  set: (t: string) => sessionStorage.setItem(TOKEN_KEY, t),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

export class RequestError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    readonly fields: Record<string, string> = {},
    readonly detail?: string,
  ) {
    super(message);
    this.name = 'RequestError';
  }
  get forbidden(): boolean {
    return this.status === 403;
  }
  get unauthorized(): boolean {
    return this.status === 401;
  }
}

type Listener = () => void;
const unauthorizedListeners = new Set<Listener>();
/** Called when the server says the token is no longer accepted. */
export function onUnauthorized(l: Listener): () => void {
  unauthorizedListeners.add(l);
  return () => unauthorizedListeners.delete(l);
}

export async function api<T>(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown, token = tokenStore.get()): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'omit', cache: 'no-store' });
  } catch (e) {
    throw new RequestError(0, 'Unavailable', `The dashboard server did not answer (${(e as Error).message}). Is the agent running?`);
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const err = (json as ApiErrorBody | undefined)?.error;
    const e = new RequestError(res.status, err?.reason ?? `HTTP${res.status}`, err?.message ?? `HTTP ${res.status}: ${text.slice(0, 200)}`, err?.fields, err?.detail);
    if (e.unauthorized && token) for (const l of unauthorizedListeners) l();
    throw e;
  }
  return json as T;
}

export type LiveStatus = 'connecting' | 'live' | 'offline';

/**
 * Follows GET /api/events, reconnecting with backoff. Returns a function that stops it.
 */
export function followLive(onEvent: (e: LiveEvent) => void, onStatus: (s: LiveStatus) => void): () => void {
  let stopped = false;
  let controller: AbortController | undefined;
  let backoff = 1000;

  const run = async () => {
    while (!stopped) {
      onStatus('connecting');
      controller = new AbortController();
      try {
        const token = tokenStore.get();
        if (!token) return;
        const res = await fetch('/api/events', { headers: { Authorization: `Bearer ${token}`, Accept: 'text/event-stream' }, signal: controller.signal, cache: 'no-store', credentials: 'omit' });
        if (res.status === 401) {
          for (const l of unauthorizedListeners) l();
          return;
        }
        if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let sep: number;
          while ((sep = buffer.indexOf('\n\n')) >= 0) {
            const frame = buffer.slice(0, sep);
            buffer = buffer.slice(sep + 2);
            const data = frame
              .split('\n')
              .filter((l) => l.startsWith('data:'))
              .map((l) => l.slice(5).trimStart())
              .join('\n');
            if (!data) continue;
            let ev: LiveEvent;
            try {
              ev = JSON.parse(data) as LiveEvent;
            } catch {
              continue;
            }
            if (ev.type === 'ready') {
              backoff = 1000;
              onStatus('live');
            }
            if (ev.type === 'unauthorized') {
              for (const l of unauthorizedListeners) l();
              return;
            }
            onEvent(ev);
          }
        }
      } catch {
        if (stopped) return;
      }
      if (stopped) return;
      onStatus('offline');
      await new Promise((r) => setTimeout(r, backoff));
      backoff = Math.min(backoff * 2, 15_000);
    }
  };
  void run();
  return () => {
    stopped = true;
    controller?.abort();
  };
}
