/**
 * kubectl's `-o jsonpath=TEMPLATE` (k8s.io/client-go/util/jsonpath), the subset people use:
 *
 *   text outside braces           printed as is
 *   {"\n"} {'\t'}                 quoted text, with \n \t \r \\ \" \' escapes
 *   {.a.b} {@.a} {.} {@}          fields from the current object (`.a\.b` for a key with a dot;
 *                                 keys may hold "-" and "/", as in {.data.cluster-id})
 *   {.a[0]} {.a[-1]} {.a[1:3]}    index (negative from the end) and slice [start:end:step]
 *   {.a[*]} {.a.*}                every element or value
 *   {..name}                      recursive descent
 *   {.a['x','y']} {.a[0,2]}       union
 *   {.a[?(@.f=="v")]}             filter: ==, !=, <, <=, >, >= against a number, a quoted string,
 *                                 true/false or another @ path; [?(@.f)] keeps those that have f
 *   {range .items[*]}...{end}     the text in between once per result, with it as the current object
 *
 * As in kubectl: the results of one {...} are separated by a space; strings print bare, objects
 * and arrays as JSON; a missing key prints nothing; no newline is added at the end.
 * Not supported (refused with a message): kubectl's {.a[?(@.f=~/re/)]} regex filters and
 * functions such as length.
 */

export class JsonPathError extends Error {}

type Step =
  | { kind: 'field'; name: string }
  | { kind: 'wildcard' }
  | { kind: 'recursive' }
  | { kind: 'index'; indices: number[] }
  | { kind: 'keys'; names: string[] }
  | { kind: 'slice'; start?: number; end?: number; step?: number }
  | { kind: 'filter'; left: Step[]; op?: string; right?: Operand };

type Operand = { kind: 'literal'; value: unknown } | { kind: 'path'; steps: Step[] };

type Node =
  | { kind: 'text'; text: string }
  | { kind: 'path'; steps: Step[] }
  | { kind: 'range'; steps: Step[]; body: Node[] };

export interface JsonPathTemplate {
  readonly source: string;
  readonly nodes: Node[];
}

// ------------------------------------------------------------------ parsing

export function parseJsonPath(source: string): JsonPathTemplate {
  const stack: Array<{ nodes: Node[]; range?: Extract<Node, { kind: 'range' }> }> = [{ nodes: [] }];
  let i = 0;
  while (i < source.length) {
    const open = source.indexOf('{', i);
    const top = stack[stack.length - 1]!;
    if (open < 0) {
      top.nodes.push({ kind: 'text', text: source.slice(i) });
      break;
    }
    if (open > i) top.nodes.push({ kind: 'text', text: source.slice(i, open) });
    const close = findClose(source, open);
    const action = source.slice(open + 1, close).trim();
    i = close + 1;
    if (action === 'end') {
      if (stack.length === 1) throw new JsonPathError(`jsonpath: {end} without {range} in ${quote(source)}`);
      stack.pop();
      continue;
    }
    const range = /^range\s+(.*)$/s.exec(action);
    if (range) {
      const node: Extract<Node, { kind: 'range' }> = { kind: 'range', steps: parsePath(range[1]!.trim(), source), body: [] };
      top.nodes.push(node);
      stack.push({ nodes: node.body, range: node });
      continue;
    }
    if (action.startsWith('"') || action.startsWith("'")) {
      top.nodes.push({ kind: 'text', text: unquote(action, source) });
      continue;
    }
    top.nodes.push({ kind: 'path', steps: parsePath(action, source) });
  }
  if (stack.length > 1) throw new JsonPathError(`jsonpath: {range} without {end} in ${quote(source)}`);
  return { source, nodes: stack[0]!.nodes };
}

/** The `}` that closes the action opened at `open`, skipping quoted text and brackets. */
function findClose(s: string, open: number): number {
  let depth = 0;
  for (let i = open + 1; i < s.length; i++) {
    const c = s[i]!;
    if (c === '"' || c === "'") {
      i = endOfQuote(s, i);
      continue;
    }
    if (c === '\\') i++;
    else if (c === '[' || c === '(') depth++;
    else if (c === ']' || c === ')') depth--;
    else if (c === '}' && depth <= 0) return i;
  }
  throw new JsonPathError(`jsonpath: unclosed "{" at position ${open} in ${quote(s)}`);
}

function endOfQuote(s: string, start: number): number {
  for (let i = start + 1; i < s.length; i++) {
    if (s[i] === '\\') i++;
    else if (s[i] === s[start]) return i;
  }
  throw new JsonPathError(`jsonpath: unterminated quote at position ${start} in ${quote(s)}`);
}

const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', '"': '"', "'": "'" };

function unquote(q: string, source: string): string {
  const end = endOfQuote(q, 0);
  if (end !== q.length - 1) throw new JsonPathError(`jsonpath: unexpected text after ${q.slice(0, end + 1)} in ${quote(source)}`);
  return q.slice(1, -1).replace(/\\(.)/g, (_m, c: string) => ESCAPES[c] ?? `\\${c}`);
}

function parsePath(expr: string, source: string): Step[] {
  const steps: Step[] = [];
  let i = 0;
  const fail = (what: string): never => {
    throw new JsonPathError(`jsonpath: ${what} in {${expr}} of ${quote(source)}`);
  };
  if (expr.startsWith('@') || expr.startsWith('$')) i = 1;
  else if (!expr.startsWith('.') && !expr.startsWith('[')) fail('a path starts with "." (e.g. {.metadata.name})');
  while (i < expr.length) {
    const c = expr[i]!;
    if (c === '.') {
      if (expr[i + 1] === '.') {
        steps.push({ kind: 'recursive' });
        i += 2;
        if (expr[i] === '[') continue;
      } else {
        i += 1;
      }
      if (i >= expr.length) break;
      if (expr[i] === '*') {
        steps.push({ kind: 'wildcard' });
        i += 1;
        continue;
      }
      let name = '';
      while (i < expr.length && !'.[ '.includes(expr[i]!)) {
        if (expr[i] === '\\' && i + 1 < expr.length) i++;
        name += expr[i];
        i++;
      }
      if (!name) fail(`a field name is missing at position ${i}`);
      steps.push({ kind: 'field', name });
    } else if (c === '[') {
      const close = matchingBracket(expr, i, fail);
      steps.push(parseBracket(expr.slice(i + 1, close).trim(), fail, source));
      i = close + 1;
    } else {
      fail(`unexpected "${c}" at position ${i}`);
    }
  }
  return steps;
}

function matchingBracket(expr: string, open: number, fail: (w: string) => never): number {
  let depth = 0;
  for (let i = open; i < expr.length; i++) {
    const c = expr[i]!;
    if (c === '"' || c === "'") i = endOfQuote(expr, i);
    else if (c === '[') depth++;
    else if (c === ']' && --depth === 0) return i;
  }
  return fail(`unclosed "[" at position ${open}`);
}

function parseBracket(inner: string, fail: (w: string) => never, source: string): Step {
  if (inner === '*') return { kind: 'wildcard' };
  if (inner.startsWith('?')) {
    const m = /^\?\((.*)\)$/s.exec(inner);
    if (!m) fail(`a filter is written [?(@.field=="value")], not [${inner}]`);
    return parseFilter(m![1]!.trim(), fail, source);
  }
  if (/^-?\d*:-?\d*(:-?\d*)?$/.test(inner)) {
    const [a, b, c] = inner.split(':').map((p) => (p === '' || p === undefined ? undefined : Number(p)));
    if (c === 0) fail('a slice step cannot be 0');
    return { kind: 'slice', start: a, end: b, step: c };
  }
  const parts = splitTopLevel(inner, ',');
  if (parts.every((p) => /^-?\d+$/.test(p))) return { kind: 'index', indices: parts.map(Number) };
  if (parts.every((p) => /^(['"]).*\1$/s.test(p))) return { kind: 'keys', names: parts.map((p) => unquote(p, source)) };
  return fail(`[${inner}] is not an index, slice, ['key'], * or filter`);
}

function splitTopLevel(s: string, sep: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '"' || s[i] === "'") i = endOfQuote(s, i);
    else if (s[i] === sep) {
      out.push(s.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(s.slice(start).trim());
  return out;
}

const OPERATORS = ['==', '!=', '<=', '>=', '<', '>'];

function parseFilter(body: string, fail: (w: string) => never, source: string): Step {
  if (body.includes('=~')) fail('regular-expression filters (=~) are not supported');
  let at = -1;
  let op: string | undefined;
  for (let i = 0; i < body.length && at < 0; i++) {
    if (body[i] === '"' || body[i] === "'") {
      i = endOfQuote(body, i);
      continue;
    }
    op = OPERATORS.find((o) => body.startsWith(o, i));
    if (op) at = i;
  }
  const leftText = (at < 0 ? body : body.slice(0, at)).trim();
  if (!leftText.startsWith('@')) fail(`a filter compares a path from "@" (e.g. [?(@.type=="Ready")]), not "${leftText}"`);
  const left = parsePath(leftText, source);
  if (at < 0) return { kind: 'filter', left };
  const rightText = body.slice(at + op!.length).trim();
  let right: Operand;
  if (rightText.startsWith('@')) right = { kind: 'path', steps: parsePath(rightText, source) };
  else if (/^(['"]).*\1$/s.test(rightText)) right = { kind: 'literal', value: unquote(rightText, source) };
  else if (rightText === 'true' || rightText === 'false') right = { kind: 'literal', value: rightText === 'true' };
  else if (rightText !== '' && Number.isFinite(Number(rightText))) right = { kind: 'literal', value: Number(rightText) };
  else return fail(`"${rightText}" is not a number, a quoted string, true/false or an @ path`);
  return { kind: 'filter', left, op, right };
}

const quote = (s: string) => JSON.stringify(s);

// ------------------------------------------------------------------ evaluation

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function children(v: unknown): unknown[] {
  if (Array.isArray(v)) return v;
  if (isObject(v)) return Object.values(v);
  return [];
}

function descendants(v: unknown): unknown[] {
  const out: unknown[] = [v];
  for (const c of children(v)) out.push(...descendants(c));
  return out;
}

function evalSteps(steps: Step[], from: unknown[]): unknown[] {
  let cur = from;
  for (const step of steps) cur = cur.flatMap((v) => evalStep(step, v));
  return cur;
}

function evalStep(step: Step, v: unknown): unknown[] {
  switch (step.kind) {
    case 'field':
      return isObject(v) && step.name in v ? [v[step.name]] : [];
    case 'keys':
      return isObject(v) ? step.names.filter((n) => n in v).map((n) => v[n]) : [];
    case 'wildcard':
      return children(v);
    case 'recursive':
      return descendants(v);
    case 'index': {
      if (!Array.isArray(v)) return [];
      return step.indices.map((i) => (i < 0 ? v.length + i : i)).filter((i) => i >= 0 && i < v.length).map((i) => v[i]);
    }
    case 'slice': {
      if (!Array.isArray(v)) return [];
      const n = v.length;
      const stepBy = step.step ?? 1;
      const norm = (x: number | undefined, dflt: number) => (x === undefined ? dflt : x < 0 ? Math.max(0, n + x) : Math.min(n, x));
      const out: unknown[] = [];
      if (stepBy > 0) for (let i = norm(step.start, 0); i < norm(step.end, n); i += stepBy) out.push(v[i]);
      else for (let i = step.start === undefined ? n - 1 : norm(step.start, n - 1); i > (step.end === undefined ? -1 : norm(step.end, -1)); i += stepBy) out.push(v[i]);
      return out;
    }
    case 'filter':
      return children(v).filter((item) => keep(step, item));
  }
}

function keep(step: Extract<Step, { kind: 'filter' }>, item: unknown): boolean {
  const lefts = evalSteps(step.left, [item]);
  if (!step.op || !step.right) return lefts.length > 0;
  const rights = step.right.kind === 'literal' ? [step.right.value] : evalSteps(step.right.steps, [item]);
  return lefts.some((l) => rights.some((r) => compare(l, step.op!, r)));
}

function compare(l: unknown, op: string, r: unknown): boolean {
  // kubectl compares numbers as numbers and everything else by its text.
  const bothNumbers = typeof l === 'number' && typeof r === 'number';
  const a = bothNumbers ? l : text(l);
  const b = bothNumbers ? r : text(r);
  switch (op) {
    case '==':
      return a === b;
    case '!=':
      return a !== b;
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '>':
      return a > b;
    default:
      return a >= b;
  }
}

function text(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === undefined || v === null) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function run(nodes: Node[], current: unknown): string {
  let out = '';
  for (const node of nodes) {
    if (node.kind === 'text') out += node.text;
    else if (node.kind === 'path') out += evalSteps(node.steps, [current]).map(text).join(' ');
    else for (const item of evalSteps(node.steps, [current])) out += run(node.body, item);
  }
  return out;
}

/** The template applied to one object (for a list: the kubectl `List`). */
export function executeJsonPath(template: JsonPathTemplate, data: unknown): string {
  return run(template.nodes, data);
}
