/**
 * The cluster dashboard (metrics toolset): one read of nodes, storage, guests and recent failed
 * tasks. Clients with MCP Apps show it in the `ui://proxmox/dashboard` page, which calls this tool
 * again to refresh; the others get the compact text summary.
 */
import { z } from 'zod';
import { dashboardHtml } from './dashboard-html.js';
import { type AnyTool, defineTool, ok } from './define.js';
import { bytes, percent } from './render.js';
import { storageRowsOf } from './storage.js';

export const DASHBOARD_URI = 'ui://proxmox/dashboard';
/** Failed tasks the dashboard keeps: the newest, enough for a glance. */
const FAILED_TASKS = 10;

const output = z.object({
  cluster: z.object({ name: z.string().optional(), quorate: z.boolean() }),
  nodes: z.array(
    z.object({
      name: z.string(),
      online: z.boolean(),
      cpu: z.number().describe('Fraction of its cores in use'),
      cores: z.number().optional(),
      mem: z.number().optional(),
      maxmem: z.number().optional(),
    }),
  ),
  storage: z.array(
    z.object({
      name: z.string(),
      node: z.string().describe('Its node, or "shared"'),
      available: z.boolean(),
      used: z.number(),
      total: z.number(),
    }),
  ),
  guests: z.array(
    z.object({
      vmid: z.number(),
      name: z.string().optional(),
      type: z.enum(['qemu', 'lxc']),
      node: z.string(),
      state: z.string().describe('running, stopped, paused, template, or unknown'),
    }),
  ),
  counts: z.record(z.string(), z.number()).describe('Guests by state'),
  failedTasks: z.array(
    z.object({
      node: z.string(),
      type: z.string(),
      id: z.string(),
      status: z.string(),
      starttime: z.number(),
    }),
  ),
});
type Dashboard = z.output<typeof output>;

const failed = (status: string) =>
  status !== 'running' && status !== 'OK' && !status.startsWith('WARNINGS');

function summary(d: Dashboard): string {
  const online = d.nodes.filter((n) => n.online).length;
  const full = d.storage.filter((s) => s.available && s.total && s.used / s.total >= 0.8);
  const down = d.storage.filter((s) => !s.available);
  return [
    `Cluster ${d.cluster.name ?? '(standalone)'}: ${d.cluster.quorate ? 'quorate' : 'NOT QUORATE'}, ${online}/${d.nodes.length} nodes online`,
    ...d.nodes.map((n) =>
      n.online
        ? `  ${n.name}: CPU ${percent(n.cpu)}, memory ${bytes(n.mem)} of ${bytes(n.maxmem)}`
        : `  ${n.name}: OFFLINE`,
    ),
    `Guests: ${
      Object.entries(d.counts)
        .map(([state, n]) => `${n} ${state}`)
        .join(', ') || 'none'
    }`,
    `Storage: ${d.storage.length} (${full.length ? `${full.map((s) => `${s.name}@${s.node} ${percent(s.used / s.total)}`).join(', ')} at 80% or more` : 'none at 80% or more'}${down.length ? `; ${down.length} not available` : ''})`,
    d.failedTasks.length
      ? `Recent failed tasks: ${d.failedTasks
          .slice(0, 3)
          .map((t) => `${t.type} ${t.id} on ${t.node}: ${t.status}`)
          .join('; ')}${d.failedTasks.length > 3 ? `; ${d.failedTasks.length - 3} more` : ''}`
      : 'Recent failed tasks: none',
  ].join('\n');
}

const showDashboard = defineTool({
  name: 'proxmox_show_dashboard',
  title: 'Cluster dashboard',
  description:
    'Shows the cluster at a glance: nodes with CPU, memory and status; storage fill; guests by state; recent failed tasks. Clients with MCP Apps display it as an interactive dashboard; others get a text summary.',
  toolset: 'metrics',
  access: 'read',
  app: { uri: DASHBOARD_URI, title: 'Proxmox VE dashboard', html: dashboardHtml },
  input: z.object({}),
  output,
  async run(_args, ctx) {
    // Nodes, guests and storage come from one /cluster/resources call.
    const [status, resources, tasks] = await Promise.all([
      ctx.pve.cluster.status(),
      ctx.pve.cluster.resources(undefined, { signal: ctx.signal }),
      ctx.pve.cluster.tasks(),
    ]);
    const cluster = status.find((s) => s.type === 'cluster');
    const guests: Dashboard['guests'] = [];
    for (const r of resources) {
      if ((r.type === 'qemu' || r.type === 'lxc') && r.vmid !== undefined) {
        guests.push({
          vmid: Number(r.vmid),
          name: r.name,
          type: r.type,
          node: String(r.node),
          state: r.template
            ? 'template'
            : ['running', 'stopped', 'paused'].includes(String(r.status))
              ? String(r.status)
              : 'unknown',
        });
      }
    }
    const storage: Dashboard['storage'] = storageRowsOf(resources).map((r) => ({
      name: r.storage,
      node: r.node,
      available: r.status === 'available',
      used: r.used ?? 0,
      total: r.total ?? 0,
    }));
    guests.sort((a, b) => a.vmid - b.vmid);
    const counts: Record<string, number> = {};
    for (const g of guests) counts[g.state] = (counts[g.state] ?? 0) + 1;
    const data: Dashboard = {
      cluster: { name: cluster?.name, quorate: cluster ? cluster.quorate === 1 : true },
      nodes: resources
        .filter((n) => n.type === 'node')
        .map((n) => ({
          name: String(n.node),
          online: n.status === 'online',
          cpu: n.cpu ?? 0,
          cores: n.maxcpu,
          mem: n.mem,
          maxmem: n.maxmem,
        }))
        .sort((a, b) => a.name.localeCompare(b.name)),
      storage: storage.sort((a, b) => a.node.localeCompare(b.node) || a.name.localeCompare(b.name)),
      guests,
      counts,
      failedTasks: (tasks as Record<string, unknown>[])
        .filter((t) => t.endtime !== undefined && failed(String(t.status ?? 'unknown')))
        .map((t) => ({
          node: String(t.node),
          type: String(t.type),
          id: String(t.id ?? ''),
          status: String(t.status ?? 'unknown'),
          starttime: Number(t.starttime),
        }))
        .sort((a, b) => b.starttime - a.starttime)
        .slice(0, FAILED_TASKS),
    };
    return ok(data, summary(data));
  },
});

export const dashboardTools: AnyTool[] = [showDashboard];
