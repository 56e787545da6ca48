/** How numbers, sizes and times read in the dashboard. */

export function cores(n: number): string {
  if (!Number.isFinite(n) || n <= 0) return '0';
  if (n < 0.1) return `${Math.round(n * 1000)}m`;
  return n >= 10 ? n.toFixed(0) : n.toFixed(n < 1 ? 2 : 1).replace(/\.?0+$/, '');
}

export function bytes(n: number): string {
  if (!Number.isFinite(n) || n <= 0) return '0';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 100 ? v.toFixed(0) : v.toFixed(1).replace(/\.0$/, '')} ${units[i]}`;
}

export function count(n: number): string {
  return Number.isFinite(n) ? String(Math.floor(n)) : '0';
}

/** "12 s", "4 min", "3 h", "2 d" between an ISO time and now. */
export function age(iso: string | undefined, now: number): string {
  if (!iso) return '';
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return '';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 90) return `${s} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

export function ago(iso: string | undefined, now: number): string {
  const a = age(iso, now);
  return a ? `${a} ago` : '';
}

export function shortID(id: string): string {
  return id.length > 13 ? `${id.slice(0, 8)}…${id.slice(-4)}` : id;
}

export const discoveryLabel: Record<string, string> = { LAN: 'LAN', WAN: 'DNS', Manual: 'Manual', IncomingPeering: 'Incoming' };

export const trustHelp: Record<string, string> = {
  Trusted: 'Its API server certificate chains to a CA this cluster trusts.',
  Pinned: 'Its CA matches a pinned fingerprint.',
  Untrusted: 'Its CA is not trusted here; with "allow untrusted CA" it is pinned on first use.',
  Unknown: 'Not checked yet.',
};
