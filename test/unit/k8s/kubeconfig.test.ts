import { writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadClusterAccess } from '../../../src/k8s/kubeconfig.js';
import { scratchDir } from '../../support/scratch.js';

const CA = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const b64 = (s: string) => Buffer.from(s).toString('base64');

function kubeconfig(dir: string, file: string, doc: Record<string, unknown>): string {
  const path = join(dir, file);
  writeFileSync(path, stringify({ apiVersion: 'v1', kind: 'Config', ...doc }));
  return path;
}

function single(server: string, user: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    clusters: [{ name: 'c', cluster: { server, 'certificate-authority-data': b64(CA), ...extra } }],
    users: [{ name: 'u', user }],
    contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u', namespace: 'team-a' } }],
    'current-context': 'ctx',
  };
}

describe('kubeconfig loading without client-node KubeConfig', () => {
  let dir: string;
  const saved = { KUBECONFIG: process.env.KUBECONFIG, HOME: process.env.HOME };
  beforeEach(() => {
    dir = scratchDir('kubeconfig-test-');
    delete process.env.KUBECONFIG;
    process.env.HOME = dir;
  });
  afterEach(() => {
    process.env.KUBECONFIG = saved.KUBECONFIG;
    if (saved.KUBECONFIG === undefined) delete process.env.KUBECONFIG;
    process.env.HOME = saved.HOME;
  });

  it('reads the server, CA, namespace and a bearer token of the current context', async () => {
    const path = kubeconfig(dir, 'config', single('https://198.18.0.1:6443/', { token: 'abc' }));
    const access = loadClusterAccess(path);
    expect(access.server).toBe('https://198.18.0.1:6443');
    expect(access.caPem).toBe(CA);
    expect(access.namespace).toBe('team-a');
    expect((await access.credentials()).headers).toEqual({ Authorization: 'Bearer abc' });
  });

  it('resolves relative certificate paths against the kubeconfig directory (kubectl rule)', async () => {
    writeFileSync(join(dir, 'client.crt'), 'CERT');
    writeFileSync(join(dir, 'client.key'), 'KEY');
    writeFileSync(join(dir, 'ca.crt'), CA);
    const path = kubeconfig(dir, 'config', {
      ...single('https://198.18.0.1:6443', { 'client-certificate': 'client.crt', 'client-key': 'client.key' }),
      clusters: [{ name: 'c', cluster: { server: 'https://198.18.0.1:6443', 'certificate-authority': 'ca.crt' } }],
    });
    const access = loadClusterAccess(path);
    expect(access.caPem).toBe(CA);
    expect(await access.credentials()).toEqual({ headers: {}, cert: 'CERT', key: 'KEY' });
  });

  it('merges the files of KUBECONFIG (first one wins) and honours --context', () => {
    const a = kubeconfig(dir, 'a', single('https://198.18.0.1:6443', { token: 'a' }));
    const b = kubeconfig(dir, 'b', {
      clusters: [
        { name: 'c', cluster: { server: 'https://198.18.0.99:6443' } },
        { name: 'other', cluster: { server: 'https://198.18.0.2:6443' } },
      ],
      users: [{ name: 'v', user: { token: 'b' } }],
      contexts: [{ name: 'second', context: { cluster: 'other', user: 'v' } }],
      'current-context': 'second',
    });
    process.env.KUBECONFIG = `${a}:${join(dir, 'missing')}:${b}`;
    expect(loadClusterAccess().server).toBe('https://198.18.0.1:6443');
    expect(loadClusterAccess(undefined, 'second').server).toBe('https://198.18.0.2:6443');
  });

  it('re-reads a token file (service-account tokens rotate) and sends basic auth and impersonation', async () => {
    writeFileSync(join(dir, 'token'), 'from-file\n');
    const path = kubeconfig(dir, 'config', single('https://198.18.0.1:6443', { tokenFile: join(dir, 'token'), as: 'jane' }));
    expect((await loadClusterAccess(path).credentials()).headers).toEqual({ Authorization: 'Bearer from-file', 'Impersonate-User': 'jane' });
    const basic = kubeconfig(dir, 'basic', single('https://198.18.0.1:6443', { username: 'admin', password: 'pw' }));
    expect((await loadClusterAccess(basic).credentials()).headers.Authorization).toBe(`Basic ${b64('admin:pw')}`);
  });

  it('runs an exec credential plugin through client-node', async () => {
    const plugin = join(dir, 'plugin.sh');
    writeFileSync(plugin, `#!/bin/sh\necho '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"exec-token"}}'\n`);
    chmodSync(plugin, 0o755);
    const path = kubeconfig(dir, 'config', single('https://198.18.0.1:6443', { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: plugin, interactiveMode: 'Never' } }));
    expect((await loadClusterAccess(path).credentials()).headers.Authorization).toBe('Bearer exec-token');
  });

  it('explains what is wrong with a kubeconfig', () => {
    expect(() => loadClusterAccess(join(dir, 'nope'))).toThrow(/cannot read the kubeconfig .*nope/);
    writeFileSync(join(dir, 'bad'), 'clusters: [unclosed');
    expect(() => loadClusterAccess(join(dir, 'bad'))).toThrow(/is not valid YAML/);
    const path = kubeconfig(dir, 'config', single('https://198.18.0.1:6443', { token: 'x' }));
    expect(() => loadClusterAccess(path, 'prod')).toThrow('context "prod" not found in the kubeconfig');
    const noCurrent = kubeconfig(dir, 'nocurrent', { ...single('https://198.18.0.1:6443', {}), 'current-context': '' });
    expect(() => loadClusterAccess(noCurrent)).toThrow(/no current context/);
    const caMissing = kubeconfig(dir, 'camissing', { ...single('https://198.18.0.1:6443', {}), clusters: [{ name: 'c', cluster: { server: 'https://198.18.0.1:6443', 'certificate-authority': 'gone.crt' } }] });
    expect(() => loadClusterAccess(caMissing)).toThrow(/cannot read the certificate-authority file .*gone\.crt/);
    expect(() => loadClusterAccess()).toThrow(/no kubeconfig found/);
  });
});

describe('resourceOfPath (the agent counts its requests by resource)', () => {
  it('names the resource and subresource of API paths', async () => {
    const { resourceOfPath } = await import('../../../src/k8s/rest.js');
    expect(resourceOfPath('/api/v1/namespaces/liqo/configmaps/x')).toBe('configmaps');
    expect(resourceOfPath('/api/v1/nodes')).toBe('nodes');
    expect(resourceOfPath('/api/v1/nodes/n1/status')).toBe('nodes/status');
    expect(resourceOfPath('/apis/discovery.liqo.io/v1alpha1/foreignclusters/abc/status?fieldManager=x')).toBe('foreignclusters/status');
    expect(resourceOfPath('/apis/coordination.k8s.io/v1/namespaces/liqo/leases/kubepeer-agent')).toBe('leases');
    expect(resourceOfPath('/api/v1/namespaces/liqo')).toBe('namespaces');
    expect(resourceOfPath('/apis/discovery.liqo.io/v1alpha1')).toBe('apis');
    expect(resourceOfPath('/version')).toBe('version');
  });
});
