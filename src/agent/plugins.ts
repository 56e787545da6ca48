/**
 * The capabilities the agent is assembled from. Each plugin may start servers (in every replica)
 * and return controllers (run only by the leader). Adding a capability means adding one entry.
 */
import type { Controller } from '../k8s/controller.js';
import type { AgentContext } from './context.js';
import type { AgentOptions } from './agent.js';
import type { AgentStatusData } from './agentStatus.js';
import { virtualNodePlugin } from '../virtualnode/advertisementController.js';

export interface AgentPlugin {
  name: string;
  start?(): Promise<void>;
  controllers?(): Controller[];
  /** Leadership gained, before the servers of every plugin are up: work that needs only the caches. */
  onLeadingEarly?(): Promise<void>;
  /** Leadership gained; servers up, controllers started. */
  onLeading?(): Promise<void>;
  onNotLeading?(): Promise<void>;
  stop?(): Promise<void>;
  /** Reasons this replica is not ready (empty when ready). */
  notReady?(): string[];
  urls?(): { webhook?: string; dashboard?: string };
  /** What runs and why not, published in ConfigMap kubepeer-agent-status by the leader (src/agent/agentStatus.ts). */
  status?(): AgentStatusData;
}

export type AgentPluginFactory = (ctx: AgentContext, opts: AgentOptions) => Promise<AgentPlugin>;

import { peeringPlugin } from '../peering/plugin.js';
import { webhookPlugin } from '../peering/incoming/webhookPlugin.js';
import { dashboardPlugin } from '../dashboard/dashboardPlugin.js';
import { dnsDiscoveryPlugin } from '../discovery/dns/searchDomainController.js';
import { lanDiscoveryPlugin } from '../discovery/lan/lanController.js';
import { offloadingPlugin } from '../offloading/plugin.js';
import { servingPlugin } from '../offloading/consumer/servingPlugin.js';

export const agentPlugins: AgentPluginFactory[] = [webhookPlugin, dashboardPlugin, peeringPlugin, virtualNodePlugin, offloadingPlugin, servingPlugin, dnsDiscoveryPlugin, lanDiscoveryPlugin];
