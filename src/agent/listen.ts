import type { Server } from 'node:net';

/** host:port parsing, accepting [v6]:port. */
export function parseListen(spec: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(spec) ?? /^([^:]+):(\d+)$/.exec(spec);
  if (!m) throw new Error(`listen address "${spec}" must be host:port or [v6]:port`);
  return { host: m[1]!, port: Number(m[2]) };
}

/**
 * Listen on host:port; when the port is taken and `fallback` is true, take a free port instead, so
 * that the agents of several clusters run side by side on one host without extra flags. The port
 * really used is returned (and logged by the caller).
 */
export async function listenWithFallback(server: Server, spec: string, fallback: boolean): Promise<{ host: string; port: number }> {
  const { host, port } = parseListen(spec);
  const attempt = (p: number) =>
    new Promise<number>((resolve, reject) => {
      const onError = (err: Error) => {
        server.off('listening', onListening);
        reject(err);
      };
      const onListening = () => {
        server.off('error', onError);
        const a = server.address();
        resolve(typeof a === 'object' && a ? a.port : p);
      };
      server.once('error', onError);
      server.once('listening', onListening);
      server.listen({ host, port: p });
    });
  try {
    return { host, port: await attempt(port) };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE' || !fallback || port === 0) throw e;
    return { host, port: await attempt(0) };
  }
}
