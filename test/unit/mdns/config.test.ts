import { describe, expect, it } from 'vitest';
import { LanConfigError, resolveLanConfig } from '../../../src/mdns/index.js';

describe('LAN discovery settings', () => {
  it('fills in the defaults (host-name records live 120 s, RFC 6762 §10)', () => {
    expect(resolveLanConfig({ clusterID: 'abc-1', url: 'https://10.0.0.2:6443' })).toEqual({
      clusterID: 'abc-1',
      url: 'https://10.0.0.2:6443',
      name: 'MyLiqo',
      namespace: 'liqo',
      port: 6443,
      ttl: 120,
      service: '_liqo._tcp',
      domain: 'local.',
      enableDiscovery: true,
      enableAdvertisement: true,
      interfaces: [],
    });
  });

  it.each([
    [{ clusterID: '' }, /cluster ID/],
    [{ clusterID: 'a b' }, /cluster ID/],
    [{ clusterID: 'a', url: 'http://x' }, /https/],
    [{ clusterID: 'a', url: 'not a url' }, /invalid url/],
    [{ clusterID: 'a', service: '_liqo_api._tcp' }, /RFC 6763/],
    [{ clusterID: 'a', ttl: 0 }, /ttl/],
    [{ clusterID: 'a', port: 70000 }, /port/],
  ])('refuses %j with a clear message', (config, message) => {
    expect(() => resolveLanConfig(config)).toThrow(LanConfigError);
    expect(() => resolveLanConfig(config)).toThrow(message);
  });
});
