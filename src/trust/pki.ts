/**
 * Throwaway X.509 PKI: a CA and certificates it signs. Used for local control planes (CA, API
 * server serving cert, admin client cert), for the agent's webhook and dashboard serving certs, and
 * by tests that need a second, unrelated CA. ECDSA P-256 keeps generation in the milliseconds.
 */
import { webcrypto, X509Certificate, createHash } from 'node:crypto';
import { isIP } from 'node:net';
import type * as X509 from '@peculiar/x509';
import { stripBrackets } from '../net/hosts.js';

/**
 * @peculiar/x509 is loaded on first use: it costs ~120 ms at import, and the fingerprint helpers
 * here (used by the CLI and the trust store) do not need it. It resolves its ASN.1 schemas through
 * tsyringe, which needs the reflect-metadata polyfill loaded first.
 */
let x509Module: Promise<typeof X509> | undefined;
function loadX509(): Promise<typeof X509> {
  x509Module ??= import('reflect-metadata').then(async () => {
    const m = await import('@peculiar/x509');
    m.cryptoProvider.set(webcrypto as unknown as Crypto);
    return m;
  });
  return x509Module;
}

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

export interface KeyPairPem {
  certPem: string;
  keyPem: string;
}

export interface CertificateAuthority extends KeyPairPem {
  cert: X509.X509Certificate;
  keys: CryptoKeyPair;
}

export interface IssueOptions {
  commonName: string;
  organizations?: string[];
  /** DNS names and IP addresses (IPv4/IPv6) for the subjectAltName. */
  hosts?: string[];
  usage: 'server' | 'client' | 'both';
  days?: number;
}

function pemOfKey(pkcs8: ArrayBuffer): string {
  const b64 = Buffer.from(pkcs8).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN PRIVATE KEY-----\n${b64}\n-----END PRIVATE KEY-----\n`;
}

function serial(): string {
  // positive, 16 random bytes
  const b = webcrypto.getRandomValues(new Uint8Array(16));
  b[0] = (b[0]! & 0x7f) | 0x01;
  return Buffer.from(b).toString('hex');
}

function escapeRdn(value: string): string {
  return value.replace(/([,+"\\<>;=])/g, '\\$1');
}

async function generateKeys(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
}

/** OID of the X.509 name constraints extension (RFC 5280 4.2.1.10). */
export const NAME_CONSTRAINTS_OID = '2.5.29.30';

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
const tlv = (tag: number, value: Buffer) => Buffer.concat([Buffer.from([tag]), derLength(value.length), value]);

/** IPv4 or IPv6 address as bytes. */
function ipBytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split('.').map(Number));
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return Buffer.concat(groups.map((g) => Buffer.from([(parseInt(g, 16) >> 8) & 0xff, parseInt(g, 16) & 0xff])));
}

/**
 * The DER value of a name constraints extension that permits exactly `hosts`: each DNS name (and
 * its subdomains, as RFC 5280 defines a dNSName subtree) and each IP address (a /32 or /128). A CA
 * carrying it cannot issue a certificate a verifier accepts for any other name.
 */
export function nameConstraintsValue(hosts: string[]): Buffer {
  const subtrees = hosts.map((raw) => {
    const h = stripBrackets(raw);
    if (isIP(h)) {
      const addr = ipBytes(h);
      return tlv(0x30, tlv(0x87, Buffer.concat([addr, Buffer.alloc(addr.length, 0xff)]))); // [7] iPAddress: address + mask
    }
    return tlv(0x30, tlv(0x82, Buffer.from(h, 'ascii'))); // [2] dNSName
  });
  return tlv(0x30, tlv(0xa0, Buffer.concat(subtrees))); // NameConstraints { permittedSubtrees [0] }
}

/** Whether a certificate (PEM) carries a name constraints extension. */
export function hasNameConstraints(certPem: string): boolean {
  // The extension's OID as DER (06 03 55 1d 1e): enough to tell, with no ASN.1 parser at hand here.
  return new X509Certificate(certPem).raw.includes(Buffer.from([0x06, 0x03, 0x55, 0x1d, 0x1e]));
}

/**
 * A self-signed CA. With `permittedHosts`, it carries critical name constraints: it can sign
 * only for those names (see nameConstraintsValue).
 */
export async function createCA(commonName: string, days = 3650, permittedHosts?: string[]): Promise<CertificateAuthority> {
  const x509 = await loadX509();
  const keys = await generateKeys();
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${escapeRdn(commonName)}`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + days * DAY_MS),
    signingAlgorithm: ALG,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ...(permittedHosts?.length ? [new x509.Extension(NAME_CONSTRAINTS_OID, true, new Uint8Array(nameConstraintsValue(permittedHosts)))] : []),
    ],
  });
  const keyPem = pemOfKey(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return { cert, keys, certPem: cert.toString('pem') + '\n', keyPem };
}

/** A CA stored as PEM (certificate and PKCS#8 ECDSA P-256 key), ready to sign again. */
export async function caFromPem(certPem: string, keyPem: string): Promise<CertificateAuthority> {
  const x509 = await loadX509();
  const cert = new x509.X509Certificate(certPem);
  const der = Buffer.from(keyPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  const privateKey = (await webcrypto.subtle.importKey('pkcs8', der, { name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign'])) as unknown as CryptoKey;
  const publicKey = await cert.publicKey.export(webcrypto as unknown as Crypto);
  return { cert, keys: { privateKey, publicKey }, certPem, keyPem };
}

export async function issueCertificate(ca: CertificateAuthority, opts: IssueOptions): Promise<KeyPairPem> {
  const x509 = await loadX509();
  const keys = await generateKeys();
  const now = Date.now();
  const subject = [`CN=${escapeRdn(opts.commonName)}`, ...(opts.organizations ?? []).map((o) => `O=${escapeRdn(o)}`)].join(', ');
  const usages = opts.usage === 'server' ? [x509.ExtendedKeyUsage.serverAuth] : opts.usage === 'client' ? [x509.ExtendedKeyUsage.clientAuth] : [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth];
  const extensions: X509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
    new x509.ExtendedKeyUsageExtension(usages),
    await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
  ];
  const hosts = opts.hosts ?? [];
  if (hosts.length) {
    extensions.push(
      new x509.SubjectAlternativeNameExtension(hosts.map((h) => (isIP(stripBrackets(h)) ? { type: 'ip' as const, value: stripBrackets(h) } : { type: 'dns' as const, value: h }))),
    );
  }
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject,
    issuer: ca.cert.subject,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + (opts.days ?? 365) * DAY_MS),
    signingAlgorithm: ALG,
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    extensions,
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: pemOfKey(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)) };
}

/** An ECDSA key pair for signing service-account tokens: PKCS#8 private and SPKI public PEM. */
export async function createSigningKeyPair(): Promise<{ privatePem: string; publicPem: string }> {
  const keys = await generateKeys();
  const spki = Buffer.from(await webcrypto.subtle.exportKey('spki', keys.publicKey)).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return {
    privatePem: pemOfKey(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)),
    publicPem: `-----BEGIN PUBLIC KEY-----\n${spki}\n-----END PUBLIC KEY-----\n`,
  };
}

/** `sha256:<hex>` of a certificate's DER encoding: the form of `spec.caFingerprint` and DNS `ca=` pins. */
export function certificateFingerprint(pem: string | Buffer): string {
  const der = new X509Certificate(pem).raw;
  return `sha256:${createHash('sha256').update(der).digest('hex')}`;
}

/** Splits a PEM bundle into its certificates (ignores anything else). */
export function splitPemBundle(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)?.map((c) => c + '\n') ?? [];
}

/**
 * A new ECDSA P-256 key and a PKCS#10 certificate request for it (for the certificates.k8s.io CSR
 * API): subject CN and O, subjectAltName from `hosts` (IP addresses or DNS names).
 */
export async function createCertificateRequest(opts: { commonName: string; organizations?: string[]; hosts?: string[] }): Promise<{ csrPem: string; keyPem: string }> {
  const x509 = await loadX509();
  const keys = await generateKeys();
  const name = [`CN=${escapeRdn(opts.commonName)}`, ...(opts.organizations ?? []).map((o) => `O=${escapeRdn(o)}`)].join(', ');
  const hosts = opts.hosts ?? [];
  const extensions = hosts.length
    ? [new x509.SubjectAlternativeNameExtension(hosts.map((h) => (isIP(stripBrackets(h)) ? { type: 'ip' as const, value: stripBrackets(h) } : { type: 'dns' as const, value: h })))]
    : [];
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name, keys, signingAlgorithm: ALG, extensions });
  return { csrPem: csr.toString('pem') + '\n', keyPem: pemOfKey(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)) };
}
