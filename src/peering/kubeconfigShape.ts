/**
 * A cheap pre-scan of a kubeconfig's text that bounds the YAML parser's work before it runs (a
 * guard against denial of service by crafted YAML; see shapeProblem).
 */

/** Limits on a kubeconfig's text; a real one (about 20 lines) stays far below them. */
export const KubeconfigShape = { lines: 128, bracketDepth: 16, brackets: 64, indent: 64, indicatorsPerLine: 8, indicators: 256, tags: 16 } as const;

/**
 * A cheap scan that bounds the YAML parser's work before it runs. Deeply nested input (thousands
 * of "[" or "- - - ...") makes the parser recurse for hundreds of milliseconds, and, repeated a few
 * times, crashes the whole process: V8 aborts with "RegExpCompiler Allocation failed" when a
 * regular expression is compiled near the stack limit. Thousands of tiny nodes cost the parser
 * more than a hundred milliseconds each time. Brackets are counted everywhere, quoted or not: no
 * kubeconfig field (names, URLs, base64, tokens) legitimately contains more than a pair.
 */
export function shapeProblem(text: string): string | undefined {
  const L = KubeconfigShape;
  const deep = 'a kubeconfig with one cluster, one user and one context is never shaped like that';
  let lines = 1;
  let depth = 0;
  let brackets = 0;
  let indent = 0;
  let lineIndicators = 0;
  let indicators = 0;
  let tags = 0;
  let atLineStart = true;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 /* \n */) {
      if (++lines > L.lines) return `more than ${L.lines} lines; ${deep}`;
      atLineStart = true;
      indent = 0;
      lineIndicators = 0;
      continue;
    }
    if (atLineStart) {
      if (c === 32 || c === 9) {
        if (++indent > L.indent) return `lines indented more than ${L.indent} columns; ${deep}`;
        continue;
      }
      atLineStart = false;
    }
    if (c === 91 /* [ */ || c === 123 /* { */) {
      if (++depth > L.bracketDepth) return `brackets nested more than ${L.bracketDepth} deep; ${deep}`;
      if (++brackets > L.brackets) return `more than ${L.brackets} brackets; ${deep}`;
    } else if (c === 93 /* ] */ || c === 125 /* } */) {
      if (depth > 0) depth--;
    } else if (c === 45 /* - */ || c === 63 /* ? */ || c === 58 /* : */) {
      const next = i + 1 < text.length ? text.charCodeAt(i + 1) : 32;
      if (next === 32 || next === 9 || next === 10 || next === 13) {
        if (++lineIndicators > L.indicatorsPerLine) return `a line with more than ${L.indicatorsPerLine} YAML indicators ("- ", "? ", ": "); ${deep}`;
        if (++indicators > L.indicators) return `more than ${L.indicators} YAML indicators ("- ", "? ", ": "); ${deep}`;
      }
    } else if (c === 33 /* ! */ && (i === 0 || /[\s[{,]/.test(text[i - 1]!))) {
      if (++tags > L.tags) return `more than ${L.tags} YAML tags; ${deep}`;
    }
  }
  return undefined;
}
