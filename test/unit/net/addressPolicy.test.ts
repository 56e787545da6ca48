import { describe, expect, it } from 'vitest';
import { forbiddenHost, inCIDR, normaliseAddress, policyFor } from '../../../src/net/addressPolicy.js';
import { apiUrlProblem } from '../../../src/peering/apiUrl.js';
import { resolveCallbackAddress } from '../../../src/peering/incoming/requesterClient.js';

const REMOTE_OWN = 'https://203.0.113.1:6443';
const policy = policyFor(REMOTE_OWN);

describe('address policy: every IPv4-in-IPv6 form is judged as the IPv4 address it reaches', () => {
  it.each([
    ['::ffff:169.254.169.254', '169.254.169.254'],
    ['[::ffff:a9fe:a9fe]', '169.254.169.254'],
    ['::a9fe:a9fe', '169.254.169.254'], // IPv4-compatible
    ['::169.254.169.254', '169.254.169.254'],
    ['64:ff9b::a9fe:a9fe', '169.254.169.254'], // NAT64
    ['64:ff9b::127.0.0.1', '127.0.0.1'],
    ['::ffff:0:7f00:1', '127.0.0.1'], // SIIT
    ['2002:7f00:1::', '127.0.0.1'], // 6to4
    ['[::ffff:127.0.0.2]', '127.0.0.2'],
  ])('%s is %s', (form, v4) => {
    expect(normaliseAddress(form)).toBe(v4);
  });

  it('keeps :: and ::1 and ordinary IPv6 addresses as they are', () => {
    expect(normaliseAddress('::1')).toBe('::1');
    expect(normaliseAddress('::')).toBe('::');
    expect(normaliseAddress('2001:db8::1')).toBe('2001:db8::1');
  });
});

describe('address policy: what is never called', () => {
  it.each(['169.254.169.254', '::ffff:169.254.169.254', '::a9fe:a9fe', '64:ff9b::a9fe:a9fe', '0.0.0.0', '::', '224.0.0.251', 'ff02::fb', 'fe80::1', '255.255.255.255'])(
    'refuses %s whatever the allowlist says',
    (addr) => {
      expect(forbiddenHost(addr, { ...policy, allowedCIDRs: ['0.0.0.0/0', '::/0'] })).toBeDefined();
    },
  );

  it('refuses loopback in every form unless our own API server is on loopback', () => {
    for (const a of ['127.0.0.1', '::1', '[::ffff:127.0.0.1]', '::7f00:1', '64:ff9b::7f00:1', 'localhost']) {
      expect(forbiddenHost(a, policy), a).toMatch(/loopback/);
      expect(forbiddenHost(a, policyFor('https://127.0.0.1:6443')), a).toBeUndefined();
    }
  });

  it('calls only addresses inside the allowed CIDRs', () => {
    const lab = policyFor(REMOTE_OWN, ['198.18.0.0/15']);
    expect(forbiddenHost('198.19.3.4', lab)).toBeUndefined();
    expect(forbiddenHost('10.0.0.1', lab)).toMatch(/allowed CIDRs/);
    expect(forbiddenHost('::ffff:10.0.0.1', lab)).toMatch(/allowed CIDRs/);
    expect(forbiddenHost('2001:db8::1', lab)).toMatch(/allowed CIDRs/);
    expect(inCIDR('2001:db8::1', '2001:db8::/32')).toBe(true);
    expect(inCIDR('2001:db9::1', '2001:db8::/32')).toBe(false);
  });
});

describe('apiUrl: scheme, host and port only', () => {
  it.each(['https://198.18.0.2:6443/api?x=1', 'https://198.18.0.2:6443/#', 'https://198.18.0.2:6443/apis/x', 'https://u:p@198.18.0.2:6443', 'https://198.18.0.2:6443?a'])(
    'refuses %s',
    (url) => {
      expect(apiUrlProblem(url, 'spec.apiUrl', REMOTE_OWN)).toBeDefined();
    },
  );

  it('accepts a plain URL, with or without a trailing slash', () => {
    expect(apiUrlProblem('https://198.18.0.2:6443', 'spec.apiUrl', REMOTE_OWN)).toBeUndefined();
    expect(apiUrlProblem('https://198.18.0.2:6443/', 'spec.apiUrl', REMOTE_OWN)).toBeUndefined();
  });

  it("leaves loopback to the apiUrl check when our own URL is not given (a kubeconfig's server between local clusters)", () => {
    expect(apiUrlProblem('https://127.0.0.1:42907', 'the cluster server')).toBeUndefined();
    expect(apiUrlProblem('https://127.0.0.1:42907', 'spec.apiUrl', 'https://127.0.0.1:6443')).toBeUndefined();
    expect(apiUrlProblem('https://169.254.169.254:443', 'the cluster server')).toBeDefined();
  });

  it('refuses an mDNS-style metadata URL and the IPv4-in-IPv6 forms of loopback', () => {
    expect(apiUrlProblem('https://169.254.169.254:443/latest#', 'apiUrl', REMOTE_OWN)).toBeDefined();
    for (const h of ['[::ffff:127.0.0.1]', '[::7f00:1]', '[64:ff9b::7f00:1]']) expect(apiUrlProblem(`https://${h}:6443`, 'apiUrl', REMOTE_OWN), h).toMatch(/loopback/);
  });

  it('the identity callback checks every address a name resolves to, in normalised form', async () => {
    await expect(resolveCallbackAddress('https://peer.example:6443', REMOTE_OWN, async () => ['64:ff9b::a9fe:a9fe'])).rejects.toMatchObject({ reason: 'ForbiddenApiUrl' });
    await expect(resolveCallbackAddress('https://peer.example:6443', REMOTE_OWN, async () => ['::ffff:127.0.0.1'])).rejects.toMatchObject({ reason: 'ForbiddenApiUrl' });
    await expect(resolveCallbackAddress('https://peer.example:6443', REMOTE_OWN, async () => ['10.1.2.3'], ['198.18.0.0/15'])).rejects.toMatchObject({ reason: 'ForbiddenApiUrl' });
    expect(await resolveCallbackAddress('https://peer.example:6443', REMOTE_OWN, async () => ['198.18.0.7'], ['198.18.0.0/15'])).toBe('198.18.0.7');
  });
});
