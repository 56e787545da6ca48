import { describe, expect, it } from 'vitest';
import { checkClusterID, checkNewPeer } from '../../../src/dashboard/validation.js';

const uuid = 'ff5aa14a-dd6e-4fd2-80fe-eaecb827cf55';

describe('the dashboard\'s add-peer form: cluster ID', () => {
  it('refuses a UUID cut off at 35 characters (the form asks for a UUID), with the same words as the CLI\'s warning', () => {
    expect(checkClusterID(uuid.slice(0, 35))).toMatch(/^"ff5aa14a-dd6e-4fd2-80fe-eaecb827cf5" looks like a UUID cut short \(35 of 36 characters\): copy the whole ID again/);
    expect(checkNewPeer({ clusterID: uuid.slice(0, 35), apiUrl: 'https://203.0.113.10:6443' }).fields.clusterID).toContain('cut short');
    expect(checkClusterID(`${uuid}0`)).toContain('1 character(s) too many');
  });

  it('accepts a whole UUID and a DNS label', () => {
    expect(checkClusterID(uuid)).toBeUndefined();
    expect(checkClusterID('edge-cluster-1')).toBeUndefined();
    expect(checkNewPeer({ clusterID: uuid, apiUrl: 'https://203.0.113.10:6443' }).value?.clusterID).toBe(uuid);
  });
});
