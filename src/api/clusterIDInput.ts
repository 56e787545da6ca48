/**
 * Checks of a cluster ID a person typed or pasted. The CRD accepts a UUID or any DNS label, so a
 * UUID that lost or gained characters in a copy (35 characters, a missing group) is still a valid
 * DNS label and would be accepted; it is almost certainly a mistake, and a peering with it can
 * only fail later with a confusing identity mismatch. Shared by the CLI (which warns: it takes a
 * UUID or a DNS label) and the dashboard's form and API (which refuse: the form asks for a UUID);
 * the web app imports it too, so nothing here may need Node.
 */
import { CLUSTER_ID_PATTERN } from './crds.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const UUID_SHAPE = 'xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx';

const fitsShapeAt = (c: string, i: number) => (UUID_SHAPE[i] === '-' ? c === '-' : /[0-9a-f]/i.test(c));

/**
 * Why `id` looks like a UUID damaged in a copy, or undefined. It starts the way a UUID does (eight
 * hex digits and a dash) and every character sits where a UUID has that kind of character, yet
 * it is shorter or longer than a UUID.
 */
export function damagedUUID(id: string): string | undefined {
  if (UUID.test(id) || id.length < 9) return undefined;
  const head = id.slice(0, UUID_SHAPE.length);
  if (![...head].every(fitsShapeAt)) return undefined;
  if (id.length < UUID_SHAPE.length) return `"${id}" looks like a UUID cut short (${id.length} of ${UUID_SHAPE.length} characters)`;
  if (/^[0-9a-f-]+$/i.test(id)) return `"${id}" looks like a UUID with ${id.length - UUID_SHAPE.length} character(s) too many (${id.length} instead of ${UUID_SHAPE.length})`;
  return undefined;
}

export const isClusterID = (id: string): boolean => new RegExp(CLUSTER_ID_PATTERN).test(id);
