/**
 * Builds the dashboard web app into dist/dashboard-web, which the agent serves (see
 * ../staticFiles.ts). Preact with the automatic JSX runtime; no inline scripts or styles, so the
 * server's Content-Security-Policy can stay strict.
 */
import { defineConfig } from 'vite';

const here = (p: string) => decodeURIComponent(new URL(p, import.meta.url).pathname);

export default defineConfig({
  root: here('.'),
  base: '/',
  publicDir: here('public'),
  clearScreen: false,
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: here('../../../dist/dashboard-web'),
    emptyOutDir: true,
    target: 'es2022',
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    reportCompressedSize: false,
  },
});
