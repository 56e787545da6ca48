/**
 * The dashboard as an agent plugin: every replica serves it (it holds no state; a person's token
 * does all the work), on `--dashboard-listen` (default 127.0.0.1:8443, or a free port when that
 * one is taken, so agents of several clusters share a host). Off with `--no-dashboard`.
 */
import { Defaults } from '../api/constants.js';
import type { AgentPlugin, AgentPluginFactory } from '../agent/plugins.js';
import { DashboardServer } from './dashboardServer.js';
import { untilServing } from '../k8s/untilServing.js';
import { DASHBOARD_SERVING, ensureServingSecret } from '../trust/servingSecret.js';

export const dashboardPlugin: AgentPluginFactory = async (ctx, opts) => {
  if (opts.disableDashboard) return { name: 'dashboard' };
  const log = ctx.log.child({ component: 'dashboard' });
  const server = new DashboardServer(
    {
      identity: () => ({ clusterID: ctx.clusterID, clusterName: ctx.clusterName, namespace: ctx.namespace }),
      apiServer: () => ctx.client.server,
      caPem: () => ctx.caPem,
      servingTls: (hosts) => untilServing(() => ensureServingSecret(ctx.client, ctx.namespace, hosts, log, DASHBOARD_SERVING), { what: `read or create the dashboard's serving Secret`, log }),
      log,
    },
    { listen: opts.dashboardListen ?? Defaults.dashboardListen, fallback: !opts.dashboardListen, insecureHttp: !!opts.dashboardInsecureHttp },
  );
  let url: string | undefined;

  const plugin: AgentPlugin = {
    name: 'dashboard',

    async start() {
      const addr = await server.start();
      url = addr.url;
      if (!server.webAppAvailable) log.warn('the dashboard web app is not built (npm run build:web); serving the JSON API only');
      log.info({ dashboardUrl: url, listen: `${addr.host}:${addr.port}` }, 'serving the dashboard; sign in with a Kubernetes bearer token (kubectl create token <serviceaccount>)');
    },

    notReady() {
      return url ? [] : ['dashboard not listening yet'];
    },

    urls() {
      return url ? { dashboard: url } : {};
    },

    async stop() {
      await server.stop();
    },
  };
  return plugin;
};
