/** Guests: listing, information and status, for VMs and containers alike. */
import { z } from 'zod';
import { type GuestType, kindOf } from '../pve/index.js';
import {
  cursor,
  hasTag,
  limit,
  namePattern,
  node,
  optionalNode,
  pageFields,
  pageNote,
  paginate,
  resolveGuest,
  vmid,
} from './common.js';
import { type AnyTool, defineTool, guestTargets, ok, type ToolContext } from './define.js';
import {
  type GuestRow,
  guestInfo,
  guestRow,
  guestStatus,
  guestTable,
  infoOutput,
  infoText,
  listGuests,
  statusOutput,
  statusText,
  toGuestRow,
} from './guest-views.js';

const listFilters = {
  node: node.optional(),
  status: z.enum(['running', 'stopped', 'paused', 'unknown']).optional(),
  tag: z.string().optional(),
  pool: z.string().optional(),
  name: z.string().optional().describe('Substring, or a * ? pattern'),
  limit,
  cursor,
};

/**
 * Marks the paused VMs among rows PVE shows as running: their `qmpstatus`, from one list of each
 * node that has such rows (`full=1`).
 */
async function markPaused(ctx: ToolContext, rows: GuestRow[]): Promise<void> {
  const nodes = [...new Set(rows.filter((r) => r.status === 'running').map((r) => r.node))];
  const lists = await Promise.all(
    nodes.map((n) =>
      ctx.pve.qemu
        .list(n, { full: true })
        .catch(() => [] as { vmid: number; qmpstatus?: string }[]),
    ),
  );
  const paused = new Set(
    lists
      .flat()
      .filter((v) => v.qmpstatus === 'paused')
      .map((v) => v.vmid),
  );
  for (const r of rows) if (r.status === 'running' && paused.has(r.vmid)) r.status = 'paused';
}

function listTool(type: GuestType, name: string, title: string) {
  return defineTool({
    name,
    title,
    description: `Lists ${type === 'qemu' ? 'VMs' : 'LXC containers'} with node, status, CPU use, tags and pool (memory in the structured rows); filters: node, status, tag, pool, name; paged.`,
    toolset: 'core',
    access: 'read',
    input: z.object(listFilters),
    output: z.object({ items: z.array(guestRow), ...pageFields }),
    async run(args, ctx) {
      const match = namePattern(args.name);
      let rows = (await listGuests(ctx.pve, type, ctx.signal))
        .map(toGuestRow)
        .filter((r) => !args.node || r.node === args.node)
        .filter((r) => !args.tag || hasTag(r.tags, args.tag))
        .filter((r) => !args.pool || r.pool === args.pool)
        .filter((r) => !match || match(r.name))
        .sort((a, b) => a.vmid - b.vmid);
      // A paused VM is `running` in the resource rows: telling them apart costs a call per node,
      // made for the rows a running/paused filter reads, or else for the page shown.
      const byRunState = args.status === 'running' || args.status === 'paused';
      if (type === 'qemu' && byRunState) await markPaused(ctx, rows);
      if (args.status) rows = rows.filter((r) => r.status === args.status);
      const { page, total, nextCursor } = paginate(rows, args.limit, args.cursor);
      if (type === 'qemu' && !byRunState) await markPaused(ctx, page);
      const none = `No ${type === 'qemu' ? 'VMs' : 'containers'} match.`;
      return ok(
        { items: page, total, nextCursor },
        page.length ? guestTable(page) + pageNote(page.length, total, nextCursor) : none,
      );
    },
  });
}

function infoTool(type: GuestType, name: string) {
  return defineTool({
    name,
    title: `${kindOf(type, true)} configuration`,
    description: `Returns a ${kindOf(type)}'s configuration: CPU, memory, disks, NICs, OS type, tags, description, pending changes, config digest.`,
    toolset: 'core',
    access: 'read',
    targets: guestTargets,
    input: z.object({ vmid, node: optionalNode }),
    output: infoOutput,
    async run(args, ctx) {
      const guest = await resolveGuest(ctx, args.vmid, { type, node: args.node });
      const info = await guestInfo(ctx.pve, guest);
      return ok(info, infoText(info));
    },
  });
}

function statusTool(type: GuestType, name: string) {
  return defineTool({
    name,
    title: `${kindOf(type, true)} status`,
    description: `Returns a ${kindOf(type)}'s run state, uptime, CPU and memory use, lock and HA state.`,
    toolset: 'core',
    access: 'read',
    targets: guestTargets,
    input: z.object({ vmid, node: optionalNode }),
    output: statusOutput,
    async run(args, ctx) {
      const guest = await resolveGuest(ctx, args.vmid, { type, node: args.node });
      const status = await guestStatus(ctx.pve, guest);
      return ok(status, statusText(status));
    },
  });
}

export const guestTools: AnyTool[] = [
  listTool('qemu', 'proxmox_list_vms', 'List VMs'),
  infoTool('qemu', 'proxmox_get_vm_info'),
  statusTool('qemu', 'proxmox_get_vm_status'),
  listTool('lxc', 'proxmox_list_containers', 'List containers'),
  infoTool('lxc', 'proxmox_get_container_info'),
  statusTool('lxc', 'proxmox_get_container_status'),
];
