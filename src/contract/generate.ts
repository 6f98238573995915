/**
 * Generates src/contract/data.ts from Proxmox VE's official API schema (../shared/pve-api/).
 * The schema is AGPL test data and never shipped; what we commit is this reduced contract for
 * the operations we use. Run: npm run contract [-- --check]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type {
  AsyncKind,
  ContractOperation,
  HttpMethod,
  ParamSpec,
  ParamType,
  Permissions,
  ReturnSpec,
} from './types.js';

export const SCHEMA_VERSIONS = ['8.4.2', '9.1.3', '9.2'] as const;
const PRIMARY = '9.1.3';

/** The operations this project implements or calls, with how each answers (see ASYNC.md). */
const OPERATIONS: [`${HttpMethod} /${string}`, AsyncKind][] = [
  ['GET /version', 'sync'],
  ['GET /cluster/status', 'sync'],
  ['GET /cluster/resources', 'sync'],
  ['GET /cluster/nextid', 'sync'],
  ['GET /cluster/tasks', 'sync'],
  ['GET /cluster/ha/resources', 'sync'],
  ['GET /cluster/ha/resources/{sid}', 'sync'],
  ['GET /cluster/ha/status/current', 'sync'],
  ['GET /nodes', 'sync'],
  ['GET /nodes/{node}/status', 'sync'],
  ['GET /nodes/{node}/rrddata', 'sync'],
  ['GET /nodes/{node}/network', 'sync'],
  ['GET /nodes/{node}/tasks', 'sync'],
  ['GET /nodes/{node}/tasks/{upid}/status', 'sync'],
  ['GET /nodes/{node}/tasks/{upid}/log', 'sync'],
  ['DELETE /nodes/{node}/tasks/{upid}', 'sync'],
  ['GET /nodes/{node}/qemu', 'sync'],
  ['POST /nodes/{node}/qemu', 'upid'],
  ['DELETE /nodes/{node}/qemu/{vmid}', 'upid'],
  ['GET /nodes/{node}/qemu/{vmid}/status/current', 'sync'],
  ['POST /nodes/{node}/qemu/{vmid}/status/start', 'upid'],
  ['POST /nodes/{node}/qemu/{vmid}/status/stop', 'upid'],
  ['POST /nodes/{node}/qemu/{vmid}/status/shutdown', 'upid'],
  ['POST /nodes/{node}/qemu/{vmid}/status/reboot', 'upid'],
  ['POST /nodes/{node}/qemu/{vmid}/status/reset', 'upid'],
  ['POST /nodes/{node}/qemu/{vmid}/status/suspend', 'upid'],
  ['POST /nodes/{node}/qemu/{vmid}/status/resume', 'upid'],
  ['GET /nodes/{node}/qemu/{vmid}/config', 'sync'],
  ['POST /nodes/{node}/qemu/{vmid}/config', 'upid-or-null'],
  ['PUT /nodes/{node}/qemu/{vmid}/config', 'sync'],
  ['GET /nodes/{node}/qemu/{vmid}/pending', 'sync'],
  ['POST /nodes/{node}/qemu/{vmid}/clone', 'upid'],
  ['POST /nodes/{node}/qemu/{vmid}/migrate', 'upid'],
  ['POST /nodes/{node}/qemu/{vmid}/template', 'upid'],
  ['PUT /nodes/{node}/qemu/{vmid}/resize', 'upid'],
  ['GET /nodes/{node}/qemu/{vmid}/rrddata', 'sync'],
  ['GET /nodes/{node}/qemu/{vmid}/snapshot', 'sync'],
  ['POST /nodes/{node}/qemu/{vmid}/snapshot', 'upid'],
  ['GET /nodes/{node}/qemu/{vmid}/snapshot/{snapname}/config', 'sync'],
  ['PUT /nodes/{node}/qemu/{vmid}/snapshot/{snapname}/config', 'sync'],
  ['POST /nodes/{node}/qemu/{vmid}/snapshot/{snapname}/rollback', 'upid'],
  ['DELETE /nodes/{node}/qemu/{vmid}/snapshot/{snapname}', 'upid'],
  ['POST /nodes/{node}/qemu/{vmid}/agent/ping', 'sync'],
  ['GET /nodes/{node}/qemu/{vmid}/agent/info', 'sync'],
  ['GET /nodes/{node}/qemu/{vmid}/agent/get-osinfo', 'sync'],
  ['GET /nodes/{node}/qemu/{vmid}/agent/network-get-interfaces', 'sync'],
  ['POST /nodes/{node}/qemu/{vmid}/agent/exec', 'sync'],
  ['GET /nodes/{node}/qemu/{vmid}/agent/exec-status', 'sync'],
  ['GET /nodes/{node}/lxc', 'sync'],
  ['POST /nodes/{node}/lxc', 'upid'],
  ['DELETE /nodes/{node}/lxc/{vmid}', 'upid'],
  ['GET /nodes/{node}/lxc/{vmid}/status/current', 'sync'],
  ['POST /nodes/{node}/lxc/{vmid}/status/start', 'upid'],
  ['POST /nodes/{node}/lxc/{vmid}/status/stop', 'upid'],
  ['POST /nodes/{node}/lxc/{vmid}/status/shutdown', 'upid'],
  ['POST /nodes/{node}/lxc/{vmid}/status/reboot', 'upid'],
  ['POST /nodes/{node}/lxc/{vmid}/status/suspend', 'upid'],
  ['POST /nodes/{node}/lxc/{vmid}/status/resume', 'upid'],
  ['GET /nodes/{node}/lxc/{vmid}/config', 'sync'],
  ['PUT /nodes/{node}/lxc/{vmid}/config', 'sync'],
  ['GET /nodes/{node}/lxc/{vmid}/pending', 'sync'],
  ['POST /nodes/{node}/lxc/{vmid}/clone', 'upid'],
  ['POST /nodes/{node}/lxc/{vmid}/migrate', 'upid'],
  ['POST /nodes/{node}/lxc/{vmid}/template', 'task-no-upid'],
  ['PUT /nodes/{node}/lxc/{vmid}/resize', 'upid'],
  ['GET /nodes/{node}/lxc/{vmid}/rrddata', 'sync'],
  ['GET /nodes/{node}/lxc/{vmid}/interfaces', 'sync'],
  ['GET /nodes/{node}/lxc/{vmid}/snapshot', 'sync'],
  ['POST /nodes/{node}/lxc/{vmid}/snapshot', 'upid'],
  ['GET /nodes/{node}/lxc/{vmid}/snapshot/{snapname}/config', 'sync'],
  ['PUT /nodes/{node}/lxc/{vmid}/snapshot/{snapname}/config', 'sync'],
  ['POST /nodes/{node}/lxc/{vmid}/snapshot/{snapname}/rollback', 'upid'],
  ['DELETE /nodes/{node}/lxc/{vmid}/snapshot/{snapname}', 'upid'],
  ['GET /nodes/{node}/storage', 'sync'],
  ['GET /nodes/{node}/storage/{storage}/status', 'sync'],
  ['GET /nodes/{node}/storage/{storage}/content', 'sync'],
  ['DELETE /nodes/{node}/storage/{storage}/content/{volume}', 'upid-or-null'],
  ['POST /nodes/{node}/vzdump', 'upid-or-ok'],
  ['GET /pools', 'sync'],
  ['GET /pools/{poolid}', 'sync'],
  ['GET /access/ticket', 'sync'],
  ['POST /access/ticket', 'sync'],
  ['GET /access/permissions', 'sync'],
  ['GET /access/users', 'sync'],
  ['GET /access/users/{userid}', 'sync'],
  ['GET /access/users/{userid}/token', 'sync'],
  ['GET /access/users/{userid}/token/{tokenid}', 'sync'],
  ['GET /access/acl', 'sync'],
  ['GET /access/roles', 'sync'],
];

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
  if (['string', 'number', 'boolean'].includes(typeof raw.default)) spec.default = raw.default;
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

export function buildContract(dir = schemaDir()) {
  const schemas = new Map(SCHEMA_VERSIONS.map((v) => [v, loadSchema(v, dir)]));
  const operations: ContractOperation[] = OPERATIONS.map(([key, async]) => {
    const versions = SCHEMA_VERSIONS.filter((v) => schemas.get(v)?.has(key));
    const source = versions.includes(PRIMARY) ? PRIMARY : versions[versions.length - 1];
    if (!source) throw new Error(`${key} is in none of the official schemas`);
    const info = schemas.get(source)?.get(key);
    const [method, path] = key.split(' ') as [HttpMethod, string];
    const op: ContractOperation = {
      method,
      path,
      name: String(info.name ?? ''),
      params: Object.fromEntries(
        Object.entries((info.parameters?.properties ?? {}) as Record<string, Raw>).map(
          ([name, p]) => [name, param(p)],
        ),
      ),
      additionalProperties: Boolean(info.parameters?.additionalProperties),
      allowtoken: info.allowtoken !== 0,
      returns: returns(info.returns),
      async,
      versions: [...versions],
    };
    if (info.proxyto) op.proxyto = String(info.proxyto);
    const perms = permissions(info.permissions);
    if (perms) op.permissions = perms;
    if (info.protected) op.protected = true;
    return op;
  });
  return { source: PRIMARY, operations };
}

export function renderContract(contract: ReturnType<typeof buildContract>): string {
  return [
    '// Generated by src/contract/generate.ts from the official Proxmox VE API schema. Do not edit.',
    "import type { Contract } from './types.js';",
    '',
    `export const contract: Contract = ${JSON.stringify(contract)};`,
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
export function renderApiTypes(contract: ReturnType<typeof buildContract>): string {
  const params = contract.operations.map((op) => `  '${op.method} ${op.path}': ${paramsType(op)};`);
  const results = contract.operations.map(
    (op) => `  '${op.method} ${op.path}': ${returnsType(op.returns)};`,
  );
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
  types: fileURLToPath(new URL('./api-types.ts', import.meta.url)),
};

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const contract = buildContract();
  const outputs: [string, string][] = [
    [targets.data, renderContract(contract)],
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
