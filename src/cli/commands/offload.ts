import type { Command } from 'commander';
import { Core, resourcePath, type KubeClient } from '../../k8s/rest.js';
import { OFFLOADING_ENABLED_LABEL, OffloadingAnnotations, OffloadingLabels } from '../../offloading/names.js';
import { describeDirection, offloadingByPeer } from '../../offloading/usage.js';
import { CliError, printList } from '../output.js';
import { globals, withClient } from '../globals.js';


/** What `offload status` and `peer list -o wide` read. */
export async function readOffloading(client: KubeClient) {
  const [nodes, pods, quotas] = await Promise.all([
    client.list<Record<string, any>>(resourcePath(Core.nodes), { labelSelector: 'type=virtual-node' }),
    client.list<Record<string, any>>(resourcePath(Core.pods), { fieldSelector: 'status.phase!=Succeeded,status.phase!=Failed' }),
    client.list<Record<string, any>>('/api/v1/resourcequotas', { labelSelector: OffloadingLabels.consumer }),
  ]);
  return offloadingByPeer({ nodes: nodes.items, pods: pods.items, quotas: quotas.items });
}

export function registerOffloadCommands(program: Command): void {
  const offload = program.command('offload').description('Workload offloading: pods of enabled namespaces may run on peers, through their virtual nodes.');

  offload
    .command('namespace <namespace>')
    .description(`Let the pods of a namespace run on peers (label ${OFFLOADING_ENABLED_LABEL}=true); new pods get the virtual-node toleration.`)
    .option('--peer <cluster-id>', 'pin the namespace\'s new pods to this peer\'s virtual node')
    .option('--disable', 'stop offloading new pods of the namespace (running ones stay where they are)')
    .addHelpText('after', '\nExamples:\n  kubepeer offload namespace apps\n  kubepeer offload namespace apps --peer ff5aa14a-dd6e-4fd2-80fe-eaecb827cf55\n  kubepeer offload namespace apps --disable')
    .action(async (namespace: string, opts: { peer?: string; disable?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      if (opts.peer && opts.disable) throw new CliError('--peer and --disable do not go together', 2);
      await withClient(g, async (client) => {
        const path = resourcePath(Core.namespaces, { name: namespace });
        const ns = await client.getOrNull<{ metadata: { annotations?: Record<string, string> } }>(path);
        if (!ns) throw new CliError(`namespace "${namespace}" does not exist; create it with: kubectl create namespace ${namespace}`);
        if (opts.peer) {
          const node = await client.getOrNull(resourcePath(Core.nodes, { name: `liqo-${opts.peer}` }));
          if (!node) throw new CliError(`no virtual node for peer ${opts.peer} (liqo-${opts.peer}); see: kubepeer peer list`);
        }
        await client.mergePatch(path, {
          metadata: {
            labels: { [OFFLOADING_ENABLED_LABEL]: opts.disable ? null : 'true' },
            annotations: { [OffloadingAnnotations.peer]: opts.disable ? null : (opts.peer ?? null) },
          },
        });
      });
      if (opts.disable) process.stdout.write(`namespace/${namespace}: offloading disabled (pods already on virtual nodes stay; delete them to bring them home)\n`);
      else
        process.stdout.write(
          `namespace/${namespace}: offloading enabled${opts.peer ? ` to peer ${opts.peer}` : ''}; new pods may run on virtual nodes. Pods created before now are not changed: delete them (their controllers recreate them) to let them move.\n`,
        );
    });

  offload
    .command('status')
    .description('Pods offloaded per peer, both ways: what we run there (used/offered) and what it runs here (used/quota).')
    .action(async (_o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const rows = await withClient(g, readOffloading);
      printList(g.output, rows, {
        resource: 'offloading',
        empty: 'Nothing offloaded: no virtual node and no tenant here. Enable a namespace with: kubepeer offload namespace <namespace>',
        columns: [
          { header: 'PEER', value: (r) => r.peerID },
          { header: 'WE RUN THERE', value: (r) => describeDirection(r.outgoing) },
          { header: 'IT RUNS HERE', value: (r) => describeDirection(r.incoming) },
        ],
      });
    });
}
