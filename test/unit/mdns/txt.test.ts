import { describe, expect, it } from 'vitest';
import { buildPeerTxt, parsePeerTxt, parseTxtPairs } from '../../../src/mdns/txt.js';

const s = (...xs: string[]) => xs.map((x) => new Uint8Array(Buffer.from(x)));

describe('TXT records (RFC 6763 §6)', () => {
  it('reads keys case-insensitively and keeps the first occurrence', () => {
    const pairs = parseTxtPairs(s('ID=first', 'id=second', 'Url=https://a'));
    expect(pairs.get('id')).toBe('first');
    expect(pairs.get('url')).toBe('https://a');
  });

  it('treats a key alone as a boolean, key= as empty, and skips strings starting with =', () => {
    const pairs = parseTxtPairs(s('flag', 'empty=', '=ignored', ''));
    expect(pairs.get('flag')).toBe(true);
    expect(pairs.get('empty')).toBe('');
    expect([...pairs.keys()]).toEqual(['flag', 'empty']);
  });

  it('reads a peer TXT and defaults the namespace to liqo', () => {
    expect(parsePeerTxt(s('txtvers=1', 'id=abc-123', 'url=https://10.0.0.2:6443', 'name=Cluster One'))).toEqual({
      ok: true,
      txt: { txtvers: 1, clusterID: 'abc-123', namespace: 'liqo', url: 'https://10.0.0.2:6443', name: 'Cluster One' },
    });
  });

  it('round-trips what we publish', () => {
    const r = parsePeerTxt(buildPeerTxt({ clusterID: 'id-1', namespace: 'kube', url: 'https://h:1' }));
    expect(r).toEqual({ ok: true, txt: { txtvers: 1, clusterID: 'id-1', namespace: 'kube', url: 'https://h:1' } });
  });

  it('rejects a TXT without id, with a non-https url, or of another txtvers', () => {
    expect(parsePeerTxt(s('url=https://a'))).toMatchObject({ ok: false, reason: 'invalid-txt' });
    expect(parsePeerTxt(s('id=a', 'url=http://a'))).toMatchObject({ ok: false, reason: 'invalid-txt' });
    expect(parsePeerTxt(s('id=a', 'url=javascript:alert(1)'))).toMatchObject({ ok: false, reason: 'invalid-txt' });
    expect(parsePeerTxt(s('txtvers=2', 'id=a', 'url=https://a'))).toMatchObject({ ok: false, reason: 'unsupported-txtvers' });
    expect(parsePeerTxt(s('id=../../etc', 'url=https://a'))).toMatchObject({ ok: false, reason: 'invalid-txt' });
  });

  it('rejects an oversized TXT (over 1300 bytes)', () => {
    const big = Array.from({ length: 6 }, (_, i) => `k${i}=${'x'.repeat(250)}`);
    expect(parsePeerTxt(s('id=a', 'url=https://a', ...big))).toMatchObject({ ok: false, reason: 'oversized-txt' });
  });
});
