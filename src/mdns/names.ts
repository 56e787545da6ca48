/**
 * DNS names as we hold them: presentation form with `\.` and `\\` escapes inside labels (RFC 6763
 * §4.3: instance names may contain dots and spaces), no trailing dot in the mDNS engine; unicast
 * DNS-SD keeps the same names absolute (`toFqdn`, `absoluteNameKey`). Comparison is case-insensitive for ASCII only (RFC 6762 §16). Instance and host label construction and the
 * conflict renames live here too.
 */

export function escapeLabel(label: string): string {
  return label.replace(/\\/g, '\\\\').replace(/\./g, '\\.');
}

/** Splits a presentation-form name into raw labels. A trailing dot is ignored; `''` is the root. */
export function splitName(name: string): string[] {
  const labels: string[] = [];
  let current = '';
  let escaped = false;
  for (const ch of name) {
    if (escaped) {
      current += ch;
      escaped = false;
    } else if (ch === '\\') {
      escaped = true;
    } else if (ch === '.') {
      labels.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  if (escaped) current += '\\';
  labels.push(current);
  // empty labels cannot exist on the wire (length 0 ends a name): a trailing, leading or doubled dot
  return labels.filter((l) => l !== '');
}

export function joinLabels(labels: readonly string[]): string {
  return labels.map(escapeLabel).join('.');
}

export function normalizeName(name: string): string {
  return joinLabels(splitName(name));
}

export function asciiLower(s: string): string {
  // toLowerCase is exact for pure ASCII; beyond ASCII only A-Z may fold (RFC 6762 §16)
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(s)) return s.toLowerCase();
  return s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
}

/** The key under which a name is compared and stored: normalized, ASCII lower case. */
export function nameKey(name: string): string {
  // fast path: already normal (no escapes, no empty labels, no trailing dot)
  if (!name.includes('\\') && !name.includes('..') && !name.startsWith('.') && !name.endsWith('.')) return asciiLower(name);
  return asciiLower(normalizeName(name));
}

/** `example.com` -> `example.com.`; the root stays `.`. */
export function toFqdn(name: string): string {
  if (name === '' || name === '.') return '.';
  return name.endsWith('.') ? name : `${name}.`;
}

/** `example.com.` -> `example.com` (for URLs). */
export function stripTrailingDot(name: string): string {
  return name.length > 1 && name.endsWith('.') ? name.slice(0, -1) : name;
}

/** `nameKey` of an absolute name: normalized, ASCII lower case, with the trailing dot (`.` for the root). */
export function absoluteNameKey(name: string): string {
  return toFqdn(nameKey(name));
}

export function namesEqual(a: string, b: string): boolean {
  return nameKey(a) === nameKey(b);
}

export function utf8Length(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** Cuts a string to at most `maxBytes` UTF-8 bytes without splitting a character. */
export function utf8Truncate(s: string, maxBytes: number): string {
  if (utf8Length(s) <= maxBytes) return s;
  let out = '';
  let used = 0;
  for (const ch of s) {
    const n = utf8Length(ch);
    if (used + n > maxBytes) break;
    out += ch;
    used += n;
  }
  return out;
}

export const MAX_LABEL_BYTES = 63;

/** RFC 6763 §7 / RFC 6335: `_` + 1–15 letters, digits or hyphens, then `_tcp` or `_udp`. */
export function isValidServiceType(service: string): boolean {
  const labels = splitName(service);
  return (
    labels.length === 2 &&
    /^_[A-Za-z0-9](?:[A-Za-z0-9-]{0,13}[A-Za-z0-9])?$/.test(labels[0]!) &&
    /[A-Za-z]/.test(labels[0]!) &&
    /^_(tcp|udp)$/i.test(labels[1]!)
  );
}

export function shortClusterID(clusterID: string): string {
  return clusterID.replace(/[^A-Za-z0-9]/g, '').slice(0, 8) || 'x';
}

/** `<name>-<short id>`, at most 63 bytes (RFC 6763 §4.1.1), user-friendly (may contain spaces). */
export function instanceLabelFor(name: string, clusterID: string): string {
  const suffix = `-${shortClusterID(clusterID)}`;
  const base = utf8Truncate(name.trim() || 'kubepeer', MAX_LABEL_BYTES - suffix.length - 5);
  return `${base}${suffix}`;
}

/** A host label (RFC 952/1123 letters, digits, hyphens) derived from the instance name. */
export function hostLabelFor(name: string, clusterID: string): string {
  const clean = name
    .normalize('NFKD')
    .replace(/[^A-Za-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '');
  const suffix = `-${shortClusterID(clusterID)}`;
  return `${(clean || 'kubepeer').slice(0, MAX_LABEL_BYTES - suffix.length - 4)}${suffix}`;
}

/** RFC 6763 §4.1.1 style rename after a conflict: `base`, `base (2)`, `base (3)`, ... */
export function instanceLabelWithSuffix(base: string, n: number): string {
  if (n <= 1) return base;
  const tail = ` (${n})`;
  return `${utf8Truncate(base, MAX_LABEL_BYTES - tail.length)}${tail}`;
}

/** Host names take a hyphenated counter: `host`, `host-2`, `host-3`, ... */
export function hostLabelWithSuffix(base: string, n: number): string {
  if (n <= 1) return base;
  const tail = `-${n}`;
  return `${base.slice(0, MAX_LABEL_BYTES - tail.length)}${tail}`;
}

export function serviceFqdn(service: string, domain: string): string {
  return joinLabels([...splitName(service), ...splitName(domain)]);
}

export function instanceFqdn(label: string, service: string, domain: string): string {
  return joinLabels([label, ...splitName(service), ...splitName(domain)]);
}

export function hostFqdn(label: string, domain: string): string {
  return joinLabels([label, ...splitName(domain)]);
}

/**
 * If `name` is `<one label>.<serviceName>`, returns that label (the instance part), else undefined.
 * Never splits the instance label on dots (RFC 6763 §4.1).
 */
export function instanceLabelOf(name: string, serviceName: string): string | undefined {
  const labels = splitName(name);
  const service = splitName(serviceName);
  if (labels.length !== service.length + 1) return undefined;
  for (let i = 0; i < service.length; i++) {
    if (asciiLower(labels[i + 1]!) !== asciiLower(service[i]!)) return undefined;
  }
  const label = labels[0]!;
  return label.length > 0 ? label : undefined;
}
