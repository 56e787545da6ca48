/**
 * The zone records that make this cluster discoverable by DNS (`kubepeer dns records --domain D`):
 * both browse layouts (PTR at the domain, as in the Liqo docs, and PTR at _liqo._tcp.<domain>, as
 * RFC 6763 browsers expect), SRV, TXT, and A/AAAA when we know the address. Pure: input in, bind9
 * zone text out, so the output can be tested by loading it into a real named.
 */
import { isIP, isIPv6 } from 'node:net';
import {
  LIQO_SERVICE_TYPE,
  DEFAULT_NAMESPACE,
  MAX_TXT_BYTES,
  MAX_TXT_STRING_BYTES,
  TxtKeys,
  clusterIDProblem,
  clusterNameProblem,
  namespaceProblem,
  normalizeCAPin,
  stripTrailingDot,
  toFqdn,
} from '../../mdns/index.js';
import { domainProblem } from './names.js';

export interface PublishInput {
  /** The domain peers will browse, e.g. `example.com`. */
  domain: string;
  /** The instance label, e.g. `liqo-cluster` -> `liqo-cluster._liqo._tcp.example.com.`. */
  instanceName: string;
  clusterID: string;
  /** Agent namespace (default liqo). */
  namespace?: string;
  clusterName?: string;
  /** `https://host:port` of the API server as peers must reach it. */
  apiUrl: string;
  /** `sha256:<64 hex>` pin of our CA. */
  caFingerprint?: string;
  /** Addresses of the API server name, when apiUrl holds a name and the zone should carry them. */
  addresses?: string[];
  /** TTL of every record, seconds (default 300). */
  ttl?: number;
}

export type DnsRecordsReason =
  | 'InvalidDomain'
  | 'InvalidInstanceName'
  | 'InvalidClusterID'
  | 'InvalidNamespace'
  | 'InvalidClusterName'
  | 'InvalidApiUrl'
  | 'InvalidCAPin'
  | 'InvalidAddress'
  | 'InvalidTTL'
  | 'TXTTooLarge';

export class DnsRecordsError extends Error {
  override readonly name = 'DnsRecordsError';
  constructor(
    readonly reason: DnsRecordsReason,
    message: string,
  ) {
    super(message);
  }
}

/** A plain label keeps the records readable and survives every DNS tool (RFC 6763 allows more). */
const INSTANCE_LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

export function publishRecords(input: PublishInput): string {
  const domainBad = domainProblem(input.domain);
  if (domainBad) throw new DnsRecordsError('InvalidDomain', `domain "${input.domain}" is not valid: ${domainBad}`);
  const domain = toFqdn(input.domain).toLowerCase();
  if (!INSTANCE_LABEL.test(input.instanceName)) {
    throw new DnsRecordsError('InvalidInstanceName', `instance name "${input.instanceName}" must be one DNS label: letters, digits and "-", at most 63 characters`);
  }
  const idBad = clusterIDProblem(input.clusterID);
  if (idBad) throw new DnsRecordsError('InvalidClusterID', `cluster ID ${idBad}`);
  const namespace = input.namespace ?? DEFAULT_NAMESPACE;
  const nsBad = namespaceProblem(namespace);
  if (nsBad) throw new DnsRecordsError('InvalidNamespace', `namespace ${nsBad}`);
  if (input.clusterName !== undefined) {
    const nameBad = clusterNameProblem(input.clusterName);
    if (nameBad) throw new DnsRecordsError('InvalidClusterName', `cluster name is not usable: ${nameBad}`);
  }
  let ca: string | undefined;
  if (input.caFingerprint !== undefined) {
    const pin = normalizeCAPin(input.caFingerprint);
    if (!pin.ok) throw new DnsRecordsError('InvalidCAPin', `CA fingerprint ${pin.problem}`);
    ca = pin.value;
  }
  const ttl = input.ttl ?? 300;
  if (!Number.isInteger(ttl) || ttl < 0 || ttl > 2147483647) throw new DnsRecordsError('InvalidTTL', `TTL ${ttl} is not a number of seconds`);

  const api = parseApiUrl(input.apiUrl);
  const instance = `${input.instanceName}.${LIQO_SERVICE_TYPE}.${domain}`;
  let target: string;
  const addresses = new Set<string>();
  let targetNote: string;
  if (api.ip) {
    // SRV targets are names (RFC 2782), so an IP-literal URL gets a name made up inside the domain.
    target = `${input.instanceName.toLowerCase()}-api.${domain}`;
    if (target.split('.')[0]!.length > 63) {
      throw new DnsRecordsError('InvalidInstanceName', `instance name "${input.instanceName}" is too long to derive the API server name ${target}; use at most 59 characters`);
    }
    addresses.add(api.ip);
    targetNote = `Address of ${target} (the API server URL uses an IP address, so this name was made up for the SRV target).`;
  } else {
    target = toFqdn(api.host).toLowerCase();
    targetNote = `Address of the API server name ${target}.`;
  }
  for (const a of input.addresses ?? []) {
    if (!isIP(a)) throw new DnsRecordsError('InvalidAddress', `"${a}" is not an IPv4 or IPv6 address`);
    addresses.add(a);
  }

  const txt = [`${TxtKeys.clusterID}=${input.clusterID}`, `${TxtKeys.namespace}=${namespace}`];
  if (input.clusterName !== undefined) txt.push(`${TxtKeys.clusterName}=${input.clusterName}`);
  if (ca !== undefined) txt.push(`${TxtKeys.ca}=${ca}`);
  let total = 0;
  for (const s of txt) {
    const bytes = Buffer.byteLength(s);
    if (bytes > MAX_TXT_STRING_BYTES) throw new DnsRecordsError('TXTTooLarge', `TXT entry "${s.slice(0, 30)}..." is ${bytes} bytes, more than ${MAX_TXT_STRING_BYTES}`);
    total += bytes + 1;
  }
  if (total > MAX_TXT_BYTES) throw new DnsRecordsError('TXTTooLarge', `the TXT record would be ${total} bytes, more than ${MAX_TXT_BYTES}`);

  const targetInZone = target === domain || target.endsWith(`.${domain}`);
  const rows: [string, string, string][] = [
    [domain, 'PTR', instance],
    [`${LIQO_SERVICE_TYPE}.${domain}`, 'PTR', instance],
    [instance, 'SRV', `0 0 ${api.port} ${target}`],
    [instance, 'TXT', txt.map(quoteTxt).join(' ')],
  ];
  const addressRows: [string, string, string][] = [...addresses].map((a) => [target, isIPv6(a) ? 'AAAA' : 'A', a]);
  const width = Math.max(...[...rows, ...addressRows].map((r) => r[0].length));
  const line = ([owner, type, data]: [string, string, string]): string => `${owner.padEnd(width)} ${String(ttl).padStart(6)} IN ${type.padEnd(5)} ${data}`;

  const who = input.clusterName ? `${input.clusterName} (${input.clusterID})` : input.clusterID;
  const out = [
    `; kubepeer: DNS records that make cluster ${who} discoverable in ${domain}`,
    `; Paste them into the zone file of ${domain} on its primary name server, increase the SOA serial`,
    `; and reload the zone (e.g. rndc reload ${stripTrailingDot(domain)}). Names are absolute, so $ORIGIN does not matter.`,
    `; Other clusters find this one with: kubepeer domain add ${stripTrailingDot(domain)}`,
    ';',
    '; Browse lists. Keep the PTR records already at these names: each one lists one cluster.',
    `;   ${domain} is the layout of the Liqo documentation, ${LIQO_SERVICE_TYPE}.${domain} the RFC 6763 one.`,
    ';   bind9 9.18.28+ serves at most 100 records per name and type unless max-records-per-type is raised.',
    line(rows[0]!),
    line(rows[1]!),
    '; The API server (SRV priority weight port target) and the cluster identity (TXT).',
    line(rows[2]!),
    line(rows[3]!),
  ];
  if (addressRows.length === 0) {
    out.push(`; ${target} must resolve to the API server (A/AAAA or CNAME) where it is published.`);
  } else if (targetInZone) {
    out.push(`; ${targetNote}`, ...addressRows.map(line));
  } else {
    // Out-of-zone data would be ignored by the server; show it for the zone where it belongs.
    out.push(`; ${target} is outside ${domain}: publish these in the zone that holds it.`, ...addressRows.map((r) => `; ${line(r)}`));
  }
  return `${out.join('\n')}\n`;
}

function parseApiUrl(apiUrl: string): { host: string; ip?: string; port: number } {
  let url: URL;
  try {
    url = new URL(apiUrl);
  } catch {
    throw new DnsRecordsError('InvalidApiUrl', `API server URL "${apiUrl}" is not a URL (expected https://host:port)`);
  }
  if (url.protocol !== 'https:') throw new DnsRecordsError('InvalidApiUrl', `API server URL "${apiUrl}" must use https`);
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash || url.username || url.password) {
    throw new DnsRecordsError('InvalidApiUrl', `API server URL "${apiUrl}" must be only https://host:port (an SRV record cannot carry a path or credentials)`);
  }
  const port = url.port === '' ? 443 : Number(url.port);
  const bare = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  if (isIP(bare)) return { host: bare, ip: bare, port };
  const hostBad = domainProblem(bare);
  if (hostBad) throw new DnsRecordsError('InvalidApiUrl', `API server host "${bare}" is not a DNS name: ${hostBad}`);
  return { host: bare, port };
}

/** One TXT character-string in zone-file syntax: quotes, backslashes and non-printables escaped. */
function quoteTxt(value: string): string {
  let out = '"';
  for (const byte of Buffer.from(value, 'utf8')) {
    if (byte === 0x22 || byte === 0x5c) out += `\\${String.fromCharCode(byte)}`;
    else if (byte >= 0x20 && byte < 0x7f) out += String.fromCharCode(byte);
    else out += `\\${String(byte).padStart(3, '0')}`;
  }
  return `${out}"`;
}
