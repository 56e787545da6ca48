/**
 * The one error browse() throws: the domain as a whole could not be read (bad input, or the
 * domain-level PTR queries failed). Per-instance problems are never thrown; they are returned as
 * InstanceFailure so that one broken record does not hide the healthy clusters of a domain.
 */
export type DnsDiscoveryReason =
  | 'InvalidServer'
  | 'InvalidDomain'
  | 'Timeout'
  | 'ConnectionRefused'
  | 'ServerFailure'
  | 'Refused'
  | 'NotAuthoritative'
  | 'MalformedResponse'
  | 'QueryFailed';

export class DnsDiscoveryError extends Error {
  override readonly name = 'DnsDiscoveryError';
  constructor(
    readonly reason: DnsDiscoveryReason,
    message: string,
  ) {
    super(message);
  }
}
