/**
 * The network edge of trust: a TLS handshake against a peer's API server verified with a given
 * set of CAs, and the anonymous read of the peer's public `liqo-cluster-info` ConfigMap.
 */
import { checkServerIdentity, connect } from 'node:tls';
import { isIP } from 'node:net';
import { Names } from '../api/constants.js';
import { ApiError, Core, KubeClient, resourcePath } from '../k8s/rest.js';
import { urlHost } from '../net/hosts.js';

export interface ProbeResult {
  ok: boolean;
  /** Node's TLS error code when not ok (UNABLE_TO_VERIFY_LEAF_SIGNATURE, ERR_TLS_CERT_ALTNAME_INVALID, ECONNREFUSED...). */
  code?: string;
  message?: string;
  /** True when the failure is about the certificate, false when the server was not reachable. */
  certificateProblem?: boolean;
}

const CERT_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_UNTRUSTED', 'CERT_SIGNATURE_FAILURE', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERR_TLS_CERT_ALTNAME_INVALID',
]);

export function isCertificateError(code?: string): boolean {
  return !!code && CERT_CODES.has(code);
}

/**
 * Does the server at `url` present a certificate that chains to `ca` and matches its host name?
 * `address`: where to connect (checked by src/net/peerAddress.ts); the host name is still what
 * the certificate must match, and the SNI sent.
 */
export function probeTLS(url: string, ca: string[], timeoutMs = 5000, address?: string): Promise<ProbeResult> {
  const u = new URL(url);
  const host = urlHost(u);
  const port = Number(u.port || 443);
  return new Promise((resolve) => {
    const socket = connect({
      host: address ?? host,
      port,
      ca,
      servername: isIP(host) ? undefined : host,
      // without `servername` (an address in the URL) Node checks the certificate against `host`: the URL's
      checkServerIdentity: (_name, cert) => checkServerIdentity(host, cert),
      rejectUnauthorized: true,
      timeout: timeoutMs,
      ALPNProtocols: ['http/1.1'],
    });
    const done = (r: ProbeResult) => {
      clearTimeout(deadline);
      socket.destroy();
      resolve(r);
    };
    const timedOut = () => done({ ok: false, code: 'ETIMEDOUT', message: `no TLS answer from ${u.host} within ${timeoutMs / 1000}s`, certificateProblem: false });
    // The socket's own timeout is for silence; a server that trickles its handshake a byte at a
    // time is never silent, so the whole handshake has a deadline too.
    const deadline = setTimeout(timedOut, timeoutMs);
    socket.once('secureConnect', () => done({ ok: true }));
    socket.once('timeout', timedOut);
    socket.once('error', (err: NodeJS.ErrnoException) =>
      done({ ok: false, code: err.code, message: err.message, certificateProblem: isCertificateError(err.code) }),
    );
  });
}

export interface RemoteClusterInfo {
  clusterID?: string;
  clusterName?: string;
  namespace?: string;
  caPem?: string;
  /** Proof of the peering secret (src/trust/peeringSecret.ts), when published. */
  peeringProof?: string;
}

/**
 * Reads the peer's public liqo-cluster-info anonymously. With `ca` the TLS is verified; with
 * `insecure` it is not (trust on first use: the caller must pin what it gets). `address`: where to
 * connect, as for probeTLS.
 */
export async function fetchClusterInfo(apiUrl: string, namespace: string, tls: { ca?: string; insecure?: boolean; address?: string | undefined }): Promise<RemoteClusterInfo> {
  const client = KubeClient.anonymous(apiUrl, tls.ca, !!tls.insecure, undefined, tls.address);
  try {
    const cm = await client.get<{ data?: Record<string, string> }>(resourcePath(Core.configMaps, { namespace, name: Names.clusterInfoConfigMap }), { timeoutMs: 8000 });
    return { clusterID: cm.data?.['cluster-id'], clusterName: cm.data?.['cluster-name'], namespace: cm.data?.namespace, caPem: cm.data?.['ca.crt'], peeringProof: cm.data?.['peering-proof'] };
  } catch (e) {
    if (e instanceof ApiError && (e.code === 403 || e.code === 404)) {
      throw new ApiError(e.code, e.reason, `${apiUrl} does not publish ${namespace}/${Names.clusterInfoConfigMap} to anonymous users (is kubepeer installed there, in namespace ${namespace}?)`);
    }
    throw e;
  } finally {
    client.close();
  }
}
