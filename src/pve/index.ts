/** The Proxmox VE API client. It imports nothing of MCP, so it can be used on its own. */
export {
  type ClusterResource,
  type GuestArea,
  type GuestFacts,
  type GuestRef,
  type GuestType,
  idAndName,
  kindOf,
  PveApi,
  splitTags,
  type Visibility,
} from './api.js';
export { parseApiToken, TicketAuth, TokenAuth } from './auth.js';
export {
  type CallOptions,
  type Interceptor,
  type Logger,
  PveClient,
  type PveClientOptions,
  RETRY_POLICIES,
  type RequestGuard,
  stderrLogger,
} from './client.js';
export { PveApiError, type PveErrorKind } from './errors.js';
export {
  isSuccess,
  parseUpid,
  plannedUpid,
  type TaskOutcome,
  TaskRef,
  type TaskRow,
  type Upid,
  type WaitOptions,
  watchNodeTasks,
} from './tasks.js';
export { normalizeFingerprint, type TlsOptions } from './tls.js';
