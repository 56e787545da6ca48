/**
 * Where the API server reaches the virtual nodes' kubelet endpoint: the address and port the
 * advertisement controller writes into each virtual Node's status (`status.addresses` InternalIP,
 * `status.daemonEndpoints.kubeletEndpoint.Port`), shared between the serving plugin that listens
 * and the controller that writes the Node.
 *
 * The address, unless given (`--kubelet-address`, or the host of a non-wildcard `--kubelet-listen`),
 * is the agent's own end of a connection to its API server: the source address the host's routing
 * picks towards the API server is one the API server can reach back, whether the agent runs beside
 * the cluster (loopback for a loopback cluster, the host's address otherwise) or in it (the agent
 * Deployment uses the host network, so the node's address).
 */
import { connect } from 'node:net';
import { stripBrackets } from '../../net/hosts.js';

export interface KubeletEndpoint {
  address: string;
  port: number;
}

export class KubeletEndpointHolder {
  private value?: KubeletEndpoint;
  get(): KubeletEndpoint | undefined {
    return this.value;
  }
  set(v: KubeletEndpoint | undefined): void {
    this.value = v;
  }
}

const holders = new WeakMap<object, KubeletEndpointHolder>();

/** The endpoint of an agent (set by the serving plugin once it listens). */
export function kubeletEndpoint(ctx: object): KubeletEndpointHolder {
  let h = holders.get(ctx);
  if (!h) holders.set(ctx, (h = new KubeletEndpointHolder()));
  return h;
}

/** The local address of a TCP connection to `apiUrl`'s host and port. */
export function apiServerFacingAddress(apiUrl: string, timeoutMs = 5_000): Promise<string> {
  const u = new URL(apiUrl);
  const port = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
  return new Promise((resolve, reject) => {
    const s = connect({ host: stripBrackets(u.hostname), port, timeout: timeoutMs });
    s.once('connect', () => {
      const a = s.localAddress;
      s.destroy();
      if (a) resolve(a.replace(/^::ffff:/, ''));
      else reject(new Error(`no local address for the connection to ${u.host}`));
    });
    s.once('timeout', () => {
      s.destroy();
      reject(new Error(`cannot connect to ${u.host} within ${timeoutMs / 1000}s to learn our address towards it`));
    });
    s.once('error', (e) => reject(e));
  });
}
