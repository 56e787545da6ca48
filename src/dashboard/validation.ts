/**
 * Checks of what a person types in the dashboard's forms. The web app runs them as the person
 * types; the server runs them again before anything reaches the API server, whose own validation
 * (the CRDs' CEL rules) still has the last word. The patterns come from the CRD definitions.
 */
import { API_URL_PATTERN, CLUSTER_ID_PATTERN } from '../api/crds.js';
import { damagedUUID } from '../api/clusterIDInput.js';
import type { NewDomain, NewPeer } from './api.js';

export type FieldErrors = Record<string, string>;

export interface Checked<T> {
  value?: T;
  fields: FieldErrors;
}

const CLUSTER_ID = new RegExp(CLUSTER_ID_PATTERN);
const API_URL = new RegExp(API_URL_PATTERN);
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** The SearchDomain CRD's rule for spec.domain. */
const DOMAIN = /^([A-Za-z0-9_]([-A-Za-z0-9_]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9_]([-A-Za-z0-9_]{0,61}[A-Za-z0-9])?\.?$/;

const str = (v: unknown): string => (typeof v === 'string' ? v.trim() : '');

export function checkClusterID(id: string): string | undefined {
  if (!id) return "Cluster ID is required. On the remote cluster: kubectl get configmap -n liqo cluster-id -o jsonpath='{.data.cluster-id}'";
  if (id.length > 63 || !CLUSTER_ID.test(id)) return 'Not a cluster ID: expected a UUID such as ff5aa14a-dd6e-4fd2-80fe-eaecb827cf55 (or a lowercase DNS label).';
  // The form asks for a UUID: one damaged in a copy is refused here (the CLI only warns).
  const damaged = damagedUUID(id);
  if (damaged) return `${damaged}: copy the whole ID again. On the remote cluster: kubepeer cluster-id`;
  return undefined;
}

export function checkApiUrl(url: string): string | undefined {
  if (!url) return 'API URL is required, e.g. https://203.0.113.10:6443';
  if (/^http:\/\//i.test(url)) return 'The API URL must start with https:// (plain http is not allowed).';
  if (url.length > 2048 || !API_URL.test(url)) return 'Not an https URL with a host and an optional port, e.g. https://203.0.113.10:6443';
  return undefined;
}

function checkName(name: string, what: string): string | undefined {
  if (name.length > 253 || !DNS_SUBDOMAIN.test(name)) return `${what} must be lowercase letters, digits, "-" and "." (a Kubernetes object name).`;
  return undefined;
}

/** The object name a new peer gets when the person gives none. */
export const defaultPeerName = (clusterID: string) => clusterID.toLowerCase();
/** The object name a new search domain gets when the person gives none. */
export const defaultDomainName = (domain: string) => domain.toLowerCase().replace(/\.$/, '');

export function checkNewPeer(input: unknown): Checked<NewPeer> {
  const o = (input && typeof input === 'object' ? input : {}) as Record<string, unknown>;
  const fields: FieldErrors = {};
  const clusterID = str(o.clusterID);
  const apiUrl = str(o.apiUrl);
  const namespace = str(o.namespace) || 'liqo';
  const name = str(o.name) || defaultPeerName(clusterID);
  const clusterName = str(o.clusterName);
  const e1 = checkClusterID(clusterID);
  if (e1) fields.clusterID = e1;
  const e2 = checkApiUrl(apiUrl);
  if (e2) fields.apiUrl = e2;
  if (namespace.length > 63 || !DNS_LABEL.test(namespace)) fields.namespace = 'Namespace must be a DNS label such as liqo.';
  if (str(o.name)) {
    const e = checkName(name, 'Name');
    if (e) fields.name = e;
  }
  if (clusterName.length > 253) fields.clusterName = 'Cluster name is at most 253 characters.';
  for (const k of ['allowUntrustedCA', 'join'] as const) if (o[k] !== undefined && typeof o[k] !== 'boolean') fields[k] = `${k} must be true or false.`;
  if (Object.keys(fields).length) return { fields };
  return {
    fields,
    value: { clusterID, apiUrl, namespace, name, ...(clusterName ? { clusterName } : {}), allowUntrustedCA: o.allowUntrustedCA === true, join: o.join === true },
  };
}

export function checkNewDomain(input: unknown): Checked<NewDomain> {
  const o = (input && typeof input === 'object' ? input : {}) as Record<string, unknown>;
  const fields: FieldErrors = {};
  const domain = str(o.domain);
  const name = str(o.name) || defaultDomainName(domain);
  if (!domain) fields.domain = 'Domain is required, e.g. example.com';
  else if (domain.length > 253 || !DOMAIN.test(domain)) fields.domain = 'Not a DNS domain: use something like example.com';
  else if (str(o.name)) {
    const e = checkName(name, 'Name');
    if (e) fields.name = e;
  } else if (!DNS_SUBDOMAIN.test(name)) {
    fields.name = 'This domain does not make a valid object name: give a name (lowercase letters, digits, "-" and ".").';
  }
  if (o.join !== undefined && typeof o.join !== 'boolean') fields.join = 'join must be true or false.';
  if (Object.keys(fields).length) return { fields };
  return { fields, value: { domain, name, join: o.join === true } };
}
