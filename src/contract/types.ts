/**
 * The shape of the API contract: every operation of Proxmox VE's official API schema, reduced to
 * what validation, the rails and search need (no descriptions).
 */

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export type ParamType = 'string' | 'integer' | 'number' | 'boolean' | 'array' | 'object' | 'null';

export interface ParamSpec {
  type: ParamType;
  optional?: true;
  /** A named PVE format (`pve-node`, `pve-vmid`, ...) or an inline property-string format. */
  format?: string | Record<string, ParamSpec>;
  enum?: string[];
  /** A JavaScript translation of the schema's Perl pattern, to be anchored as `^(?:...)$`. */
  pattern?: string;
  patternIgnoreCase?: true;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  default?: string | number | boolean;
  /** In a property-string format: the key that may be given without `key=`. */
  default_key?: true;
  /** In a property-string format: this key is another name for the named key. */
  alias?: string;
  items?: ParamSpec;
}

export interface ReturnSpec {
  type: ParamType | 'any';
  optional?: true;
  /** Object properties, or the properties of each item of an array. */
  properties?: Record<string, { type: ParamType | 'any'; optional?: true }>;
  items?: ReturnSpec;
}

/** A permission check as PVE's schema writes it, e.g. `['perm', '/vms/{vmid}', ['VM.Audit']]`. */
export type PermCheck =
  | ['perm', string, string[]]
  | ['perm', string, string[], 'any' | 'require', ...unknown[]]
  | ['and' | 'or', ...PermCheck[]]
  | ['userid-param', 'self' | 'Realm.AllocateUser']
  | ['userid-group', string[], ...unknown[]]
  | [string, ...unknown[]];

export interface Permissions {
  check?: PermCheck;
  /** `all`: any authenticated user; `world`: no authentication needed. */
  user?: 'all' | 'world';
}

/**
 * How the operation answers: synchronously, or with the id (UPID) of a task it started.
 * `upid-or-null`: POST qemu config and volume delete, null when done within their delay.
 * `upid-or-ok`: vzdump, or the literal string `OK` when there was nothing to do here.
 * `task-no-upid`: LXC template, a task runs but the response is null.
 */
export const ASYNC_KINDS = ['sync', 'upid', 'upid-or-null', 'upid-or-ok', 'task-no-upid'] as const;
export type AsyncKind = (typeof ASYNC_KINDS)[number];

export interface ContractOperation {
  method: HttpMethod;
  /** Path template below /api2/json, e.g. `/nodes/{node}/qemu/{vmid}/status/start`. */
  path: string;
  /** The handler's name in PVE (`vm_start`). */
  name: string;
  /** One line on what it does, derived from the method and path (contract/summary.ts). */
  summary: string;
  params: Record<string, ParamSpec>;
  additionalProperties: boolean;
  allowtoken: boolean;
  /** `node`: pveproxy forwards the call to the node named in the path. */
  proxyto?: string;
  permissions?: Permissions;
  /** `true` for operations that need the CSRF token and may not be called with GET. */
  protected?: true;
  returns: ReturnSpec;
  async: AsyncKind;
  /** The official schema versions this operation appears in. */
  versions: string[];
}

export interface Contract {
  /** The schema version the parameters were taken from. */
  source: string;
  /** The official schema versions read, oldest first. */
  versions: string[];
  operations: ContractOperation[];
}

/** Bits of an encoded operation's flags. */
export const FLAG = { additionalProperties: 1, noToken: 2, protected: 4, proxyNode: 8 } as const;

/**
 * One operation as committed: `METHOD /path`, handler name, summary, parameters (name → index into
 * `params`), index into `returns`, FLAG bits, a bit per schema version (in `versions` order), index
 * into ASYNC_KINDS, index into `permissions` or -1.
 */
export type EncodedOperation = [
  string,
  string,
  string,
  Record<string, number>,
  number,
  number,
  number,
  number,
  number,
];

/** The committed form of the contract: shared specs stored once, named by index. */
export interface ContractData {
  source: string;
  versions: string[];
  params: ParamSpec[];
  returns: ReturnSpec[];
  permissions: Permissions[];
  operations: EncodedOperation[];
}
