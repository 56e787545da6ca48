/**
 * Workload offloading as an agent plugin (docs/design.md §8), both sides of it, run by the leader:
 * - provider: the tenancy of each consumer whose PeeringRequest we accepted (tenancyController);
 * - consumer: one virtual kubelet per peer that gave us a tenancy (offloadingController), and the
 *   end of it when we stop using the peer (join false, ForeignCluster deleted): home pods on its
 *   virtual node are evicted (PodDisruptionBudgets hold), its credential Secret is deleted.
 */
import type { AgentPluginFactory } from '../agent/plugins.js';
import { Core, resourcePath } from '../k8s/rest.js';
import { Names } from '../api/constants.js';
import { tenancyController, tenantNamespacesInformer } from './provider/tenancyController.js';
import { evictOffloadedPods, offloadingController } from './consumer/offloadingController.js';
import { tenantCredentialOnConsumer } from './names.js';
import { Controller } from '../k8s/controller.js';

export const offloadingPlugin: AgentPluginFactory = async (ctx) => {
  let namespaces: ReturnType<typeof tenantNamespacesInformer> | undefined;
  let consumer: ReturnType<typeof offloadingController> | undefined;

  /** Our use of peer B ended: no ForeignCluster for it wants to join. */
  const ended = (providerID: string) =>
    !ctx.informers.foreignClusters.list().some((fc) => fc.spec.clusterID === providerID && fc.spec.join && !fc.metadata.deletionTimestamp);

  function unpeerController(): Controller {
    const prefix = tenantCredentialOnConsumer('');
    const c = new Controller({
      name: 'offloading-unpeer',
      reconcile: async (providerID) => {
        if (!ended(providerID)) return;
        const node = `${Names.virtualNodePrefix}${providerID}`;
        const left = await evictOffloadedPods(ctx, node, `this cluster stopped using peer ${providerID}`);
        const secretKey = `${ctx.namespace}/${tenantCredentialOnConsumer(providerID)}`;
        if (ctx.informers.secrets.get(secretKey)) await ctx.client.delete(resourcePath(Core.secrets, { namespace: ctx.namespace, name: tenantCredentialOnConsumer(providerID) }));
        if (left.length) throw new Error(`pods not evicted yet from ${node} (a PodDisruptionBudget may forbid it for now): ${left.join('; ')}`);
      },
    });
    c.watch(ctx.informers.foreignClusters, (fc) => fc.spec.clusterID);
    c.watch(ctx.informers.secrets, (s) => (s.metadata?.name?.startsWith(prefix) ? s.metadata.name.slice(prefix.length) : null));
    return c;
  }

  return {
    name: 'offloading',
    controllers: () => {
      namespaces = tenantNamespacesInformer(ctx.client);
      namespaces.start();
      consumer = offloadingController(ctx);
      return [tenancyController(ctx, namespaces), consumer.controller, unpeerController()];
    },
    onNotLeading: async () => {
      await consumer?.stop();
      namespaces?.stop();
    },
    stop: async () => {
      await consumer?.stop();
      namespaces?.stop();
    },
  };
};
