import { describe, expect, it } from 'vitest';
import { CA_FINGERPRINT_PATTERN as CRD_CA_PATTERN, CLUSTER_ID_PATTERN as CRD_ID_PATTERN } from '../../../src/api/crds.js';
import { LIQO_NAMESPACE } from '../../../src/api/constants.js';
import {
  buildClusterTxt,
  CA_FINGERPRINT_PATTERN,
  CLUSTER_ID_PATTERN,
  DEFAULT_NAMESPACE,
  interpretClusterTxt,
  mergeTxtRecords,
  parseTxtStrings,
  readClusterTxt,
  type TxtValue,
} from '../../../src/mdns/txt.js';

const b = (...strings: string[]) => strings.map((s) => Buffer.from(s, 'utf8'));
const entries = (...strings: string[]) => {
  const parsed = parseTxtStrings(b(...strings));
  if (!parsed.ok) throw new Error(parsed.problem);
  return parsed.entries;
};
const show = (m: Map<string, TxtValue>) => Object.fromEntries([...m].map(([k, v]) => [k, v === true ? true : v.toString()]));
const ID = 'ff5aa14a-dd6e-4fd2-80fe-eaecb827cf55';

describe('TXT parsing (RFC 6763 6)', () => {
  it('reads key=value pairs with case-insensitive keys', () => {
    expect(show(entries(`ID=${ID}`, 'NameSpace=liqo'))).toEqual({ id: ID, namespace: 'liqo' });
  });

  it('keeps the first occurrence of a repeated key', () => {
    expect(show(entries('id=first', 'Id=second', 'ID=third'))).toEqual({ id: 'first' });
  });

  it('treats a key without "=" as a boolean flag and "key=" as an empty value', () => {
    expect(show(entries('debug', 'empty='))).toEqual({ debug: true, empty: '' });
  });

  it('ignores empty strings and strings that start with "="', () => {
    expect(show(entries('', '=orphan', 'id=x'))).toEqual({ id: 'x' });
  });

  it('keeps "=" inside values', () => {
    expect(show(entries('url=https://a/?b=c'))).toEqual({ url: 'https://a/?b=c' });
  });

  it('rejects a key with control characters', () => {
    expect(parseTxtStrings(b('bad\tkey=1'))).toMatchObject({ ok: false, problem: expect.stringMatching(/not printable ASCII/) });
  });

  it('rejects a string over 255 bytes and a record over 1300 bytes', () => {
    expect(parseTxtStrings([Buffer.alloc(256, 0x61)])).toMatchObject({ ok: false, problem: expect.stringMatching(/256 bytes/) });
    const big = Array.from({ length: 6 }, (_, i) => Buffer.from(`k${i}=${'v'.repeat(240)}`));
    expect(parseTxtStrings(big)).toMatchObject({ ok: false, problem: expect.stringMatching(/more than 1300/) });
  });

  it('merges several TXT records and refuses a key they disagree on', () => {
    const merged = mergeTxtRecords([b(`id=${ID}`), b('namespace=liqo')]);
    expect(merged.ok && show(merged.entries)).toEqual({ id: ID, namespace: 'liqo' });
    expect(mergeTxtRecords([b('id=a'), b('id=a', 'x=1')]).ok).toBe(true);
    expect(mergeTxtRecords([b('id=a'), b('id=b')])).toMatchObject({ ok: false, problem: expect.stringMatching(/"id" has different values/) });
  });
});

describe('cluster TXT meaning', () => {
  it('requires id and defaults namespace to liqo', () => {
    expect(interpretClusterTxt(entries(`id=${ID}`))).toEqual({ ok: true, value: { clusterID: ID, namespace: 'liqo' } });
    expect(interpretClusterTxt(entries('namespace=liqo'))).toMatchObject({ ok: false, reason: 'MissingClusterID' });
    expect(interpretClusterTxt(entries('id='))).toMatchObject({ ok: false, reason: 'MissingClusterID' });
  });

  it('accepts a UUID or a DNS label as cluster ID and nothing else', () => {
    expect(interpretClusterTxt(entries('id=my-cluster-1'))).toMatchObject({ ok: true });
    expect(interpretClusterTxt(entries('id=My_Cluster'))).toMatchObject({ ok: false, reason: 'InvalidClusterID' });
    expect(interpretClusterTxt(entries('id'))).toMatchObject({ ok: false, reason: 'InvalidClusterID', problem: expect.stringMatching(/no value/) });
    expect(interpretClusterTxt(new Map([['id', Buffer.from([0xff, 0xfe])]]))).toMatchObject({ ok: false, reason: 'InvalidClusterID' });
  });

  it('reads name and a ca pin, lower-casing the pin', () => {
    const pin = `sha256:${'AB'.repeat(32)}`;
    expect(interpretClusterTxt(entries(`id=${ID}`, 'namespace=team-a', 'name=Cluster Ä', `ca=${pin}`))).toEqual({
      ok: true,
      value: { clusterID: ID, namespace: 'team-a', clusterName: 'Cluster Ä', caFingerprint: pin.toLowerCase() },
    });
  });

  it('fails on a malformed pin rather than dropping it', () => {
    for (const bad of ['ca=sha256:abc', 'ca=md5:' + 'a'.repeat(64), `ca=sha256:${'g'.repeat(64)}`, 'ca']) {
      expect(interpretClusterTxt(entries(`id=${ID}`, bad))).toMatchObject({ ok: false, reason: 'InvalidCAPin' });
    }
  });

  it('rejects a namespace that is not a DNS label and a name with control characters', () => {
    expect(interpretClusterTxt(entries(`id=${ID}`, 'namespace=Liqo_NS'))).toMatchObject({ ok: false, reason: 'InvalidTXT' });
    expect(interpretClusterTxt(entries(`id=${ID}`, 'name=a\u0007b'))).toMatchObject({ ok: false, reason: 'InvalidTXT' });
  });

  it('ignores unknown keys, including Liqo\'s untrusted-ca flag', () => {
    expect(interpretClusterTxt(entries('txtvers=1', `id=${ID}`, 'untrusted-ca=true'))).toEqual({
      ok: true,
      value: { clusterID: ID, namespace: 'liqo' },
    });
  });

  it('reads an https url and refuses any other, and any txtvers but 1', () => {
    expect(interpretClusterTxt(entries(`id=${ID}`, 'url=https://10.0.0.2:6443'))).toEqual({ ok: true, value: { clusterID: ID, namespace: 'liqo', url: 'https://10.0.0.2:6443' } });
    for (const bad of ['url=http://a', 'url=javascript:alert(1)', 'url', 'url=https://']) {
      expect(interpretClusterTxt(entries(`id=${ID}`, bad))).toMatchObject({ ok: false, reason: 'InvalidTXT' });
    }
    expect(interpretClusterTxt(entries('txtvers=2', `id=${ID}`))).toMatchObject({ ok: false, reason: 'InvalidTXT', problem: expect.stringMatching(/txtvers/) });
  });

  it('reads the seeds\' layout (id and namespace only: the URL comes from SRV)', () => {
    expect(readClusterTxt([b(`id=${ID}`), b('namespace=liqo')])).toEqual({ ok: true, value: { clusterID: ID, namespace: 'liqo' } });
  });

  it('round-trips the TXT we publish on the LAN, txtvers first', () => {
    const txt = buildClusterTxt({ clusterID: 'id-1', namespace: 'kube', url: 'https://h:1', clusterName: 'One' });
    expect(Buffer.from(txt[0]!).toString()).toBe('txtvers=1');
    expect(readClusterTxt([txt])).toEqual({ ok: true, value: { clusterID: 'id-1', namespace: 'kube', url: 'https://h:1', clusterName: 'One' } });
  });

  it('refuses what the ForeignCluster CRD refuses: its patterns and default namespace are the copies here', () => {
    expect(CLUSTER_ID_PATTERN).toBe(CRD_ID_PATTERN);
    expect(CA_FINGERPRINT_PATTERN).toBe(CRD_CA_PATTERN);
    expect(DEFAULT_NAMESPACE).toBe(LIQO_NAMESPACE);
    // the old LAN reader accepted these
    for (const id of ['My.Cluster', 'UPPER', 'a_b', '-x']) expect(readClusterTxt([b(`id=${id}`)])).toMatchObject({ ok: false, reason: 'InvalidClusterID' });
  });

  it('refuses a record with a key that is not printable ASCII instead of skipping the key', () => {
    expect(readClusterTxt([[Buffer.from(`id=${ID}`), Buffer.from([0x01, 0x3d, 0x31])]])).toMatchObject({ ok: false, reason: 'InvalidTXT' });
  });
});
