/**
 * A SPDY/3.1 server subset, enough for the Kubernetes streaming protocols (exec, attach,
 * port-forward as the API server speaks them to a kubelet). See README.md.
 *
 * Why not the `spdy` / `spdy-transport` npm packages (latest 4.0.2 and 3.0.0, checked with
 * `npm view`): they are a client-and-server HTTP-over-SPDY stack that hooks into Node's http
 * internals (`handle-thing`, `http-deceiver`), pull in readable-stream@3, hpack.js, obuf and wbuf,
 * have seen no feature work for years, and enforce send windows, which stalls a stream at 64 KiB
 * against moby/spdystream (the Go library of kube-apiserver and kubectl never sends WINDOW_UPDATE).
 * We need only the server side of raw streams; the subset here is a few hundred lines, with a pure
 * codec that can be fuzzed without a network.
 */
export { SPDY3_DICTIONARY } from './dictionary.js';
export { decodeHeaderBlock, encodeHeaderBlock, HeaderBlockError, HeaderCompressor, HeaderDecompressor, type SpdyHeaders } from './headers.js';
export {
  encodeFrame,
  FrameDecoder,
  FrameType,
  GoAwayStatus,
  RstStatus,
  SessionError,
  SettingsId,
  StreamError,
  SPDY_VERSION,
  MAX_FRAME_LENGTH,
  type DecodeEvent,
  type DecoderLimits,
  type Frame,
} from './frames.js';
export { SpdySession, SpdyStream, type SessionOptions } from './session.js';
export { acceptSpdyUpgrade, isSpdyUpgrade } from './upgrade.js';
