/**
 * Calls made straight to a webhook or an API server the way a forger or an anonymous requester
 * would: a JSON POST over HTTPS whose answer is read whatever its status, and the AdmissionReview
 * the API server would send for a PeeringRequest CREATE.
 */
import { randomUUID } from 'node:crypto';
import { request, type RequestOptions } from 'node:https';

export type JsonAnswer = { status: number; body: { reason?: string; message?: string; response?: { allowed?: boolean } } };

/** POST `payload` (JSON) to `url`; the body is parsed as JSON when it is, kept as `message` when not. */
export function postJson(url: URL, payload: string, opts: Pick<RequestOptions, 'ca' | 'cert' | 'key' | 'agent' | 'rejectUnauthorized' | 'localAddress'>): Promise<JsonAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) }, ...opts }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body = {};
        try {
          body = JSON.parse(text);
        } catch {
          body = { message: text };
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
      res.on('error', reject);
    });
    req.setTimeout(30_000, () => req.destroy(new Error('no answer within 30s')));
    req.on('error', reject);
    req.end(payload);
  });
}

/** The AdmissionReview of an anonymous CREATE of PeeringRequest `pr`, as the API server sends it. */
export function peeringRequestCreateReview(pr: { metadata: { name: string } }): Record<string, unknown> {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: randomUUID(),
      kind: { group: 'discovery.liqo.io', version: 'v1alpha1', kind: 'PeeringRequest' },
      resource: { group: 'discovery.liqo.io', version: 'v1alpha1', resource: 'peeringrequests' },
      operation: 'CREATE',
      name: pr.metadata.name,
      userInfo: { username: 'system:anonymous' },
      object: pr,
      dryRun: false,
    },
  };
}
