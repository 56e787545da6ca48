/**
 * `npm run bench [-- --quick] [-- --only peering,dns]`: measures every capability on local
 * control planes on this machine and prints one table (median, p95, runs, target, PASS/MISS);
 * the raw samples go to bench/results.json. Tests assert behaviour; this measures it.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { cpus, totalmem } from 'node:os';
import { p50, p95, type BenchSection, type Figure } from './lib.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const onlyArg = args.find((a) => a.startsWith('--only='))?.slice(7) ?? (args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined);
const only = onlyArg ? new Set(onlyArg.split(',')) : undefined;

type SectionRunner = (opts: { quick: boolean }) => Promise<BenchSection>;
const sections: Array<[string, () => Promise<SectionRunner>]> = [
  ['controlplane', async () => (await import('./controlplane.js')).benchControlPlane],
  ['peering', async () => (await import('./peering.js')).benchPeering],
  ['dns', async () => {
    const m = (await import('./dns.js')) as { benchDnsDiscovery: SectionRunner };
    return m.benchDnsDiscovery;
  }],
  ['lan', async () => {
    const m = (await import('./lan.js')) as { benchLan: SectionRunner };
    return m.benchLan;
  }],
  ['scale', async () => (await import('./scale.js')).benchScale],
  ['realnode', async () => (await import('./realnode.js')).benchRealNode],
  ['offloading', async () => (await import('./offloading.js')).benchOffloading],
  ['streaming', async () => (await import('./streaming.js')).benchStreaming],
];

function fmt(n: number): string {
  if (!Number.isFinite(n)) return '-';
  return Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 10 ? n.toFixed(1) : n.toFixed(2);
}

async function main(): Promise<void> {
  const started = Date.now();
  const results: Array<{ section: string; figures: Figure[]; error?: string; skipped?: string }> = [];
  for (const [name, load] of sections) {
    if (only && !only.has(name)) continue;
    process.stderr.write(`bench: ${name}${quick ? ' (quick)' : ''}...\n`);
    try {
      const run = await load();
      const t = Date.now();
      const r = await run({ quick });
      results.push({ section: name, figures: r.figures, skipped: r.skipped });
      if (r.skipped) process.stderr.write(`bench: ${name} skipped: ${r.skipped}\n`);
      else process.stderr.write(`bench: ${name} done in ${((Date.now() - t) / 1000).toFixed(0)}s\n`);
    } catch (e) {
      results.push({ section: name, figures: [], error: (e as Error).message });
      process.stderr.write(`bench: ${name} FAILED: ${(e as Error).stack ?? e}\n`);
    }
  }
  const rows = results.flatMap((r) =>
    r.error
      ? [[r.section, `section failed: ${r.error.slice(0, 80)}`, '', '', '', '', '', 'ERROR']]
      : r.skipped
        ? [[r.section, `skipped: ${r.skipped}`, '', '', '', '', '', '']]
        : r.figures.map((f) => [r.section, f.name, fmt(p50(f.samples)), fmt(p95(f.samples)), String(f.samples.length), f.unit, f.target ?? '', f.pass === undefined ? '' : f.pass ? 'PASS' : 'MISS']),
  );
  const header = ['SECTION', 'FIGURE', 'P50', 'P95', 'RUNS', 'UNIT', 'TARGET', 'RESULT'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  process.stdout.write(
    [
      `kubepeer benchmark${quick ? ' (quick)' : ''} on ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${((Date.now() - started) / 1000).toFixed(0)}s`,
      line(header),
      ...rows.map(line),
      '',
      'Notes:',
      ...results.flatMap((r) => r.figures.filter((f) => f.note).map((f) => `- ${r.section} / ${f.name}: ${f.note}`)),
    ].join('\n') + '\n',
  );
  const out = fileURLToPath(new URL('./results.json', import.meta.url));
  writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), quick, machine: { cpus: cpus().length, memGiB: totalmem() / 2 ** 30, node: process.version }, results }, null, 2));
  process.stderr.write(`bench: samples written to ${out}\n`);
  process.exit(results.some((r) => r.error) ? 1 : 0);
}

void main();
