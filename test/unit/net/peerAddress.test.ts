import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { lookupTable } from '../../support/lookupTable.js';
import { chooseAddress, lookupWith, resolvePeerTarget, type LookupAll } from '../../../src/net/peerAddress.js';
import { policyFor } from '../../../src/net/addressPolicy.js';
import { probeTLS, fetchClusterInfo } from '../../../src/trust/tlsProbe.js';
import { createCA, issueCertificate } from '../../../src/trust/pki.js';

const REMOTE_OWN = 'https://198.18.0.1:6443';
const LOOPBACK_OWN = 'https://127.0.0.1:6443';
const resolver = lookupTable;
const neverAsked: LookupAll = async (host) => {
  throw new Error(`the system resolver was asked for ${host}`);
};

describe('chooseAddress', () => {
  it('takes the first address when every one passes the policy, and names the first refused one otherwise', () => {
    const policy = policyFor(REMOTE_OWN);
    expect(chooseAddress(['198.18.5.5', '198.18.5.6'], policy)).toEqual({ ok: true, address: '198.18.5.5' });
    expect(chooseAddress(['198.18.5.5', '169.254.169.254'], policy)).toMatchObject({ ok: false, address: '169.254.169.254', problem: expect.stringContaining('link-local') });
    expect(chooseAddress(['::ffff:169.254.169.254'], policy)).toMatchObject({ ok: false });
    expect(chooseAddress(['224.0.0.251'], policy)).toMatchObject({ ok: false, problem: expect.stringContaining('multicast') });
    expect(chooseAddress(['0.0.0.0'], policy)).toMatchObject({ ok: false, problem: expect.stringContaining('unspecified') });
    expect(chooseAddress([], policy)).toBeUndefined();
  });
});

describe('resolvePeerTarget: where an outbound call to a peer connects', () => {
  it('connects to an address in the URL as it is, resolving nothing, when the policy allows it', async () => {
    expect(await resolvePeerTarget('https://198.18.5.5:6443', policyFor(REMOTE_OWN), { lookupAll: neverAsked })).toEqual({ ok: true });
    expect(await resolvePeerTarget('https://[2001:db8::1]:6443', policyFor(REMOTE_OWN), { lookupAll: neverAsked })).toEqual({ ok: true });
    expect(await resolvePeerTarget('https://[::ffff:169.254.169.254]:6443', policyFor(REMOTE_OWN), { lookupAll: neverAsked })).toMatchObject({ ok: false, reason: 'ForbiddenAddress' });
  });

  it("uses the addresses the SearchDomain's DNS server gave for the URL host, never the system resolver", async () => {
    const known = { host: 'api.beta.kubepeer.test', addresses: ['198.18.7.7'], server: '127.0.0.1:5353' };
    expect(await resolvePeerTarget('https://API.beta.kubepeer.test:6443', policyFor(REMOTE_OWN), { known, lookupAll: neverAsked })).toEqual({
      ok: true,
      address: '198.18.7.7',
      via: 'DNS server 127.0.0.1:5353',
    });
    // addresses recorded for another host (a person edited apiUrl since) are not used
    const other = await resolvePeerTarget('https://api.gamma.test:6443', policyFor(REMOTE_OWN), { known, lookupAll: resolver({ 'api.gamma.test': ['198.18.9.9'] }) });
    expect(other).toEqual({ ok: true, address: '198.18.9.9', via: 'the system resolver' });
  });

  it("resolves a person's host name with the system resolver and checks every address with the one policy", async () => {
    const lookupAll = resolver({ 'peer.example': ['198.18.5.5', '198.18.5.6'], 'meta.example': ['198.18.5.5', '169.254.169.254'], 'lo.example': ['127.0.0.1'], 'ten.example': ['10.1.2.3'] });
    // the other addresses, checked as well, for the caller to try when the first does not answer
    expect(await resolvePeerTarget('https://peer.example:6443', policyFor(REMOTE_OWN), { lookupAll })).toEqual({ ok: true, address: '198.18.5.5', alternatives: ['198.18.5.6'], via: 'the system resolver' });
    const meta = await resolvePeerTarget('https://meta.example:6443', policyFor(REMOTE_OWN), { lookupAll });
    expect(meta).toEqual({
      ok: false,
      reason: 'ForbiddenAddress',
      message: 'meta.example of https://meta.example:6443 resolves (the system resolver) to 169.254.169.254, a link-local address (where cloud metadata services live); refusing to connect to it',
    });
    // loopback only when our own API server is on loopback
    expect(await resolvePeerTarget('https://lo.example:6443', policyFor(REMOTE_OWN), { lookupAll })).toMatchObject({ ok: false, reason: 'ForbiddenAddress', message: expect.stringContaining('a loopback address') });
    expect(await resolvePeerTarget('https://lo.example:6443', policyFor(LOOPBACK_OWN), { lookupAll })).toMatchObject({ ok: true, address: '127.0.0.1' });
    // ClusterConfig allowedPeerCIDRs
    expect(await resolvePeerTarget('https://ten.example:6443', policyFor(REMOTE_OWN, ['198.18.0.0/15']), { lookupAll })).toMatchObject({ ok: false, message: expect.stringContaining('outside the allowed CIDRs') });
    expect(await resolvePeerTarget('https://peer.example:6443', policyFor(REMOTE_OWN, ['198.18.0.0/15']), { lookupAll })).toMatchObject({ ok: true });
  });

  it('refuses a DNS server answer that points at a forbidden address, naming the server', async () => {
    const known = { host: 'api.evil.test', addresses: ['fd00:ec2::254'], server: '127.0.0.1:5353' };
    expect(await resolvePeerTarget('https://api.evil.test:6443', policyFor(REMOTE_OWN), { known })).toMatchObject({
      ok: false,
      reason: 'ForbiddenAddress',
      message: expect.stringContaining('resolves (DNS server 127.0.0.1:5353) to fd00:ec2::254, a cloud metadata address'),
    });
  });

  it('says what to do with a name the system resolver does not know', async () => {
    const r = await resolvePeerTarget('https://api.beta.kubepeer.test:6443', policyFor(REMOTE_OWN), { lookupAll: resolver({}) });
    expect(r).toMatchObject({ ok: false, reason: 'Unresolvable' });
    expect((r as { message: string }).message).toMatch(/cannot resolve api\.beta\.kubepeer\.test .*ENOTFOUND.*SearchDomain/);
  });
});

describe('lookupWith', () => {
  it('answers the recorded addresses for their host and asks the fallback for any other', async () => {
    const lookup = lookupWith({ host: 'api.beta.kubepeer.test.', addresses: ['198.18.7.7'], server: 'x:53' }, resolver({ 'localhost': ['127.0.0.1'] }));
    expect(await lookup('api.beta.kubepeer.test')).toEqual(['198.18.7.7']);
    expect(await lookup('localhost')).toEqual(['127.0.0.1']);
  });
});

describe('the TLS probe and the cluster-info read at a checked address', () => {
  it('connect to the address while the certificate must match the URL host name (SNI and verification)', async () => {
    const ca = await createCA('peer-address-ca');
    const leaf = await issueCertificate(ca, { commonName: 'peer', hosts: ['api.beta.kubepeer.invalid'], usage: 'server' });
    const server = createServer({ cert: leaf.certPem, key: leaf.keyPem }, (req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ data: { 'cluster-id': 'beta', sni: (req.socket as { servername?: string }).servername } }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      // .invalid never resolves (RFC 6761): only the address can make these work
      const url = `https://api.beta.kubepeer.invalid:${port}`;
      expect(await probeTLS(url, [ca.certPem], 5000, '127.0.0.1')).toEqual({ ok: true });
      expect((await probeTLS(url, [ca.certPem], 5000)).ok).toBe(false);
      const info = await fetchClusterInfo(url, 'liqo', { ca: ca.certPem, address: '127.0.0.1' });
      expect(info.clusterID).toBe('beta');
      // the certificate is for the URL host: another host at the same address fails verification
      const wrongName = await probeTLS(`https://api.other.invalid:${port}`, [ca.certPem], 5000, '127.0.0.1');
      expect(wrongName).toMatchObject({ ok: false, code: 'ERR_TLS_CERT_ALTNAME_INVALID', certificateProblem: true });
    } finally {
      server.close();
    }
  });
});
