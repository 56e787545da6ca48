/**
 * Hosts as URLs and listen specs write them: an IPv6 address comes in brackets (`[::1]`), which
 * isIP, TLS names, certificates and socket calls do not want.
 */

/** `[::1]` -> `::1`; anything else unchanged. */
export function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** The any-address a server listens on (`0.0.0.0`, `::`, `[::]`, empty): not a host anyone can call. */
export function isWildcardHost(host: string): boolean {
  return ['0.0.0.0', '::', ''].includes(stripBrackets(host));
}

/** The host of a URL without IPv6 brackets (URL.hostname keeps them). */
export function urlHost(url: string | URL): string {
  return stripBrackets((typeof url === 'string' ? new URL(url) : url).hostname);
}
