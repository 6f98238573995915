/**
 * Changing guests that exist: clones, templates, configuration changes with digest protection,
 * disk growth, migration.
 */
import { z } from 'zod';
import { DISK_KEY, volumesIn } from '../contract/targets.js';
import { type GuestRef, idAndName, kindOf } from '../pve/index.js';
import {
  guestTask,
  hostname,
  node,
  optionalNode,
  resolveGuest,
  runTask,
  ToolError,
  vmid,
  waitTimeout,
} from './common.js';
import { type AnyTool, defineTool, guestTargets, ok, type ToolContext } from './define.js';

const cloneGuest = defineTool({
  name: 'proxmox_clone_guest',
  title: 'Clone VM or container',
  description:
    'Clones a VM or container, full or linked (linked needs a template source), to a new vmid (from the cluster when omitted), optionally onto another node, storage or pool.',
  toolset: 'provision',
  access: 'write',
  targets: (a) => ({
    sources: [a.vmid],
    guests: [a.newid],
    nodes: [a.target],
    pools: [a.pool],
  }),
  input: z.object({
    vmid,
    newid: vmid.optional().describe('ID of the clone'),
    name: hostname.optional().describe('Name of the clone'),
    full: z
      .boolean()
      .optional()
      .describe('Full copy; default: linked for templates, full otherwise'),
    target: node.optional().describe('Node for the clone'),
    storage: z.string().optional().describe('Storage for a full clone'),
    pool: z.string().optional(),
    description: z.string().max(8_192).optional(),
    timeout: waitTimeout,
  }),
  output: guestTask.extend({ newid: z.number(), target: z.string() }),
  async run(args, ctx) {
    const guest = await resolveGuest(ctx, args.vmid);
    const linked = !(args.full ?? !guest.template);
    if (linked && args.storage)
      throw new ToolError(
        `storage applies to full clones only: a linked clone stays on the template's storage. Drop storage, or set full: true.`,
      );
    if (args.target && args.target !== guest.node) await checkSharedForClone(ctx, guest, args);
    const newid = args.newid ?? (await ctx.pve.cluster.nextid());
    const task = await ctx.pve.guests(guest.type).clone(guest.node, guest.vmid, {
      newid,
      [guest.type === 'qemu' ? 'name' : 'hostname']: args.name,
      full: args.full,
      target: args.target,
      storage: args.storage,
      pool: args.pool,
      description: args.description,
    });
    const target = args.target ?? guest.node;
    const kind = (args.full ?? !guest.template) ? 'full' : 'linked';
    const what = `Clone ${kindOf(guest.type)} ${idAndName(guest)} to ${newid}${args.name ? ` (${args.name})` : ''} on ${target}, ${kind}`;
    const { summary, text } = await runTask(ctx, task, {
      timeout: args.timeout,
      what,
    });
    return ok({ vmid: guest.vmid, node: guest.node, newid, target, ...summary }, text);
  },
});

/**
 * PVE clones to another node only when every volume of the guest (a local ISO in a CD drive too)
 * and the target storage are shared (qemu-server and pve-container clone_vm): said before any
 * task starts, with what to do instead.
 */
async function checkSharedForClone(
  ctx: ToolContext,
  guest: GuestRef,
  args: { target?: string; storage?: string },
): Promise<void> {
  const [config, storages] = await Promise.all([
    ctx.pve.guests(guest.type).config(guest.node, guest.vmid),
    ctx.pve.storage.list(guest.node),
  ]);
  const shared = new Set(storages.filter((s) => s.shared).map((s) => s.storage));
  const local = Object.entries(config)
    .filter(([key]) => DISK_KEY.test(key) && !key.startsWith('unused'))
    .flatMap(([key, value]) =>
      volumesIn(String(value))
        .filter((v) => v.includes(':'))
        .map((v) => ({ key, storage: v.split(':')[0] ?? '' })),
    )
    .filter((d) => !shared.has(d.storage))
    .map((d) => `${d.key} on ${d.storage}`);
  if (args.storage && !shared.has(args.storage)) local.push(`the target storage ${args.storage}`);
  if (local.length)
    throw new ToolError(
      `${kindOf(guest.type)} ${idAndName(guest)} cannot be cloned to ${args.target}: PVE clones to another node only when every disk (CD-ROM ISOs included) and the target storage are shared, and here ${local.join(', ')} ${local.length > 1 ? 'are' : 'is'} local to ${guest.node}. Clone it on ${guest.node} and migrate the clone, or move its disks to shared storage first.`,
    );
}

const convertToTemplate = defineTool({
  name: 'proxmox_convert_to_template',
  title: 'Convert to template',
  description:
    'Turns a stopped VM or container without snapshots into a template, which can be cloned but no longer started. Cannot be undone.',
  toolset: 'provision',
  access: 'destructive',
  targets: guestTargets,
  input: z.object({ vmid, node: optionalNode, timeout: waitTimeout }),
  output: guestTask,
  async run(args, ctx) {
    const guest = await resolveGuest(ctx, args.vmid, { node: args.node });
    const task = await ctx.pve.guests(guest.type).template(guest.node, guest.vmid);
    const { summary, text } = await runTask(ctx, task, {
      timeout: args.timeout,
      what: `Convert ${kindOf(guest.type)} ${idAndName(guest)} to a template`,
    });
    return ok({ vmid: guest.vmid, node: guest.node, ...summary }, text);
  },
});

const updateConfig = defineTool({
  name: 'proxmox_update_guest_config',
  title: 'Change VM or container settings',
  description:
    'Changes settings of a VM or container: CPU cores, memory, name, tags, description, start at boot, network bridge or VLAN, and for VMs cloud-init user, SSH keys and IP configuration. digest (from the info tools) refuses the change if the config changed meanwhile. A running VM applies CPU and memory changes at its next start (reported as pending).',
  toolset: 'provision',
  access: 'write',
  targets: guestTargets,
  idempotent: true,
  input: z.object({
    vmid,
    node: optionalNode,
    cores: z.coerce.number().int().min(1).max(512).optional(),
    memory: z.coerce.number().int().min(16).optional().describe('MiB'),
    name: hostname.optional(),
    tags: z
      .array(z.string().regex(/^[a-zA-Z0-9_][a-zA-Z0-9_+.-]*$/))
      .optional()
      .describe('Replaces the tags'),
    description: z.string().max(8_192).optional(),
    onboot: z.boolean().optional(),
    bridge: z
      .string()
      .regex(/^[-_.\w]+$/)
      .optional()
      .describe('Bridge of the first NIC'),
    vlan: z.coerce
      .number()
      .int()
      .min(0)
      .max(4094)
      .optional()
      .describe('VLAN tag of the first NIC; 0 removes it'),
    ciuser: z.string().min(1).optional().describe('VMs: cloud-init user'),
    sshKeys: z.string().optional().describe('VMs: cloud-init public SSH keys, one per line'),
    ipconfig: z
      .string()
      .regex(/^(ip=(dhcp|[\d.]+\/\d+)(,gw=[\d.]+)?)(,ip6=\S+)?$/)
      .optional()
      .describe(
        'VMs: cloud-init IP config of the first NIC, e.g. ip=dhcp or ip=10.0.0.5/24,gw=10.0.0.1',
      ),
    delete: z
      .array(z.string().regex(/^[a-z][a-z0-9_-]*$/))
      .optional()
      .describe('Settings to remove'),
    digest: z
      .string()
      .regex(/^[0-9a-f]{40,64}$/)
      .optional(),
  }),
  output: z.object({
    vmid: z.number(),
    node: z.string(),
    changed: z.array(z.string()),
    pending: z.array(z.string()),
  }),
  async run(args, ctx) {
    const guest = await resolveGuest(ctx, args.vmid, { node: args.node });
    const area = ctx.pve.guests(guest.type);
    const params: Record<string, string | number | boolean | undefined> = {
      cores: args.cores,
      memory: args.memory,
      [guest.type === 'qemu' ? 'name' : 'hostname']: args.name,
      tags: args.tags?.join(';'),
      description: args.description,
      onboot: args.onboot,
    };
    if (guest.type === 'lxc' && (args.ciuser || args.sshKeys || args.ipconfig)) {
      throw new ToolError(
        'Cloud-init settings apply to VMs only; containers take their network settings through bridge, vlan and the container tools.',
      );
    }
    if (guest.type === 'qemu') {
      params.ciuser = args.ciuser;
      // PVE wants the keys URL-encoded inside the (form-encoded) value.
      params.sshkeys =
        args.sshKeys === undefined ? undefined : encodeURIComponent(args.sshKeys.trim());
      params.ipconfig0 = args.ipconfig;
    }
    if (args.bridge !== undefined || args.vlan !== undefined) {
      const config = await area.config(guest.node, guest.vmid);
      const net0 = String(config.net0 ?? '');
      if (!net0)
        throw new ToolError(
          `${kindOf(guest.type)} ${guest.vmid} has no first network interface (net0) to change.`,
        );
      const parts = net0
        .split(',')
        .filter(
          (p) =>
            !(args.bridge !== undefined && p.startsWith('bridge=')) &&
            !(args.vlan !== undefined && p.startsWith('tag=')),
        );
      if (args.bridge !== undefined) parts.push(`bridge=${args.bridge}`);
      if (args.vlan) parts.push(`tag=${args.vlan}`);
      params.net0 = parts.join(',');
    }
    const changed = Object.entries(params)
      .filter(([, v]) => v !== undefined)
      .map(([k]) => k);
    if (!changed.length && !args.delete?.length)
      throw new ToolError('Nothing to change: give at least one setting or delete.');
    await area.updateConfig(guest.node, guest.vmid, {
      ...params,
      delete: args.delete?.join(','),
      digest: args.digest,
    });
    const pending = (await area.pending(guest.node, guest.vmid))
      .filter((p) => p.pending !== undefined || p.delete)
      .map((p) => p.key);
    const text = `Changed ${[...changed, ...(args.delete ?? []).map((k) => `-${k}`)].join(', ')} of ${kindOf(guest.type)} ${idAndName(guest)}${pending.length ? `; pending until the next start: ${pending.join(', ')}` : ''}.`;
    return ok(
      {
        vmid: guest.vmid,
        node: guest.node,
        changed: [...changed, ...(args.delete ?? [])],
        pending,
      },
      text,
    );
  },
});

const resizeDisk = defineTool({
  name: 'proxmox_resize_disk',
  title: 'Grow a disk',
  description:
    "Grows a VM or container disk to a size ('40G') or by an amount ('+10G'). Disks cannot shrink.",
  toolset: 'provision',
  access: 'write',
  targets: guestTargets,
  input: z.object({
    vmid,
    disk: z
      .string()
      .regex(/^(scsi|virtio|sata|ide)\d+$|^(rootfs|mp\d+)$/, 'a disk key such as scsi0 or rootfs'),
    size: z.string().regex(/^\+?\d+(\.\d+)?[KMGT]$/, 'a size such as 40G or +10G'),
    node: optionalNode,
    timeout: waitTimeout,
  }),
  output: guestTask.extend({ disk: z.string(), size: z.string() }),
  async run(args, ctx) {
    const guest = await resolveGuest(ctx, args.vmid, { node: args.node });
    const task = await ctx.pve
      .guests(guest.type)
      .resize(guest.node, guest.vmid, args.disk, args.size);
    const { summary, text } = await runTask(ctx, task, {
      timeout: args.timeout,
      what: `Resize ${args.disk} of ${kindOf(guest.type)} ${idAndName(guest)} ${args.size.startsWith('+') ? 'by' : 'to'} ${args.size.replace('+', '')}`,
    });
    return ok(
      { vmid: guest.vmid, node: guest.node, disk: args.disk, size: args.size, ...summary },
      text,
    );
  },
});

const migrateGuest = defineTool({
  name: 'proxmox_migrate_guest',
  title: 'Migrate VM or container',
  description:
    'Moves a VM or container to another node: a running VM online (live), with its local disks if withLocalDisks; a running container by restarting it.',
  toolset: 'provision',
  access: 'write',
  targets: guestTargets,
  input: z.object({
    vmid,
    target: node.describe('Destination node'),
    online: z.boolean().default(true).describe('VMs: migrate a running VM live'),
    withLocalDisks: z.boolean().default(false).describe('VMs: copy local disks along'),
    restart: z.boolean().default(true).describe('Containers: stop, move and start a running one'),
    node: optionalNode,
    timeout: waitTimeout.default(1_800),
  }),
  output: guestTask.extend({ target: z.string() }),
  async run(args, ctx) {
    const guest = await resolveGuest(ctx, args.vmid, { node: args.node });
    const running = guest.status === 'running';
    const params =
      guest.type === 'qemu'
        ? {
            target: args.target,
            online: running && args.online ? true : undefined,
            'with-local-disks': args.withLocalDisks || undefined,
          }
        : { target: args.target, restart: running && args.restart ? true : undefined };
    const task = await ctx.pve.guests(guest.type).migrate(guest.node, guest.vmid, params);
    const { summary, text } = await runTask(ctx, task, {
      timeout: args.timeout,
      what: `Migrate ${kindOf(guest.type)} ${idAndName(guest)} from ${guest.node} to ${args.target}`,
      ha: { guest, node: args.target },
    });
    return ok({ vmid: guest.vmid, node: guest.node, target: args.target, ...summary }, text);
  },
});

export const provisionTools: AnyTool[] = [
  cloneGuest,
  convertToTemplate,
  updateConfig,
  resizeDisk,
  migrateGuest,
];
