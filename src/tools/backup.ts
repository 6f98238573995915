/** The `backup` toolset: back up now, list backups, restore, delete a backup. */
import { z } from 'zod';
import { volumeOwner } from '../contract/targets.js';
import { idAndName, kindOf } from '../pve/index.js';
import {
  hostname,
  node,
  optionalNode,
  resolveGuest,
  runTask,
  ToolError,
  taskFields,
  vmid,
  waitTimeout,
} from './common.js';
import { type AnyTool, defineTool, guestTargets, ok, type ToolContext } from './define.js';
import { bytes, table } from './render.js';

const volid = z
  .string()
  .regex(
    /^[a-zA-Z][\w.-]*:\S+$/,
    'a volume id such as backup-nfs:backup/vzdump-qemu-100-....vma.zst',
  )
  .describe('Backup volume id');

/** Storages that hold backups, each with a node that can read it (once for shared storage). */
async function backupStorages(ctx: ToolContext, onlyNode?: string) {
  const rows = await ctx.pve.cluster.resources('storage', { signal: ctx.signal });
  const seen = new Set<string>();
  const out: { storage: string; node: string; shared: boolean }[] = [];
  for (const r of rows) {
    if (r.status !== 'available' || !(r.content ?? '').split(',').includes('backup')) continue;
    if (onlyNode && r.node !== onlyNode) continue;
    const key = r.shared ? r.storage : `${r.node}/${r.storage}`;
    if (seen.has(key ?? '')) continue;
    seen.add(key ?? '');
    out.push({ storage: r.storage ?? '', node: r.node ?? '', shared: r.shared === 1 });
  }
  return out;
}

const backupNow = defineTool({
  name: 'proxmox_backup_guest',
  title: 'Back up now',
  description:
    'Backs up a VM or container now (vzdump) to a backup storage (default: the first shared one), in snapshot, suspend or stop mode, compressed, with notes.',
  toolset: 'backup',
  access: 'write',
  targets: guestTargets,
  input: z.object({
    vmid,
    storage: z.string().optional(),
    mode: z
      .enum(['snapshot', 'suspend', 'stop'])
      .default('snapshot')
      .describe('snapshot keeps the guest running'),
    compress: z.enum(['zstd', 'gzip', 'lzo', '0']).default('zstd'),
    notes: z
      .string()
      .max(1_024)
      .optional()
      .describe('Notes; {{guestname}}, {{vmid}}, {{node}} are filled in'),
    protected: z.boolean().default(false).describe('Protect the backup from pruning and deletion'),
    timeout: waitTimeout.default(3_600),
  }),
  output: z.object({
    vmid: z.number(),
    node: z.string(),
    storage: z.string(),
    volid: z.string().optional(),
    ...taskFields,
  }),
  async run(args, ctx) {
    const guest = await resolveGuest(ctx, args.vmid);
    let storage = args.storage;
    if (!storage) {
      const candidates = await backupStorages(ctx, guest.node);
      storage = (candidates.find((c) => c.shared) ?? candidates[0])?.storage;
      if (!storage)
        throw new ToolError(
          `No storage on ${guest.node} holds backups; name one with content 'backup' (proxmox_list_storage).`,
        );
    }
    const task = await ctx.pve.backups.vzdump(guest.node, {
      vmid: String(guest.vmid),
      storage,
      mode: args.mode,
      compress: args.compress,
      'notes-template': args.notes,
      protected: args.protected || undefined,
    });
    const what = `Back up ${kindOf(guest.type)} ${idAndName(guest)} to ${storage}, ${args.mode} mode`;
    const { summary, text } = await runTask(ctx, task, {
      timeout: args.timeout,
      what,
    });
    // The new backup, for a restore or a deletion to name: the guest's newest on that storage.
    const volid =
      summary.status === 'completed'
        ? (
            await ctx.pve.storage.content(guest.node, storage, {
              content: 'backup',
              vmid: guest.vmid,
            })
          )
            .filter((v) => v.volid)
            .sort((a, b) => (b.ctime ?? 0) - (a.ctime ?? 0))[0]?.volid
        : undefined;
    return ok(
      { vmid: guest.vmid, node: guest.node, storage, ...(volid ? { volid } : {}), ...summary },
      volid ? `${text} Backup ${volid}.` : text,
    );
  },
});

const backupRow = z.object({
  volid: z.string(),
  storage: z.string(),
  node: z.string(),
  vmid: z.number().optional(),
  size: z.number().optional(),
  ctime: z.number().optional(),
  notes: z.string().optional(),
  protected: z.boolean().optional(),
});

const listBackups = defineTool({
  name: 'proxmox_list_backups',
  title: 'List backups',
  description:
    'Lists backups across the backup storages of the cluster (or of one storage or node), newest first; filterable by vmid.',
  toolset: 'backup',
  access: 'read',
  input: z.object({
    vmid: vmid.optional(),
    storage: z.string().optional(),
    node: node.optional(),
    limit: z.coerce.number().int().min(1).max(1_000).default(50),
  }),
  output: z.object({ backups: z.array(backupRow), total: z.number() }),
  async run(args, ctx) {
    const storages = (await backupStorages(ctx, args.node)).filter(
      (s) => !args.storage || s.storage === args.storage,
    );
    if (args.storage && !storages.length)
      throw new ToolError(
        `No available backup storage '${args.storage}'. List storages with proxmox_list_storage.`,
      );
    const rows = (
      await Promise.all(
        storages.map(async (s) =>
          (
            await ctx.pve.storage.content(s.node, s.storage, { content: 'backup', vmid: args.vmid })
          ).map((v) => ({
            volid: v.volid,
            storage: s.storage,
            node: s.shared ? 'shared' : s.node,
            vmid: v.vmid,
            size: v.size,
            ctime: v.ctime,
            notes: v.notes,
            protected: v.protected === undefined ? undefined : v.protected === 1,
          })),
        ),
      )
    )
      .flat()
      .sort((a, b) => (b.ctime ?? 0) - (a.ctime ?? 0));
    const shown = rows.slice(0, args.limit);
    const text = shown.length
      ? table(shown, [
          ['VMID', (b) => b.vmid],
          [
            'CREATED',
            (b) =>
              b.ctime ? new Date(b.ctime * 1000).toISOString().slice(0, 16).replace('T', ' ') : '',
          ],
          ['SIZE', (b) => bytes(b.size)],
          ['VOLID', (b) => b.volid],
          ['NOTES', (b) => (b.protected ? `[protected] ${b.notes ?? ''}` : b.notes)],
        ]) + (rows.length > shown.length ? `\n${shown.length} of ${rows.length} shown` : '')
      : 'No backups match.';
    return ok({ backups: shown, total: rows.length }, text);
  },
});

const restoreBackup = defineTool({
  name: 'proxmox_restore_backup',
  title: 'Restore backup',
  description:
    "Restores a backup to a new vmid (from the cluster when omitted), or over the existing guest of that vmid with force, which replaces its disks and configuration. To a new vmid the copy gets new MAC addresses (unique), the source's name with -restored (or name), and start at boot off (or onboot), so it does not clash with the source.",
  toolset: 'backup',
  access: 'destructive',
  targets: (a) => ({ ...guestTargets(a), volumes: [a.volid] }),
  // Restoring to a new ID destroys nothing; over an existing guest it does.
  input: z.object({
    volid,
    vmid: vmid.optional().describe('Target ID; a new one when omitted'),
    node: node
      .optional()
      .describe('Node to restore on; default: where the existing guest or the backup is'),
    storage: z.string().optional().describe('Storage for the restored disks'),
    force: z.boolean().default(false).describe('Overwrite the existing guest of that vmid'),
    name: hostname.optional(),
    unique: z.boolean().optional(),
    onboot: z.boolean().optional(),
    start: z.boolean().default(false),
    timeout: waitTimeout.default(3_600),
  }),
  output: z.object({
    vmid: z.number(),
    node: z.string(),
    volid: z.string(),
    storage: z.string().optional(),
    ...taskFields,
  }),
  async run(args, ctx) {
    const type = /vzdump-lxc-|\/ct\//.test(args.volid) ? 'lxc' : 'qemu';
    const existing =
      args.vmid === undefined
        ? undefined
        : (await ctx.pve.guestIndex({ signal: ctx.signal })).get(args.vmid);
    if (existing && !args.force) {
      throw new ToolError(
        `${kindOf(existing.type)} ${idAndName(existing)} exists: restore to a new vmid, or set force to overwrite it.`,
      );
    }
    const storageId = args.volid.split(':')[0] ?? '';
    let target = args.node ?? existing?.node;
    if (!target) {
      const s = (await backupStorages(ctx)).find((b) => b.storage === storageId);
      if (!s)
        throw new ToolError(
          `The backup storage '${storageId}' is not available on any online node.`,
        );
      target = s.node;
    }
    // PVE restores a container to `local` when no storage is named, which a default install
    // cannot hold containers on: pick the storage with most room that can.
    const storage =
      args.storage ?? (type === 'lxc' ? await containerStorage(ctx, target) : undefined);
    const id = args.vmid ?? (await ctx.pve.cluster.nextid());
    // A copy beside its source must not take its identity: new MACs, a name of its own, and no
    // start at boot (PVE applies options given with the archive over the backup's).
    const copy = !existing;
    const source = volumeOwner(args.volid);
    const sourceName =
      source === undefined
        ? undefined
        : (await ctx.pve.guestIndex({ signal: ctx.signal })).get(source)?.name;
    const name =
      args.name ?? (copy && sourceName ? `${sourceName}-restored`.slice(0, 63) : undefined);
    const unique = args.unique ?? copy;
    const onboot = args.onboot ?? (copy ? false : undefined);
    const task = await ctx.pve.backups.restore(type, target, id, args.volid, {
      storage,
      force: args.force || undefined,
      start: args.start || undefined,
      unique: unique || undefined,
      ...(name ? { [type === 'lxc' ? 'hostname' : 'name']: name } : {}),
      ...(onboot === undefined ? {} : { onboot }),
    });
    const changed = [
      unique && 'new MAC addresses',
      name && `name ${name}`,
      onboot === false && 'start at boot off',
    ].filter(Boolean);
    const what = `Restore ${args.volid} to ${kindOf(type)} ${id} on ${target}${storage ? `, disks on ${storage}${args.storage ? '' : ' (chosen: it holds containers and has the most room)'}` : ''}${existing ? ', over the existing guest' : ''}${changed.length ? `, with ${changed.join(', ')}` : ''}`;
    const { summary, text } = await runTask(ctx, task, {
      timeout: args.timeout,
      what,
    });
    return ok(
      { vmid: id, node: target, volid: args.volid, ...(storage ? { storage } : {}), ...summary },
      text,
    );
  },
});

/** The enabled storage of a node that holds container volumes and has the most room. */
async function containerStorage(ctx: ToolContext, node: string): Promise<string> {
  const candidates = (await ctx.pve.storage.list(node, { content: 'rootdir', enabled: true }))
    .filter((s) => s.active !== 0)
    .sort((a, b) => (b.avail ?? 0) - (a.avail ?? 0));
  const best = candidates[0]?.storage;
  if (!best)
    throw new ToolError(
      `No storage on ${node} can hold container volumes (content rootdir): give one with storage.`,
    );
  return best;
}

const deleteBackup = defineTool({
  name: 'proxmox_delete_backup',
  title: 'Delete backup',
  description: 'Deletes a backup volume. Cannot be undone; protected backups are refused.',
  toolset: 'backup',
  access: 'destructive',
  targets: (a) => ({ nodes: [a.node], volumes: [a.volid] }),
  input: z.object({
    volid,
    node: optionalNode.describe('For backups on node-local storage'),
    timeout: waitTimeout,
  }),
  output: z.object({ volid: z.string(), node: z.string(), ...taskFields }),
  async run(args, ctx) {
    const storageId = args.volid.split(':')[0] ?? '';
    const candidates = (await backupStorages(ctx, args.node)).filter(
      (s) => s.storage === storageId,
    );
    const where = candidates[0];
    if (!where)
      throw new ToolError(
        `Backup storage '${storageId}' is not available${args.node ? ` on ${args.node}` : ''}.`,
      );
    if (!where.shared && candidates.length > 1 && !args.node)
      throw new ToolError(`Storage '${storageId}' is local to several nodes: name the node.`);
    // This tool deletes backups only: a storage that also holds disks must not lose one here.
    const backups = await ctx.pve.storage.content(where.node, storageId, { content: 'backup' });
    const backup = backups.find((v) => v.volid === args.volid);
    if (!backup)
      throw new ToolError(
        `${args.volid} is not a backup on ${storageId} (node ${where.node}). List backups with proxmox_list_backups.`,
      );
    // PVE's delete task would fail on it: said before anyone is asked.
    if ((backup as { protected?: unknown }).protected)
      throw new ToolError(
        `${args.volid} is a protected backup: PVE keeps it from deletion and pruning. Remove its protection first (in PVE: the backup's Protected flag).`,
      );
    const task = await ctx.pve.storage.deleteVolume(where.node, storageId, args.volid);
    const { summary, text } = await runTask(ctx, task, {
      timeout: args.timeout,
      what: `Delete backup ${args.volid}`,
    });
    return ok({ volid: args.volid, node: where.node, ...summary }, text);
  },
});

export const backupTools: AnyTool[] = [backupNow, listBackups, restoreBackup, deleteBackup];
