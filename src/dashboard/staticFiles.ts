/**
 * The web app's files (built by Vite into dist/dashboard-web): hashed assets are cached for good,
 * index.html never, and any other path without a file extension gets index.html (the app routes
 * on the client). Paths are confined to the web root.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json',
};

/** dist/dashboard-web next to the compiled server, or the repo's dist/ when running from src/. */
export function defaultWebRoot(): string | undefined {
  const candidates = [new URL('../dashboard-web/', import.meta.url), new URL('../../dist/dashboard-web/', import.meta.url)].map((u) => fileURLToPath(u));
  return candidates.find((d) => existsSync(join(d, 'index.html')));
}

export interface StaticFile {
  body: Buffer;
  type: string;
  cacheControl: string;
}

export class StaticFiles {
  private readonly cache = new Map<string, { mtimeMs: number; body: Buffer }>();
  readonly root?: string;

  constructor(root: string | undefined) {
    this.root = root ? resolve(root) : undefined;
  }

  get available(): boolean {
    return !!this.root && existsSync(join(this.root, 'index.html'));
  }

  /** The file for a URL path, index.html for client-side routes, undefined for a missing asset. */
  lookup(urlPath: string): StaticFile | undefined {
    if (!this.root) return undefined;
    let rel: string;
    try {
      rel = decodeURIComponent(urlPath);
    } catch {
      return undefined;
    }
    if (rel.includes('\0')) return undefined;
    const full = resolve(this.root, '.' + (rel.endsWith('/') ? rel + 'index.html' : rel));
    if (full !== this.root && !full.startsWith(this.root + sep)) return undefined;
    const file = this.read(full);
    if (file) return { body: file, type: TYPES[extname(full)] ?? 'application/octet-stream', cacheControl: this.cacheControl(rel) };
    if (extname(rel) === '') {
      const index = this.read(join(this.root, 'index.html'));
      if (index) return { body: index, type: TYPES['.html']!, cacheControl: 'no-cache' };
    }
    return undefined;
  }

  private cacheControl(rel: string): string {
    return rel.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache';
  }

  private read(path: string): Buffer | undefined {
    try {
      const st = statSync(path);
      if (!st.isFile()) return undefined;
      const hit = this.cache.get(path);
      if (hit && hit.mtimeMs === st.mtimeMs) return hit.body;
      const body = readFileSync(path);
      this.cache.set(path, { mtimeMs: st.mtimeMs, body });
      return body;
    } catch {
      return undefined;
    }
  }
}
