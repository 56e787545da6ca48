import type { Command } from 'commander';
import { readClusterID } from '../../identity/clusterID.js';
import { install } from '../../install/install.js';
import { AgentStillRunning, uninstall } from '../../install/uninstall.js';
import { CliError, printObject, progress, progressDone } from '../output.js';
import { globals, withClient } from '../globals.js';
import { startAgent } from '../../agent/agent.js';
import { logger } from '../../observability/logger.js';

export function registerClusterCommands(program: Command): void {
  program
    .command('install')
    .description('Install kubepeer into a cluster: namespace, CRDs, ClusterConfig, RBAC, anonymous peering grants. Idempotent.')
    .option('--cluster-name <name>', 'name shown to peers (ClusterConfig discoveryConfig.clusterName)')
    .addHelpText('after', '\nExamples:\n  kubepeer install --kubeconfig ~/.kube/config\n  kubepeer install --cluster-name edge-1')
    .action(async (opts: { clusterName?: string }, cmd: Command) => {
      const g = globals(cmd, { printsObjects: false });
      const { server, report } = await withClient(g, async (client) => ({ server: client.server, report: await install(client, { namespace: g.namespace, clusterName: opts.clusterName }) }));
      printObject(g.output, report, {
        text: () => `kubepeer installed in ${server} (${report.applied.length} applied, ${report.created.length} created, ${report.kept.length} kept as they were)`,
      });
    });

  program
    .command('uninstall')
    .description('Remove kubepeer from a cluster: peerings ended through the running agent (each peer told), then every kubepeer object, finalizer, namespace and CRD. Idempotent.')
    .option('--timeout <seconds>', 'how long to wait for the agent to end the peerings, and for namespaces and CRDs to go', '60')
    .option('--keep-crds', 'leave the CustomResourceDefinitions')
    .addHelpText('after', '\nStop an agent that does not run in the cluster (kubepeer agent, local up --agent) once the peerings are ended: uninstall says when.\n\nExamples:\n  kubepeer uninstall --kubeconfig ~/.kube/config\n  kubepeer uninstall --keep-crds')
    .action(async (opts: { timeout: string; keepCrds?: boolean }, cmd: Command) => {
      const g = globals(cmd, { printsObjects: false });
      const timeoutS = Number(opts.timeout);
      if (!Number.isFinite(timeoutS) || timeoutS < 0) throw new CliError(`--timeout must be a number of seconds, not "${opts.timeout}"`);
      const { server, report } = await withClient(g, async (client) => {
        try {
          return { server: client.server, report: await uninstall(client, { namespace: g.namespace, timeoutMs: timeoutS * 1000, keepCRDs: !!opts.keepCrds, progress }) };
        } catch (e) {
          if (e instanceof AgentStillRunning) throw new CliError(e.message);
          throw e;
        } finally {
          progressDone();
        }
      });
      printObject(g.output, report, {
        text: () =>
          [
            `kubepeer uninstalled from ${server} (${report.deleted.length} object(s) deleted)`,
            ...(report.peeringsEnded.length ? [`peerings ended (peers told): ${report.peeringsEnded.join(', ')}`] : []),
            ...(report.peersNotTold.length ? [`peers not told (no agent ended these peerings): ${report.peersNotTold.join(', ')}`] : []),
            ...(report.remaining.length ? [`still being removed: ${report.remaining.join(', ')} (check again with kubectl get)`] : []),
          ].join('\n'),
      });
    });

  program
    .command('cluster-id')
    .description("Print this cluster's ID (same as kubectl get configmap -n liqo cluster-id -o jsonpath='{.data.cluster-id}').")
    .action(async (_o: unknown, cmd: Command) => {
      const g = globals(cmd, { printsObjects: false });
      const id = await withClient(g, (client) => readClusterID(client, g.namespace));
      if (!id) throw new CliError(`no cluster ID yet in ${g.namespace}/cluster-id: is the kubepeer agent running on this cluster? (kubepeer agent, or kubepeer local up --agent)`);
      printObject(g.output, { clusterID: id }, { text: () => id });
    });

  program
    .command('agent')
    .description('Run the kubepeer agent in the foreground against a cluster (stop with Ctrl-C / SIGTERM).')
    .option('--api-url <url>', 'our API server URL as peers should reach it (default: the kubeconfig server)')
    .option('--metrics-listen <host:port>', 'health and metrics address (default 127.0.0.1:9464, or a free port if taken)')
    .option('--metrics-auth', 'serve /metrics only to a bearer token allowed to get it (default: when --metrics-listen is not loopback)')
    .option('--health-listen <host:port>', 'also serve /healthz, /livez, /readyz here, unauthenticated')
    .option('--webhook-listen <host:port>', 'admission webhook address (default 127.0.0.1:9443, or a free port if taken)')
    .option('--webhook-service <namespace/name>', 'register the webhook through this Service (in-cluster deployments)')
    .option('--webhook-host <host>', 'host to put in the registered webhook URL')
    .option('--webhook-client-ca <file>', "only answer webhook callers with a client certificate of this CA: the API server's, where its admission configuration gives it one (local clusters do)")
    .option('--webhook-client-name <cn>', 'common name that client certificate must carry (default kube-apiserver-webhook-client)')
    .option('--dashboard-listen <host:port>', 'dashboard address (default 127.0.0.1:8443 over HTTPS, or a free port if taken)')
    .option('--dashboard-http', 'serve the dashboard over plain HTTP (loopback only)')
    .option('--no-dashboard', 'do not serve the dashboard')
    .option('--kubelet-listen <host:port>', "virtual nodes' kubelet endpoint (default: the kubelet address, port 10350, or a free port if taken)")
    .option('--kubelet-address <ip>', "address the API server reaches the kubelet endpoint at, put in virtual Nodes (default: the agent's own address towards the API server)")
    .option('--identity <id>', 'leader-election identity (default: POD_NAME or host-pid)')
    .option('--lease-duration <seconds>', 'leader-election lease duration', '15')
    .action(async (opts: Record<string, string | boolean | undefined>, cmd: Command) => {
      const g = globals(cmd);
      const log = logger('cli');
      const agent = await startAgent({
        kubeconfig: g.kubeconfig,
        context: g.context,
        namespace: g.namespace,
        apiUrl: opts.apiUrl as string | undefined,
        metricsListen: opts.metricsListen as string | undefined,
        webhookListen: opts.webhookListen as string | undefined,
        webhookService: opts.webhookService as string | undefined,
        webhookHost: opts.webhookHost as string | undefined,
        webhookClientCA: opts.webhookClientCa as string | undefined,
        webhookClientName: opts.webhookClientName as string | undefined,
        dashboardListen: opts.dashboardListen as string | undefined,
        dashboardInsecureHttp: !!opts.dashboardHttp,
        ...(opts.metricsAuth ? { metricsAuth: true } : {}),
        healthListen: opts.healthListen as string | undefined,
        disableDashboard: opts.dashboard === false,
        identity: opts.identity as string | undefined,
        kubeletListen: opts.kubeletListen as string | undefined,
        kubeletAddress: opts.kubeletAddress as string | undefined,
        leaseDurationMs: Number(opts.leaseDuration) * 1000,
      });
      log.info({ clusterID: agent.ctx.clusterID, metrics: agent.metricsUrl, webhook: agent.webhookUrl, dashboard: agent.dashboardUrl }, 'agent running');
      await new Promise<void>((resolve) => {
        const shutdown = () => resolve();
        process.once('SIGTERM', shutdown);
        process.once('SIGINT', shutdown);
        // Test harnesses hold our stdin; when they die (even by SIGKILL) we must not linger.
        if (process.env.KUBEPEER_EXIT_WITH_PARENT === '1') {
          process.stdin.on('end', shutdown);
          process.stdin.on('error', shutdown);
          process.stdin.resume();
        }
      });
      log.info('shutting down');
      await agent.stop();
      process.exit(0);
    });
}
