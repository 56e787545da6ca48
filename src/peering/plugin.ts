/** Peering: the requester (ForeignCluster) and foreign (PeeringRequest) controllers. */
import type { AgentPluginFactory } from '../agent/plugins.js';
import { foreignClusterController } from './outgoing/foreignClusterController.js';
import { PeerEvents } from './outgoing/peerEvents.js';
import { peeringRequestController } from './incoming/peeringRequestController.js';

export const peeringPlugin: AgentPluginFactory = async (ctx) => {
  const peerEvents = new PeerEvents(ctx.client, ctx.namespace);
  return {
    name: 'peering',
    start: async () => peerEvents.start(),
    controllers: () => [foreignClusterController(ctx, peerEvents), peeringRequestController(ctx)],
    notReady: () => (peerEvents.hasSynced() ? [] : ['cache of peer events not synced']),
    stop: async () => peerEvents.stop(),
  };
};
