/** The cluster ID checks live in src/api/clusterIDInput.ts (shared with the dashboard). */
export { damagedUUID, isClusterID } from '../api/clusterIDInput.js';
