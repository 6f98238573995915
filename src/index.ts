/** proxmox-mcp as a library: the server factory, its configuration, and the PVE API client. */
export { loadConfig } from './config/load.js';
export { type Config, configSchema } from './config/schema.js';
export * from './pve/index.js';
export { createServer, type ServerDeps, serverFactory } from './server/create.js';
export { buildDeps, closeDeps } from './server/deps.js';
export { VERSION } from './version.js';
