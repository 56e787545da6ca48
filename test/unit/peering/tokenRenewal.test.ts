import { describe, expect, it } from 'vitest';
import { serviceAccountClaims, tokenRenewalDue } from '../../../src/peering/incoming/tokenRenewal.js';

const jwt = (claims: Record<string, unknown>) => `${Buffer.from('{"alg":"ES256"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.sig`;
const IAT = 1_800_000_000;
const token = jwt({
  iat: IAT,
  exp: IAT + 1000,
  sub: 'system:serviceaccount:liqo:liqo-remote-b',
  'kubernetes.io': { namespace: 'liqo', serviceaccount: { name: 'liqo-remote-b', uid: 'u1' }, secret: { name: 'liqo-remote-b', uid: 's1' } },
});

describe('renewing a peer credential', () => {
  it('reads the ServiceAccount and the bound Secret from the token', () => {
    expect(serviceAccountClaims(token)).toEqual({ iat: IAT, exp: IAT + 1000, namespace: 'liqo', serviceAccount: 'liqo-remote-b', boundSecret: { name: 'liqo-remote-b', uid: 's1' } });
  });

  it('is due once 80 % of the lifetime has passed, never for a token it cannot read', () => {
    expect(tokenRenewalDue(token, (IAT + 799) * 1000)).toBe(false);
    expect(tokenRenewalDue(token, (IAT + 800) * 1000)).toBe(true);
    expect(tokenRenewalDue(token, (IAT + 5000) * 1000)).toBe(true);
    for (const bad of ['', 'not-a-jwt', 'a.%%%.c', jwt({ iat: IAT }), jwt({ iat: IAT, exp: IAT + 10 }), jwt({ iat: IAT, exp: IAT, 'kubernetes.io': { namespace: 'x', serviceaccount: { name: 'y' } } })]) {
      expect(tokenRenewalDue(bad, (IAT + 5000) * 1000)).toBe(false);
    }
  });
});
