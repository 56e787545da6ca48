/**
 * `kubepeer dashboard token [--read-only] [--duration 8h]`: a token to sign in to the dashboard,
 * from a TokenRequest for ServiceAccount kubepeer-dashboard (bound to the ClusterRole of the same
 * name: what the dashboard's pages read and its buttons write) or kubepeer-dashboard-viewer (read
 * only). Both are created by `kubepeer install` (src/install/manifests.ts, dashboardManifests).
 */
import type { Command } from 'commander';
import { Names } from '../../api/constants.js';
import { ApiError, Core, resourcePath } from '../../k8s/rest.js';
import { readAgentStatus, AgentStatusKeys, agentLiveness, readAgentLease } from '../../agent/agentStatus.js';
import { CliError, printObject } from '../output.js';
import { globals, withClient } from '../globals.js';

/** kubectl's durations ("8h", "30m", "1h30m", "3600s"; a bare number is seconds) in seconds. */
export function parseDuration(v: string): number {
  const s = v.trim();
  if (/^\d+$/.test(s)) return Number(s);
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(s);
  if (!s || !m || (!m[1] && !m[2] && !m[3])) throw new CliError(`--duration takes a duration like 8h, 30m, 1h30m or 3600s, not "${v}"`, 2);
  return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
}

/** The API server refuses tokens shorter than 10 minutes. */
const MIN_SECONDS = 600;

export function registerDashboardCommands(program: Command): void {
  const dashboard = program.command('dashboard').description('The web dashboard every agent serves: a token to sign in.');
  dashboard
    .command('token')
    .description(`Print a token to sign in to the dashboard: for ServiceAccount ${Names.dashboardServiceAccount} (view and operate peers, requests, domains) or, with --read-only, ${Names.dashboardViewerServiceAccount} (view only).`)
    .option('--read-only', 'a token that can look but not change anything')
    .option('--duration <duration>', 'how long the token is valid (e.g. 8h, 30m; at least 10m)', '8h')
    .addHelpText('after', `\nExamples:\n  kubepeer dashboard token | xclip           # paste it into the dashboard's sign-in field\n  kubepeer dashboard token --read-only --duration 1h\n  # the same with kubectl:\n  kubectl create token -n liqo ${Names.dashboardServiceAccount} --duration 8h`)
    .action(async (opts: { readOnly?: boolean; duration: string }, cmd: Command) => {
      const g = globals(cmd, { printsObjects: false });
      const seconds = parseDuration(opts.duration);
      if (seconds < MIN_SECONDS) throw new CliError(`--duration must be at least 10m (the API server refuses shorter tokens), not "${opts.duration}"`, 2);
      const serviceAccount = opts.readOnly ? Names.dashboardViewerServiceAccount : Names.dashboardServiceAccount;
      const { token, expires, dashboardUrl, agentDown } = await withClient(g, async (client) => {
        let tr: { status: { token: string; expirationTimestamp?: string } };
        try {
          tr = await client.create(resourcePath(Core.serviceAccounts, { namespace: g.namespace, name: serviceAccount, subresource: 'token' }), {
            apiVersion: 'authentication.k8s.io/v1',
            kind: 'TokenRequest',
            spec: { expirationSeconds: seconds },
          });
        } catch (e) {
          if (e instanceof ApiError && e.code === 404) throw new CliError(`there is no ServiceAccount ${g.namespace}/${serviceAccount}: install (or upgrade) kubepeer first: kubepeer install`);
          throw e;
        }
        const [status, lease] = await Promise.all([readAgentStatus(client, g.namespace).catch(() => null), readAgentLease(client, g.namespace).catch(() => null)]);
        // The URL is the last leader's word: with no agent running nothing answers there.
        const agent = agentLiveness(lease, Date.now());
        return { token: tr.status.token, expires: tr.status.expirationTimestamp, dashboardUrl: agent.running ? status?.[AgentStatusKeys.dashboardUrl] : undefined, agentDown: agent.running ? undefined : agent.text };
      });
      printObject(g.output, { serviceAccount: `${g.namespace}/${serviceAccount}`, token, expirationTimestamp: expires ?? null, dashboardUrl: dashboardUrl ?? null }, { text: () => `${token}\n` });
      // stderr: stdout is only the token, for $(kubepeer dashboard token).
      process.stderr.write(`token for ${g.namespace}/${serviceAccount}${opts.readOnly ? ' (read only)' : ''}, valid until ${expires ?? `${seconds}s from now`}${dashboardUrl ? `; dashboard: ${dashboardUrl}` : ''}${agentDown ? `; the kubepeer agent is ${agentDown}, so no dashboard answers` : ''}\n`);
    });
}
