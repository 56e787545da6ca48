export { StreamingServer, type StreamingDeps } from './server.js';
export { DEFAULT_STREAMING_LIMITS, type StreamingLimits } from './limits.js';
export { isStreamingPath, parseStreamingPath } from './protocol.js';
