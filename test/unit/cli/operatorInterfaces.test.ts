import { describe, expect, it } from 'vitest';
import { buildProgram, pluginArgv } from '../../../src/cli/main.js';
import { choosePluginDir, pluginScript } from '../../../src/cli/commands/plugin.js';
import { parseDuration } from '../../../src/cli/commands/dashboard.js';
import { statusReport, statusText } from '../../../src/cli/commands/status.js';
import { CliError } from '../../../src/cli/output.js';
import { agentLiveness } from '../../../src/agent/agentStatus.js';

describe('kubectl peer (the plugin)', () => {
  const program = buildProgram('kubectl-peer');
  const argv = (...a: string[]) => ['node', '/usr/local/bin/kubectl-peer', ...a];

  it('runs a peer subcommand given first as kubepeer peer <subcommand>', () => {
    expect(pluginArgv(program, argv('list'))).toEqual(argv('peer', 'list'));
    expect(pluginArgv(program, argv('--kubeconfig', 'k', 'add', 'x'))).toEqual(argv('--kubeconfig', 'k', 'peer', 'add', 'x'));
    expect(pluginArgv(program, argv('-o=json', 'ls'))).toEqual(argv('-o=json', 'peer', 'ls'));
  });

  it('leaves top-level commands as they are', () => {
    expect(pluginArgv(program, argv('status'))).toEqual(argv('status'));
    expect(pluginArgv(program, argv('peer', 'list'))).toEqual(argv('peer', 'list'));
    expect(pluginArgv(program, argv('--help'))).toEqual(argv('--help'));
  });
});

describe('kubepeer plugin install', () => {
  it('prefers /usr/local/bin when it is on PATH and writable, else ~/.local/bin', () => {
    expect(choosePluginDir('/usr/bin:/usr/local/bin', '/home/u', () => true)).toEqual({ dir: '/usr/local/bin', onPath: true });
    expect(choosePluginDir('/usr/bin:/usr/local/bin', '/home/u', () => false)).toEqual({ dir: '/home/u/.local/bin', onPath: false });
    expect(choosePluginDir('/home/u/.local/bin:/usr/bin', '/home/u', () => false)).toEqual({ dir: '/home/u/.local/bin', onPath: true });
  });

  it('writes a script that quotes its paths and says it runs as the plugin', () => {
    const s = pluginScript("/opt/it's/node", '/x/bin/kubepeer.js');
    expect(s.startsWith('#!/bin/sh\n')).toBe(true);
    expect(s).toContain(`KUBEPEER_ARGV0=kubectl-peer exec '/opt/it'\\''s/node' '/x/bin/kubepeer.js' "$@"`);
  });
});

describe('kubepeer dashboard token --duration', () => {
  it("reads kubectl's durations", () => {
    expect(parseDuration('8h')).toBe(28_800);
    expect(parseDuration('1h30m')).toBe(5_400);
    expect(parseDuration('600')).toBe(600);
    expect(() => parseDuration('soon')).toThrow(CliError);
    expect(() => parseDuration('')).toThrow(CliError);
  });
});

describe('status tells what runs, not what is asked for', () => {
  const base = {
    clusterID: 'ff5aa14a-dd6e-4fd2-80fe-eaecb827cf55',
    server: 'https://127.0.0.1:6443',
    clusterConfig: null,
    lease: { spec: { holderIdentity: 'agent-1', renewTime: new Date(1_000_000).toISOString(), leaseDurationSeconds: 15 } },
    foreignClusters: [],
    peeringRequests: [],
  };

  it('says LAN discovery is inactive, and why, when the agent says so', () => {
    const s = statusReport({ ...base, agentStatus: { 'lan-discovery': 'Inactive', 'lan-discovery-reason': 'LAN discovery is inactive: loopback', 'dashboard-url': 'https://127.0.0.1:8443' } }, 1_004_000);
    const text = statusText(s);
    expect(text).toContain('Discovery:   LAN INACTIVE (ClusterConfig asks for: LAN on, advertise on)');
    expect(text).toContain('LAN discovery is inactive: loopback');
    expect(text).toContain('Dashboard:   https://127.0.0.1:8443');
  });

  it('says "on" only when the agent confirms it runs', () => {
    expect(statusText(statusReport({ ...base, agentStatus: { 'lan-discovery': 'Running' } }, 1_004_000))).toContain('Discovery:   LAN on, advertise on, autojoin');
    expect(statusText(statusReport({ ...base, agentStatus: null }, 1_004_000))).toContain('LAN on, advertise on (not confirmed by the agent)');
  });

  it('with the agent stopped, says since when, and treats what it last published (dashboard URL, LAN state) as history', () => {
    const published = { 'lan-discovery': 'Running', 'dashboard-url': 'https://127.0.0.1:8443' };
    // Not renewed for 5 minutes (its lease lasts 15 s): the agent stopped at 1_000_000.
    const s = statusReport({ ...base, agentStatus: published }, 1_300_000);
    expect(s.agent).toEqual({ healthy: false, leader: 'agent-1', lastRenewSecondsAgo: 300, notRunningSince: new Date(1_000_000).toISOString() });
    expect(s.dashboardUrl).toBeNull();
    expect(s.lastDashboardUrl).toBe('https://127.0.0.1:8443');
    expect(s.discovery.lanState).toBe('Unknown');
    const text = statusText(s);
    expect(text).toContain(`Agent:       NOT RUNNING since ${new Date(1_000_000).toISOString()} (300s ago): what it last published is from then`);
    expect(text).toContain('LAN on, advertise on (not confirmed by the agent)');
    expect(text).toContain(`no agent has run since ${new Date(1_000_000).toISOString()}; LAN discovery was Running then`);
    expect(text).toContain(`Dashboard:   not served: the agent that served it at https://127.0.0.1:8443 is not running since ${new Date(1_000_000).toISOString()}`);
    // A graceful stop releases the lease (no holder): not running at once.
    const released = statusReport({ ...base, lease: { spec: { holderIdentity: '', renewTime: new Date(1_000_000).toISOString(), leaseDurationSeconds: 1 } }, agentStatus: published }, 1_002_000);
    expect(released.agent.healthy).toBe(false);
    expect(released.dashboardUrl).toBeNull();
  });
});

describe('agentLiveness: the agent\'s heartbeat is its Lease', () => {
  const lease = (holderIdentity: string, renewTime: number) => ({ spec: { holderIdentity, renewTime: new Date(renewTime).toISOString(), leaseDurationSeconds: 15 } });
  it('runs while the Lease is renewed within its duration', () => {
    expect(agentLiveness(lease('agent-1', 1_000_000), 1_010_000)).toMatchObject({ running: true, leader: 'agent-1', renewedSecondsAgo: 10, text: 'running (leader agent-1, renewed 10s ago)' });
  });
  it('is not running once the Lease is older than its duration, or released, or absent', () => {
    expect(agentLiveness(lease('agent-1', 1_000_000), 1_600_000).text).toBe(`not running since ${new Date(1_000_000).toISOString()} (10 min ago; last leader agent-1)`);
    expect(agentLiveness(lease('', 1_000_000), 1_001_000)).toMatchObject({ running: false, lastRenew: new Date(1_000_000).toISOString() });
    expect(agentLiveness(null, 1_000_000)).toMatchObject({ running: false, lastRenew: null, text: 'not running (no agent has led yet)' });
  });
});
