/**
 * The namespace lab itself (needs root): the pieces LAN tests and `local up --netns` rely on.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { canUseNetns, createTestLab, execInNetns, type NetnsLab } from '../../support/netns.js';

describe.skipIf(!canUseNetns)('network-namespace lab', () => {
  let lab: NetnsLab | undefined;
  afterAll(async () => {
    await lab?.destroy();
  });

  it('adds several hosts at once on a bridge that does not exist yet (no race on the bridge address)', async () => {
    lab = createTestLab();
    const hosts = await Promise.all([lab.addHost('r1'), lab.addHost('r2'), lab.addHost('r3')]);
    expect(new Set(hosts.map((h) => h.address)).size).toBe(3);
    // they share the link: a TCP connection to a closed port is refused (not unreachable)
    const probe = `require('node:net').connect(9, ${JSON.stringify(hosts[2]!.address)}).on('error', (e) => { process.stdout.write(e.code); process.exit(0); }).setTimeout(5000, () => { process.stdout.write('timeout'); process.exit(0); })`;
    expect((await execInNetns(hosts[0]!, process.execPath, ['-e', probe])).stdout).toBe('ECONNREFUSED');
    await lab.removeHost('r1');
    await lab.removeHost('r2');
    await lab.removeHost('r3');
    // the last host gone, the bridge can go too
    expect(await lab.removeBridgeIfUnused()).toBe(true);
    expect(await lab.listHosts()).toEqual([]);
  });
});
