/**
 * The `core` toolset: the original twenty tools and the rest of a working day with guests,
 * snapshots, storage and tasks.
 */
import { z } from 'zod';
import type { GuestType, PveApi } from '../pve/index.js';
import { idAndName, parseUpid, TaskRef } from '../pve/index.js';
import {
  cursor,
  hasTag,
  label,
  limit,
  namePattern,
  node,
  optionalNode,
  pageFields,
  pageNote,
  paginate,
  resolveGuest,
  runTask,
  ToolError,
  taskFields,
  vmid,
  waitTimeout,
} from './common.js';
import {
  type Access,
  type AnyTool,
  defineTool,
  guestTargets,
  ok,
  type ToolContext,
} from './define.js';
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
} from './guests.js';
import { bytes, duration, percent, table } from './render.js';

const kindWord = (type: GuestType) => (type === 'qemu' ? 'VM' : 'container');

// Cluster and nodes

const testConnection = defineTool({
  name: 'proxmox_test_connection',
  title: 'Test connection',
  description:
    'Checks that the API answers with the configured credentials; returns the PVE version, cluster name and node counts.',
  toolset: 'core',
  access: 'read',
  input: z.object({}),
  output: z.object({
    cluster: z.string(),
    clusterName: z.string().optional(),
    version: z.string(),
    nodes: z.number(),
    nodesOnline: z.number(),
  }),
  async run(_args, ctx) {
    const [version, status] = await Promise.all([
      ctx.pve.version({ signal: ctx.signal }),
      ctx.pve.cluster.status(),
    ]);
    const nodes = status.filter((s) => s.type === 'node');
    const name = status.find((s) => s.type === 'cluster')?.name;
    const online = nodes.filter((n) => n.online === 1).length;
    return ok(
      {
        cluster: ctx.cluster,
        clusterName: name,
        version: version.version,
        nodes: nodes.length,
        nodesOnline: online,
      },
      `Connected to ${name ? `cluster '${name}'` : 'a standalone node'} running Proxmox VE ${version.version}: ${online} of ${nodes.length} node(s) online.`,
    );
  },
});

const getVersion = defineTool({
  name: 'proxmox_get_version',
  title: 'Proxmox VE version',
  description: 'Returns the Proxmox VE version, release and repository id of the API server.',
  toolset: 'core',
  access: 'read',
  input: z.object({}),
  output: z.object({ version: z.string(), release: z.string(), repoid: z.string() }),
  async run(_args, ctx) {
    const v = await ctx.pve.version({ signal: ctx.signal });
    return ok(
      { version: v.version, release: v.release, repoid: v.repoid },
      `Proxmox VE ${v.version} (release ${v.release}, ${v.repoid})`,
    );
  },
});

const nodeRow = z.object({
  node: z.string(),
  status: z.string(),
  cpu: z.number().optional(),
  maxcpu: z.number().optional(),
  mem: z.number().optional(),
  maxmem: z.number().optional(),
  uptime: z.number().optional(),
});

const listNodes = defineTool({
  name: 'proxmox_list_nodes',
  title: 'List nodes',
  description: 'Lists the cluster nodes with status (online or offline), CPU, memory and uptime.',
  toolset: 'core',
  access: 'read',
  input: z.object({}),
  output: z.object({ nodes: z.array(nodeRow) }),
  async run(_args, ctx) {
    const nodes = (await ctx.pve.nodes.list()).map((n) => ({
      node: n.node,
      status: n.status,
      cpu: n.cpu,
      maxcpu: n.maxcpu,
      mem: n.mem,
      maxmem: n.maxmem,
      uptime: n.uptime,
    }));
    const text = table(nodes, [
      ['NODE', (n) => n.node],
      ['STATUS', (n) => n.status],
      ['CPU', (n) => (n.status === 'online' ? `${percent(n.cpu)}/${n.maxcpu}` : '')],
      ['MEM', (n) => (n.status === 'online' ? `${bytes(n.mem)}/${bytes(n.maxmem)}` : '')],
      ['UPTIME', (n) => (n.status === 'online' ? duration(n.uptime) : '')],
    ]);
    return ok({ nodes }, text);
  },
});

const getNodeStatus = defineTool({
  name: 'proxmox_get_node_status',
  title: 'Node status',
  description:
    "Returns a node's CPU model and use, load average, memory, root disk, uptime and kernel and PVE versions.",
  toolset: 'core',
  access: 'read',
  input: z.object({ node }),
  output: z.object({
    node: z.string(),
    cpu: z.number(),
    cpus: z.number().optional(),
    cpuModel: z.string().optional(),
    loadavg: z.array(z.number()),
    memUsed: z.number().optional(),
    memTotal: z.number().optional(),
    rootUsed: z.number().optional(),
    rootTotal: z.number().optional(),
    uptime: z.number().optional(),
    pveversion: z.string(),
    kernel: z.string().optional(),
  }),
  async run({ node }, ctx) {
    const s = await ctx.pve.nodes.status(node);
    const mem = s.memory as { used?: number; total?: number };
    const root = s.rootfs as { used?: number; total?: number };
    const cpuinfo = s.cpuinfo as { model?: string; cpus?: number };
    const data = {
      node,
      cpu: s.cpu,
      cpus: cpuinfo.cpus,
      cpuModel: cpuinfo.model,
      loadavg: s.loadavg.map(Number),
      memUsed: mem.used,
      memTotal: mem.total,
      rootUsed: root.used,
      rootTotal: root.total,
      uptime: (s as { uptime?: number }).uptime,
      pveversion: s.pveversion,
      kernel: (s['current-kernel'] as { release?: string }).release,
    };
    return ok(
      data,
      [
        `${node}: up ${duration(data.uptime)}, ${data.pveversion}, kernel ${data.kernel ?? '?'}`,
        `CPU ${percent(data.cpu)} of ${data.cpus} (${data.cpuModel ?? '?'}), load ${data.loadavg.join(' ')}`,
        `memory ${bytes(data.memUsed)}/${bytes(data.memTotal)}, root disk ${bytes(data.rootUsed)}/${bytes(data.rootTotal)}`,
      ].join('\n'),
    );
  },
});

const getClusterStatus = defineTool({
  name: 'proxmox_get_cluster_status',
  title: 'Cluster status',
  description:
    'Summarises the cluster: quorum, nodes online, guests running and stopped, storage use.',
  toolset: 'core',
  access: 'read',
  input: z.object({}),
  output: z.object({
    name: z.string().optional(),
    quorate: z.boolean(),
    nodes: z.array(z.object({ name: z.string(), online: z.boolean(), ip: z.string().optional() })),
    guests: z.object({
      running: z.number(),
      stopped: z.number(),
      templates: z.number(),
      other: z.number(),
    }),
    storage: z.object({ used: z.number(), total: z.number() }),
  }),
  async run(_args, ctx) {
    const [status, resources] = await Promise.all([
      ctx.pve.cluster.status(),
      ctx.pve.cluster.resources(undefined, { signal: ctx.signal }),
    ]);
    const cluster = status.find((s) => s.type === 'cluster');
    const nodes = status
      .filter((s) => s.type === 'node')
      .map((n) => ({ name: n.name, online: n.online === 1, ip: n.ip }));
    const guests = { running: 0, stopped: 0, templates: 0, other: 0 };
    const seen = new Set<string>();
    let used = 0;
    let total = 0;
    for (const r of resources) {
      if (r.type === 'qemu' || r.type === 'lxc') {
        if (r.template) guests.templates++;
        else if (r.status === 'running') guests.running++;
        else if (r.status === 'stopped') guests.stopped++;
        else guests.other++;
      } else if (r.type === 'storage' && r.status === 'available') {
        // A shared storage appears once per node; count it once.
        const key = r.shared ? `shared/${r.storage}` : r.id;
        if (seen.has(key)) continue;
        seen.add(key);
        used += r.disk ?? 0;
        total += r.maxdisk ?? 0;
      }
    }
    const quorate = cluster ? cluster.quorate === 1 : true;
    const offline = nodes.filter((n) => !n.online).map((n) => n.name);
    const text = [
      `Cluster ${cluster?.name ?? '(standalone)'}: ${quorate ? 'quorate' : 'NOT QUORATE'}, ${nodes.length - offline.length}/${nodes.length} nodes online${offline.length ? ` (offline: ${offline.join(', ')})` : ''}`,
      `Guests: ${guests.running} running, ${guests.stopped} stopped, ${guests.templates} templates${guests.other ? `, ${guests.other} unknown (offline nodes)` : ''}`,
      `Storage: ${bytes(used)} used of ${bytes(total)} (${percent(total ? used / total : 0)})`,
    ].join('\n');
    return ok({ name: cluster?.name, quorate, nodes, guests, storage: { used, total } }, text);
  },
});

// Guests: listing, information, status

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
    title: `${type === 'qemu' ? 'VM' : 'Container'} configuration`,
    description: `Returns a ${kindWord(type)}'s configuration: CPU, memory, disks, network interfaces, OS type, tags, description, pending changes and the config digest.`,
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
    title: `${type === 'qemu' ? 'VM' : 'Container'} status`,
    description: `Returns a ${kindWord(type)}'s run state, uptime, CPU and memory use, lock and HA state.`,
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

// Guests: power

type PowerAction = 'start' | 'stop' | 'shutdown' | 'reboot' | 'reset' | 'suspend' | 'resume';

interface PowerSpec {
  type: GuestType;
  action: PowerAction;
  name: string;
  title: string;
  description: string;
  access: Access;
  idempotent?: boolean;
}

const powerOutput = z.object({
  vmid: z.number(),
  node: z.string(),
  action: z.string(),
  ...taskFields,
});

/** The state an action leaves a guest in, to skip calls that would change nothing. */
const alreadyDone: Partial<Record<PowerAction, (status: string, type: GuestType) => boolean>> = {
  start: (s) => s === 'running',
  stop: (s) => s === 'stopped',
  shutdown: (s) => s === 'stopped',
  // A container's resume restores a checkpoint: a running one has nothing to restore.
  resume: (s, type) => type === 'lxc' && s === 'running',
};

function powerTool(
  spec: PowerSpec,
  extra: z.ZodRawShape = {},
  params: (
    args: Record<string, unknown>,
  ) => Record<string, string | number | boolean | undefined> = () => ({}),
) {
  return defineTool({
    name: spec.name,
    title: spec.title,
    description: spec.description,
    toolset: 'core',
    access: spec.access,
    idempotent: spec.idempotent,
    targets: guestTargets,
    input: z.object({ vmid, node: optionalNode, ...extra, timeout: waitTimeout }),
    output: powerOutput,
    async run(args, ctx) {
      const guest = await resolveGuest(ctx, args.vmid, { type: spec.type, node: args.node });
      const what = `${spec.action[0]?.toUpperCase()}${spec.action.slice(1)} ${kindWord(spec.type)} ${idAndName(guest)} on ${guest.node}`;
      if (guest.template && (spec.action === 'start' || spec.action === 'resume')) {
        throw new ToolError(`${idAndName(guest)} is a template and cannot run; clone it instead.`);
      }
      const current = await ctx.pve.guests(spec.type).status(guest.node, guest.vmid);
      const status = String(current.status);
      if (spec.action === 'start' && current.qmpstatus === 'paused') {
        throw new ToolError(
          `VM ${idAndName(guest)} is paused, not stopped: resume it with proxmox_resume_vm.`,
        );
      }
      const done = alreadyDone[spec.action];
      if (done?.(status, spec.type)) {
        return ok(
          { vmid: guest.vmid, node: guest.node, action: spec.action, status: 'completed' as const },
          `${spec.type === 'qemu' ? 'VM' : 'Container'} ${idAndName(guest)} is already ${status}; nothing to do.`,
        );
      }
      const task = await ctx.pve
        .guests(spec.type)
        [spec.action](guest.node, guest.vmid, params(args));
      const haStatus =
        spec.action === 'start'
          ? 'running'
          : /^(stop|shutdown)$/.test(spec.action)
            ? 'stopped'
            : undefined;
      const { summary, text } = await runTask(ctx, task, {
        timeout: args.timeout,
        what,
        ...(haStatus ? { ha: { guest, status: haStatus } } : {}),
      });
      return ok({ vmid: guest.vmid, node: guest.node, action: spec.action, ...summary }, text);
    },
  });
}

const shutdownExtra = {
  shutdownTimeout: z.coerce
    .number()
    .int()
    .min(1)
    .max(3_600)
    .optional()
    .describe('Seconds the guest gets to shut down'),
  forceStop: z.boolean().default(false).describe('Stop hard after shutdownTimeout'),
};
const shutdownParams = (a: Record<string, unknown>) => ({
  timeout: a.shutdownTimeout as number | undefined,
  forceStop: a.forceStop ? true : undefined,
});

const powerTools = [
  powerTool({
    type: 'qemu',
    action: 'start',
    name: 'proxmox_start_vm',
    title: 'Start VM',
    access: 'write',
    idempotent: true,
    description:
      'Starts a VM (or one suspended to disk). Waits for the start task and returns its outcome.',
  }),
  powerTool({
    type: 'qemu',
    action: 'stop',
    name: 'proxmox_stop_vm',
    title: 'Stop VM',
    access: 'destructive',
    idempotent: true,
    description:
      'Stops a VM at once, like pulling the power: unsaved data in the guest is lost. proxmox_shutdown_vm shuts down cleanly.',
  }),
  powerTool(
    {
      type: 'qemu',
      action: 'shutdown',
      name: 'proxmox_shutdown_vm',
      title: 'Shut down VM',
      access: 'write',
      idempotent: true,
      description:
        'Asks a VM to shut down cleanly (ACPI or guest agent); optionally stops it hard after a timeout.',
    },
    shutdownExtra,
    shutdownParams,
  ),
  powerTool({
    type: 'qemu',
    action: 'reboot',
    name: 'proxmox_reboot_vm',
    title: 'Reboot VM',
    access: 'write',
    description: 'Reboots a running VM cleanly; pending configuration changes apply.',
  }),
  powerTool({
    type: 'qemu',
    action: 'reset',
    name: 'proxmox_reset_vm',
    title: 'Reset VM',
    access: 'destructive',
    description:
      'Resets a running VM like a hardware reset button: unsaved data in the guest is lost.',
  }),
  powerTool(
    {
      type: 'qemu',
      action: 'suspend',
      name: 'proxmox_suspend_vm',
      title: 'Suspend VM',
      access: 'write',
      description:
        'Pauses a running VM in memory, or with toDisk saves its RAM and stops it (hibernation).',
    },
    { toDisk: z.boolean().default(false).describe('Save RAM to disk and stop') },
    (a) => ({ todisk: a.toDisk ? true : undefined }),
  ),
  powerTool({
    type: 'qemu',
    action: 'resume',
    name: 'proxmox_resume_vm',
    title: 'Resume VM',
    access: 'write',
    idempotent: true,
    description: 'Resumes a paused VM, or one suspended to disk.',
  }),
  powerTool({
    type: 'lxc',
    action: 'start',
    name: 'proxmox_start_container',
    title: 'Start container',
    access: 'write',
    idempotent: true,
    description: 'Starts an LXC container and waits for the start task.',
  }),
  powerTool({
    type: 'lxc',
    action: 'stop',
    name: 'proxmox_stop_container',
    title: 'Stop container',
    access: 'destructive',
    idempotent: true,
    description:
      'Stops an LXC container at once, killing its processes. proxmox_shutdown_container shuts down cleanly.',
  }),
  powerTool(
    {
      type: 'lxc',
      action: 'shutdown',
      name: 'proxmox_shutdown_container',
      title: 'Shut down container',
      access: 'write',
      idempotent: true,
      description: 'Shuts an LXC container down cleanly; optionally stops it hard after a timeout.',
    },
    shutdownExtra,
    shutdownParams,
  ),
  powerTool({
    type: 'lxc',
    action: 'reboot',
    name: 'proxmox_reboot_container',
    title: 'Reboot container',
    access: 'write',
    description: 'Reboots a running LXC container.',
  }),
  powerTool({
    type: 'lxc',
    action: 'suspend',
    name: 'proxmox_suspend_container',
    title: 'Suspend container',
    access: 'write',
    description:
      'Checkpoints a running container with CRIU (experimental in PVE) and stops it; resume restores it.',
  }),
  powerTool({
    type: 'lxc',
    action: 'resume',
    name: 'proxmox_resume_container',
    title: 'Resume container',
    access: 'write',
    idempotent: true,
    description: 'Restores a container from its suspend checkpoint (CRIU).',
  }),
];

// Creating and deleting VMs

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
    'Creates a QEMU VM with one disk and one NIC, booting an ISO or nothing. Defaults: the next free vmid, the node with most free memory, its largest VM-image storage.',
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
    const what = `Create VM ${id} (${args.name}) on ${target}, ${args.cores} cores, ${args.memory} MiB, ${args.diskSize} GiB on ${storage}`;
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

// Snapshots (VMs and containers alike: the vmid tells which)

const snapname = z
  .string()
  .regex(
    /^[a-zA-Z][a-zA-Z0-9_-]{1,39}$/,
    'starts with a letter; letters, digits, _ and -; 2 to 40 characters',
  );

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
    const task = await ctx.pve.guests(guest.type).snapshot(guest.node, guest.vmid, args.snapname, {
      description: args.description,
      vmstate: guest.type === 'qemu' && args.vmstate ? true : undefined,
    });
    const { summary, text } = await runTask(ctx, task, {
      timeout: args.timeout,
      what: `Snapshot '${args.snapname}' of ${label(guest.type)} ${idAndName(guest)}`,
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
    'Lists the snapshot tree of a VM or container: name, time, description, parent, and which snapshot the current state follows.',
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
        vmstate: s.vmstate === undefined ? undefined : s.vmstate === 1,
        // PVE marks a snapshot a task is still taking or deleting.
        snapstate: (s as { snapstate?: string }).snapstate as 'prepare' | 'delete' | undefined,
      }));
    if (!snapshots.length)
      return ok(
        { vmid: guest.vmid, snapshots },
        `${label(guest.type)} ${idAndName(guest)} has no snapshots.`,
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
    'Returns a VM or container to a snapshot. Every change since that snapshot is lost; a running guest is stopped unless the snapshot holds RAM.',
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
    const task = await ctx.pve
      .guests(guest.type)
      .rollback(guest.node, guest.vmid, args.snapname, { start: args.start || undefined });
    const { summary, text } = await runTask(ctx, task, {
      timeout: args.timeout,
      what: `Roll back ${label(guest.type)} ${idAndName(guest)} to '${args.snapname}'`,
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
    const task = await ctx.pve
      .guests(guest.type)
      .deleteSnapshot(guest.node, guest.vmid, args.snapname);
    const { summary, text } = await runTask(ctx, task, {
      timeout: args.timeout,
      what: `Delete snapshot '${args.snapname}' of ${label(guest.type)} ${idAndName(guest)}`,
    });
    return ok({ vmid: guest.vmid, node: guest.node, snapname: args.snapname, ...summary }, text);
  },
});

// Storage

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
async function storageRows(ctx: ToolContext): Promise<StorageRow[]> {
  const rows: StorageRow[] = [];
  const seen = new Set<string>();
  for (const r of await ctx.pve.cluster.resources('storage', { signal: ctx.signal })) {
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
    'Lists the volumes on a storage: ISO images, container templates, backups, disk images; filterable by content kind and vmid, paged.',
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

// Tasks

const upid = z
  .string()
  .regex(
    /^UPID:[^:\s]+:[0-9A-F]{8}:[0-9A-F]{8,9}:[0-9A-F]{8}:[^:\s]+:[^:\s]*:[^:\s]+:$/,
    'a task ID (UPID:node:...)',
  )
  .describe('Task ID (UPID)');
const taskRow = z.object({
  upid: z.string(),
  node: z.string(),
  type: z.string(),
  id: z.string(),
  user: z.string(),
  status: z.string().describe('running, OK, WARNINGS: n, or the error'),
  starttime: z.number(),
  endtime: z.number().optional(),
});

function parsedUpid(id: string) {
  const parsed = parseUpid(id);
  if (!parsed) throw new ToolError(`'${id}' is not a task ID.`);
  return parsed;
}

const listTasks = defineTool({
  name: 'proxmox_list_tasks',
  title: 'List tasks',
  description:
    'Lists recent tasks of the cluster or one node, newest first; filterable by vmid, type, running or failed.',
  toolset: 'core',
  access: 'read',
  input: z.object({
    node: node.optional(),
    vmid: vmid.optional(),
    type: z
      .string()
      .regex(/^[a-z-]+$/)
      .optional()
      .describe('Task type, e.g. qmstart, vzdump'),
    state: z.enum(['running', 'failed', 'all']).default('all'),
    limit: z.coerce.number().int().min(1).max(500).default(30),
  }),
  output: z.object({ tasks: z.array(taskRow) }),
  async run(args, ctx) {
    const raw = args.node
      ? await ctx.pve.nodes.tasks(args.node, {
          vmid: args.vmid,
          typefilter: args.type,
          source: args.state === 'running' ? 'active' : 'all',
          errors: args.state === 'failed' ? true : undefined,
          limit: args.limit,
        })
      : await ctx.pve.cluster.tasks();
    const rows = (raw as Record<string, unknown>[])
      .map((t) => ({
        upid: String(t.upid),
        node: String(t.node),
        type: String(t.type),
        id: String(t.id ?? ''),
        user: `${t.user}${t.tokenid ? `!${t.tokenid}` : ''}`,
        status: t.endtime === undefined ? 'running' : String(t.status ?? 'unknown'),
        starttime: Number(t.starttime),
        endtime: t.endtime === undefined ? undefined : Number(t.endtime),
      }))
      .filter((t) => args.vmid === undefined || t.id === String(args.vmid))
      .filter((t) => !args.type || t.type === args.type)
      .filter((t) => args.state !== 'running' || t.status === 'running')
      .filter(
        (t) =>
          args.state !== 'failed' ||
          (t.status !== 'running' && t.status !== 'OK' && !t.status.startsWith('WARNINGS')),
      )
      .sort((a, b) => b.starttime - a.starttime)
      .slice(0, args.limit);
    const text = rows.length
      ? table(rows, [
          [
            'START',
            (t) => new Date(t.starttime * 1000).toISOString().slice(5, 19).replace('T', ' '),
          ],
          ['NODE', (t) => t.node],
          ['TYPE', (t) => t.type],
          ['ID', (t) => t.id],
          ['STATUS', (t) => t.status],
          ['UPID', (t) => t.upid],
        ])
      : 'No tasks match.';
    return ok({ tasks: rows }, text);
  },
});

const getTaskStatus = defineTool({
  name: 'proxmox_get_task_status',
  title: 'Task status',
  description:
    'Returns whether a task runs or has ended, and how it ended (OK, WARNINGS: n, or the error).',
  toolset: 'core',
  access: 'read',
  input: z.object({ upid }),
  output: z.object({
    upid: z.string(),
    node: z.string(),
    type: z.string(),
    id: z.string(),
    status: z.string(),
    exitstatus: z.string().optional(),
    ok: z.boolean().optional(),
  }),
  async run(args, ctx) {
    const p = parsedUpid(args.upid);
    const s = await ctx.pve.tasks.status(p.node, args.upid);
    const ended = s.status === 'stopped';
    const okay = ended
      ? s.exitstatus === 'OK' || (s.exitstatus?.startsWith('WARNINGS') ?? false)
      : undefined;
    return ok(
      {
        upid: args.upid,
        node: p.node,
        type: p.type,
        id: p.id,
        status: s.status,
        exitstatus: s.exitstatus,
        ok: okay,
      },
      `Task ${p.type}${p.id ? ` ${p.id}` : ''} on ${p.node}: ${ended ? `ended, ${s.exitstatus}` : 'running'}`,
    );
  },
});

const getTaskLog = defineTool({
  name: 'proxmox_get_task_log',
  title: 'Task log',
  description: 'Returns lines of a task log, from line `start`, up to `limit` lines.',
  toolset: 'core',
  access: 'read',
  input: z.object({
    upid,
    start: z.coerce.number().int().min(0).default(0),
    limit: z.coerce.number().int().min(1).max(5_000).default(100),
  }),
  output: z.object({ upid: z.string(), lines: z.array(z.string()), total: z.number() }),
  async run(args, ctx) {
    const p = parsedUpid(args.upid);
    const { lines: data, total } = await ctx.pve.tasks.log(
      p.node,
      args.upid,
      args.start,
      args.limit,
    );
    const more =
      total > args.start + data.length
        ? `\n(lines ${args.start + 1}-${args.start + data.length} of ${total})`
        : '';
    return ok(
      { upid: args.upid, lines: data, total },
      data.length ? data.join('\n') + more : 'The log has no lines there.',
    );
  },
});

const waitTask = defineTool({
  name: 'proxmox_wait_task',
  title: 'Wait for task',
  description:
    'Waits for a task to end, reporting its log as progress; answers how it ended, or that it still runs when the wait ends.',
  toolset: 'core',
  access: 'read',
  input: z.object({ upid, timeout: waitTimeout }),
  output: z.object({ node: z.string(), type: z.string(), ...taskFields }),
  async run(args, ctx) {
    const p = parsedUpid(args.upid);
    const { summary, text } = await runTask(ctx, new TaskRef(ctx.pve.client, args.upid), {
      // Waiting is what this tool is for: 0 still checks once.
      timeout: Math.max(1, args.timeout),
      what: `Task ${p.type}${p.id ? ` ${p.id}` : ''} on ${p.node}`,
    });
    return ok({ node: p.node, type: p.type, ...summary }, text);
  },
});

const stopTask = defineTool({
  name: 'proxmox_stop_task',
  title: 'Stop task',
  description:
    'Stops a running task (a backup, migration, ...). What it had done so far may be left unfinished.',
  toolset: 'core',
  access: 'write',
  targets: (a) => ({ upid: a.upid }),
  input: z.object({ upid }),
  output: z.object({ upid: z.string(), node: z.string(), stopped: z.boolean() }),
  async run(args, ctx) {
    const p = parsedUpid(args.upid);
    const before = await ctx.pve.tasks.status(p.node, args.upid);
    if (before.status === 'stopped')
      return ok(
        { upid: args.upid, node: p.node, stopped: false },
        `Task ${p.type} had already ended (${before.exitstatus}).`,
      );
    await ctx.pve.tasks.stop(args.upid);
    return ok(
      { upid: args.upid, node: p.node, stopped: true },
      `Stopped task ${p.type}${p.id ? ` ${p.id}` : ''} on ${p.node}.`,
    );
  },
});

// Bulk power actions

const bulkResult = z.object({
  vmid: z.number(),
  name: z.string(),
  node: z.string(),
  type: z.enum(['qemu', 'lxc']),
  result: z.enum(['done', 'skipped', 'failed', 'running', 'refused']),
  detail: z.string(),
  upid: z.string().optional(),
});
type BulkResult = z.infer<typeof bulkResult>;

const bulkGuests = defineTool({
  name: 'proxmox_bulk_guests',
  title: 'Start, shut down or stop many guests',
  description:
    'Starts, shuts down or stops many guests, chosen by vmids, filters or all: true, in parallel; skips templates and guests already so. Returns a per-guest table.',
  toolset: 'core',
  access: 'destructive',
  targets: (a) => ({ selected: true, nodes: [a.node] }),
  input: z.object({
    action: z.enum(['start', 'shutdown', 'stop']),
    vmids: z.array(vmid).max(10_000).optional(),
    node: node.optional(),
    tag: z.string().optional(),
    pool: z.string().optional(),
    name: z.string().optional().describe('Substring, or a * ? pattern'),
    type: z.enum(['qemu', 'lxc']).optional(),
    all: z.boolean().default(false),
    forceStop: z.boolean().default(false).describe('shutdown: stop hard after the timeout'),
    timeout: waitTimeout,
  }),
  output: z.object({
    action: z.string(),
    done: z.number(),
    skipped: z.number(),
    failed: z.number(),
    running: z.number(),
    refused: z.number(),
    results: z.array(bulkResult),
  }),
  async run(args, ctx) {
    const selectors =
      args.vmids?.length || args.node || args.tag || args.pool || args.name || args.type;
    if (!selectors && !args.all)
      throw new ToolError(
        'Choose the guests: give vmids, a filter (node, tag, pool, name, type), or all: true.',
      );
    const match = namePattern(args.name);
    const rows = await listGuests(ctx.pve, args.type, ctx.signal);
    const wanted = args.vmids ? new Set(args.vmids) : undefined;
    const targets = rows
      .filter((r) => !wanted || wanted.has(r.vmid ?? 0))
      .filter((r) => !args.node || r.node === args.node)
      .filter((r) => !args.tag || hasTag(r.tags, args.tag))
      .filter((r) => !args.pool || r.pool === args.pool)
      .filter((r) => !match || match(r.name ?? ''))
      .sort((a, b) => (a.vmid ?? 0) - (b.vmid ?? 0));
    const results: BulkResult[] = [];
    for (const id of wanted ?? []) {
      if (!targets.some((t) => t.vmid === id))
        results.push({
          vmid: id,
          name: '',
          node: '',
          type: 'qemu',
          result: 'failed',
          detail: 'no such guest',
        });
    }
    const goal = args.action === 'start' ? 'running' : 'stopped';
    const queue: (() => Promise<void>)[] = [];
    let finished = 0;
    for (const r of targets) {
      const base = {
        vmid: r.vmid ?? 0,
        name: r.name ?? '',
        node: r.node ?? '',
        type: r.type as GuestType,
      };
      try {
        ctx.guard({ vmid: base.vmid, node: base.node, pool: r.pool, tags: r.tags });
      } catch (err) {
        results.push({ ...base, result: 'refused', detail: (err as Error).message });
        continue;
      }
      if (r.template) results.push({ ...base, result: 'skipped', detail: 'template' });
      else if (r.status === 'unknown')
        results.push({ ...base, result: 'failed', detail: 'node offline' });
      else if (r.status === goal)
        results.push({ ...base, result: 'skipped', detail: `already ${goal}` });
      else {
        queue.push(async () => {
          const entry: BulkResult = { ...base, result: 'failed', detail: '' };
          try {
            const params = args.action === 'shutdown' && args.forceStop ? { forceStop: true } : {};
            const task = await ctx.pve.guests(base.type)[args.action](base.node, base.vmid, params);
            entry.upid = task.upid;
            const outcome = await task.wait({ timeoutMs: args.timeout * 1000, signal: ctx.signal });
            if (outcome.timedOut)
              Object.assign(entry, { result: 'running', detail: 'still running at the timeout' });
            else if (outcome.ok)
              Object.assign(entry, { result: 'done', detail: outcome.exitstatus ?? 'OK' });
            else entry.detail = outcome.exitstatus ?? 'failed';
          } catch (err) {
            entry.detail = err instanceof Error ? err.message : String(err);
          }
          results.push(entry);
          finished++;
          await ctx.progress(
            `${finished}/${queue.length}: ${label(base.type)} ${base.vmid} ${base.name}: ${entry.result}${entry.detail ? ` (${entry.detail})` : ''}`,
          );
        });
      }
    }
    // As many at once as the client lets through; each holds a slot while its task runs.
    let next = 0;
    const lanes = Math.max(1, Math.min(queue.length, ctx.pve.client.maxInFlight));
    await Promise.all(
      Array.from({ length: lanes }, async () => {
        while (next < queue.length) await queue[next++]?.();
      }),
    );
    results.sort((a, b) => a.vmid - b.vmid);
    const count = (k: BulkResult['result']) => results.filter((r) => r.result === k).length;
    const summary = {
      done: count('done'),
      skipped: count('skipped'),
      failed: count('failed'),
      running: count('running'),
      refused: count('refused'),
    };
    const text = results.length
      ? `${args.action}: ${summary.done} done, ${summary.skipped} skipped, ${summary.failed} failed${summary.running ? `, ${summary.running} still running` : ''}${summary.refused ? `, ${summary.refused} refused by policy` : ''}\n${table(
          results,
          [
            ['VMID', (r) => r.vmid],
            ['NAME', (r) => r.name],
            ['NODE', (r) => r.node],
            ['RESULT', (r) => r.result],
            ['DETAIL', (r) => r.detail],
          ],
        )}`
      : 'No guests match.';
    return ok({ action: args.action, ...summary, results }, text);
  },
});

export const coreTools: AnyTool[] = [
  testConnection,
  getVersion,
  listNodes,
  getNodeStatus,
  getClusterStatus,
  listTool('qemu', 'proxmox_list_vms', 'List VMs'),
  infoTool('qemu', 'proxmox_get_vm_info'),
  statusTool('qemu', 'proxmox_get_vm_status'),
  createVm,
  deleteVm,
  listTool('lxc', 'proxmox_list_containers', 'List containers'),
  infoTool('lxc', 'proxmox_get_container_info'),
  statusTool('lxc', 'proxmox_get_container_status'),
  ...powerTools,
  createSnapshot,
  listSnapshots,
  rollbackSnapshot,
  deleteSnapshot,
  listStorage,
  getStorageUsage,
  listStorageContent,
  listTasks,
  getTaskStatus,
  getTaskLog,
  waitTask,
  stopTask,
  bulkGuests,
];
