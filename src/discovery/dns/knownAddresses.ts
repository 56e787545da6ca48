/**
 * How a call to a URL that DNS discovery published resolves its host: at the addresses the
 * SearchDomain's DNS server gave (ForeignCluster status.dnsAddresses), since the system resolver
 * may not know a name only that server serves; any other name through the system resolver.
 */
import type { ForeignCluster } from '../../api/crds.js';
import { lookupWith, type LookupAll } from '../../net/peerAddress.js';

export function lookupForUrl(foreignClusters: readonly ForeignCluster[], apiUrl: string): LookupAll {
  return lookupWith(foreignClusters.find((f) => f.spec.apiUrl === apiUrl && f.status?.dnsAddresses)?.status?.dnsAddresses);
}
