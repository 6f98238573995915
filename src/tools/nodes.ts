/** Cluster and nodes: the connection check, versions, the node list, node and cluster status. */
import { z } from 'zod';
import { node } from './common.js';
import { type AnyTool, defineTool, ok } from './define.js';
import { bytes, duration, percent, table } from './render.js';

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
      `Cluster ${cluster?.name ?? '(standalone)'}: ${quorate ? 'quorate' : 'NOT QUORATE'}, ${nodes.length - offline.length}/${nodes.length} nodes online (${nodes.map((n) => `${n.name}${n.online ? '' : ' OFFLINE'}`).join(', ')})`,
      `Guests: ${guests.running} running, ${guests.stopped} stopped, ${guests.templates} templates${guests.other ? `, ${guests.other} unknown (offline nodes)` : ''}`,
      `Storage: ${bytes(used)} used of ${bytes(total)} (${percent(total ? used / total : 0)})`,
    ].join('\n');
    return ok({ name: cluster?.name, quorate, nodes, guests, storage: { used, total } }, text);
  },
});

export const nodeTools: AnyTool[] = [
  testConnection,
  getVersion,
  listNodes,
  getNodeStatus,
  getClusterStatus,
];
