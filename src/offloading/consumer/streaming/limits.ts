/** Limits of the streaming endpoints (per session, per stream, per relay). */
export interface StreamingLimits {
  /** The client must open all its streams within this time (the kubelet's streamCreationTimeout). */
  streamCreationTimeoutMs: number;
  /** No byte either way for this long ends a relay (the kubelet's streamIdleTimeout is 4 h). */
  idleTimeoutMs: number;
  /** Dialing the peer's API server (TCP, TLS, upgrade). */
  dialTimeoutMs: number;
  /** Largest WebSocket message accepted from the peer. */
  maxMessageBytes: number;
  /** Bytes queued towards the peer before we stop reading the client's stream. */
  maxBufferedBytes: number;
  /** Unread bytes a SPDY stream may hold before the session stops reading its socket. */
  maxBufferedPerStream: number;
  /** Port-forward connections open at once on one session (each is two SPDY streams). */
  maxPortForwardConnections: number;
  /** SPDY sessions open at once on this endpoint. */
  maxSessions: number;
}

export const DEFAULT_STREAMING_LIMITS: StreamingLimits = {
  streamCreationTimeoutMs: 30_000,
  idleTimeoutMs: 4 * 60 * 60 * 1000,
  dialTimeoutMs: 15_000,
  maxMessageBytes: 4 * 1024 * 1024,
  maxBufferedBytes: 1024 * 1024,
  maxBufferedPerStream: 1024 * 1024,
  maxPortForwardConnections: 128,
  maxSessions: 256,
};
