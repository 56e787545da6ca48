/**
 * A local control plane without a real node (a loopback cluster, or `--no-node`) registers the
 * Node a kubelet would have registered for this host (real CPU and memory) and keeps its Lease
 * fresh, as a kubelet does, so Advertisements computed from this cluster's allocatable resources
 * carry real figures. It runs nothing, and says so in a label and in its Ready condition.
 */
import { cpus, hostname, totalmem, arch, release } from 'node:os';
import { Labels } from '../api/constants.js';
import { Core, KubeClient, isNotFound, resourcePath } from '../k8s/rest.js';
import { logger } from '../observability/logger.js';

const log = logger('hostnode');
const LEASE_SECONDS = 40;
/** What `kubectl describe node` shows a person who wonders why their pod stays Pending. */
export const PLACEHOLDER_MESSAGE =
  'placeholder Node of a kubepeer local control plane: there is no kubelet, so pods will not run here. For a real node, start the cluster as root with: kubepeer local up <name> --netns';
const RENEW_MS = 10_000;
const STATUS_MS = 60_000;

export class HostNode {
  private timer?: NodeJS.Timeout;
  private lastStatus = 0;
  private stopped = false;

  constructor(
    private readonly client: KubeClient,
    readonly nodeName: string,
    private readonly address: string,
    private readonly kubeletVersion: string,
  ) {}

  private status(now: string) {
    const memKi = Math.floor(totalmem() / 1024);
    const capacity = { cpu: String(cpus().length), memory: `${memKi}Ki`, pods: '110' };
    return {
      capacity,
      allocatable: capacity,
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'PlaceholderNode',
          message: PLACEHOLDER_MESSAGE,
          lastHeartbeatTime: now,
          lastTransitionTime: now,
        },
        { type: 'MemoryPressure', status: 'False', reason: 'HostHasSufficientMemory', message: '', lastHeartbeatTime: now, lastTransitionTime: now },
      ],
      addresses: [
        { type: 'InternalIP', address: this.address },
        { type: 'Hostname', address: hostname() },
      ],
      nodeInfo: {
        machineID: '', systemUUID: '', bootID: '', kernelVersion: release(), osImage: 'kubepeer local control plane',
        containerRuntimeVersion: 'none://', kubeletVersion: this.kubeletVersion, kubeProxyVersion: '', operatingSystem: 'linux', architecture: arch() === 'x64' ? 'amd64' : arch(),
      },
    };
  }

  /** Registers (or re-registers) the Node and its Lease, then renews the Lease every 10 s. */
  async start(): Promise<void> {
    const now = new Date().toISOString();
    const nodePath = resourcePath(Core.nodes, { name: this.nodeName });
    let node = await this.client.getOrNull<{ metadata: { uid: string } }>(nodePath);
    if (!node) {
      node = await this.client.create(resourcePath(Core.nodes), {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: {
          name: this.nodeName,
          labels: {
            [Labels.localNode]: 'true',
            [Labels.placeholderNode]: 'true',
            'kubernetes.io/hostname': this.nodeName,
            'kubernetes.io/os': 'linux',
            'kubernetes.io/arch': arch() === 'x64' ? 'amd64' : arch(),
            'node-role.kubernetes.io/control-plane': '',
          },
        },
        spec: {},
      });
    }
    await this.client.mergePatch(resourcePath(Core.nodes, { name: this.nodeName, subresource: 'status' }), { status: this.status(now) });
    this.lastStatus = Date.now();
    await this.renew(node!.metadata.uid);
    const tick = async () => {
      if (this.stopped) return;
      try {
        if (Date.now() - this.lastStatus > STATUS_MS) {
          await this.client.mergePatch(resourcePath(Core.nodes, { name: this.nodeName, subresource: 'status' }), { status: this.status(new Date().toISOString()) });
          this.lastStatus = Date.now();
        }
        await this.renew(node!.metadata.uid);
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'renewing the host node lease failed; retrying');
      }
      if (!this.stopped) this.timer = setTimeout(tick, RENEW_MS);
    };
    this.timer = setTimeout(tick, RENEW_MS);
  }

  private async renew(nodeUid: string): Promise<void> {
    const path = resourcePath(Core.leases, { namespace: 'kube-node-lease', name: this.nodeName });
    const renewTime = new Date().toISOString().replace('Z', '000Z'); // MicroTime
    try {
      await this.client.mergePatch(path, { spec: { renewTime, holderIdentity: this.nodeName, leaseDurationSeconds: LEASE_SECONDS } });
    } catch (e) {
      if (!isNotFound(e)) throw e;
      await this.client.create(resourcePath(Core.leases, { namespace: 'kube-node-lease' }), {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: this.nodeName, namespace: 'kube-node-lease', ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: this.nodeName, uid: nodeUid }] },
        spec: { holderIdentity: this.nodeName, leaseDurationSeconds: LEASE_SECONDS, renewTime },
      });
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }
}
