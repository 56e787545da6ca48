import { describe, expect, it } from 'vitest';
import { damagedUUID, isClusterID } from '../../../src/api/clusterIDInput.js';

const uuid = 'ff5aa14a-dd6e-4fd2-80fe-eaecb827cf55';

describe('cluster IDs typed by a person', () => {
  it('flags a UUID cut off at 35 characters, which is still a valid DNS label', () => {
    const cut = uuid.slice(0, 35);
    expect(isClusterID(cut)).toBe(true);
    expect(damagedUUID(cut)).toMatch(/cut short \(35 of 36 characters\)/);
  });

  it('flags a UUID with a character too many', () => {
    expect(damagedUUID(uuid + 'a')).toMatch(/1 character\(s\) too many/);
  });

  it('accepts whole UUIDs and DNS labels that do not look like UUIDs', () => {
    expect(damagedUUID(uuid)).toBeUndefined();
    expect(damagedUUID(uuid.toUpperCase())).toBeUndefined();
    expect(damagedUUID('edge-cluster-1')).toBeUndefined();
    expect(damagedUUID('deadbeef')).toBeUndefined();
    expect(damagedUUID('deadbeef-cafe-zone')).toBeUndefined();
  });
});
