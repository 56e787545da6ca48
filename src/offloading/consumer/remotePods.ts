/**
 * Where an offloaded pod runs: the consumer side's directory of peers it offloads to. The pod
 * reflection (podReflector.ts) fills it; the virtual node's kubelet endpoint (logs, later exec,
 * attach, port-forward) reads it to reach the remote pod with the tenant credential.
 */
import type { KubeClient } from '../../k8s/rest.js';
import { remoteName } from '../names.js';

export interface RemotePodLocation {
  /** The provider's cluster ID (the virtual node is `liqo-<providerID>`). */
  providerID: string;
  /** A client of the provider's API server with our tenant credential there. */
  client: KubeClient;
  namespace: string;
  name: string;
}

export interface TenantEndpoint {
  providerID: string;
  client: KubeClient;
  /** Our tenant namespace on the provider. */
  namespace: string;
}

export class RemotePodDirectory {
  private readonly byNode = new Map<string, TenantEndpoint>();

  set(nodeName: string, t: TenantEndpoint): void {
    this.byNode.set(nodeName, t);
  }

  delete(nodeName: string): void {
    this.byNode.delete(nodeName);
  }

  tenant(nodeName: string): TenantEndpoint | undefined {
    return this.byNode.get(nodeName);
  }

  /** The remote pod of home pod `namespace/name` bound to virtual node `nodeName`. */
  locate(nodeName: string, namespace: string, name: string): RemotePodLocation | undefined {
    const t = this.byNode.get(nodeName);
    return t ? { providerID: t.providerID, client: t.client, namespace: t.namespace, name: remoteName(namespace, name) } : undefined;
  }
}

const directories = new WeakMap<object, RemotePodDirectory>();

/** The one directory of an agent (its plugins share it through the agent context). */
export function remotePodDirectory(ctx: object): RemotePodDirectory {
  let d = directories.get(ctx);
  if (!d) directories.set(ctx, (d = new RemotePodDirectory()));
  return d;
}
