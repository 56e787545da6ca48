/**
 * The kubelet's streaming protocols, as pure functions (docs: kubelet/cri/streaming in Kubernetes):
 * which request path and query mean what, protocol negotiation, the v4 error-stream Status, the
 * resize stream, and the WebSocket channel protocol (v4/v5.channel.k8s.io) we speak to the peer's
 * API server. No I/O here.
 */

/** SPDY stream protocols we serve: exec/attach speak v4 (JSON Status with exit codes on the error stream). */
export const EXEC_PROTOCOLS = ['v4.channel.k8s.io'] as const;
export const PORT_FORWARD_PROTOCOLS = ['portforward.k8s.io'] as const;
/** WebSocket subprotocols we ask the peer's API server for; v5 can half-close stdin. */
export const REMOTE_EXEC_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'];
export const REMOTE_PORT_FORWARD_PROTOCOLS = ['v4.channel.k8s.io'];

/** WebSocket channels (first byte of each binary message). */
export const Channel = { stdin: 0, stdout: 1, stderr: 2, error: 3, resize: 4, close: 255 } as const;

export type StreamingRoute =
  | { kind: 'exec' | 'attach'; namespace: string; pod: string; container: string; uid?: string }
  | { kind: 'portForward'; namespace: string; pod: string; uid?: string };

/** `/exec|attach/{ns}/{pod}[/{uid}]/{container}`, `/portForward/{ns}/{pod}[/{uid}]`; undefined otherwise. */
export function parseStreamingPath(path: string): StreamingRoute | undefined {
  let seg: string[];
  try {
    seg = path.split('/').slice(1).map((p) => decodeURIComponent(p));
  } catch {
    return undefined;
  }
  if (seg.some((s) => s === '')) return undefined;
  const [head, ns, pod] = seg;
  if (!ns || !pod) return undefined;
  if (head === 'exec' || head === 'attach') {
    if (seg.length === 4) return { kind: head, namespace: ns, pod, container: seg[3]! };
    if (seg.length === 5) return { kind: head, namespace: ns, pod, uid: seg[3]!, container: seg[4]! };
    return undefined;
  }
  if (head === 'portForward') {
    if (seg.length === 3) return { kind: 'portForward', namespace: ns, pod };
    if (seg.length === 4) return { kind: 'portForward', namespace: ns, pod, uid: seg[3]! };
  }
  return undefined;
}

export const isStreamingPath = (path: string) => /^\/(exec|attach|portForward)(\/|$)/.test(path);

export interface ExecOptions {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
  command: string[];
}

/** The kubelet's reading of the query (`input`, `output`, `error`, `tty` are "1"; `command` repeated). */
export function execOptions(kind: 'exec' | 'attach', params: URLSearchParams): ExecOptions | { error: string } {
  const flag = (k: string) => params.get(k) === '1';
  const tty = flag('tty');
  const stdin = flag('input');
  const stdout = flag('output');
  // As the kubelet: stderr goes into the terminal with a tty.
  const stderr = flag('error') && !tty;
  if (!stdin && !stdout && !stderr) return { error: 'you must specify at least 1 of stdin, stdout, stderr' };
  const command = params.getAll('command');
  if (kind === 'exec' && command.length === 0) return { error: 'you must specify a command' };
  if (command.length > 1024 || command.some((c) => c.length > 64 * 1024)) return { error: 'command too long' };
  return { stdin, stdout, stderr, tty, command: kind === 'exec' ? command : [] };
}

/** The query of `pods/<name>/exec|attach` on the peer's API server. */
export function remoteExecQuery(kind: 'exec' | 'attach', container: string, o: ExecOptions): string {
  const q = new URLSearchParams();
  q.set('container', container);
  q.set('stdin', String(o.stdin));
  q.set('stdout', String(o.stdout));
  q.set('stderr', String(o.stderr));
  q.set('tty', String(o.tty));
  if (kind === 'exec') for (const c of o.command) q.append('command', c);
  return q.toString();
}

/** The SPDY streams the client must open for these options, by streamtype. */
export function expectedStreams(o: ExecOptions): string[] {
  return ['error', ...(o.stdin ? ['stdin'] : []), ...(o.stdout ? ['stdout'] : []), ...(o.stderr ? ['stderr'] : []), ...(o.tty ? ['resize'] : [])];
}

/** Client protocols from `X-Stream-Protocol-Version` (repeated or comma-separated). */
export function clientProtocols(header: string | string[] | undefined): string[] {
  const values = Array.isArray(header) ? header : header ? [header] : [];
  return values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
}

/** The first protocol of the client's that we serve (the client lists its preference first). */
export function negotiate(client: string[], server: readonly string[]): string | undefined {
  return client.find((p) => server.includes(p));
}

export const negotiationError = (client: string[], server: readonly string[]) =>
  `unable to upgrade: unable to negotiate protocol: client supports [${client.join(' ')}], server supports [${server.join(' ')}]`;

/** v4 error stream: the kubelet's Status for success. */
export const SUCCESS_STATUS = '{"metadata":{},"status":"Success"}';

/** v4 error stream: the kubelet's Status for a failure that is not the command's (apierrors.NewInternalError). */
export function internalErrorStatus(message: string): string {
  return JSON.stringify({ metadata: {}, status: 'Failure', message: `Internal error occurred: ${message}`, reason: 'InternalError', details: { causes: [{ message }] }, code: 500 });
}

/** v4 error stream: the kubelet's Status for a command that exited with `code`. */
export function exitCodeStatus(code: number, detail: string): string {
  return JSON.stringify({
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: ${detail}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
  });
}

export interface TerminalSize {
  Width: number;
  Height: number;
}

/** The resize stream: JSON TerminalSize objects, one after the other (Go's json.Encoder: newline-terminated). */
export class ResizeDecoder {
  private buf = '';
  push(chunk: Buffer): TerminalSize[] {
    this.buf += chunk.toString('utf8');
    if (this.buf.length > 4096) {
      // Not a size: drop it rather than grow.
      this.buf = '';
      return [];
    }
    const out: TerminalSize[] = [];
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl).trim();
      this.buf = this.buf.slice(nl + 1);
      if (!line) continue;
      try {
        const v = JSON.parse(line) as Partial<TerminalSize>;
        if (Number.isInteger(v.Width) && Number.isInteger(v.Height) && v.Width! >= 0 && v.Height! >= 0 && v.Width! < 65536 && v.Height! < 65536) out.push({ Width: v.Width!, Height: v.Height! });
      } catch {
        // A malformed size is ignored, as the kubelet logs and skips it.
      }
    }
    return out;
  }
}

/** One binary WebSocket message on `channel`. */
export function channelMessage(channel: number, data: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([Buffer.from([channel]), data]);
}

/** v5 close signal: the client will send no more on `channel`. */
export const closeSignal = (channel: number) => Buffer.from([Channel.close, channel]);

/** The port-forward error text of the kubelet (kubelet/cri/streaming/portforward/httpstream.go). */
export const portForwardError = (port: number | string, pod: string, uid: string, err: string) => `error forwarding port ${port} to pod ${pod}, uid ${uid}: ${err}`;

/** A port-forward stream's headers: the pair it belongs to and its port. */
export function portForwardHeaders(h: Record<string, string>): { type: 'data' | 'error'; requestID: string; port: number } | { error: string } {
  const type = h['streamtype'];
  if (type !== 'data' && type !== 'error') return { error: `invalid stream type "${String(type).slice(0, 40)}"` };
  const requestID = h['requestid'];
  if (requestID === undefined || requestID.length > 64) return { error: 'missing or invalid requestID' };
  const port = Number(h['port']);
  if (!/^\d{1,5}$/.test(h['port'] ?? '') || port < 1 || port > 65535) return { error: `invalid port "${String(h['port']).slice(0, 40)}"` };
  return { type, requestID, port };
}
