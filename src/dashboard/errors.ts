/**
 * One error type for the dashboard API, and the translation of the API server's answers into
 * messages a person can act on: "forbidden: <what>" with the API server's own words, the
 * validation messages of the CRDs per form field, "sign in again" for a rejected token.
 */
import { ApiError } from '../k8s/rest.js';
import type { ApiErrorBody } from './api.js';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    readonly fields?: Record<string, string>,
    readonly detail?: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }

  body(): ApiErrorBody {
    return {
      error: {
        reason: this.reason,
        message: this.message,
        ...(this.fields && Object.keys(this.fields).length ? { fields: this.fields } : {}),
        ...(this.detail ? { detail: this.detail } : {}),
      },
    };
  }
}

/** What a person was doing, for messages: e.g. { verb: 'patch', resource: 'foreignclusters.discovery.liqo.io', doing: 'connect to peer-b' }. */
export interface Attempt {
  verb: string;
  resource: string;
  doing: string;
}

/** "spec.apiUrl" -> "apiUrl": the form field an API server cause is about. */
function fieldOf(path: string | undefined): string | undefined {
  if (!path) return undefined;
  const last = path.replace(/^(spec|metadata)\./, '').split('.')[0];
  return last === 'name' && path.startsWith('metadata') ? 'name' : last || undefined;
}

export function fromApiError(e: unknown, what: Attempt): HttpError {
  if (e instanceof HttpError) return e;
  if (!(e instanceof ApiError)) return new HttpError(500, 'InternalError', `${what.doing}: ${(e as Error)?.message ?? String(e)}`);
  switch (e.code) {
    case 401:
      return new HttpError(401, 'Unauthorized', 'The API server did not accept this token (expired, revoked or mistyped): sign in again.');
    case 403:
      return new HttpError(403, 'Forbidden', `forbidden: you may not ${what.verb} ${what.resource} (needed to ${what.doing})`, undefined, `The API server said: ${e.message}`);
    case 404:
      return new HttpError(404, 'NotFound', `${what.doing}: not found (${e.message})`);
    case 409:
      return e.reason === 'AlreadyExists'
        ? new HttpError(409, 'AlreadyExists', `${what.doing}: ${e.message}`)
        : new HttpError(409, 'Conflict', `${what.doing}: someone changed it at the same time; try again.`);
    case 422:
    case 400: {
      const causes = (e.details as { causes?: Array<{ field?: string; message?: string }> } | undefined)?.causes ?? [];
      const fields: Record<string, string> = {};
      for (const c of causes) {
        const f = fieldOf(c.field);
        if (f && c.message && !fields[f]) fields[f] = c.message;
      }
      return new HttpError(422, 'Invalid', `The API server refused it: ${e.message}`, fields);
    }
    case 0:
      return new HttpError(502, 'Unavailable', `Cannot reach the API server: ${e.message}`);
    default:
      return new HttpError(502, e.reason || 'Error', `${what.doing}: ${e.message}`);
  }
}
