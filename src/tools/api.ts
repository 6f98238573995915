/**
 * The `api` toolset: the whole Proxmox VE API in two tools. One finds operations; the other calls
 * any of them, its parameters checked against the contract and its request under the same rails
 * as every other tool's (the client resolves and checks what it touches on the way out).
 */
import { z } from 'zod';
import type { ContractOperation, HttpMethod } from '../contract/types.js';
import { type AnyTool, defineTool, ok } from './define.js';
import { rowsTable } from './render.js';

const METHODS = ['GET', 'POST', 'PUT', 'DELETE'] as const;
const PAGE = 50;
// Past this, a page's text is cut; its structured content keeps the page whole.
const MAX_TEXT = 16_000;

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const scalar = (v: unknown) => v === null || ['string', 'number', 'boolean'].includes(typeof v);

/** Only the named fields of an object, or of each object of a list. */
function select(data: unknown, fields: string[] | undefined): unknown {
  if (!fields?.length) return data;
  const pick = (o: unknown) =>
    isRecord(o) ? Object.fromEntries(fields.filter((f) => f in o).map((f) => [f, o[f]])) : o;
  return Array.isArray(data) ? data.map(pick) : pick(data);
}

/** An answer as text: a table for flat rows, a line per item or per key otherwise. */
function render(data: unknown): string {
  if (Array.isArray(data)) {
    const keys = new Set(data.flatMap((row) => (isRecord(row) ? Object.keys(row) : [])));
    const flat = data.every((row) => isRecord(row) && Object.values(row).every(scalar));
    if (flat && keys.size && keys.size <= 10) return rowsTable(data as Record<string, unknown>[]);
    // Lines of text (a journal) read as they are.
    return data.map((row) => (typeof row === 'string' ? row : JSON.stringify(row))).join('\n');
  }
  if (isRecord(data))
    return Object.entries(data)
      .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join('\n');
  return data === null || data === undefined ? 'null' : JSON.stringify(data);
}

const apiRequest = defineTool({
  name: 'proxmox_api_request',
  title: 'Proxmox API request',
  description:
    'Calls any operation of the Proxmox VE API by method and path below /api2/json (e.g. GET /nodes/pve1/qemu/100/firewall/rules); proxmox_api_search finds them. Parameters are checked against the API before sending. Returns the answer; an array is paged (limit, default 50, and offset), and fields keeps only the named keys.',
  toolset: 'api',
  access: 'destructive',
  raw: true,
  targets: (a) => ({ request: a }),
  input: z.object({
    method: z.enum(METHODS),
    path: z.string().regex(/^\/[\w@!.:%\-/{}=,+~]*$/, 'a path below /api2/json, starting with /'),
    params: z
      .record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.array(z.string())]))
      .optional(),
    fields: z.array(z.string()).optional(),
    limit: z.coerce.number().int().min(1).max(1000).optional(),
    offset: z.coerce.number().int().min(0).optional(),
  }),
  output: z.object({
    method: z.string(),
    path: z.string(),
    data: z.unknown(),
    total: z.number().optional(),
    offset: z.number().optional(),
    upid: z.string().optional(),
  }),
  async run(args, ctx) {
    const { method, path } = args;
    const answer = await ctx.pve.client.request(method, path, args.params ?? {}, {
      signal: ctx.signal,
    });
    const data = select(answer.data, args.fields);
    const head = `${method} ${path}`;
    if (Array.isArray(data)) {
      const offset = args.offset ?? 0;
      const page = data.slice(offset, offset + (args.limit ?? PAGE));
      // PVE's own `total` counts what it has, beyond what it sent (syslog, task lists).
      const total = answer.total ?? data.length;
      const end = offset + page.length;
      const more = end < data.length ? `; next page: offset=${end}` : '';
      const text = `${head}: ${page.length ? `items ${offset + 1}-${end}` : 'no items'} of ${total}${more}\n${render(page)}`;
      return ok({ method, path, data: page, total, offset }, cut(text));
    }
    // A task started: its id, for proxmox_wait_task.
    if (typeof data === 'string' && data.startsWith('UPID:'))
      return ok(
        { method, path, data, upid: data },
        `${head}: started task ${data}; proxmox_wait_task follows it.`,
      );
    return ok({ method, path, data }, cut(`${head}:\n${render(data)}`));
  },
});

const cut = (text: string) =>
  text.length > MAX_TEXT
    ? `${text.slice(0, MAX_TEXT)}\n… cut at ${MAX_TEXT} characters: narrow with fields or limit (the structured content holds the whole page).`
    : text;

/** One operation's parameters as `name (type)`; path parameters are part of the path. */
function paramList(op: ContractOperation, optional: boolean, max: number): string {
  const names = Object.entries(op.params)
    .filter(([name, spec]) => Boolean(spec.optional) === optional && !op.path.includes(`{${name}}`))
    .map(([name, spec]) => {
      const type = spec.enum
        ? spec.enum.length <= 6
          ? spec.enum.join('|')
          : `${spec.type}, one of ${spec.enum.length}`
        : typeof spec.format === 'string'
          ? `${spec.type}, ${spec.format}`
          : spec.format
            ? `${spec.type}, property string`
            : spec.type;
      return `${name} (${type})`;
    });
  return names.length > max
    ? `${names.slice(0, max).join(', ')} and ${names.length - max} more`
    : names.join(', ');
}

const TASK: Record<ContractOperation['async'], string> = {
  sync: '',
  upid: 'task',
  'upid-or-null': 'task or null',
  'upid-or-ok': 'task or OK',
  'task-no-upid': 'task, no id',
};

const apiSearch = defineTool({
  name: 'proxmox_api_search',
  title: 'Search the Proxmox API',
  description:
    'Finds Proxmox VE API operations by words, a path or path fragment, or a method (e.g. "firewall rules vm", "/cluster/sdn", "DELETE pool"). Returns for each: method, path, a summary, required and optional parameters with types, whether it runs as a task, the privileges it checks, and the versions that have it.',
  toolset: 'api',
  access: 'read',
  input: z.object({
    query: z.string().min(1).max(200),
    method: z.enum(METHODS).optional(),
    limit: z.coerce.number().int().min(1).max(20).optional(),
  }),
  output: z.object({
    operations: z.array(
      z.object({
        method: z.string(),
        path: z.string(),
        summary: z.string(),
        required: z.array(z.string()),
        optional: z.array(z.string()),
        task: z.boolean(),
        privileges: z.string(),
        versions: z.array(z.string()),
      }),
    ),
  }),
  async run(args) {
    const { searchOperations, privileges, versions } = await import('../contract/search.js');
    const found = searchOperations(
      args.query,
      args.limit ?? 5,
      args.method as HttpMethod | undefined,
    );
    if (!found.length)
      return ok(
        { operations: [] },
        `No operation of the Proxmox VE API matches "${args.query}". Try fewer or other words, or a path fragment such as /nodes/{node}/disks.`,
      );
    // One result gets every optional parameter; several get the first few each.
    const max = found.length === 1 ? 500 : 8;
    const operations = found.map((op) => ({
      method: op.method,
      path: op.path,
      summary: op.summary,
      required: Object.keys(op.params).filter(
        (n) => !op.params[n]?.optional && !op.path.includes(`{${n}}`),
      ),
      optional: Object.keys(op.params).filter((n) => op.params[n]?.optional),
      task: op.async !== 'sync',
      privileges: privileges(op),
      versions: op.versions,
    }));
    const text = found
      .map((op) => {
        const required = paramList(op, false, 500);
        const optional = paramList(op, true, max);
        return [
          `${op.method} ${op.path}: ${op.summary}${op.async === 'sync' ? '' : ` (runs as a ${TASK[op.async]})`}`,
          `  needs: ${privileges(op)}${op.versions.length < versions.length ? `; only in PVE ${op.versions.join(', ')}` : ''}`,
          required && `  required: ${required}`,
          optional && `  optional: ${optional}`,
        ]
          .filter(Boolean)
          .join('\n');
      })
      .join('\n');
    return ok({ operations }, text);
  },
});

export const apiTools: AnyTool[] = [apiSearch, apiRequest];
