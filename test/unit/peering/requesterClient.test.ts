import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { lookupTable } from '../../support/lookupTable.js';
import { resolveCallbackAddress } from '../../../src/peering/incoming/requesterClient.js';
import { KubeClient } from '../../../src/k8s/rest.js';
import { createCA, issueCertificate } from '../../../src/trust/pki.js';

const OWN = 'https://198.18.0.1:6443';
const dns = lookupTable;

async function reason(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    return `${(e as { reason?: string }).reason}: ${(e as Error).message}`;
  }
}

describe('the callback to a requester named by a host name', () => {
  it('checks every address the name resolves to, and returns the one to connect to', async () => {
    const lookup = dns({ 'peer.example': ['198.18.5.5', '198.18.5.6'], 'meta.example': ['198.18.5.5', '169.254.169.254'], 'me.example': ['198.18.0.1'], 'v6meta.example': ['fe80::1'] });
    expect(await resolveCallbackAddress('https://peer.example:6443', OWN, lookup)).toBe('198.18.5.5');
    expect(await resolveCallbackAddress('https://198.18.5.5:6443', OWN, lookup)).toBeUndefined();
    expect(await reason(resolveCallbackAddress('https://meta.example:6443', OWN, lookup))).toMatch(/^ForbiddenApiUrl: .*meta\.example resolves to 169\.254\.169\.254, a link-local address/);
    expect(await reason(resolveCallbackAddress('https://v6meta.example', OWN, lookup))).toMatch(/^ForbiddenApiUrl: .*fe80::1/);
    expect(await reason(resolveCallbackAddress('https://me.example:6443', OWN, lookup))).toMatch(/^SelfReferentialApiUrl: .*resolves to 198\.18\.0\.1, this cluster's own API server/);
    // the same address on another port is another server
    expect(await resolveCallbackAddress('https://me.example:7443', OWN, lookup)).toBe('198.18.0.1');
    expect(await reason(resolveCallbackAddress('https://gone.example', OWN, lookup))).toMatch(/^RequesterUnresolvable: cannot resolve gone\.example .*ENOTFOUND/);
    // literal addresses and Service names are refused before any lookup, by the webhook's rule
    expect(await reason(resolveCallbackAddress('https://169.254.169.254', OWN, lookup))).toMatch(/^ForbiddenApiUrl: .*a link-local address/);
    expect(await reason(resolveCallbackAddress('https://kubernetes.default.svc', OWN, lookup))).toMatch(/^ForbiddenApiUrl: .*a Service name inside this cluster/);
  });

  it('with the system resolver: localhost at our own port is our own API server', async () => {
    expect(await reason(resolveCallbackAddress('https://localhost:6443', 'https://127.0.0.1:6443'))).toMatch(/^SelfReferentialApiUrl/);
  });

  it('connects to the pinned address while TLS still verifies the URL host name', async () => {
    const ca = await createCA('pin-test-ca');
    const leaf = await issueCertificate(ca, { commonName: 'peer', hosts: ['peer.kubepeer.invalid'], usage: 'server' });
    const server = createServer({ cert: leaf.certPem, key: leaf.keyPem }, (req, res) => res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ path: req.url, auth: req.headers.authorization })));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      // .invalid never resolves (RFC 6761): only the pin can make this work
      const pinned = KubeClient.withToken(`https://peer.kubepeer.invalid:${port}`, 'tok', ca.certPem, false, '127.0.0.1');
      expect(await pinned.get('/version')).toEqual({ path: '/version', auth: 'Bearer tok' });
      pinned.close();
      const other = await createCA('other-ca');
      const wrongCA = KubeClient.withToken(`https://peer.kubepeer.invalid:${port}`, 'tok', other.certPem, false, '127.0.0.1');
      await expect(wrongCA.get('/version')).rejects.toThrow(/not signed by a trusted CA|self.signed|unable to verify/i);
      wrongCA.close();
    } finally {
      server.close();
    }
  });
});
