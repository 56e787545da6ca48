/**
 * Every setting of a local cluster's real node in one place: where each component keeps its files,
 * and the configuration files of containerd, the kubelet, kube-proxy and the CNI bridge, as pure
 * functions of those paths. docs/design.md §6 explains the
 * host-specific knobs: cgroup v1 "hybrid" hosts without systemd (cgroupfs driver, failCgroupV1
 * false), no CAP_SYS_RESOURCE (restrict_oom_score_adj), Debian's runc. A cgroup v2 host needs no
 * code change: the kubelet and runc detect the version; only `cgroupHierarchies` differs.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { stringify } from 'yaml';

/** Pods of a local cluster live on this bridge subnet inside the cluster's network-namespace host. */
export const POD_CIDR = '10.244.0.0/16';
export const NODE_POD_SUBNET = '10.244.0.0/24';
export const CLUSTER_DNS_IP = '10.0.0.10';
export const CLUSTER_DOMAIN = 'cluster.local';
export const CNI_BRIDGE = 'kp-cni0';
/** Debian's runc (Debian's crun refuses hybrid cgroups) and CNI plugins. */
export const RUNC = '/usr/sbin/runc';
export const CNI_BIN_DIR = '/usr/lib/cni';
export const DEFAULT_MAX_PODS = 110;

/**
 * Paths the kubelet and containerd write whatever they are told. The node's processes run in the
 * supervisor's private mount namespace (`ip netns exec` gives it one), where each of these is a
 * fresh tmpfs: the host sees none of it, and nothing is left to clean after a kill.
 */
export const HARD_CODED_NODE_PATHS = ['/var/lib/kubelet', '/var/log/containers', '/var/lib/cni', '/run/containerd'] as const;

export interface NodePaths {
  root: string;
  containerdRoot: string;
  containerdState: string;
  containerdSocket: string;
  containerdConfig: string;
  runcRoot: string;
  cniConfDir: string;
  cniIpamDir: string;
  kubeletRoot: string;
  kubeletConfig: string;
  kubeletKubeconfig: string;
  kubeletCertDir: string;
  podLogsDir: string;
  kubeProxyConfig: string;
  kubeProxyKubeconfig: string;
  images: string;
}

export function nodePaths(clusterDir: string): NodePaths {
  const root = join(clusterDir, 'node');
  return {
    root,
    containerdRoot: join(root, 'containerd', 'root'),
    containerdState: join(root, 'containerd', 'state'),
    containerdSocket: join(root, 'containerd', 'containerd.sock'),
    containerdConfig: join(root, 'containerd', 'config.toml'),
    runcRoot: join(root, 'runc'),
    cniConfDir: join(root, 'cni', 'net.d'),
    cniIpamDir: join(root, 'cni', 'ipam'),
    kubeletRoot: join(root, 'kubelet'),
    kubeletConfig: join(root, 'kubelet-config.yaml'),
    kubeletKubeconfig: join(root, 'kubelet.kubeconfig'),
    kubeletCertDir: join(root, 'kubelet-pki'),
    podLogsDir: join(root, 'pod-logs'),
    kubeProxyConfig: join(root, 'kube-proxy-config.yaml'),
    kubeProxyKubeconfig: join(root, 'kube-proxy.kubeconfig'),
    images: join(root, 'images'),
  };
}

/**
 * The cgroup under which the kubelet puts every pod of this cluster: unique per cluster directory,
 * so two clusters (or two test runs) of the same name never share one.
 */
export function nodeCgroupRoot(clusterName: string, clusterDir: string): string {
  const tag = createHash('sha256').update(clusterDir).digest('hex').slice(0, 8);
  return `/kubepeer/${clusterName}-${tag}`;
}

function tomlString(s: string): string {
  return JSON.stringify(s);
}

/** containerd v2 configuration (version 3). */
export function containerdConfig(p: NodePaths, sandboxImage: string): string {
  return `# Written by kubepeer for this local cluster's node; regenerated at every start.
version = 3
root = ${tomlString(p.containerdRoot)}
state = ${tomlString(p.containerdState)}

[grpc]
  address = ${tomlString(p.containerdSocket)}

[ttrpc]
  address = ${tomlString(p.containerdSocket + '.ttrpc')}

[debug]
  level = "warn"

[plugins."io.containerd.cri.v1.runtime"]
  # No CAP_SYS_RESOURCE here: a negative oom_score_adj cannot be written (runc then fails with
  # "can't get final child's PID from pipe").
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_cdi = false

  [plugins."io.containerd.cri.v1.runtime".containerd]
    default_runtime_name = "runc"

    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = ${tomlString(RUNC)}
        Root = ${tomlString(p.runcRoot)}

  [plugins."io.containerd.cri.v1.runtime".cni]
    bin_dirs = [${tomlString(CNI_BIN_DIR)}]
    conf_dir = ${tomlString(p.cniConfDir)}

[plugins."io.containerd.cri.v1.images"]
  [plugins."io.containerd.cri.v1.images".pinned_images]
    sandbox = ${tomlString(sandboxImage)}

# NRI listens on one machine-wide socket (/var/run/nri/nri.sock): a second node on this machine, or
# a stale socket of a killed one, would stop containerd from starting. Nothing here uses NRI.
[plugins."io.containerd.nri.v1.nri"]
  disable = true
`;
}

/** A bridge with host-local addresses, masquerading to the host's network, and port mappings. */
export function cniConfig(p: NodePaths): string {
  return JSON.stringify(
    {
      cniVersion: '1.0.0',
      name: 'kubepeer',
      plugins: [
        {
          type: 'bridge',
          bridge: CNI_BRIDGE,
          isGateway: true,
          ipMasq: true,
          hairpinMode: true,
          ipam: { type: 'host-local', ranges: [[{ subnet: NODE_POD_SUBNET }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: p.cniIpamDir },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  );
}

export interface KubeletSettings {
  nodeAddress: string;
  caCertFile: string;
  tlsCertFile: string;
  tlsKeyFile: string;
  cgroupRoot: string;
  maxPods?: number;
}

export function kubeletConfig(p: NodePaths, s: KubeletSettings): string {
  return stringify({
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    // cgroup v1 hosts: Kubernetes 1.35 refuses them unless told otherwise (and warns in an Event).
    failCgroupV1: false,
    cgroupDriver: 'cgroupfs',
    cgroupRoot: s.cgroupRoot,
    cgroupsPerQOS: true,
    enforceNodeAllocatable: ['pods'],
    containerRuntimeEndpoint: `unix://${p.containerdSocket}`,
    podLogsDir: p.podLogsDir,
    volumePluginDir: join(p.kubeletRoot, 'volume-plugins'),
    address: s.nodeAddress,
    port: 10250,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    healthzPort: 10248,
    tlsCertFile: s.tlsCertFile,
    tlsPrivateKeyFile: s.tlsKeyFile,
    authentication: { anonymous: { enabled: false }, webhook: { enabled: true, cacheTTL: '30s' }, x509: { clientCAFile: s.caCertFile } },
    authorization: { mode: 'Webhook', webhook: { cacheAuthorizedTTL: '30s', cacheUnauthorizedTTL: '10s' } },
    clusterDNS: [CLUSTER_DNS_IP],
    clusterDomain: CLUSTER_DOMAIN,
    // The host's resolv.conf names resolvers a network-namespace host cannot reach.
    resolvConf: '',
    failSwapOn: false,
    maxPods: s.maxPods ?? DEFAULT_MAX_PODS,
    serializeImagePulls: false,
    // A small shared disk: never evict or collect images because of it (images cannot be pulled back).
    evictionHard: { 'memory.available': '100Mi', 'nodefs.available': '1%', 'imagefs.available': '1%', 'nodefs.inodesFree': '1%' },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    kubeAPIQPS: 50,
    kubeAPIBurst: 100,
    nodeStatusUpdateFrequency: '10s',
    nodeStatusReportFrequency: '1m',
    shutdownGracePeriod: '0s',
    containerLogMaxSize: '10Mi',
    containerLogMaxFiles: 2,
    protectKernelDefaults: false,
    makeIPTablesUtilChains: true,
  });
}

export function kubeProxyConfig(p: NodePaths, nodeName: string): string {
  return stringify({
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    clientConnection: { kubeconfig: p.kubeProxyKubeconfig },
    mode: 'iptables',
    clusterCIDR: POD_CIDR,
    hostnameOverride: nodeName,
    bindAddress: '0.0.0.0',
    healthzBindAddress: '127.0.0.1:10256',
    metricsBindAddress: '127.0.0.1:10249',
    // Conntrack table sizes are host-wide and not ours to change.
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
    iptables: { localhostNodePorts: false },
  });
}

/** CoreDNS configuration: the cluster domain from the API, nothing forwarded (no upstream here). */
export function corefile(): string {
  return `.:53 {
    errors
    health :8080
    ready :8181
    kubernetes ${CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {
        pods insecure
        ttl 30
    }
    cache 30
    loop
    reload
}
`;
}
