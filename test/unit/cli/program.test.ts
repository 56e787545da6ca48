import { describe, expect, it } from 'vitest';
import type { Command } from 'commander';
import { buildProgram } from '../../../src/cli/main.js';
import { CliError, formatObject, parseOutput } from '../../../src/cli/output.js';
import { statusReport, statusText } from '../../../src/cli/commands/status.js';
import { versionInfo } from '../../../src/cli/version.js';

function sub(program: Command, path: string): Command {
  let cmd = program;
  for (const name of path.split(' ')) cmd = cmd.commands.find((c) => c.name() === name)!;
  return cmd;
}

/** Runs the CLI in-process and returns what commander wrote, or the error it threw. */
async function run(args: string[]): Promise<{ out: string; error?: unknown }> {
  const program = buildProgram('kubepeer');
  let out = '';
  const capture = (c: Command) => {
    c.configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (out += s) });
    c.commands.forEach(capture);
  };
  capture(program);
  try {
    await program.parseAsync(['node', 'kubepeer', ...args]);
    return { out };
  } catch (error) {
    return { out, error };
  }
}

describe('kubepeer command line', () => {
  it('every subcommand help lists the global flags', () => {
    const program = buildProgram('kubepeer');
    for (const path of ['peer add', 'peer list', 'domain add', 'dns records', 'status', 'version']) {
      const help = sub(program, path).helpInformation();
      expect(help, path).toContain('Global Options:');
      for (const flag of ['--kubeconfig <path>', '--context <name>', '-n, --namespace <ns>', '-o, --output <format>']) expect(help, `${path}: ${flag}`).toContain(flag);
    }
  });

  it('peer leave offers no --timeout (it does not wait); peer join does, for --wait', () => {
    const program = buildProgram('kubepeer');
    expect(sub(program, 'peer leave').options.map((o) => o.long)).not.toContain('--timeout');
    expect(sub(program, 'peer join').options.map((o) => o.long)).toEqual(expect.arrayContaining(['--wait', '--timeout']));
  });

  it('--version prints the kubepeer version and the Kubernetes release', async () => {
    const { out, error } = await run(['--version']);
    expect((error as { code?: string }).code).toBe('commander.version');
    const v = versionInfo();
    expect(out).toBe(`kubepeer ${v.kubepeerVersion} (Kubernetes ${v.kubernetesVersion})\n`);
  });

  it('refuses -o name for a command that prints no Kubernetes object, before it reads the cluster', async () => {
    const { error } = await run(['status', '-o', 'name', '--kubeconfig', '/nonexistent/kubeconfig']);
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).exitCode).toBe(2);
    expect((error as CliError).message).toMatch(/-o name does not apply/);
  });

  it('refuses a broken jsonpath template before it reads the cluster', async () => {
    const { error } = await run(['peer', 'list', '-o', 'jsonpath={.items[*]', '--kubeconfig', '/nonexistent/kubeconfig']);
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).message).toMatch(/unclosed "\{"/);
  });

  it('refuses a cluster ID that is not one before it reads the cluster', async () => {
    const { error } = await run(['peer', 'add', 'Not_An_ID', '--api-url', 'https://203.0.113.10:6443', '--kubeconfig', '/nonexistent/kubeconfig']);
    expect((error as CliError).exitCode).toBe(2);
  });
});

describe('status', () => {
  const report = statusReport(
    {
      clusterID: 'ff5aa14a-dd6e-4fd2-80fe-eaecb827cf55',
      server: 'https://127.0.0.1:6443',
      clusterConfig: null,
      lease: { spec: { holderIdentity: 'agent-1', renewTime: new Date(1_000_000).toISOString(), leaseDurationSeconds: 15 } },
      foreignClusters: [],
      peeringRequests: [],
    },
    1_004_000,
  );

  it('-o wide prints exactly the table', () => {
    expect(formatObject(parseOutput('wide'), report, { text: () => statusText(report) })).toBe(formatObject(parseOutput('table'), report, { text: () => statusText(report) }));
  });

  it('says the agent is healthy while its lease is fresh', () => {
    expect(report.agent).toEqual({ healthy: true, leader: 'agent-1', lastRenewSecondsAgo: 4, notRunningSince: null });
    expect(statusText(report)).toContain('Agent:       healthy (leader agent-1, renewed 4s ago)');
  });
});
