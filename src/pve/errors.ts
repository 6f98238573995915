/**
 * One error type for everything the PVE API can answer, classified so callers can act on it:
 * a missing guest, a missing privilege, a lock, a stale digest, an unreachable node.
 */

export type PveErrorKind =
  | 'not_found'
  | 'already_exists'
  | 'bad_request'
  | 'auth'
  | 'permission'
  | 'locked'
  | 'not_running'
  | 'running'
  | 'conflict'
  | 'node_offline'
  /** The path names a node the cluster does not have (its address lookup failed). */
  | 'no_node'
  | 'transient'
  | 'timeout'
  /** The server's certificate is not trusted, or does not match the pinned fingerprint. */
  | 'tls'
  /** Any other refusal by a PVE handler (a 500 with a message). */
  | 'failed';

export interface PveApiErrorInit {
  status: number;
  method: string;
  path: string;
  message: string;
  errors?: Record<string, string>;
  kind?: PveErrorKind;
  /** The request may not have reached the server (safe to re-send). */
  notSent?: boolean;
  cause?: unknown;
}

export class PveApiError extends Error {
  readonly status: number;
  readonly method: string;
  readonly path: string;
  readonly kind: PveErrorKind;
  readonly errors?: Record<string, string>;
  /** For `permission`: the privilege and ACL path PVE named. */
  readonly privilege?: string;
  readonly permissionPath?: string;
  /** For `locked`: the lock the guest holds. */
  readonly lock?: string;
  readonly notSent: boolean;

  constructor(init: PveApiErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'PveApiError';
    this.status = init.status;
    this.method = init.method;
    this.path = init.path;
    this.errors = init.errors;
    this.notSent = init.notSent ?? false;
    this.kind = init.kind ?? classify(init.status, init.message, init.errors);
    const perm = /Permission check failed \(([^,]+), ([^)]+)\)/.exec(init.message);
    if (perm) {
      this.permissionPath = perm[1];
      this.privilege = perm[2];
    }
    const lock = /is locked \(([^)]+)\)/.exec(init.message);
    if (lock) this.lock = lock[1];
  }

  /** One line: status, request and PVE's message, with the per-parameter errors. */
  override toString(): string {
    const params = this.errors
      ? ` (${Object.entries(this.errors)
          .map(([k, v]) => `${k}: ${v}`)
          .join('; ')})`
      : '';
    return `${this.status} ${this.method} ${this.path}: ${this.message}${params}`;
  }
}

/** Classifies an answer by status and PVE's message texts (read from Proxmox's code). */
export function classify(
  status: number,
  message: string,
  errors?: Record<string, string>,
): PveErrorKind {
  const all = `${message} ${Object.values(errors ?? {}).join(' ')}`;
  if (status === 401) return 'auth';
  // PVE refuses a pool that does not exist as a permission failure (RPCEnvironment.pm check_pool_exist).
  if (status === 403 && /\(pool '[^']*' does not exist\)/.test(message)) return 'not_found';
  if (status === 403) return 'permission';
  if (status === 595 || status === 596) return 'node_offline';
  // pveproxy could not resolve the node named in the path: there is no such node.
  if (/^hostname lookup '[^']*' failed/.test(message)) return 'no_node';
  if (status === 408) return 'timeout';
  if (status === 502 || status === 503 || status === 504) return 'transient';
  if (/already exists/i.test(all)) return 'already_exists';
  if (
    /does not exist|no such (task|user|token|resource|cluster node|vm|ct|snapshot)|unable to find/i.test(
      all,
    )
  )
    return 'not_found';
  if (status === 400 || status === 501 || status === 413) return 'bad_request';
  if (/is locked \(/.test(all)) return 'locked';
  // QEMU says "checksum mismatch (file change by other user?)", containers "detected modified configuration".
  if (/detected modified configuration|checksum mismatch/.test(all)) return 'conflict';
  if (/\bnot running\b/i.test(all)) return 'not_running';
  if (/already running|\bis running\b|running container/i.test(all)) return 'running';
  if (/got timeout|timed out/i.test(all)) return 'timeout';
  // A 5xx without a message is a proxy or server failure, not a handler's refusal.
  if (status >= 500 && !message.trim()) return 'transient';
  return 'failed';
}
