/**
 * One printer for every command, with kubectl's formats: tables (UPPERCASE headers, no borders;
 * `wide` adds the columns marked wide), `json`/`yaml` (a list is a kubectl `List`, and
 * `metadata.managedFields` is left out as kubectl does), `name` (`<kind>.<group>/<name>` per
 * line) and `jsonpath=TEMPLATE` (see jsonpath.ts). Errors go to stderr with a non-zero exit code
 * (see CliError and main.ts).
 */
import { stringify } from 'yaml';
import { executeJsonPath, JsonPathError, parseJsonPath, type JsonPathTemplate } from './jsonpath.js';

export type OutputFormat = 'table' | 'wide' | 'json' | 'yaml' | 'name' | 'jsonpath';

export type Output = { format: Exclude<OutputFormat, 'jsonpath'> } | { format: 'jsonpath'; template: JsonPathTemplate };

export const OUTPUT_HELP =
  'output format: table, wide (more columns), json, yaml, name, or jsonpath=TEMPLATE in kubectl\'s syntax: ' +
  '{.a.b} {.a[0]} {.a[1:3]} {.a[*]} {..a} {.a[\'k\']} {.a[?(@.f=="v")]} {range .items[*]}...{end} {"\\n"} (no regex filters)';

export function parseOutput(v: string | undefined): Output {
  const value = v ?? 'table';
  const jsonpath = /^jsonpath=(.*)$/s.exec(value);
  if (jsonpath) {
    if (!jsonpath[1]) throw new CliError('-o jsonpath= needs a template, e.g. -o jsonpath=\'{.items[*].metadata.name}\'', 2);
    try {
      return { format: 'jsonpath', template: parseJsonPath(jsonpath[1]) };
    } catch (e) {
      if (e instanceof JsonPathError) throw new CliError(e.message, 2);
      throw e;
    }
  }
  if (value === 'jsonpath') throw new CliError('-o jsonpath needs a template: -o jsonpath=\'{.items[*].metadata.name}\'', 2);
  if (!['table', 'wide', 'json', 'yaml', 'name'].includes(value)) throw new CliError(`unknown output format "${value}": use table, wide, json, yaml, name or jsonpath=TEMPLATE`, 2);
  return { format: value as Exclude<OutputFormat, 'jsonpath'> };
}

/** json, yaml and jsonpath: the output is data for a program, not text for a person. */
export const isStructured = (o: Output): boolean => o.format === 'json' || o.format === 'yaml' || o.format === 'jsonpath';

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

/** A copy without `metadata.managedFields` (server-side apply bookkeeping nobody reads). */
export function withoutManagedFields<T>(obj: T): T {
  const o = obj as { metadata?: { managedFields?: unknown } };
  if (!o || typeof o !== 'object' || !o.metadata || !('managedFields' in o.metadata)) return obj;
  const { managedFields: _hidden, ...metadata } = o.metadata;
  return { ...o, metadata } as T;
}

/** The kubectl `List` that `kubectl get -o json|yaml` prints (keys in kubectl's order). */
export function asList<T>(items: T[]): { apiVersion: 'v1'; items: T[]; kind: 'List'; metadata: { resourceVersion: string } } {
  return { apiVersion: 'v1', items: items.map(withoutManagedFields), kind: 'List', metadata: { resourceVersion: '' } };
}

/** The `-o name` prefix of a kind, as kubectl prints it for a custom resource (`<kind>.<group>`). */
export const kindName = (r: { kind: string; group: string }): string => `${r.kind.toLowerCase()}.${r.group}`;

/** `<kind>.<group>/<name>`, as `kubectl get -o name` prints a custom resource. */
export function resourceName(resource: string, obj: unknown): string {
  const o = obj as { metadata?: { name?: string }; name?: string };
  return `${resource}/${o.metadata?.name ?? o.name ?? ''}`;
}

/** Structured text of data in a structured format, or undefined for table/wide/name. */
function structured(out: Output, data: unknown): string | undefined {
  if (out.format === 'json') return JSON.stringify(data, null, 2) + '\n';
  if (out.format === 'yaml') return stringify(data);
  if (out.format === 'jsonpath') return executeJsonPath(out.template, data);
  return undefined;
}

export interface ListPrinter<T> {
  columns: Column<T>[];
  /** `-o name` prefix, e.g. foreigncluster.discovery.liqo.io. */
  resource: string;
  /** Said on stderr (as kubectl does) when there is nothing to list. */
  empty?: string;
}

/** The text a list command prints in each format. */
export function formatList<T>(out: Output, items: T[], p: ListPrinter<T>): { stdout: string; stderr: string } {
  const data = structured(out, asList(items));
  if (data !== undefined) return { stdout: data, stderr: '' };
  if (out.format === 'name') return { stdout: items.map((i) => resourceName(p.resource, i) + '\n').join(''), stderr: '' };
  if (!items.length) return { stdout: '', stderr: (p.empty ?? 'No resources found.') + '\n' };
  return { stdout: table(items, p.columns, out.format === 'wide') + '\n', stderr: '' };
}

export function printList<T>(out: Output, items: T[], p: ListPrinter<T>): void {
  const { stdout, stderr } = formatList(out, items, p);
  process.stdout.write(stdout);
  process.stderr.write(stderr);
}

export interface ObjectPrinter {
  /** What table and wide print (a person's summary). */
  text: () => string;
  /** `-o name` prefix when the object is a Kubernetes object; without it `-o name` is refused. */
  resource?: string;
}

/** The text a command about one object prints in each format. */
export function formatObject(out: Output, obj: unknown, p: ObjectPrinter): string {
  const data = structured(out, withoutManagedFields(obj));
  if (data !== undefined) return data;
  if (out.format === 'name') {
    if (!p.resource) throw new CliError('this command prints no Kubernetes object: -o name does not apply (use table, json, yaml or jsonpath=...)', 2);
    return resourceName(p.resource, obj) + '\n';
  }
  const text = p.text();
  return text.endsWith('\n') ? text : text + '\n';
}

export function printObject(out: Output, obj: unknown, p: ObjectPrinter): void {
  process.stdout.write(formatObject(out, obj, p));
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
