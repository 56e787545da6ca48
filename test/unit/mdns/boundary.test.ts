/**
 * The mDNS library is a package of its own (src/mdns/README.md, "Boundary"): it imports only node:
 * built-ins, pino and its own files, and the rest of kubepeer reaches it only through index.ts.
 * Checked on the source text, so a new import fails here before anyone has to review it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const mdnsDir = join(root, 'src/mdns');
const ALLOWED_PACKAGES = new Set(['pino']);

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : tsFiles(p);
    return /\.(ts|tsx|mts)$/.test(e.name) ? [p] : [];
  });
}

/** Every module specifier of `import ... from`, `export ... from`, `import(...)` and `import '...'`. */
function specifiers(source: string): string[] {
  const out: string[] = [];
  const re = /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|(?:^|[\s;])import\s+['"]([^'"]+)['"]/gm;
  for (const m of source.matchAll(re)) out.push((m[1] ?? m[2] ?? m[3])!);
  return out;
}

describe('the mDNS library boundary', () => {
  it('finds the imports it checks (the scanner is not blind)', () => {
    expect(specifiers("import { a } from './x.js';\nexport type { B } from 'pino';\nconst m = await import('node:fs');\nimport './side.js';")).toEqual([
      './x.js',
      'pino',
      'node:fs',
      './side.js',
    ]);
  });

  it('imports only node: built-ins, pino and files inside src/mdns', () => {
    const offending: string[] = [];
    for (const file of tsFiles(mdnsDir)) {
      for (const spec of specifiers(readFileSync(file, 'utf8'))) {
        if (spec.startsWith('node:')) continue;
        if (spec.startsWith('.')) {
          const target = resolve(dirname(file), spec);
          if (relative(mdnsDir, target).startsWith('..')) offending.push(`${relative(root, file)} -> ${spec}`);
          continue;
        }
        const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
        if (!ALLOWED_PACKAGES.has(pkg)) offending.push(`${relative(root, file)} -> ${spec}`);
      }
    }
    expect(offending).toEqual([]);
  });

  it('is used from the rest of src only through src/mdns/index.ts', () => {
    const offending: string[] = [];
    for (const file of tsFiles(join(root, 'src'))) {
      if (!relative(mdnsDir, file).startsWith('..')) continue;
      for (const spec of specifiers(readFileSync(file, 'utf8'))) {
        if (!spec.startsWith('.')) continue;
        const target = resolve(dirname(file), spec);
        const inside = relative(mdnsDir, target);
        if (!inside.startsWith('..') && inside !== 'index.js') offending.push(`${relative(root, file)} -> ${spec}`);
      }
    }
    expect(offending).toEqual([]);
  });
});
