/** Snapshots, of VMs and containers alike: the vmid tells which. */
import { z } from 'zod';
import { type GuestRef, idAndName, kindOf } from '../pve/index.js';
import {
  optionalNode,
  resolveGuest,
  runTask,
  ToolError,
  taskFields,
  vmid,
  waitTimeout,
} from './common.js';
import { type AnyTool, defineTool, guestTargets, ok, type ToolContext } from './define.js';

const snapname = z
  .string()
  .regex(
    /^[a-zA-Z][a-zA-Z0-9_-]{1,39}$/,
    'starts with a letter; letters, digits, _ and -; 2 to 40 characters',
  );

/**
 * Checks a snapshot name against the guest's snapshots before any task: PVE would start one that
 * fails (pve-guest-common AbstractConfig.pm __snapshot_prepare, snapshot_rollback, snapshot_delete).
 */
async function checkSnapshot(
  ctx: ToolContext,
  guest: GuestRef,
  name: string,
  wanted: 'existing' | 'new',
): Promise<void> {
  const all = await ctx.pve.guests(guest.type).snapshots(guest.node, guest.vmid);
  const exists = all.some((s) => s.name === name && name !== 'current');
  if (wanted === 'existing' && !exists)
    throw new ToolError(
      `${kindOf(guest.type, true)} ${idAndName(guest)} has no snapshot '${name}'. List its snapshots with proxmox_list_snapshots.`,
      { vmid: guest.vmid, snapname: name },
    );
  if (wanted === 'new' && exists)
    throw new ToolError(
      `${kindOf(guest.type, true)} ${idAndName(guest)} already has a snapshot '${name}': choose another name, or delete that one first.`,
      { vmid: guest.vmid, snapname: name },
    );
}

const createSnapshot = defineTool({
  name: 'proxmox_create_snapshot',
  title: 'Create snapshot',
  description:
    "Takes a snapshot of a VM or container. vmstate also saves a running VM's RAM, so a rollback resumes it as it was.",
  toolset: 'core',
  access: 'write',
  targets: guestTargets,
  input: z.object({
    vmid,
    snapname,
    description: z.string().max(8_192).optional(),
    vmstate: z.boolean().default(false).describe('VMs: include RAM'),
    node: optionalNode,
    timeout: waitTimeout,
  }),
  output: z.object({ vmid: z.number(), node: z.string(), snapname: z.string(), ...taskFields }),
  async run(args, ctx) {
    const guest = await resolveGuest(ctx, args.vmid, { node: args.node });
    await checkSnapshot(ctx, guest, args.snapname, 'new');
    const task = await ctx.pve.guests(guest.type).snapshot(guest.node, guest.vmid, args.snapname, {
      description: args.description,
      vmstate: guest.type === 'qemu' && args.vmstate ? true : undefined,
    });
    const { summary, text } = await runTask(ctx, task, {
      timeout: args.timeout,
      what: `Snapshot '${args.snapname}' of ${kindOf(guest.type)} ${idAndName(guest)}`,
    });
    return ok({ vmid: guest.vmid, node: guest.node, snapname: args.snapname, ...summary }, text);
  },
});

const snapshotRow = z.object({
  name: z.string(),
  description: z.string().optional(),
  snaptime: z.number().optional(),
  parent: z.string().optional(),
  vmstate: z.boolean().optional(),
  snapstate: z
    .enum(['prepare', 'delete'])
    .optional()
    .describe('A task is taking (prepare) or deleting it'),
});

const listSnapshots = defineTool({
  name: 'proxmox_list_snapshots',
  title: 'List snapshots',
  description:
    "Lists a guest's snapshot tree: name, time, description, parent, and which snapshot the current state follows.",
  toolset: 'core',
  access: 'read',
  targets: guestTargets,
  input: z.object({ vmid, node: optionalNode }),
  output: z.object({
    vmid: z.number(),
    current: z.string().optional().describe('Snapshot the current state follows'),
    snapshots: z.array(snapshotRow),
  }),
  async run(args, ctx) {
    const guest = await resolveGuest(ctx, args.vmid, { node: args.node });
    const all = await ctx.pve.guests(guest.type).snapshots(guest.node, guest.vmid);
    const current = all.find((s) => s.name === 'current');
    const snapshots = all
      .filter((s) => s.name !== 'current')
      .map((s) => ({
        name: s.name,
        description: s.description || undefined,
        snaptime: s.snaptime,
        parent: s.parent,
        // Only QEMU snapshots can hold RAM.
        vmstate: 'vmstate' in s && s.vmstate !== undefined ? s.vmstate === 1 : undefined,
        // PVE marks a snapshot a task is still taking or deleting.
        snapstate: (s as { snapstate?: string }).snapstate as 'prepare' | 'delete' | undefined,
      }));
    if (!snapshots.length)
      return ok(
        { vmid: guest.vmid, snapshots },
        `${kindOf(guest.type)} ${idAndName(guest)} has no snapshots.`,
      );
    // Print as a tree: children under their parent, "NOW" where the current state is.
    const children = new Map<string | undefined, typeof snapshots>();
    for (const s of snapshots) children.set(s.parent, [...(children.get(s.parent) ?? []), s]);
    const lines: string[] = [];
    const walk = (parent: string | undefined, depth: number) => {
      for (const s of (children.get(parent) ?? []).sort(
        (a, b) => (a.snaptime ?? 0) - (b.snaptime ?? 0),
      )) {
        const when = s.snaptime
          ? new Date(s.snaptime * 1000).toISOString().slice(0, 16).replace('T', ' ')
          : '';
        lines.push(
          `${'  '.repeat(depth)}${s.name}  ${when}${s.vmstate ? ' +RAM' : ''}${s.snapstate ? ` (${s.snapstate === 'prepare' ? 'being taken' : 'being deleted'})` : ''}${s.description ? `  ${s.description.split('\n')[0]}` : ''}`,
        );
        walk(s.name, depth + 1);
        if (current?.parent === s.name) lines.push(`${'  '.repeat(depth + 1)}NOW (current state)`);
      }
    };
    walk(undefined, 0);
    return ok({ vmid: guest.vmid, current: current?.parent, snapshots }, lines.join('\n'));
  },
});

const rollbackSnapshot = defineTool({
  name: 'proxmox_rollback_snapshot',
  title: 'Roll back to snapshot',
  description:
    'Returns a VM or container to a snapshot: every change since is lost, and a running guest stops unless the snapshot holds RAM.',
  toolset: 'core',
  access: 'destructive',
  targets: guestTargets,
  input: z.object({
    vmid,
    snapname,
    start: z.boolean().default(false).describe('Start the guest after the rollback'),
    node: optionalNode,
    timeout: waitTimeout,
  }),
  output: z.object({ vmid: z.number(), node: z.string(), snapname: z.string(), ...taskFields }),
  async run(args, ctx) {
    const guest = await resolveGuest(ctx, args.vmid, { node: args.node });
    await checkSnapshot(ctx, guest, args.snapname, 'existing');
    const task = await ctx.pve
      .guests(guest.type)
      .rollback(guest.node, guest.vmid, args.snapname, { start: args.start || undefined });
    const { summary, text } = await runTask(ctx, task, {
      timeout: args.timeout,
      what: `Roll back ${kindOf(guest.type)} ${idAndName(guest)} to '${args.snapname}'`,
    });
    return ok({ vmid: guest.vmid, node: guest.node, snapname: args.snapname, ...summary }, text);
  },
});

const deleteSnapshot = defineTool({
  name: 'proxmox_delete_snapshot',
  title: 'Delete snapshot',
  description:
    'Deletes a snapshot of a VM or container; its children move to its parent. The guest itself is unchanged.',
  toolset: 'core',
  access: 'destructive',
  targets: guestTargets,
  input: z.object({ vmid, snapname, node: optionalNode, timeout: waitTimeout }),
  output: z.object({ vmid: z.number(), node: z.string(), snapname: z.string(), ...taskFields }),
  async run(args, ctx) {
    const guest = await resolveGuest(ctx, args.vmid, { node: args.node });
    await checkSnapshot(ctx, guest, args.snapname, 'existing');
    const task = await ctx.pve
      .guests(guest.type)
      .deleteSnapshot(guest.node, guest.vmid, args.snapname);
    const { summary, text } = await runTask(ctx, task, {
      timeout: args.timeout,
      what: `Delete snapshot '${args.snapname}' of ${kindOf(guest.type)} ${idAndName(guest)}`,
    });
    return ok({ vmid: guest.vmid, node: guest.node, snapname: args.snapname, ...summary }, text);
  },
});

export const snapshotTools: AnyTool[] = [
  createSnapshot,
  listSnapshots,
  rollbackSnapshot,
  deleteSnapshot,
];
