/** The kubelet streaming protocols' pure parts, as the kubelet reads and writes them. */
import { describe, expect, it } from 'vitest';
import {
  clientProtocols,
  EXEC_PROTOCOLS,
  execOptions,
  expectedStreams,
  exitCodeStatus,
  internalErrorStatus,
  negotiate,
  negotiationError,
  parseStreamingPath,
  portForwardHeaders,
  remoteExecQuery,
  ResizeDecoder,
  SUCCESS_STATUS,
} from '../../../src/offloading/consumer/streaming/protocol.js';

describe('kubelet streaming protocols', () => {
  it('reads the kubelet paths of exec, attach and port-forward, with and without the pod UID', () => {
    expect(parseStreamingPath('/exec/ns/pod/main')).toEqual({ kind: 'exec', namespace: 'ns', pod: 'pod', container: 'main' });
    expect(parseStreamingPath('/attach/ns/pod/uid-1/main')).toEqual({ kind: 'attach', namespace: 'ns', pod: 'pod', uid: 'uid-1', container: 'main' });
    expect(parseStreamingPath('/portForward/ns/pod')).toEqual({ kind: 'portForward', namespace: 'ns', pod: 'pod' });
    for (const bad of ['/exec/ns/pod', '/exec//pod/c', '/portForward/ns', '/run/ns/pod/c', '/exec/ns/pod/%zz']) expect(parseStreamingPath(bad), bad).toBeUndefined();
  });

  it('reads the flags as the kubelet does ("1" only; no stderr with a tty) and asks B for the same', () => {
    const q = new URLSearchParams('command=sh&command=-c&command=echo+hi&input=1&output=1&error=1&tty=1');
    const o = execOptions('exec', q);
    expect(o).toEqual({ stdin: true, stdout: true, stderr: false, tty: true, command: ['sh', '-c', 'echo hi'] });
    expect(expectedStreams(o as never)).toEqual(['error', 'stdin', 'stdout', 'resize']);
    expect(remoteExecQuery('exec', 'main', o as never)).toBe('container=main&stdin=true&stdout=true&stderr=false&tty=true&command=sh&command=-c&command=echo+hi');
    expect(execOptions('exec', new URLSearchParams('command=true&output=true'))).toEqual({ error: 'you must specify at least 1 of stdin, stdout, stderr' });
    expect(execOptions('exec', new URLSearchParams('output=1'))).toEqual({ error: 'you must specify a command' });
    expect(execOptions('attach', new URLSearchParams('output=1&command=ignored'))).toMatchObject({ command: [] });
  });

  it('negotiates v4 from the API server\'s list, and refuses a client without it with the kubelet\'s words', () => {
    const offered = clientProtocols(['v4.channel.k8s.io, v3.channel.k8s.io', 'v2.channel.k8s.io']);
    expect(negotiate(offered, EXEC_PROTOCOLS)).toBe('v4.channel.k8s.io');
    expect(negotiate(['v3.channel.k8s.io'], EXEC_PROTOCOLS)).toBeUndefined();
    expect(negotiationError(['v3.channel.k8s.io'], EXEC_PROTOCOLS)).toBe('unable to upgrade: unable to negotiate protocol: client supports [v3.channel.k8s.io], server supports [v4.channel.k8s.io]');
  });

  it('writes the v4 error-stream Status JSON as the kubelet does', () => {
    expect(JSON.parse(SUCCESS_STATUS)).toEqual({ metadata: {}, status: 'Success' });
    expect(JSON.parse(exitCodeStatus(3, 'error executing command [sh -c exit 3], exit code 3'))).toEqual({
      metadata: {},
      status: 'Failure',
      message: 'command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3',
      reason: 'NonZeroExitCode',
      details: { causes: [{ reason: 'ExitCode', message: '3' }] },
    });
    expect(JSON.parse(internalErrorStatus('boom'))).toMatchObject({ status: 'Failure', reason: 'InternalError', code: 500, message: 'Internal error occurred: boom' });
  });

  it('reads terminal sizes from the resize stream in any chunking, and skips malformed ones', () => {
    const d = new ResizeDecoder();
    expect(d.push(Buffer.from('{"Width":80,"Hei'))).toEqual([]);
    expect(d.push(Buffer.from('ght":24}\n{"Width":-1,"Height":3}\nnot json\n{"Width":100,"Height":40}\n'))).toEqual([
      { Width: 80, Height: 24 },
      { Width: 100, Height: 40 },
    ]);
  });

  it('reads a port-forward stream\'s headers', () => {
    expect(portForwardHeaders({ streamtype: 'data', port: '8080', requestid: '0' })).toEqual({ type: 'data', requestID: '0', port: 8080 });
    expect(portForwardHeaders({ streamtype: 'data', port: '0', requestid: '0' })).toHaveProperty('error');
    expect(portForwardHeaders({ streamtype: 'stdin', port: '80', requestid: '0' })).toHaveProperty('error');
    expect(portForwardHeaders({ streamtype: 'error', port: '80' })).toHaveProperty('error');
  });
});
