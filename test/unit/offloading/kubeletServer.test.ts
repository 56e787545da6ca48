import { describe, expect, it } from 'vitest';
import { bearerToken, callerOfCertificate, kubeletSubresource, kubeletVerb, nodeAttributes } from '../../../src/offloading/consumer/kubeletAuth.js';
import { logQuery, parseKubeletPath } from '../../../src/offloading/consumer/kubeletServer.js';

describe('kubelet endpoint paths', () => {
  it('reads /containerLogs/{namespace}/{pod}/{container}, URL-decoded', () => {
    expect(parseKubeletPath('/containerLogs/shop/web-1/main')).toEqual({ kind: 'containerLogs', namespace: 'shop', pod: 'web-1', container: 'main' });
    expect(parseKubeletPath('/containerLogs/shop/web-1')).toEqual({ kind: 'other' });
    expect(parseKubeletPath('/containerLogs/shop/web-1/main/extra')).toEqual({ kind: 'other' });
    expect(parseKubeletPath('/containerLogs/%E0%A4%A/x/y')).toEqual({ kind: 'other' });
  });

  it('knows exec, attach, portForward and run (answered 501) and nothing else', () => {
    expect(parseKubeletPath('/exec/shop/web-1/main')).toMatchObject({ kind: 'exec', namespace: 'shop', pod: 'web-1' });
    expect(parseKubeletPath('/portForward/shop/web-1')).toMatchObject({ kind: 'portForward', namespace: 'shop', pod: 'web-1' });
    expect(parseKubeletPath('/attach/shop/web-1/main').kind).toBe('attach');
    expect(parseKubeletPath('/pods').kind).toBe('other');
  });
});

describe('log parameters', () => {
  const q = (s: string) => logQuery(new URLSearchParams(s), 'main');

  it('passes follow, tailLines, sinceSeconds, timestamps, previous and limitBytes on, with the container', () => {
    expect(q('follow=true&tailLines=10&sinceSeconds=60&timestamps=true&previous=false&limitBytes=1024')).toEqual({
      query: { container: 'main', follow: true, tailLines: 10, sinceSeconds: 60, timestamps: true, limitBytes: 1024 },
    });
    expect(q('')).toEqual({ query: { container: 'main' } });
    expect(q('sinceTime=2026-01-01T00:00:00Z')).toEqual({ query: { container: 'main', sinceTime: '2026-01-01T00:00:00Z' } });
  });

  it('refuses malformed values instead of passing them to the peer', () => {
    for (const bad of ['tailLines=-1', 'tailLines=ten', 'sinceSeconds=0', 'limitBytes=0', 'follow=yes', 'sinceTime=yesterday', 'sinceTime=2026-01-01T00:00:00Z&sinceSeconds=5']) {
      expect(q(bad)).toHaveProperty('error');
    }
  });
});

describe('kubelet authorization attributes', () => {
  it('maps methods to verbs and paths to node subresources as the kubelet does', () => {
    expect(kubeletVerb('GET')).toBe('get');
    expect(kubeletVerb('HEAD')).toBe('get');
    expect(kubeletVerb('POST')).toBe('create');
    expect(kubeletSubresource('/containerLogs/a/b/c')).toBe('proxy');
    expect(kubeletSubresource('/exec/a/b/c')).toBe('proxy');
    expect(kubeletSubresource('/logs/')).toBe('log');
    expect(kubeletSubresource('/stats/summary')).toBe('stats');
    expect(kubeletSubresource('/metrics')).toBe('metrics');
    expect(kubeletSubresource('/metricsfoo')).toBe('proxy');
    expect(nodeAttributes('GET', '/containerLogs/a/b/c', 'liqo-b')).toEqual({ verb: 'get', resource: 'nodes', subresource: 'proxy', name: 'liqo-b' });
  });

  it('takes the user from the certificate CN and the groups from its O values', () => {
    expect(callerOfCertificate({ CN: 'kube-apiserver-kubelet-client', O: 'system:masters' })).toEqual({ user: 'kube-apiserver-kubelet-client', groups: ['system:masters', 'system:authenticated'], via: 'x509' });
    expect(callerOfCertificate({ CN: 'x', O: ['a', 'b'] })?.groups).toEqual(['a', 'b', 'system:authenticated']);
    expect(callerOfCertificate({})).toBeUndefined();
  });

  it('reads a bearer token only from a well-formed Authorization header', () => {
    expect(bearerToken('Bearer abc.def')).toBe('abc.def');
    expect(bearerToken('bearer abc')).toBe('abc');
    expect(bearerToken('Basic Zm9v')).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
  });
});
