/**
 * Generates src/contract/data.ts from Proxmox VE's official API schema (../shared/pve-api/).
 * The schema is AGPL test data and never shipped; what we commit is reduced to what validation,
 * the rails and search need: every operation's method, path, parameters, answer shape, task kind,
 * privileges and versions, without any of the schema's description text.
 * Run: npm run contract [-- --check]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { summarize } from './summary.js';
import {
  ASYNC_KINDS,
  type AsyncKind,
  type Contract,
  type ContractData,
  type ContractOperation,
  type EncodedOperation,
  FLAG,
  type HttpMethod,
  type ParamSpec,
  type ParamType,
  type Permissions,
  type ReturnSpec,
} from './types.js';

export const SCHEMA_VERSIONS: readonly string[] = ['8.4.2', '9.1.3', '9.2'];
const PRIMARY = '9.1.3';

/**
 * The operations the product's own code calls through typed keys: only these get TypeScript types
 * (api-types.ts). The contract itself holds every operation of the schema.
 */
const TYPED: string[] = [
  'GET /version',
  'GET /cluster/status',
  'GET /cluster/resources',
  'GET /cluster/nextid',
  'GET /cluster/tasks',
  'GET /cluster/ha/resources',
  'GET /cluster/ha/resources/{sid}',
  'GET /cluster/ha/status/current',
  'GET /nodes',
  'GET /nodes/{node}/status',
  'GET /nodes/{node}/rrddata',
  'GET /nodes/{node}/network',
  'GET /nodes/{node}/tasks',
  'GET /nodes/{node}/tasks/{upid}/status',
  'GET /nodes/{node}/tasks/{upid}/log',
  'DELETE /nodes/{node}/tasks/{upid}',
  'POST /nodes/{node}/startall',
  'POST /nodes/{node}/stopall',
  'POST /nodes/{node}/suspendall',
  'POST /nodes/{node}/migrateall',
  'GET /cluster/options',
  ...guestOps('qemu'),
  'POST /nodes/{node}/qemu/{vmid}/status/reset',
  'POST /nodes/{node}/qemu/{vmid}/config',
  'POST /nodes/{node}/qemu/{vmid}/agent/ping',
  'GET /nodes/{node}/qemu/{vmid}/agent/info',
  'GET /nodes/{node}/qemu/{vmid}/agent/get-osinfo',
  'GET /nodes/{node}/qemu/{vmid}/agent/network-get-interfaces',
  'POST /nodes/{node}/qemu/{vmid}/agent/exec',
  'GET /nodes/{node}/qemu/{vmid}/agent/exec-status',
  ...guestOps('lxc'),
  'GET /nodes/{node}/lxc/{vmid}/interfaces',
  'GET /nodes/{node}/storage',
  'GET /nodes/{node}/storage/{storage}/status',
  'GET /nodes/{node}/storage/{storage}/content',
  'DELETE /nodes/{node}/storage/{storage}/content/{volume}',
  'POST /nodes/{node}/vzdump',
  'GET /pools',
  'GET /pools/{poolid}',
  'GET /access/ticket',
  'POST /access/ticket',
  'GET /access/permissions',
  'GET /access/users',
  'GET /access/users/{userid}',
  'GET /access/users/{userid}/token',
  'GET /access/users/{userid}/token/{tokenid}',
  'GET /access/acl',
  'GET /access/roles',
];

/** What both guest types share among the typed operations. */
function guestOps(type: 'qemu' | 'lxc'): string[] {
  const base = `/nodes/{node}/${type}`;
  const guest = `${base}/{vmid}`;
  return [
    `GET ${base}`,
    `POST ${base}`,
    `DELETE ${guest}`,
    `GET ${guest}/status/current`,
    ...['start', 'stop', 'shutdown', 'reboot', 'suspend', 'resume'].map(
      (a) => `POST ${guest}/status/${a}`,
    ),
    `GET ${guest}/config`,
    `PUT ${guest}/config`,
    `GET ${guest}/pending`,
    `POST ${guest}/clone`,
    `POST ${guest}/migrate`,
    `POST ${guest}/template`,
    `PUT ${guest}/resize`,
    `GET ${guest}/rrddata`,
    `GET ${guest}/snapshot`,
    `POST ${guest}/snapshot`,
    `GET ${guest}/snapshot/{snapname}/config`,
    `PUT ${guest}/snapshot/{snapname}/config`,
    `POST ${guest}/snapshot/{snapname}/rollback`,
    `DELETE ${guest}/snapshot/{snapname}`,
  ];
}

/**
 * Operations that run as a task, read from Proxmox's own code (../shared/pve-api/ASYNC.md); every
 * other operation answers synchronously. `(a|b)` stands for alternative segments.
 */
const ASYNC: [string, AsyncKind][] = [
  ['POST /nodes/{node}/(qemu|lxc)', 'upid'],
  ['DELETE /nodes/{node}/(qemu|lxc)/{vmid}', 'upid'],
  ['POST /nodes/{node}/qemu/{vmid}/config', 'upid-or-null'],
  [
    'POST /nodes/{node}/(qemu|lxc)/{vmid}/status/(start|stop|shutdown|reboot|suspend|resume)',
    'upid',
  ],
  ['POST /nodes/{node}/qemu/{vmid}/status/reset', 'upid'],
  ['POST /nodes/{node}/(qemu|lxc)/{vmid}/(clone|migrate|remote_migrate)', 'upid'],
  ['POST /nodes/{node}/qemu/{vmid}/move_disk', 'upid'],
  ['POST /nodes/{node}/lxc/{vmid}/move_volume', 'upid'],
  ['PUT /nodes/{node}/(qemu|lxc)/{vmid}/resize', 'upid'],
  ['POST /nodes/{node}/(qemu|lxc)/{vmid}/snapshot', 'upid'],
  ['POST /nodes/{node}/(qemu|lxc)/{vmid}/snapshot/{snapname}/rollback', 'upid'],
  ['DELETE /nodes/{node}/(qemu|lxc)/{vmid}/snapshot/{snapname}', 'upid'],
  ['POST /nodes/{node}/qemu/{vmid}/template', 'upid'],
  ['POST /nodes/{node}/lxc/{vmid}/template', 'task-no-upid'],
  ['POST /nodes/{node}/vzdump', 'upid-or-ok'],
  ['POST /nodes/{node}/(startall|stopall|suspendall|migrateall)', 'upid'],
  ['POST /nodes/{node}/aplinfo', 'upid'],
  ['POST /nodes/{node}/apt/update', 'upid'],
  ['PUT /nodes/{node}/network', 'upid'],
  ['POST /nodes/{node}/services/{service}/(start|stop|restart|reload)', 'upid'],
  ['DELETE /nodes/{node}/storage/{storage}/content/{volume}', 'upid-or-null'],
  ['POST /nodes/{node}/storage/{storage}/content/{volume}', 'upid'],
  ['POST /nodes/{node}/storage/{storage}/(upload|download-url|oci-registry-pull)', 'upid'],
  ['DELETE /nodes/{node}/storage/{storage}/prunebackups', 'upid'],
  ['POST /nodes/{node}/disks/initgpt', 'upid'],
  ['PUT /nodes/{node}/disks/wipedisk', 'upid'],
  ['POST /nodes/{node}/disks/(directory|lvm|lvmthin|zfs)', 'upid'],
  ['DELETE /nodes/{node}/disks/(directory|lvm|lvmthin|zfs)/{name}', 'upid'],
  ['(POST|PUT|DELETE) /nodes/{node}/certificates/acme/certificate', 'upid'],
  ['POST /cluster/acme/account', 'upid'],
  ['(PUT|DELETE) /cluster/acme/account/{name}', 'upid'],
  ['POST /access/domains/{realm}/sync', 'upid'],
  ['POST /cluster/config', 'upid'],
  ['POST /cluster/config/join', 'upid'],
  ['PUT /cluster/sdn', 'upid'],
  ['POST /cluster/bulk-action/guest/(start|shutdown|suspend|migrate)', 'upid'],
  ['POST /nodes/{node}/ceph/(start|stop|restart)', 'upid'],
  ['(POST|DELETE) /nodes/{node}/ceph/mon/{monid}', 'upid'],
  ['(POST|DELETE) /nodes/{node}/ceph/mgr/{id}', 'upid'],
  ['(POST|DELETE) /nodes/{node}/ceph/mds/{name}', 'upid'],
  ['POST /nodes/{node}/ceph/osd', 'upid'],
  ['DELETE /nodes/{node}/ceph/osd/{osdid}', 'upid'],
  ['POST /nodes/{node}/ceph/pool', 'upid'],
  ['(PUT|DELETE) /nodes/{node}/ceph/pool/{name}', 'upid'],
  ['(POST|DELETE) /nodes/{node}/ceph/fs/{name}', 'upid'],
  ['PUT /cluster/ceph/flags', 'upid'],
];

/** Expands `(a|b)` alternatives into every key they stand for. */
export function expandKey(pattern: string): string[] {
  const m = /\(([^)]+)\)/.exec(pattern);
  if (!m) return [pattern];
  return (m[1] as string).split('|').flatMap((alt) => expandKey(pattern.replace(m[0], alt)));
}

export const asyncKinds = (): Map<string, AsyncKind> =>
  new Map(ASYNC.flatMap(([pattern, kind]) => expandKey(pattern).map((key) => [key, kind])));

// biome-ignore lint/suspicious/noExplicitAny: the raw schema is untyped JSON
type Raw = any;

export function schemaDir(): string {
  return (
    process.env.PVE_API_DIR ?? fileURLToPath(new URL('../../../shared/pve-api/', import.meta.url))
  );
}

/** Indexes one schema file as `METHOD path` → operation info. */
export function loadSchema(version: string, dir = schemaDir()): Map<string, Raw> {
  const tree: Raw[] = JSON.parse(readFileSync(`${dir}/pve-${version}.json`, 'utf8'));
  const index = new Map<string, Raw>();
  const walk = (node: Raw) => {
    for (const [method, info] of Object.entries(node.info ?? {})) {
      index.set(`${method} ${node.path}`, info);
    }
    for (const child of node.children ?? []) walk(child);
  };
  for (const node of tree) walk(node);
  return index;
}

/**
 * Perl regex syntax the schema uses that JavaScript spells differently. A case-insensitive group
 * `(?^i:...)` makes the whole pattern case-insensitive: Node 20 has no inline modifiers.
 */
export function perlToJsPattern(
  pattern: string,
): { source: string; ignoreCase: boolean } | undefined {
  const ignoreCase = pattern.includes('(?^i:');
  const source = pattern.replace(/\(\?\^i?:/g, '(?:').replace(/\{,(\d+)\}/g, '{0,$1}');
  try {
    new RegExp(`^(?:${source})$`);
    return { source, ignoreCase };
  } catch {
    return undefined;
  }
}

const TYPES = new Set<ParamType>(['string', 'integer', 'number', 'boolean', 'array', 'object']);

/**
 * Whether a schema default is a value: some are prose ("same as user", "current connected node"),
 * which is the schema's text, not data, and is left out.
 */
function isDefault(type: ParamType, value: unknown): value is string | number | boolean {
  if (typeof value === 'number' || typeof value === 'boolean') return true;
  if (typeof value !== 'string') return false;
  if (type === 'integer' || type === 'number') return /^-?\d+(?:\.\d+)?$/.test(value);
  return !/[A-Za-z]+ [a-z]+ [a-z]+/.test(value);
}

function param(raw: Raw): ParamSpec {
  const type: ParamType = TYPES.has(raw.type) ? raw.type : 'string';
  const spec: ParamSpec = { type };
  if (raw.optional) spec.optional = true;
  if (typeof raw.format === 'string') spec.format = raw.format;
  else if (raw.format && typeof raw.format === 'object') {
    spec.format = Object.fromEntries(
      Object.entries(raw.format as Record<string, Raw>).map(([key, sub]) => [
        key,
        sub.alias ? { type: 'string', optional: true, alias: sub.alias } : param(sub),
      ]),
    );
  }
  if (Array.isArray(raw.enum)) spec.enum = raw.enum.map(String);
  if (typeof raw.pattern === 'string') {
    const pattern = perlToJsPattern(raw.pattern);
    if (pattern) spec.pattern = pattern.source;
    if (pattern?.ignoreCase) spec.patternIgnoreCase = true;
  }
  for (const key of ['minimum', 'maximum', 'minLength', 'maxLength'] as const) {
    if (typeof raw[key] === 'number') spec[key] = raw[key];
  }
  if (isDefault(type, raw.default)) spec.default = raw.default;
  if (raw.default_key) spec.default_key = true;
  if (raw.items && typeof raw.items === 'object') spec.items = param(raw.items);
  return spec;
}

function returns(raw: Raw): ReturnSpec {
  if (!raw || typeof raw !== 'object') return { type: 'any' };
  const type = TYPES.has(raw.type) || raw.type === 'null' ? raw.type : 'any';
  const spec: ReturnSpec = { type };
  if (raw.optional) spec.optional = true;
  if (raw.properties && typeof raw.properties === 'object') {
    spec.properties = Object.fromEntries(
      Object.entries(raw.properties as Record<string, Raw>).map(([key, p]) => {
        const t = TYPES.has(p.type) || p.type === 'null' ? p.type : 'any';
        return [key, p.optional ? { type: t, optional: true as const } : { type: t }];
      }),
    );
  }
  if (raw.items) spec.items = returns(raw.items);
  return spec;
}

function permissions(raw: Raw): Permissions | undefined {
  if (!raw) return undefined;
  const out: Permissions = {};
  if (Array.isArray(raw.check)) out.check = raw.check;
  if (raw.user === 'all' || raw.user === 'world') out.user = raw.user;
  return out.check || out.user ? out : undefined;
}

/** Every operation of the official schemas, newest parameters first, marked with its versions. */
export function buildContract(dir = schemaDir()): Contract {
  const schemas = new Map(SCHEMA_VERSIONS.map((v) => [v, loadSchema(v, dir)]));
  const kinds = asyncKinds();
  const keys = new Set<string>();
  for (const v of [PRIMARY, ...SCHEMA_VERSIONS])
    for (const key of schemas.get(v)?.keys() ?? []) keys.add(key);
  for (const key of [...TYPED, ...kinds.keys()])
    if (!keys.has(key)) throw new Error(`${key} is in none of the official schemas`);
  const operations = [...keys].map((key): ContractOperation => {
    const versions = SCHEMA_VERSIONS.filter((v) => schemas.get(v)?.has(key));
    const source = versions.includes(PRIMARY) ? PRIMARY : (versions.at(-1) as string);
    const info = schemas.get(source)?.get(key);
    const [method, path] = key.split(' ') as [HttpMethod, string];
    const op: ContractOperation = {
      method,
      path,
      name: String(info.name ?? ''),
      summary: '',
      params: Object.fromEntries(
        Object.entries((info.parameters?.properties ?? {}) as Record<string, Raw>).map(
          ([name, p]) => [name, param(p)],
        ),
      ),
      additionalProperties: Boolean(info.parameters?.additionalProperties),
      allowtoken: info.allowtoken !== 0,
      returns: returns(info.returns),
      async: kinds.get(key) ?? 'sync',
      versions: [...versions],
    };
    op.summary = summarize(method, path, op.returns.type === 'array');
    if (info.proxyto) op.proxyto = String(info.proxyto);
    const perms = permissions(info.permissions);
    if (perms) op.permissions = perms;
    if (info.protected) op.protected = true;
    return op;
  });
  return { source: PRIMARY, versions: [...SCHEMA_VERSIONS], operations };
}

/**
 * The committed form: each distinct parameter, answer and permission spec is written once and
 * named by its index, which keeps the whole API to a few hundred kilobytes.
 */
export function encodeContract(contract: Contract): ContractData {
  const tables = {
    params: new Table<ParamSpec>(),
    returns: new Table<ReturnSpec>(),
    permissions: new Table<Permissions>(),
  };
  const operations = contract.operations.map((op): EncodedOperation => {
    const flags =
      (op.additionalProperties ? FLAG.additionalProperties : 0) |
      (op.allowtoken ? 0 : FLAG.noToken) |
      (op.protected ? FLAG.protected : 0) |
      (op.proxyto === 'node' ? FLAG.proxyNode : 0);
    const versions = op.versions.reduce((mask, v) => mask | (1 << contract.versions.indexOf(v)), 0);
    return [
      `${op.method} ${op.path}`,
      op.name,
      op.summary,
      Object.fromEntries(
        Object.entries(op.params).map(([name, spec]) => [name, tables.params.add(spec)]),
      ),
      tables.returns.add(op.returns),
      flags,
      versions,
      op.async === 'sync' ? 0 : ASYNC_KINDS.indexOf(op.async),
      op.permissions ? tables.permissions.add(op.permissions) : -1,
    ];
  });
  return {
    source: contract.source,
    versions: contract.versions,
    params: tables.params.items,
    returns: tables.returns.items,
    permissions: tables.permissions.items,
    operations,
  };
}

/** Distinct values in first-seen order, by their JSON. */
class Table<T> {
  readonly items: T[] = [];
  private readonly index = new Map<string, number>();
  add(value: T): number {
    const json = JSON.stringify(value);
    let i = this.index.get(json);
    if (i === undefined) {
      i = this.items.push(value) - 1;
      this.index.set(json, i);
    }
    return i;
  }
}

/**
 * The committed files: the operations the product calls (data.ts, loaded with the first request)
 * and the rest of the API (data-rest.ts, loaded by what builds requests at run time).
 */
export function renderContract(contract: Contract, part: 'core' | 'rest'): string {
  const core = part === 'core';
  const operations = contract.operations.filter(
    (op) => TYPED.includes(`${op.method} ${op.path}`) === core,
  );
  return [
    '// Generated by src/contract/generate.ts from the official Proxmox VE API schema. Do not edit.',
    "import type { ContractData } from './types.js';",
    '',
    `export const ${core ? 'data' : 'rest'}: ContractData = ${JSON.stringify(encodeContract({ ...contract, operations }))};`,
    '',
  ].join('\n');
}

const quote = (key: string) => (/^[A-Za-z_$][\w$]*$/.test(key) ? key : `'${key}'`);

function tsType(spec: { type: string; enum?: string[] }): string {
  if (spec.enum?.length) return spec.enum.map((e) => `'${e}'`).join(' | ');
  switch (spec.type) {
    case 'integer':
    case 'number':
      return 'number';
    // PVE sends booleans as 0/1.
    case 'boolean':
      return 'number';
    case 'string':
      return 'string';
    case 'array':
      return 'unknown[]';
    case 'object':
      return 'Record<string, unknown>';
    case 'null':
      return 'null';
    default:
      return 'unknown';
  }
}

function paramsType(op: ContractOperation): string {
  const lines: string[] = [];
  for (const [name, spec] of Object.entries(op.params)) {
    const input =
      spec.type === 'boolean'
        ? 'boolean'
        : spec.type === 'array'
          ? 'string[]'
          : spec.enum
            ? tsType(spec)
            : spec.type === 'integer' || spec.type === 'number'
              ? 'number'
              : 'string';
    if (name.endsWith('[n]'))
      lines.push(`    [key: \`${name.slice(0, -3)}\${number}\`]: ${input} | undefined;`);
    else lines.push(`    ${quote(name)}${spec.optional ? '?' : ''}: ${input};`);
  }
  return lines.length ? `{\n${lines.join('\n')}\n  }` : 'Record<string, never>';
}

function returnsType(spec: ReturnSpec, indent = '  '): string {
  if (spec.type === 'array')
    return spec.items ? `Array<${returnsType(spec.items, indent)}>` : 'unknown[]';
  if (spec.type === 'object' && spec.properties) {
    const lines = Object.entries(spec.properties).map(
      ([name, p]) => `${indent}  ${quote(name)}${p.optional ? '?' : ''}: ${tsType(p)};`,
    );
    return `{\n${lines.join('\n')}\n${indent}}`;
  }
  return spec.type === 'any' ? 'unknown' : tsType(spec);
}

/** TypeScript types for every operation's parameters and answer, keyed `METHOD /path`. */
export function renderApiTypes(contract: Contract): string {
  const typed = contract.operations.filter((op) => TYPED.includes(`${op.method} ${op.path}`));
  const params = typed.map((op) => `  '${op.method} ${op.path}': ${paramsType(op)};`);
  const results = typed.map((op) => `  '${op.method} ${op.path}': ${returnsType(op.returns)};`);
  return [
    '// Generated by src/contract/generate.ts from the official Proxmox VE API schema. Do not edit.',
    '',
    '/** Parameters of each operation (path parameters included), as the client sends them. */',
    'export interface ApiParams {',
    ...params,
    '}',
    '',
    '/** What each operation answers in `data`, numbers normalised (booleans are 0/1). */',
    'export interface ApiReturns {',
    ...results,
    '}',
    '',
    'export type ApiOperation = keyof ApiReturns;',
    '',
  ].join('\n');
}

const targets = {
  data: fileURLToPath(new URL('./data.ts', import.meta.url)),
  rest: fileURLToPath(new URL('./data-rest.ts', import.meta.url)),
  types: fileURLToPath(new URL('./api-types.ts', import.meta.url)),
};

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const contract = buildContract();
  const outputs: [string, string][] = [
    [targets.data, renderContract(contract, 'core')],
    [targets.rest, renderContract(contract, 'rest')],
    [targets.types, renderApiTypes(contract)],
  ];
  for (const [target, text] of outputs) {
    if (process.argv.includes('--check')) {
      if (readFileSync(target, 'utf8') !== text) {
        console.error(`${target} is out of date: run npm run contract`);
        process.exit(1);
      }
    } else {
      writeFileSync(target, text);
      console.error(`wrote ${target} (${text.length} bytes)`);
    }
  }
}
