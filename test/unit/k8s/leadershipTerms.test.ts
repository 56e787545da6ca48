import { describe, expect, it } from 'vitest';
import type { AgentContext, Informers } from '../../../src/agent/context.js';
import { GVR } from '../../../src/api/crds.js';
import type { Controller } from '../../../src/k8s/controller.js';
import { Informer } from '../../../src/k8s/informer.js';
import { Core, KubeClient } from '../../../src/k8s/rest.js';
import { logger } from '../../../src/observability/logger.js';
import { foreignClusterController } from '../../../src/peering/outgoing/foreignClusterController.js';
import { peeringRequestController } from '../../../src/peering/incoming/peeringRequestController.js';
import { advertisementController } from '../../../src/virtualnode/advertisementController.js';
import { searchDomainController } from '../../../src/discovery/dns/searchDomainController.js';

// Informers that are never started: only their listeners are counted, nothing is called.
const client = KubeClient.anonymous('https://198.18.0.1:6443');
const informers: Informers = {
  foreignClusters: new Informer(client, GVR.foreignCluster),
  peeringRequests: new Informer(client, GVR.peeringRequest),
  advertisements: new Informer(client, GVR.advertisement),
  searchDomains: new Informer(client, GVR.searchDomain),
  clusterConfigs: new Informer(client, GVR.clusterConfig),
  configMaps: new Informer(client, Core.configMaps),
  secrets: new Informer(client, Core.secrets),
  nodes: new Informer(client, Core.nodes),
  pods: new Informer(client, Core.pods),
};
const ctx = { client, informers, log: logger('test'), namespace: 'liqo', clusterID: 'own', clusterName: 'own', now: () => new Date() } as unknown as AgentContext;

const listeners = () =>
  Object.values(informers).reduce((n, i: Informer) => n + i.listenerCount('add') + i.listenerCount('update') + i.listenerCount('delete'), 0);

describe('controllers across leadership terms', () => {
  it('leave no informer handler behind (peer answers included: they come through the ConfigMap informer) when stopped, so handlers do not pile up term after term', async () => {
    const before = listeners();
    for (let term = 0; term < 3; term++) {
      const controllers: Controller[] = [foreignClusterController(ctx), peeringRequestController(ctx), advertisementController(ctx), searchDomainController(ctx)];
      expect(listeners()).toBeGreaterThan(before);
      await Promise.all(controllers.map((c) => c.stop()));
      expect(listeners()).toBe(before);
    }
  });
});
