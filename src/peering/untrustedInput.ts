/**
 * Helpers for reading input a stranger wrote (a PeeringRequest, its kubeconfig, an AdmissionReview):
 * type guards that never throw, and values quoted so that a message never carries control
 * characters or megabytes of someone else's text.
 */

export type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A Kubernetes namespace name (a DNS label). */
export const namespaceRe = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** A value shown inside a message: quoted, printable, short. */
export function show(v: unknown, max = 80): string {
  if (typeof v === 'object' && v !== null) return Array.isArray(v) ? '(a list)' : '(an object)';
  const s = String(v);
  const printable = s.replace(/[^\x20-\x7e]/g, '?');
  return JSON.stringify(printable.length > max ? `${printable.slice(0, max)}...` : printable);
}

/** The first line of a parser's error message, cut short. */
export function firstLine(s: string): string {
  const line = s.split('\n', 1)[0] ?? '';
  return line.length > 160 ? `${line.slice(0, 160)}...` : line;
}
