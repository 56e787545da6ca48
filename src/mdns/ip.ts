/**
 * Small IP helpers without dependencies: parse and format IPv4/IPv6, and prefix membership.
 * Pure functions, used by the codec (A/AAAA rdata) and by the on-link source check (RFC 6762 §11).
 */

/** Splits `fe80::1%eth0` into address and zone. */
export function splitZone(address: string): { address: string; zone: string | undefined } {
  const i = address.indexOf('%');
  return i < 0 ? { address, zone: undefined } : { address: address.slice(0, i), zone: address.slice(i + 1) };
}

export function parseIPv4(text: string): Uint8Array | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

export function formatIPv4(bytes: Uint8Array): string {
  return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
}

/** Parses an IPv6 address (with `::`, an embedded IPv4 tail, and an optional `%zone`). */
export function parseIPv6(text: string): Uint8Array | undefined {
  const { address } = splitZone(text);
  if (address.length === 0 || address.length > 45) return undefined;
  const halves = address.split('::');
  if (halves.length > 2) return undefined;
  const parseGroups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const groups: number[] = [];
    const parts = s.split(':');
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (i === parts.length - 1 && p.includes('.')) {
        const v4 = parseIPv4(p);
        if (!v4) return undefined;
        groups.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return undefined;
        groups.push(parseInt(p, 16));
      }
    }
    return groups;
  };
  const head = parseGroups(halves[0]!);
  const tail = halves.length === 2 ? parseGroups(halves[1]!) : [];
  if (!head || !tail) return undefined;
  let groups: number[];
  if (halves.length === 2) {
    const missing = 8 - head.length - tail.length;
    if (missing < 1) return undefined;
    groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  } else {
    groups = head;
  }
  if (groups.length !== 8) return undefined;
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  return out;
}

/** RFC 5952 text form: lower case, leading zeros dropped, the longest run (>1) of zero groups as `::`. */
export function formatIPv6(bytes: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push((bytes[i * 2]! << 8) | bytes[i * 2 + 1]!);
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestLen < 2) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

export function prefixContains(network: Uint8Array, prefixLength: number, address: Uint8Array): boolean {
  if (network.length !== address.length) return false;
  let bits = Math.max(0, Math.min(prefixLength, network.length * 8));
  for (let i = 0; i < network.length && bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((network[i]! & mask) !== (address[i]! & mask)) return false;
  }
  return true;
}

export function isIPv6LinkLocal(bytes: Uint8Array): boolean {
  return bytes.length === 16 && bytes[0] === 0xfe && (bytes[1]! & 0xc0) === 0x80;
}

export function isIPv4LinkLocal(bytes: Uint8Array): boolean {
  return bytes.length === 4 && bytes[0] === 169 && bytes[1] === 254;
}

/** Canonical text of an address (so `FE80::01` and `fe80::1` compare equal); undefined if not an IP. */
export function canonicalIP(text: string): string | undefined {
  const { address } = splitZone(text);
  const v4 = parseIPv4(address);
  if (v4) return formatIPv4(v4);
  const v6 = parseIPv6(address);
  if (v6) return formatIPv6(v6);
  return undefined;
}
