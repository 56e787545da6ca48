/**
 * One printer for every command: kubectl-style tables (UPPERCASE headers, no borders), JSON or
 * YAML. Errors go to stderr with a non-zero exit code (see fail()).
 */
import { stringify } from 'yaml';

export type OutputFormat = 'table' | 'wide' | 'json' | 'yaml';

export function parseOutput(v: string | undefined): OutputFormat {
  const f = (v ?? 'table') as OutputFormat;
  if (!['table', 'wide', 'json', 'yaml'].includes(f)) throw new CliError(`unknown output format "${v}": use table, wide, json or yaml`, 2);
  return f;
}

export interface Column<T> {
  header: string;
  value: (row: T) => string | number | boolean | undefined | null;
  wide?: boolean;
}

export function table<T>(rows: T[], columns: Column<T>[], wide = false): string {
  const cols = columns.filter((c) => wide || !c.wide);
  const cells = rows.map((r) => cols.map((c) => String(c.value(r) ?? '<none>')));
  const widths = cols.map((c, i) => Math.max(c.header.length, ...cells.map((row) => row[i]!.length)));
  const line = (vals: string[]) => vals.map((v, i) => (i === vals.length - 1 ? v : v.padEnd(widths[i]! + 3))).join('').trimEnd();
  return [line(cols.map((c) => c.header.toUpperCase())), ...cells.map(line)].join('\n');
}

export function print<T>(format: OutputFormat, data: T[] | T, columns?: Column<T>[], emptyMessage = 'No resources found.'): void {
  if (format === 'json') {
    process.stdout.write(JSON.stringify(data, null, 2) + '\n');
  } else if (format === 'yaml') {
    process.stdout.write(stringify(data));
  } else if (columns) {
    const rows = Array.isArray(data) ? data : [data];
    if (!rows.length) process.stderr.write(emptyMessage + '\n');
    else process.stdout.write(table(rows, columns, format === 'wide') + '\n');
  } else {
    process.stdout.write((typeof data === 'string' ? data : stringify(data)) + (typeof data === 'string' && data.endsWith('\n') ? '' : '\n'));
  }
}

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** `1m5s`-style age as kubectl prints it. */
export function age(iso?: string | Date, now = Date.now()): string {
  if (!iso) return '<unknown>';
  const s = Math.max(0, Math.floor((now - Date.parse(String(iso instanceof Date ? iso.toISOString() : iso))) / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 120) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h`;
  return `${Math.floor(h / 24)}d`;
}

/** A progress line on stderr (rewritten in place on a TTY). */
export function progress(message: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[2K${message}`);
  else process.stderr.write(message + '\n');
}
export function progressDone(): void {
  if (process.stderr.isTTY) process.stderr.write('\n');
}
