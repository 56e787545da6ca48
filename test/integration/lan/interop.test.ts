/**
 * Interop with a third-party mDNS stack: python-zeroconf (fixtures/zeroconfPeer.py) and kubepeer's
 * LanDiscovery (fixtures/lanPeer.ts), each in its own network-namespace host on one bridge, in both
 * directions: browse and resolve, the seeds' TXT layout, RFC 6762 §10 TTLs, goodbye, and a name
 * conflict kubepeer loses. Needs root; python-zeroconf comes from scripts/setup.mjs (--for test).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { beforeAll, describe, expect, it } from 'vitest';
import type { LanDiscoveryConfig } from '../../../src/mdns/index.js';
import { canUseNetns, netnsHostsPerTest, type JsonLine, type NetnsHost, type NetnsJsonProcess } from '../../support/netns.js';

const LAN_PEER = 'test/integration/lan/fixtures/lanPeer.ts';
const ZEROCONF_PEER = 'test/integration/lan/fixtures/zeroconfPeer.py';
/** Where scripts/setup.mjs puts python-zeroconf (a venv of its own, pinned version). */
const SETUP_VENV_PYTHON = `${homedir()}/.cache/kubepeer/python-zeroconf/bin/python3`;
const PYTHON = process.env.KUBEPEER_ZEROCONF_PYTHON ?? (existsSync(SETUP_VENV_PYTHON) ? SETUP_VENV_PYTHON : 'python3');
const SERVICE = '_liqo._tcp.local.';

const KUBEPEER_ID = 'a1b2c3d4-0000-4000-8000-000000000001';
const ZEROCONF_ID = 'ff5aa14a-dd6e-4fd2-80fe-eaecb827cf55';

describe.skipIf(!canUseNetns)('LAN discovery interop with python-zeroconf', () => {
  beforeAll(() => {
    const check = spawnSync(PYTHON, ['-c', 'import zeroconf; print(zeroconf.__version__)'], { encoding: 'utf8' });
    if (check.status !== 0) {
      throw new Error(`python-zeroconf is not available to ${PYTHON} (${check.stderr?.trim() || check.error?.message}); run: node scripts/setup.mjs --for test`);
    }
  });
  const { host, start } = netnsHostsPerTest('zc');

  function kubepeer(h: NetnsHost, config: Partial<LanDiscoveryConfig> = {}): NetnsJsonProcess {
    const args = { config: { clusterID: KUBEPEER_ID, url: `https://${h.address}:6443`, ttl: 120, ...config }, options: { interfacePollMs: 300 } };
    return start(h, `kubepeer@${h.name}`, 'node', ['--import', 'tsx', LAN_PEER, JSON.stringify(args)]);
  }

  async function zeroconf(h: NetnsHost): Promise<NetnsJsonProcess> {
    const p = start(h, `zeroconf@${h.name}`, PYTHON, ['-u', ZEROCONF_PEER, JSON.stringify({ address: h.address })]);
    await p.waitFor((l) => l.event === 'ready', 'python-zeroconf ready', 15_000);
    return p;
  }

  function register(zc: NetnsJsonProcess, h: NetnsHost, name: string, cooperating = false): Promise<JsonLine> {
    return zc.request(
      {
        cmd: 'register',
        name,
        port: 6443,
        server: 'liqo-seed-api.local.',
        addresses: [h.address],
        // the seeds' layout: no url=, the API server is the SRV target and port
        properties: { id: ZEROCONF_ID, namespace: 'liqo' },
        cooperating,
      },
      'registered',
      15_000,
    );
  }

  it("kubepeer finds a service python-zeroconf publishes in the seeds' layout, with the URL from SRV and A", async () => {
    const [hz, hk] = [await host(), await host()];
    const zc = await zeroconf(hz);
    await register(zc, hz, `liqo-seed.${SERVICE}`);
    const k = kubepeer(hk, { enableAdvertisement: false });
    const up = await k.waitFor((l) => l.event === 'up' && l.clusterID === ZEROCONF_ID, 'up for the zeroconf service', 15_000);
    expect(up).toMatchObject({ url: `https://${hz.address}:6443`, namespace: 'liqo', port: 6443, instance: 'liqo-seed._liqo._tcp.local' });
    // and its goodbye takes it away
    await zc.request({ cmd: 'unregister' }, 'unregistered', 10_000);
    await k.waitFor((l) => l.event === 'down' && l.clusterID === ZEROCONF_ID, 'down after the zeroconf goodbye', 5000);
  });

  it('python-zeroconf resolves what kubepeer publishes, holds PTR/TXT 4500 s and SRV/A 120 s, and drops it at the goodbye', async () => {
    const [hz, hk] = [await host(), await host()];
    const zc = await zeroconf(hz);
    const k = kubepeer(hk);
    const announced = await k.waitFor((l) => l.event === 'announced', 'kubepeer announced', 15_000);
    const instance = `${String(announced.instance)}.`;
    const added = await zc.waitFor((l) => (l.event === 'added' || l.event === 'updated') && l.name === instance && l.info !== null, 'zeroconf resolved kubepeer', 15_000);
    expect(added.info).toMatchObject({
      port: 6443,
      addresses: expect.arrayContaining([hk.address]),
      properties: { txtvers: '1', id: KUBEPEER_ID, namespace: 'liqo', url: `https://${hk.address}:6443` },
    });
    const { records } = (await zc.request({ cmd: 'records', name: instance }, 'records')) as JsonLine & { records: Array<{ type: string; ttl: number }> };
    const ttls = Object.fromEntries(records.map((r) => [r.type, r.ttl]));
    expect(ttls).toEqual({ PTR: 4500, SRV: 120, TXT: 4500, A: 120 });

    const stopAt = Date.now();
    await k.request({ cmd: 'stop' }, 'stopped', 10_000).catch(() => undefined);
    const removed = await zc.waitFor((l) => l.event === 'removed' && l.name === instance, 'zeroconf removed kubepeer after its goodbye', 5000);
    expect(Number(removed.at) - stopAt).toBeLessThan(3000);
  });

  it('after losing a name conflict to python-zeroconf, kubepeer renames and the winner stays listed everywhere', async () => {
    const [hz, hk] = [await host(), await host()];
    const zc = await zeroconf(hz);
    const k = kubepeer(hk);
    const announced = await k.waitFor((l) => l.event === 'announced', 'kubepeer announced', 15_000);
    const name = `${String(announced.instance)}.`;
    // zeroconf takes the very name kubepeer announces (cooperating: without its local uniqueness
    // check, as two hosts that announced while apart); kubepeer must give it up
    await register(zc, hz, name, true);
    const renamed = await k.waitFor((l) => l.event === 'renamed', 'kubepeer renamed', 20_000);
    expect(renamed).toMatchObject({ kind: 'instance', from: String(announced.instance) });
    await k.waitFor((l) => l.event === 'announced' && l.instance === renamed.to, 'kubepeer announced its new name', 20_000);
    // the winner's PTR got no goodbye: zeroconf keeps its service, and kubepeer's browser lists it
    await new Promise((r) => setTimeout(r, 3000));
    expect(zc.lines.filter((l) => l.event === 'removed' && l.name === name), JSON.stringify(zc.describe())).toEqual([]);
    expect(k.lines.filter((l) => l.event === 'down' && l.clusterID === ZEROCONF_ID), JSON.stringify(k.describe())).toEqual([]);
    const { records } = (await zc.request({ cmd: 'records', name }, 'records')) as JsonLine & { records: Array<{ type: string; ttl: number }> };
    expect(records.filter((r) => r.type === 'PTR' && r.ttl > 0), JSON.stringify(records)).not.toEqual([]);
  });
});
