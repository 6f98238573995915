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

/**
 * The compact guest table, about 60 bytes a guest: what tells guests apart and what to act on.
 * TAGS holds the tags and, after `@`, the pool (how production or protected guests are told);
 * memory and uptime are in the structured rows and the status tools.
 */
export function guestTable(rows: GuestRow[]): string {
  return table(rows, [
    ['VMID', (r) => r.vmid],
    ['NAME', (r) => r.name],
    ['NODE', (r) => r.node],
    ['STATUS', (r) => (r.template ? 'template' : r.lock ? `${r.status}(${r.lock})` : r.status)],
    ['CPU', (r) => (r.status === 'running' ? `${Math.round((r.cpu ?? 0) * 100)}%` : '')],
    ['TAGS', (r) => `${(r.tags ?? []).join(',')}${r.pool ? `@${r.pool}` : ''}`],
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
  // What a configuration update takes to refuse a change made in between.
  if (i.digest) lines.push(`digest: ${i.digest}`);
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
