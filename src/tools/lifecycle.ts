/** Creating and deleting guests: VMs (core toolset) and containers (provision toolset). */
import { z } from 'zod';
import type { PveApi } from '../pve/index.js';
import { idAndName } from '../pve/index.js';
import {
  guestTask,
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
import { type AnyTool, defineTool, guestTargets, ok } from './define.js';

// VMs

/** The online node with the most free memory, for a new VM when none is named. */
async function pickNode(pve: PveApi, signal: AbortSignal): Promise<string> {
  const nodes = (await pve.cluster.resources('node', { signal })).filter(
    (n) => n.status === 'online',
  );
  nodes.sort((a, b) => (b.maxmem ?? 0) - (b.mem ?? 0) - ((a.maxmem ?? 0) - (a.mem ?? 0)));
  const best = nodes[0]?.node;
  if (!best) throw new ToolError('No node is online to create the VM on.');
  return best;
}

/** The storage for new disks on a node: the named one, or the first that holds VM images. */
async function pickStorage(
  pve: PveApi,
  nodeName: string,
  wanted: string | undefined,
): Promise<string> {
  const storages = await pve.storage.list(nodeName, { content: 'images', enabled: true });
  if (wanted) {
    if (!storages.some((s) => s.storage === wanted)) {
      throw new ToolError(
        `Storage '${wanted}' on ${nodeName} cannot hold VM disks (or does not exist there). Storages that can: ${storages.map((s) => s.storage).join(', ') || 'none'}.`,
      );
    }
    return wanted;
  }
  const first = storages.sort((a, b) => (b.avail ?? 0) - (a.avail ?? 0))[0];
  if (!first) throw new ToolError(`No storage on ${nodeName} can hold VM disks.`);
  return first.storage;
}

/** An ISO by volume id, or by file name found on the node's ISO storages. */
async function findIso(pve: PveApi, nodeName: string, iso: string): Promise<string> {
  if (iso.includes(':')) {
    // A volume id of ISO content, nothing more: the value goes into a drive's property string.
    if (!/^[a-z][a-z0-9\-_.]*[a-z0-9]:iso\/[^,=/\s][^,=\s]*$/i.test(iso))
      throw new ToolError(
        `'${iso}' is not an ISO image volume id (storage:iso/file.iso). Give the file name, or a volume from proxmox_list_storage_content (content: iso).`,
      );
    return iso;
  }
  for (const s of await pve.storage.list(nodeName, { content: 'iso', enabled: true })) {
    const hit = (await pve.storage.content(nodeName, s.storage, { content: 'iso' })).find((v) =>
      v.volid.endsWith(`/${iso}`),
    );
    if (hit) return hit.volid;
  }
  throw new ToolError(
    `ISO '${iso}' was not found on ${nodeName}. List ISOs with proxmox_list_storage_content (content: iso).`,
  );
}

const createVm = defineTool({
  name: 'proxmox_create_vm',
  title: 'Create VM',
  description:
    'Creates a QEMU VM with one disk and one NIC, booting an ISO or nothing. Defaults: next free vmid, the node with most free memory, its largest VM-image storage.',
  toolset: 'core',
  access: 'write',
  targets: guestTargets,
  input: z.object({
    name: z
      .string()
      .regex(/^[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?$/, 'a DNS name: letters, digits, - and .')
      .max(63),
    vmid: vmid.optional(),
    node: node.optional(),
    cores: z.coerce.number().int().min(1).max(512).default(2),
    memory: z.coerce.number().int().min(16).max(8_388_608).default(2048).describe('MiB'),
    diskSize: z.coerce.number().min(1).max(131_072).default(32).describe('GiB'),
    storage: z.string().optional(),
    bridge: z
      .string()
      .regex(/^[-_.\w]+$/)
      .default('vmbr0'),
    iso: z.string().optional().describe('ISO volume id or file name'),
    ostype: z
      .enum([
        'l26',
        'l24',
        'win11',
        'win10',
        'win8',
        'win7',
        'w2k8',
        'wxp',
        'w2k',
        'solaris',
        'other',
      ])
      .default('l26'),
    description: z.string().max(8_192).optional(),
    pool: z.string().optional(),
    start: z.boolean().default(false).describe('Start it once created'),
    timeout: waitTimeout,
  }),
  output: z.object({
    vmid: z.number(),
    node: z.string(),
    name: z.string(),
    storage: z.string(),
    ...taskFields,
  }),
  async run(args, ctx) {
    const target = args.node ?? (await pickNode(ctx.pve, ctx.signal));
    const storage = await pickStorage(ctx.pve, target, args.storage);
    const iso = args.iso ? await findIso(ctx.pve, target, args.iso) : undefined;
    const id = args.vmid ?? (await ctx.pve.cluster.nextid());
    const task = await ctx.pve.qemu.create(target, {
      vmid: id,
      name: args.name,
      cores: args.cores,
      memory: args.memory,
      ostype: args.ostype,
      scsihw: 'virtio-scsi-single',
      scsi0: `${storage}:${args.diskSize},iothread=1`,
      net0: `virtio,bridge=${args.bridge},firewall=1`,
      ide2: iso ? `${iso},media=cdrom` : undefined,
      boot: iso ? 'order=scsi0;ide2;net0' : 'order=scsi0;net0',
      agent: '1',
      description: args.description,
      pool: args.pool,
      start: args.start || undefined,
    });
    const what = `Create VM ${id} (${args.name}) on ${target}, ${args.cores} cores, ${args.memory} MiB, ${args.diskSize} GiB on ${storage}${args.start ? ', and start it' : ''}`;
    const { summary, text } = await runTask(ctx, task, {
      timeout: args.timeout,
      what,
    });
    return ok({ vmid: id, node: target, name: args.name, storage, ...summary }, text);
  },
});

const deleteVm = defineTool({
  name: 'proxmox_delete_vm',
  title: 'Delete VM',
  description:
    'Deletes a stopped VM and all its disks. purge also removes it from HA, backup jobs and replication. Cannot be undone.',
  toolset: 'core',
  access: 'destructive',
  targets: guestTargets,
  input: z.object({
    vmid,
    node: optionalNode,
    purge: z
      .boolean()
      .default(false)
      .describe('Also remove it from HA, backup and replication jobs'),
    timeout: waitTimeout,
  }),
  output: z.object({ vmid: z.number(), node: z.string(), name: z.string(), ...taskFields }),
  async run(args, ctx) {
    const guest = await resolveGuest(ctx, args.vmid, { type: 'qemu', node: args.node });
    const task = await ctx.pve.qemu.destroy(guest.node, guest.vmid, {
      purge: args.purge || undefined,
      'destroy-unreferenced-disks': true,
    });
    const { summary, text } = await runTask(ctx, task, {
      timeout: args.timeout,
      what: `Delete VM ${idAndName(guest)} on ${guest.node}`,
    });
    return ok({ vmid: guest.vmid, node: guest.node, name: guest.name, ...summary }, text);
  },
});

// Containers

/** A container template by volume id, or by file name found on the node's template storages. */
async function findTemplate(pve: PveApi, nodeName: string, template: string): Promise<string> {
  if (template.includes(':')) return template;
  for (const s of await pve.storage.list(nodeName, { content: 'vztmpl', enabled: true })) {
    const hit = (await pve.storage.content(nodeName, s.storage, { content: 'vztmpl' })).find(
      (v) => v.volid.endsWith(`/${template}`) || v.volid.includes(`/${template}`),
    );
    if (hit) return hit.volid;
  }
  throw new ToolError(
    `No container template '${template}' on ${nodeName}. List them with proxmox_list_storage_content (content: vztmpl).`,
  );
}

async function rootdirStorage(
  pve: PveApi,
  nodeName: string,
  wanted: string | undefined,
): Promise<string> {
  const storages = await pve.storage.list(nodeName, { content: 'rootdir', enabled: true });
  if (wanted) {
    if (!storages.some((s) => s.storage === wanted))
      throw new ToolError(
        `Storage '${wanted}' on ${nodeName} cannot hold containers. Storages that can: ${storages.map((s) => s.storage).join(', ') || 'none'}.`,
      );
    return wanted;
  }
  const best = storages.sort((a, b) => (b.avail ?? 0) - (a.avail ?? 0))[0];
  if (!best) throw new ToolError(`No storage on ${nodeName} can hold containers.`);
  return best.storage;
}

const createContainer = defineTool({
  name: 'proxmox_create_container',
  title: 'Create container',
  description:
    'Creates an LXC container from a template (volume id or file name) with one root disk and one network interface. vmid comes from the cluster when omitted. Password or SSH keys set root access.',
  toolset: 'provision',
  access: 'write',
  targets: guestTargets,
  input: z.object({
    hostname,
    template: z.string().min(1).describe('Template volume id or file name'),
    node,
    vmid: vmid.optional(),
    cores: z.coerce.number().int().min(1).max(512).default(1),
    memory: z.coerce.number().int().min(16).default(512).describe('MiB'),
    swap: z.coerce.number().int().min(0).default(512).describe('MiB'),
    diskSize: z.coerce.number().min(0.1).max(131_072).default(8).describe('GiB'),
    storage: z.string().optional(),
    bridge: z
      .string()
      .regex(/^[-_.\w]+$/)
      .default('vmbr0'),
    ip: z
      .string()
      .regex(
        /^(dhcp|manual|\d{1,3}(\.\d{1,3}){3}\/\d{1,2})$/,
        'dhcp, manual, or an IPv4 CIDR like 10.0.0.5/24',
      )
      .default('dhcp'),
    gateway: z
      .string()
      .regex(/^\d{1,3}(\.\d{1,3}){3}$/)
      .optional(),
    password: z.string().min(5).optional().describe('root password'),
    sshKeys: z.string().optional().describe('Public SSH keys for root, one per line'),
    unprivileged: z.boolean().default(true),
    pool: z.string().optional(),
    start: z.boolean().default(false),
    timeout: waitTimeout,
  }),
  output: guestTask.extend({ hostname: z.string(), template: z.string(), storage: z.string() }),
  async run(args, ctx) {
    const template = await findTemplate(ctx.pve, args.node, args.template);
    const storage = await rootdirStorage(ctx.pve, args.node, args.storage);
    const id = args.vmid ?? (await ctx.pve.cluster.nextid());
    const net = [
      `name=eth0`,
      `bridge=${args.bridge}`,
      `ip=${args.ip}`,
      args.gateway ? `gw=${args.gateway}` : undefined,
    ]
      .filter(Boolean)
      .join(',');
    const task = await ctx.pve.lxc.create(args.node, {
      vmid: id,
      hostname: args.hostname,
      ostemplate: template,
      cores: args.cores,
      memory: args.memory,
      swap: args.swap,
      rootfs: `${storage}:${args.diskSize}`,
      net0: net,
      password: args.password,
      'ssh-public-keys': args.sshKeys,
      unprivileged: args.unprivileged,
      pool: args.pool,
      start: args.start || undefined,
    });
    const what = `Create container ${id} (${args.hostname}) on ${args.node} from ${template.split('/').pop()}${args.start ? ', and start it' : ''}`;
    const { summary, text } = await runTask(ctx, task, {
      timeout: args.timeout,
      what,
    });
    return ok(
      { vmid: id, node: args.node, hostname: args.hostname, template, storage, ...summary },
      text,
    );
  },
});

const deleteContainer = defineTool({
  name: 'proxmox_delete_container',
  title: 'Delete container',
  description:
    'Deletes a stopped container and its volumes (force also stops a running one). purge also removes it from HA, backup jobs and replication. Cannot be undone.',
  toolset: 'provision',
  access: 'destructive',
  targets: guestTargets,
  input: z.object({
    vmid,
    node: optionalNode,
    purge: z.boolean().default(false),
    force: z.boolean().default(false).describe('Stop it first if running'),
    timeout: waitTimeout,
  }),
  output: guestTask.extend({ name: z.string() }),
  async run(args, ctx) {
    const guest = await resolveGuest(ctx, args.vmid, { type: 'lxc', node: args.node });
    const task = await ctx.pve.lxc.destroy(guest.node, guest.vmid, {
      purge: args.purge || undefined,
      force: args.force || undefined,
    });
    const { summary, text } = await runTask(ctx, task, {
      timeout: args.timeout,
      what: `Delete container ${idAndName(guest)} on ${guest.node}`,
    });
    return ok({ vmid: guest.vmid, node: guest.node, name: guest.name, ...summary }, text);
  },
});

export const lifecycleTools: AnyTool[] = [createVm, deleteVm, createContainer, deleteContainer];
