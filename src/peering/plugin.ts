/** Peering: the requester (ForeignCluster) and foreign (PeeringRequest) controllers. */
import type { AgentPluginFactory } from '../agent/plugins.js';
import { foreignClusterController } from './outgoing/foreignClusterController.js';
import { peeringRequestController } from './incoming/peeringRequestController.js';

export const peeringPlugin: AgentPluginFactory = async (ctx) => ({
  name: 'peering',
  controllers: () => [foreignClusterController(ctx), peeringRequestController(ctx)],
});
