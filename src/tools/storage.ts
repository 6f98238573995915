/** Storage: the storages of the cluster, their use, and the volumes on them. */
import { z } from 'zod';
import type { ClusterResource } from '../pve/index.js';
import { cursor, limit, node, pageFields, pageNote, paginate, ToolError, vmid } from './common.js';
import { type AnyTool, defineTool, ok, type ToolContext } from './define.js';
import { bytes, percent, table } from './render.js';

const storageRow = z.object({
  storage: z.string(),
  node: z.string().describe("A node name, or 'shared' for storage all nodes see"),
  type: z.string(),
  content: z.array(z.string()),
  status: z.string(),
  used: z.number().optional(),
  total: z.number().optional(),
});
type StorageRow = z.infer<typeof storageRow>;

/** Storage rows from one /cluster/resources call; a shared storage once, as node 'shared'. */
const storageRows = async (ctx: ToolContext): Promise<StorageRow[]> =>
  storageRowsOf(await ctx.pve.cluster.resources('storage', { signal: ctx.signal }));

/** The storage rows of /cluster/resources rows: a shared storage once, as node 'shared'. */
export function storageRowsOf(resources: ClusterResource[]): StorageRow[] {
  const rows: StorageRow[] = [];
  const seen = new Set<string>();
  for (const r of resources) {
    if (r.type !== 'storage') continue;
    const shared = r.shared === 1;
    if (shared && seen.has(r.storage ?? '')) continue;
    if (shared) seen.add(r.storage ?? '');
    rows.push({
      storage: r.storage ?? '',
      node: shared ? 'shared' : (r.node ?? ''),
      type: r.plugintype ?? '',
      content: (r.content ?? '').split(',').filter(Boolean),
      status: r.status ?? 'unknown',
      used: r.disk,
      total: r.maxdisk,
    });
  }
  return rows.sort((a, b) => a.storage.localeCompare(b.storage) || a.node.localeCompare(b.node));
}

const storageTable = (rows: StorageRow[]) =>
  table(rows, [
    ['STORAGE', (r) => r.storage],
    ['NODE', (r) => r.node],
    ['TYPE', (r) => r.type],
    [
      'USED',
      (r) =>
        r.total ? `${bytes(r.used)}/${bytes(r.total)} ${percent((r.used ?? 0) / r.total)}` : '',
    ],
    ['CONTENT', (r) => r.content.join(',')],
    ['STATUS', (r) => r.status],
  ]);

const listStorage = defineTool({
  name: 'proxmox_list_storage',
  title: 'List storage',
  description:
    'Lists storages of the cluster (or of one node) with type, content kinds, use and status.',
  toolset: 'core',
  access: 'read',
  input: z.object({ node: node.optional().describe('Only storage available on this node') }),
  output: z.object({ storages: z.array(storageRow) }),
  async run(args, ctx) {
    const rows = (await storageRows(ctx)).filter(
      (r) => !args.node || r.node === args.node || r.node === 'shared',
    );
    return ok({ storages: rows }, rows.length ? storageTable(rows) : 'No storage found.');
  },
});

const getStorageUsage = defineTool({
  name: 'proxmox_get_storage_usage',
  title: 'Storage usage',
  description:
    'Returns how full a storage is (used, free, total), per node for node-local storage.',
  toolset: 'core',
  access: 'read',
  input: z.object({ storage: z.string().min(1), node: node.optional() }),
  output: z.object({
    storage: z.string(),
    usage: z.array(
      storageRow.extend({ free: z.number().optional(), usedFraction: z.number().optional() }),
    ),
  }),
  async run(args, ctx) {
    const rows = (await storageRows(ctx)).filter(
      (r) =>
        r.storage === args.storage && (!args.node || r.node === args.node || r.node === 'shared'),
    );
    if (!rows.length)
      throw new ToolError(
        `No storage '${args.storage}'${args.node ? ` on ${args.node}` : ''}. List storages with proxmox_list_storage.`,
      );
    const usage = rows.map((r) => ({
      ...r,
      free: r.total === undefined ? undefined : r.total - (r.used ?? 0),
      usedFraction: r.total ? (r.used ?? 0) / r.total : undefined,
    }));
    const text = usage
      .map(
        (u) =>
          `${u.storage} on ${u.node}: ${bytes(u.used)} used of ${bytes(u.total)} (${percent(u.usedFraction)}), ${bytes(u.free)} free`,
      )
      .join('\n');
    return ok({ storage: args.storage, usage }, text);
  },
});

const contentRow = z.object({
  volid: z.string(),
  content: z.string(),
  format: z.string().optional(),
  size: z.number().optional(),
  vmid: z.number().optional(),
  ctime: z.number().optional(),
  notes: z.string().optional(),
  protected: z.boolean().optional(),
});

const listStorageContent = defineTool({
  name: 'proxmox_list_storage_content',
  title: 'List storage content',
  description:
    "Lists a storage's volumes (ISO images, container templates, backups, disk images); filters: content kind, vmid; paged.",
  toolset: 'core',
  access: 'read',
  input: z.object({
    storage: z.string().min(1),
    node: node.optional().describe('Needed for node-local storage present on several nodes'),
    content: z
      .enum(['iso', 'vztmpl', 'backup', 'images', 'rootdir', 'snippets', 'import'])
      .optional(),
    vmid: vmid.optional().describe('Only volumes of this guest'),
    limit,
    cursor,
  }),
  output: z.object({
    storage: z.string(),
    node: z.string(),
    items: z.array(contentRow),
    ...pageFields,
  }),
  async run(args, ctx) {
    let where = args.node;
    if (!where) {
      const rows = (await ctx.pve.cluster.resources('storage', { signal: ctx.signal })).filter(
        (r) => r.storage === args.storage && r.status === 'available',
      );
      if (!rows.length)
        throw new ToolError(
          `No available storage '${args.storage}'. List storages with proxmox_list_storage.`,
        );
      const nodes = [...new Set(rows.map((r) => r.node ?? ''))];
      if (rows[0]?.shared !== 1 && nodes.length > 1)
        throw new ToolError(
          `Storage '${args.storage}' is local to each of ${nodes.join(', ')}: name the node.`,
        );
      where = nodes[0] ?? '';
    }
    const volumes = await ctx.pve.storage.content(where, args.storage, {
      content: args.content,
      vmid: args.vmid,
    });
    const rows = volumes
      // PVE answers `content` on each volume though its schema does not name it.
      .map((v) => ({
        volid: v.volid,
        content: String((v as { content?: string }).content ?? args.content ?? ''),
        format: v.format,
        size: v.size,
        vmid: v.vmid,
        ctime: v.ctime,
        notes: v.notes,
        protected: v.protected === undefined ? undefined : v.protected === 1,
      }))
      .sort((a, b) => (b.ctime ?? 0) - (a.ctime ?? 0) || a.volid.localeCompare(b.volid));
    const { page, total, nextCursor } = paginate(rows, args.limit, args.cursor);
    const text = page.length
      ? table(page, [
          ['VOLID', (v) => v.volid],
          ['SIZE', (v) => bytes(v.size)],
          ['VMID', (v) => v.vmid],
          [
            'CREATED',
            (v) =>
              v.ctime ? new Date(v.ctime * 1000).toISOString().slice(0, 16).replace('T', ' ') : '',
          ],
        ]) + pageNote(page.length, total, nextCursor)
      : `No volumes on ${args.storage} (${where}) match.`;
    return ok({ storage: args.storage, node: where, items: page, total, nextCursor }, text);
  },
});

export const storageTools: AnyTool[] = [listStorage, getStorageUsage, listStorageContent];
