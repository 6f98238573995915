/**
 * Guest views shared by the VM and container tools: list rows, the status summary and the
 * configuration summary, computed once for both kinds.
 */
import { z } from 'zod';
import { parsePropertyString, parseSize } from '../contract/propstring.js';
import {
  type ClusterResource,
  type GuestRef,
  type GuestType,
  kindOf,
  type PveApi,
  splitTags,
} from '../pve/index.js';
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
import { bytes, duration, percent, table } from './render.js';

export const guestRow = z.object({
  vmid: z.number(),
  name: z.string(),
  node: z.string(),
  status: z.string(),
  cpu: z.number().optional().describe('CPU use, 0 to 1 of maxcpu'),
  maxcpu: z.number().optional(),
  mem: z.number().optional().describe('Bytes'),
  maxmem: z.number().optional(),
  uptime: z.number().optional().describe('Seconds'),
  tags: z.array(z.string()).optional(),
  pool: z.string().optional(),
  template: z.boolean().optional(),
  lock: z.string().optional(),
});
export type GuestRow = z.infer<typeof guestRow>;

export function toGuestRow(r: ClusterResource): GuestRow {
  const row: GuestRow = {
    vmid: r.vmid ?? 0,
    name: r.name ?? '',
    node: r.node ?? '',
    status: r.status ?? 'unknown',
    cpu: r.cpu,
    maxcpu: r.maxcpu,
    mem: r.mem,
    maxmem: r.maxmem,
    uptime: r.uptime,
  };
  if (r.tags) row.tags = splitTags(r.tags);
  if (r.pool) row.pool = r.pool;
  if (r.template) row.template = true;
  if (r.lock) row.lock = r.lock;
  return row;
}

/** The compact guest table: about 40 bytes a guest. */
export function guestTable(rows: GuestRow[]): string {
  return table(rows, [
    ['VMID', (r) => r.vmid],
    ['NAME', (r) => r.name],
    ['NODE', (r) => r.node],
    ['STATUS', (r) => (r.template ? 'template' : r.lock ? `${r.status}(${r.lock})` : r.status)],
    ['CPU', (r) => (r.status === 'running' ? percent(r.cpu) : '')],
    [
      'MEM',
      (r) => (r.status === 'running' ? `${bytes(r.mem)}/${bytes(r.maxmem)}` : bytes(r.maxmem)),
    ],
  ]);
}

export const statusOutput = z.object({
  vmid: z.number(),
  name: z.string(),
  node: z.string(),
  type: z.enum(['qemu', 'lxc']),
  status: z.string().describe('running or stopped'),
  qmpstatus: z.string().optional().describe('VMs: running, paused, ...'),
  cpu: z.number().optional(),
  cpus: z.number().optional(),
  mem: z.number().optional(),
  maxmem: z.number().optional(),
  uptime: z.number().optional(),
  lock: z.string().optional(),
  haState: z.string().optional(),
  agent: z.boolean().optional(),
});
export type StatusOutput = z.infer<typeof statusOutput>;

export async function guestStatus(pve: PveApi, g: GuestRef): Promise<StatusOutput> {
  const s = await pve.guests(g.type).status(g.node, g.vmid);
  const ha = s.ha as { managed?: number; state?: string } | undefined;
  const out: StatusOutput = {
    vmid: g.vmid,
    name: String(s.name ?? g.name),
    node: g.node,
    type: g.type,
    status: String(s.status),
    cpu: s.cpu as number | undefined,
    cpus: s.cpus as number | undefined,
    mem: s.mem as number | undefined,
    maxmem: s.maxmem as number | undefined,
    uptime: s.uptime as number | undefined,
  };
  if (s.qmpstatus) out.qmpstatus = String(s.qmpstatus);
  if (s.lock) out.lock = String(s.lock);
  if (ha?.managed) out.haState = ha.state;
  if (g.type === 'qemu') out.agent = s.agent === 1;
  return out;
}

export function statusText(s: StatusOutput): string {
  const kind = kindOf(s.type, true);
  const state = s.qmpstatus && s.qmpstatus !== s.status ? `${s.status} (${s.qmpstatus})` : s.status;
  const parts = [`${kind} ${s.vmid} ${s.name} on ${s.node}: ${state}`];
  if (s.status === 'running')
    parts.push(
      `uptime ${duration(s.uptime)}, CPU ${percent(s.cpu)} of ${s.cpus}, memory ${bytes(s.mem)}/${bytes(s.maxmem)}`,
    );
  if (s.lock) parts.push(`locked (${s.lock})`);
  if (s.haState) parts.push(`HA ${s.haState}`);
  return parts.join('; ');
}

const DISK_KEY = /^(ide|sata|scsi|virtio)\d+$|^(efidisk0|tpmstate0|rootfs|mp\d+)$/;
const UNUSED_KEY = /^unused\d+$/;

export const infoOutput = z.object({
  vmid: z.number(),
  name: z.string(),
  node: z.string(),
  type: z.enum(['qemu', 'lxc']),
  status: z.string(),
  cores: z.number().optional(),
  /** CPU time limit in CPUs (PVE `cpulimit`; absent or 0 means no limit). */
  cpulimit: z.number().optional(),
  sockets: z.number().optional(),
  memoryMiB: z.number().optional(),
  ostype: z.string().optional(),
  tags: z.array(z.string()).optional(),
  description: z.string().optional(),
  onboot: z.boolean().optional(),
  template: z.boolean().optional(),
  lock: z.string().optional(),
  disks: z.array(
    z.object({
      key: z.string(),
      volume: z.string(),
      size: z.number().optional(),
      media: z.string().optional(),
    }),
  ),
  nets: z.array(
    z.object({
      key: z.string(),
      model: z.string().optional(),
      mac: z.string().optional(),
      bridge: z.string().optional(),
      ip: z.string().optional(),
      tag: z.number().optional(),
      firewall: z.boolean().optional(),
    }),
  ),
  pending: z
    .array(
      z.object({ key: z.string(), value: z.string().optional(), delete: z.boolean().optional() }),
    )
    .optional(),
  digest: z.string().describe('Pass to config updates to guard against concurrent edits'),
  config: z
    .record(z.string(), z.union([z.string(), z.number()]))
    .describe('The full configuration'),
});
export type InfoOutput = z.infer<typeof infoOutput>;

export async function guestInfo(pve: PveApi, g: GuestRef): Promise<InfoOutput> {
  const area = pve.guests(g.type);
  const [config, pending] = await Promise.all([
    area.config(g.node, g.vmid, { current: true }),
    area.pending(g.node, g.vmid),
  ]);
  const str = (k: string) => (config[k] === undefined ? undefined : String(config[k]));
  const num = (k: string) =>
    config[k] === undefined ? undefined : Number(String(config[k]).split(',')[0]);
  const disks: InfoOutput['disks'] = [];
  const nets: InfoOutput['nets'] = [];
  for (const [key, raw] of Object.entries(config)) {
    const value = String(raw);
    if (DISK_KEY.test(key) || UNUSED_KEY.test(key)) {
      const defaultKey = g.type === 'lxc' && key.startsWith('mp') ? 'volume' : 'file';
      const opts = parsePropertyString(value, defaultKey);
      disks.push({
        key,
        volume: opts[defaultKey] ?? value,
        size: opts.size ? parseSize(opts.size) : undefined,
        media: opts.media,
      });
    } else if (/^net\d+$/.test(key)) {
      const opts = parsePropertyString(value, g.type === 'qemu' ? 'model' : undefined);
      const model =
        g.type === 'qemu'
          ? Object.keys(opts).find((k) => /^[0-9A-F]{2}(:[0-9A-F]{2}){5}$/i.test(opts[k] ?? ''))
          : opts.type;
      nets.push({
        key,
        model,
        mac: g.type === 'qemu' && model ? opts[model] : opts.hwaddr,
        bridge: opts.bridge,
        ip: opts.ip,
        tag: opts.tag ? Number(opts.tag) : undefined,
        firewall: opts.firewall === undefined ? undefined : opts.firewall === '1',
      });
    }
  }
  const changes = pending.filter((p) => p.pending !== undefined || p.delete);
  const out: InfoOutput = {
    vmid: g.vmid,
    name: str('name') ?? str('hostname') ?? g.name,
    node: g.node,
    type: g.type,
    status: g.status,
    cores: num('cores'),
    cpulimit: num('cpulimit') || undefined,
    sockets: num('sockets'),
    memoryMiB: num('memory'),
    ostype: str('ostype'),
    disks,
    nets,
    digest: String(config.digest ?? ''),
    config: Object.fromEntries(Object.entries(config).filter(([k]) => k !== 'digest')) as Record<
      string,
      string | number
    >,
  };
  if (config.tags) out.tags = splitTags(String(config.tags));
  if (config.description !== undefined) out.description = String(config.description);
  if (config.onboot !== undefined) out.onboot = String(config.onboot) === '1';
  if (String(config.template) === '1') out.template = true;
  if (config.lock) out.lock = String(config.lock);
  if (changes.length)
    out.pending = changes.map((p) => ({
      key: p.key,
      value: p.pending === undefined ? undefined : String(p.pending),
      delete: p.delete ? true : undefined,
    }));
  return out;
}

export function infoText(i: InfoOutput): string {
  const kind = kindOf(i.type, true);
  const lines = [
    `${kind} ${i.vmid} ${i.name} on ${i.node}: ${i.status}${i.template ? ' (template)' : ''}${i.lock ? `, locked (${i.lock})` : ''}`,
    `CPU ${i.cores ?? 1} core(s)${i.sockets && i.sockets > 1 ? ` x ${i.sockets} sockets` : ''}${i.cpulimit ? ` limited to ${i.cpulimit} CPU` : ''}, memory ${i.memoryMiB ?? '?'} MiB${i.ostype ? `, OS type ${i.ostype}` : ''}${i.onboot ? ', starts at boot' : ''}`,
  ];
  for (const d of i.disks)
    lines.push(
      `${d.key}: ${d.volume}${d.size ? ` ${bytes(d.size)}` : ''}${d.media ? ` (${d.media})` : ''}`,
    );
  for (const n of i.nets)
    lines.push(
      `${n.key}: ${[n.model, n.mac, n.bridge && `bridge ${n.bridge}`, n.ip && `ip ${n.ip}`, n.tag && `vlan ${n.tag}`].filter(Boolean).join(', ')}`,
    );
  if (i.tags?.length) lines.push(`tags: ${i.tags.join(', ')}`);
  if (i.description) lines.push(`description: ${i.description.split('\n')[0]}`);
  if (i.pending?.length)
    lines.push(
      `pending until restart: ${i.pending.map((p) => (p.delete ? `-${p.key}` : `${p.key}=${p.value}`)).join(', ')}`,
    );
  return lines.join('\n');
}

/** Guests of a kind from one /cluster/resources call. */
export async function listGuests(
  pve: PveApi,
  type: GuestType | undefined,
  signal: AbortSignal,
): Promise<ClusterResource[]> {
  // All rows, not `type: vm`: the node rows tell which stale guest rows the nodes can complete.
  const rows = await pve.cluster.resources(undefined, { signal });
  return rows.filter((r) => (type ? r.type === type : r.type === 'qemu' || r.type === 'lxc'));
}

// The tools: listing, information, status

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
    description: `Lists ${type === 'qemu' ? 'virtual machines' : 'LXC containers'} with node, status, CPU and memory; filterable by node, status, tag, pool and name; paged.`,
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
    description: `Returns a ${kindOf(type)}'s configuration: CPU, memory, disks, network interfaces, OS type, tags, description, pending changes and the config digest.`,
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
