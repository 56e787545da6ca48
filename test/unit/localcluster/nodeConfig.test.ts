import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { cgroupHierarchies, mountsUnder } from '../../../src/localcluster/node/hostPrep.js';
import { cniConfig, containerdConfig, kubeletConfig, kubeProxyConfig, nodeCgroupRoot, nodePaths } from '../../../src/localcluster/node/nodeConfig.js';
import { writeOciArchive } from '../../../src/localcluster/node/ociImage.js';
import { scratchDir } from '../../support/scratch.js';

const hybrid = `9:name=systemd:/
8:pids:/
5:devices:/
4:memory:/process_api/7b2c
2:cpu,cpuacct:/
0::/
`;

describe('real node configuration', () => {
  it('reads the cgroup hierarchies of a hybrid v1 host, and of a v2-only host', () => {
    expect(cgroupHierarchies(hybrid)).toEqual([
      { dir: 'systemd', options: 'none,name=systemd', v2: false },
      { dir: 'pids', options: 'pids', v2: false },
      { dir: 'devices', options: 'devices', v2: false },
      { dir: 'memory', options: 'memory', v2: false },
      { dir: 'cpu,cpuacct', options: 'cpu,cpuacct', v2: false },
      { dir: 'unified', v2: true },
    ]);
    expect(cgroupHierarchies('0::/user.slice\n')).toEqual([{ dir: '', v2: true }]);
  });

  it('gives every cluster folder its own cgroup root, stable for the same folder', () => {
    const a = nodeCgroupRoot('alpha', '/tmp/kubepeer-alpha-1');
    expect(a).toMatch(/^\/kubepeer\/alpha-[0-9a-f]{8}$/);
    expect(nodeCgroupRoot('alpha', '/tmp/kubepeer-alpha-1')).toBe(a);
    expect(nodeCgroupRoot('alpha', '/tmp/kubepeer-alpha-2')).not.toBe(a);
  });

  it('configures containerd for this host: no negative oom_score_adj, cgroupfs, Debian runc, our CNI folder, pinned sandbox', () => {
    const p = nodePaths('/x');
    const toml = containerdConfig(p, 'kubepeer.local/pause:1.0.0');
    expect(toml).toContain('version = 3');
    expect(toml).toContain('restrict_oom_score_adj = true');
    expect(toml).toContain('SystemdCgroup = false');
    expect(toml).toContain('BinaryName = "/usr/sbin/runc"');
    expect(toml).toContain(`conf_dir = "${p.cniConfDir}"`);
    expect(toml).toContain('sandbox = "kubepeer.local/pause:1.0.0"');
    expect(toml).toContain(`address = "${p.containerdSocket}"`);
    const cni = JSON.parse(cniConfig(p)) as { plugins: Array<{ type: string; ipam?: { dataDir: string } }> };
    expect(cni.plugins.map((x) => x.type)).toEqual(['bridge', 'portmap']);
    expect(cni.plugins[0]!.ipam!.dataDir).toBe(p.cniIpamDir);
  });

  it('configures the kubelet for cgroup v1 without systemd, webhook authn/authz and no anonymous access', () => {
    const p = nodePaths('/x');
    const cfg = parse(kubeletConfig(p, { nodeAddress: '198.18.0.2', caCertFile: '/x/ca.crt', tlsCertFile: '/x/k.crt', tlsKeyFile: '/x/k.key', cgroupRoot: '/kubepeer/a-1', maxPods: 200 })) as Record<string, any>;
    expect(cfg.failCgroupV1).toBe(false);
    expect(cfg.cgroupDriver).toBe('cgroupfs');
    expect(cfg.cgroupRoot).toBe('/kubepeer/a-1');
    expect(cfg.authentication.anonymous.enabled).toBe(false);
    expect(cfg.authentication.webhook.enabled).toBe(true);
    expect(cfg.authorization.mode).toBe('Webhook');
    expect(cfg.readOnlyPort).toBe(0);
    expect(cfg.maxPods).toBe(200);
    expect(cfg.clusterDNS).toEqual(['10.0.0.10']);
    const proxy = parse(kubeProxyConfig(p, 'a')) as Record<string, any>;
    expect(proxy.mode).toBe('iptables');
    expect(proxy.conntrack.maxPerCore).toBe(0);
    expect(proxy.hostnameOverride).toBe('a');
  });

  it('finds the mounts under a folder, deepest first, and nothing beside it', () => {
    const mountinfo = [
      '45 44 254:0 / / rw - ext4 /dev/vda rw',
      '60 45 0:50 / /tmp/c1/node/kubelet rw - tmpfs tmpfs rw',
      '61 60 0:51 / /tmp/c1/node/kubelet/pods/x/volumes/secret rw - tmpfs tmpfs rw',
      '62 45 0:52 / /tmp/c10 rw - tmpfs tmpfs rw',
    ].join('\n');
    expect(mountsUnder('/tmp/c1', mountinfo)).toEqual(['/tmp/c1/node/kubelet/pods/x/volumes/secret', '/tmp/c1/node/kubelet']);
  });
});

describe('OCI image archives', () => {
  it('refuses "latest" and untagged names (the kubelet would try to pull them)', async () => {
    const rootfs = scratchDir('kp-oci-');
    await expect(writeOciArchive({ ref: 'kubepeer.local/x:latest', rootfs, config: {} }, join(rootfs, 'o.tar'))).rejects.toThrow(/latest/);
    await expect(writeOciArchive({ ref: 'kubepeer.local/x', rootfs, config: {} }, join(rootfs, 'o.tar'))).rejects.toThrow(/no tag/);
  });

  it('writes a one-layer image layout whose index names the image, the same digest for the same folder', async () => {
    const dir = scratchDir('kp-oci-');
    const rootfs = join(dir, 'rootfs');
    mkdirSync(join(rootfs, 'bin'), { recursive: true });
    writeFileSync(join(rootfs, 'bin', 'hello'), '#!/bin/sh\necho hi\n');
    const d1 = await writeOciArchive({ ref: 'kubepeer.local/hello:1.0', rootfs, config: { Cmd: ['/bin/hello'] } }, join(dir, 'a.tar'));
    const d2 = await writeOciArchive({ ref: 'kubepeer.local/hello:1.0', rootfs, config: { Cmd: ['/bin/hello'] } }, join(dir, 'b.tar'));
    expect(d1).toBe(d2);
    const out = join(dir, 'x');
    mkdirSync(out);
    execFileSync('tar', ['-xf', join(dir, 'a.tar'), '-C', out]);
    const index = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; annotations: Record<string, string> }> };
    expect(index.manifests[0]!.digest).toBe(d1);
    expect(index.manifests[0]!.annotations['io.containerd.image.name']).toBe('kubepeer.local/hello:1.0');
    const manifest = JSON.parse(readFileSync(join(out, 'blobs', 'sha256', d1.slice(7)), 'utf8')) as { layers: Array<{ digest: string }> };
    const layerList = execFileSync('tar', ['-tf', join(out, 'blobs', 'sha256', manifest.layers[0]!.digest.slice(7))], { encoding: 'utf8' });
    expect(layerList).toContain('./bin/hello');
  });
});
