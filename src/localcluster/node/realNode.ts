/**
 * A real Kubernetes node for a local cluster on a network-namespace host: containerd v2 with
 * Debian's runc, the kubelet (node named after the cluster, InternalIP the host's address, webhook
 * authentication and authorization), kube-proxy in iptables mode, a CNI bridge, the local images,
 * and CoreDNS as a pod. Runs inside the supervisor, which `ip netns exec` placed in the host's
 * network namespace and in a private mount namespace (see hostPrep.ts).
 *
 * Stop order: kube-proxy, kubelet, then every shim and container of this node (cleanup.ts), then
 * containerd, then the mounts under the cluster's folder.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { issueCertificate } from '../../trust/pki.js';
import { Labels } from '../../api/constants.js';
import { Core, KubeClient, resourcePath } from '../../k8s/rest.js';
import { logger } from '../../observability/logger.js';
import { writeKubeconfig, type ControlPlanePki } from '../controlplane.js';
import { ProcessSet } from '../processes.js';
import { cleanupNode, forgetNode, recordNode, sweepDeadNodes, type NodeCleanupReport } from './cleanup.js';
import { applyCoreDNS } from './coredns.js';
import { createCgroupRoot, enableForwarding, mountCgroups, mountPrivateNodePaths, unmountUnder } from './hostPrep.js';
import { busyboxImage, corednsImage, ctr, Images, importImage, pauseImage } from './images.js';
import { cniConfig, containerdConfig, kubeletConfig, kubeProxyConfig, nodeCgroupRoot, nodePaths, type NodePaths } from './nodeConfig.js';

const log = logger('realnode');

export interface RealNodeOptions {
  /** Node name: the cluster's name. */
  nodeName: string;
  clusterName: string;
  clusterDir: string;
  address: string;
  apiUrl: string;
  binDir: string;
  pki: ControlPlanePki;
  adminKubeconfig: string;
  maxPods?: number;
  timeoutMs?: number;
  /** The cluster's folder goes when the cluster does (tests): also when a sweep finds it dead. */
  ephemeral?: boolean;
}

export interface RealNodeInfo {
  nodeName: string;
  containerdSocket: string;
  cgroupRoot: string;
  kubeletRoot: string;
}

export class RealNode {
  private readonly procs: ProcessSet;
  readonly paths: NodePaths;
  readonly cgroupRoot: string;

  private constructor(private readonly opts: RealNodeOptions) {
    this.paths = nodePaths(opts.clusterDir);
    this.cgroupRoot = nodeCgroupRoot(opts.clusterName, opts.clusterDir);
    mkdirSync(join(opts.clusterDir, 'logs'), { recursive: true });
    this.procs = new ProcessSet(join(opts.clusterDir, 'logs'), opts.clusterDir);
  }

  set onUnexpectedExit(fn: ((component: string, code: number | null) => void) | undefined) {
    this.procs.onUnexpectedExit = fn;
  }

  get info(): RealNodeInfo {
    return { nodeName: this.opts.nodeName, containerdSocket: this.paths.containerdSocket, cgroupRoot: this.cgroupRoot, kubeletRoot: this.paths.kubeletRoot };
  }

  pids(): Record<string, number> {
    return this.procs.pids();
  }

  static async start(opts: RealNodeOptions): Promise<RealNode> {
    const node = new RealNode(opts);
    try {
      await node.run();
    } catch (err) {
      await node.stop();
      throw err;
    }
    return node;
  }

  private async run(): Promise<void> {
    const { opts, paths: p } = this;
    const timeoutMs = opts.timeoutMs ?? 120_000;
    for (const d of [p.root, p.containerdRoot, p.containerdState, p.runcRoot, p.cniConfDir, p.cniIpamDir, p.kubeletRoot, p.kubeletCertDir, p.podLogsDir]) mkdirSync(d, { recursive: true });

    // --- the host, as containerd and the kubelet need it
    await sweepDeadNodes();
    mountCgroups();
    mountPrivateNodePaths();
    createCgroupRoot(this.cgroupRoot);
    recordNode({ supervisorPid: process.pid, clusterDir: opts.clusterDir, containerdSocket: p.containerdSocket, cgroupRoot: this.cgroupRoot, ephemeral: !!opts.ephemeral });
    enableForwarding();

    // --- identities: the kubelet (client and serving), kube-proxy
    const { ca, caCertFile } = opts.pki;
    const kubeletClient = await issueCertificate(ca, { commonName: `system:node:${opts.nodeName}`, organizations: ['system:nodes'], usage: 'client' });
    const kubeletServing = await issueCertificate(ca, { commonName: opts.nodeName, hosts: [opts.address, opts.nodeName], usage: 'server' });
    const proxyClient = await issueCertificate(ca, { commonName: 'system:kube-proxy', usage: 'client' });
    writeKubeconfig(p.kubeletKubeconfig, 'local', opts.apiUrl, ca.certPem, kubeletClient);
    writeKubeconfig(p.kubeProxyKubeconfig, 'local', opts.apiUrl, ca.certPem, proxyClient);
    const servingCert = join(p.kubeletCertDir, 'kubelet.crt');
    const servingKey = join(p.kubeletCertDir, 'kubelet.key');
    writeFileSync(servingCert, kubeletServing.certPem);
    writeFileSync(servingKey, kubeletServing.keyPem, { mode: 0o600 });

    // --- configuration
    writeFileSync(p.containerdConfig, containerdConfig(p, Images.pause));
    writeFileSync(join(p.cniConfDir, '10-kubepeer.conflist'), cniConfig(p));
    writeFileSync(p.kubeletConfig, kubeletConfig(p, { nodeAddress: opts.address, caCertFile, tlsCertFile: servingCert, tlsKeyFile: servingKey, cgroupRoot: this.cgroupRoot, maxPods: opts.maxPods }));
    writeFileSync(p.kubeProxyConfig, kubeProxyConfig(p, opts.nodeName));

    // --- images (built once per machine, cached) while containerd starts
    const archives = Promise.all([pauseImage(), busyboxImage(), corednsImage(opts.binDir)]);
    archives.catch(() => undefined);

    const env = { ...process.env, PATH: `${opts.binDir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin` };
    this.procs.launch('containerd', join(opts.binDir, 'containerd'), ['--config', p.containerdConfig], { env });
    await this.procs.waitFor('containerd', async () => existsSync(p.containerdSocket) && ctrOk(opts.binDir, p.containerdSocket), 30_000);
    for (const archive of await archives) importImage(opts.binDir, p.containerdSocket, archive);

    this.procs.launch(
      'kubelet',
      join(opts.binDir, 'kubelet'),
      [
        `--config=${p.kubeletConfig}`,
        `--kubeconfig=${p.kubeletKubeconfig}`,
        `--root-dir=${p.kubeletRoot}`,
        `--cert-dir=${p.kubeletCertDir}`,
        `--hostname-override=${opts.nodeName}`,
        `--node-ip=${opts.address}`,
        `--node-labels=${Labels.localNode}=true`,
        '--v=1',
      ],
      { env },
    );
    const admin = KubeClient.fromFile(opts.adminKubeconfig);
    try {
      await this.procs.waitFor('kubelet', () => nodeReady(admin, opts.nodeName), timeoutMs);
      this.procs.launch('kube-proxy', join(opts.binDir, 'kube-proxy'), [`--config=${p.kubeProxyConfig}`, '--v=0'], { env });
      await applyCoreDNS(admin, Images.coredns());
    } finally {
      admin.close();
    }
    log.info({ node: opts.nodeName }, 'real node ready');
  }

  /** Restarts a node component in place (same flags): the supervisor's answer to one that died. */
  async restart(component: string): Promise<void> {
    await this.procs.restart(component, 3_000);
  }

  /** Imports an image archive (OCI or docker) into this node's containerd. */
  importImage(archive: string): string[] {
    return importImage(this.opts.binDir, this.paths.containerdSocket, archive);
  }

  async stop(): Promise<NodeCleanupReport> {
    await this.procs.stopOne('kube-proxy', 3_000);
    await this.procs.stopOne('kubelet', 5_000);
    const report = await cleanupNode(this.paths.containerdSocket, this.cgroupRoot);
    await this.procs.stopAll(5_000);
    unmountUnder(this.opts.clusterDir);
    forgetNode(this.cgroupRoot);
    return report;
  }
}

function ctrOk(binDir: string, socket: string): Promise<boolean> {
  try {
    ctr(binDir, socket, ['version']);
    return Promise.resolve(true);
  } catch {
    return Promise.resolve(false);
  }
}

async function nodeReady(client: KubeClient, name: string): Promise<boolean> {
  const node = await client.getOrNull<{ status?: { conditions?: Array<{ type: string; status: string }> } }>(resourcePath(Core.nodes, { name }));
  const ready = node?.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
  if (!ready) await sleep(200);
  return ready;
}
