/**
 * Emptying a node before maintenance: every guest that can move is migrated through PVE's own
 * `migrateall` (pve-manager PVE/API2/Nodes.pm), one per target node, running guests online
 * (containers by restart) and HA-managed ones through HA; targets are chosen by free memory.
 */
import { z } from 'zod';
import type { ClusterResource, GuestType, TaskRef } from '../pve/index.js';
import { kindOf } from '../pve/index.js';
import { sleep } from '../pve/sleep.js';
import { followNodeTasks, type NodeBulk } from './bulk.js';
import { maxWorkers, node, ToolError, waitTimeout } from './common.js';
import { type AnyTool, defineTool, ok } from './define.js';
import { bytes, table } from './render.js';

const planRow = z.object({
  vmid: z.number(),
  name: z.string(),
  type: z.enum(['qemu', 'lxc']),
  to: z.string(),
  online: z.boolean(),
  ha: z.boolean(),
  result: z.enum(['planned', 'done', 'failed', 'running']),
  detail: z.string(),
  upid: z.string().optional(),
});
type PlanRow = z.infer<typeof planRow>;

/** The volumes on a node's storages, by guest: which storages each guest's disks are on. */
async function volumesByGuest(
  ctx: Parameters<AnyTool['run']>[1],
  from: string,
  storages: ClusterResource[],
): Promise<Map<number, Set<string>>> {
  const byGuest = new Map<number, Set<string>>();
  const holding = storages.filter(
    (s) =>
      s.node === from &&
      s.status === 'available' &&
      /\b(images|rootdir)\b/.test(String(s.content ?? '')),
  );
  await Promise.all(
    holding.map(async (s) => {
      for (const v of await ctx.pve.storage.content(from, s.storage ?? '')) {
        // Backups, ISOs and templates name no disk of the guest.
        if (v.vmid === undefined || /^[^:]+:(backup|iso|vztmpl|snippets|import)\//.test(v.volid))
          continue;
        const set = byGuest.get(Number(v.vmid)) ?? new Set<string>();
        set.add(s.storage ?? '');
        byGuest.set(Number(v.vmid), set);
      }
    }),
  );
  return byGuest;
}

const evacuateNode = defineTool({
  name: 'proxmox_evacuate_node',
  title: 'Evacuate node',
  description:
    "Moves every guest off a node before maintenance through PVE's migrateall: running guests online (containers restart), stopped ones offline, HA-managed ones through HA, guests with local disks only with withLocalDisks. Targets are the online nodes with the most free memory that have the guests' storages, or those given. Refuses when the other nodes lack the memory for the running guests. Returns the plan (guest, target, online), each guest's outcome, and what stays with the reason.",
  toolset: 'provision',
  access: 'write',
  plans: true,
  targets: (a) => ({ nodes: [a.node, ...(a.targets ?? [])], selected: true }),
  input: z.object({
    node: node.describe('The node to empty'),
    targets: z.array(node).max(64).optional().describe('Nodes to move to (default: all online)'),
    withLocalDisks: z.boolean().default(false).describe('Move guests with disks on local storage'),
    maxWorkers: maxWorkers.describe(
      'Migrations at once per target (default: datacenter max_workers, else 1)',
    ),
    timeout: waitTimeout.default(3_600),
  }),
  output: z.object({
    node: z.string(),
    plan: z.array(planRow),
    staying: z.array(z.object({ vmid: z.number(), name: z.string(), reason: z.string() })),
    remaining: z.number(),
    tasks: z.array(z.object({ target: z.string(), upid: z.string() })),
  }),
  async run(args, ctx) {
    const from = args.node;
    const rows = await ctx.pve.cluster.resources(undefined, { signal: ctx.signal });
    const nodes = rows.filter((r) => r.type === 'node');
    const source = nodes.find((n) => n.node === from);
    if (!source)
      throw new ToolError(
        `There is no node named '${from}'. List the nodes with proxmox_list_nodes.`,
      );
    if (source.status !== 'online')
      throw new ToolError(`Node ${from} is offline: its guests cannot be migrated from it now.`);
    for (const t of args.targets ?? [])
      if (!nodes.some((n) => n.node === t))
        throw new ToolError(
          `There is no node named '${t}'. List the nodes with proxmox_list_nodes.`,
        );
    const candidates = nodes.filter(
      (n) =>
        n.node !== from &&
        n.status === 'online' &&
        (!args.targets || args.targets.includes(n.node ?? '')),
    );
    if (!candidates.length)
      throw new ToolError(`No other online node to move the guests of ${from} to.`);
    const storages = rows.filter((r) => r.type === 'storage');
    const hasStorage = (target: string, storage: string) =>
      storages.some((s) => s.node === target && s.storage === storage && s.status === 'available');
    const shared = (storage: string) =>
      storages.some((s) => s.storage === storage && s.shared === 1);
    const guests = rows
      .filter((r) => (r.type === 'qemu' || r.type === 'lxc') && r.node === from)
      .sort((a, b) => (b.maxmem ?? 0) - (a.maxmem ?? 0) || (a.vmid ?? 0) - (b.vmid ?? 0));
    const volumes = await volumesByGuest(ctx, from, storages);
    const free = new Map(candidates.map((n) => [n.node ?? '', (n.maxmem ?? 0) - (n.mem ?? 0)]));

    const plan: PlanRow[] = [];
    const staying: { vmid: number; name: string; reason: string }[] = [];
    const short: string[] = [];
    for (const g of guests) {
      const vmid = g.vmid ?? 0;
      const name = g.name ?? '';
      try {
        ctx.guard({ vmid, node: from, pool: g.pool, tags: g.tags });
      } catch (err) {
        staying.push({ vmid, name, reason: (err as Error).message });
        continue;
      }
      if (g.template) {
        staying.push({
          vmid,
          name,
          reason: 'template: not moved (proxmox_migrate_guest moves it)',
        });
        continue;
      }
      const used = [...(volumes.get(vmid) ?? [])];
      const local = used.filter((s) => !shared(s));
      if (local.length && !args.withLocalDisks) {
        staying.push({
          vmid,
          name,
          reason: `disks on local storage ${local.join(', ')} (withLocalDisks: true moves them)`,
        });
        continue;
      }
      const online = g.status === 'running';
      const need = online ? (g.maxmem ?? 0) : 0;
      // The node with the most free memory that has every storage the guest's disks are on.
      const fits = [...free]
        .filter(([t, left]) => left >= need && used.every((s) => hasStorage(t, s)))
        .sort((a, b) => b[1] - a[1]);
      const to = fits[0]?.[0];
      if (!to) {
        if (online && used.every((s) => candidates.some((c) => hasStorage(c.node ?? '', s))))
          short.push(`${kindOf(g.type)} ${vmid} (${name}) needs ${bytes(need)}`);
        else
          staying.push({
            vmid,
            name,
            reason: `no target has its storage ${used.filter((s) => !candidates.some((c) => hasStorage(c.node ?? '', s))).join(', ') || used.join(', ')}`,
          });
        continue;
      }
      free.set(to, (free.get(to) ?? 0) - need);
      plan.push({
        vmid,
        name,
        type: g.type as GuestType,
        to,
        online,
        ha: Boolean(g.hastate),
        result: 'planned',
        detail: '',
      });
    }
    if (short.length)
      throw new ToolError(
        `Not enough free memory on ${candidates.map((c) => c.node).join(', ')} for the running guests of ${from}: ${short.join('; ')}. Nothing was moved; free memory there, shut some guests down, or give other targets.`,
      );

    // One migrateall per target; PVE bounds the migrations each runs at once.
    const options =
      args.maxWorkers === undefined
        ? ((await ctx.pve.cluster.options()) as { max_workers?: number })
        : {};
    const workers = args.maxWorkers ?? (options.max_workers ? undefined : 1);
    const byTarget = new Map<string, PlanRow[]>();
    for (const p of plan) byTarget.set(p.to, [...(byTarget.get(p.to) ?? []), p]);
    const started: { target: string; task: TaskRef; rows: PlanRow[] }[] = [];
    for (const [target, list] of byTarget) {
      try {
        const task = await ctx.pve.nodes.bulk(from, 'migrateall', {
          target,
          vms: list.map((p) => p.vmid).join(','),
          ...(args.withLocalDisks ? { 'with-local-disks': true } : {}),
          ...(workers === undefined ? {} : { 'max-workers': workers }),
        });
        started.push({ target, task, rows: list });
      } catch (err) {
        for (const p of list)
          Object.assign(p, {
            result: 'failed',
            detail: err instanceof Error ? err.message : String(err),
          });
      }
    }
    // The tasks of every target run on the source node: one watch follows them all.
    await followNodeTasks(
      ctx,
      started.map((st): NodeBulk => ({ node: from, task: st.task, guests: st.rows })),
      /^(qmigrate|vzmigrate|hamigrate)$/,
      args.timeout,
    );
    const planned = started.some((s) => s.task.info.type === 'dryrun');
    const read = async () =>
      (planned ? rows : await ctx.pve.cluster.resources(undefined, { signal: ctx.signal })).filter(
        (r) => (r.type === 'qemu' || r.type === 'lxc') && r.node === from,
      );
    // An HA-managed guest's task only asked the HA manager, which moves it on its own schedule.
    const byHa = plan.filter((p) => p.ha && p.result === 'done');
    const deadline = Date.now() + args.timeout * 1000;
    let left = await read();
    while (
      !planned &&
      byHa.some((p) => left.some((r) => r.vmid === p.vmid)) &&
      Date.now() < deadline
    ) {
      await sleep(Math.min(2_000, Math.max(0, deadline - Date.now())), ctx.signal);
      left = await read();
    }
    for (const p of byHa)
      if (left.some((r) => r.vmid === p.vmid))
        Object.assign(p, { result: 'running', detail: 'the HA manager has not moved it yet' });
      else p.detail = 'moved by HA';
    const tasks = started.map((s) => ({ target: s.target, upid: s.task.upid }));
    const text = [
      `Evacuate ${from}: ${plan.length} guest(s) to move, ${staying.length} staying.`,
      plan.length
        ? table(plan, [
            ['VMID', (p) => p.vmid],
            ['NAME', (p) => p.name],
            ['TO', (p) => p.to],
            [
              'HOW',
              (p) =>
                `${p.online ? (p.type === 'lxc' ? 'restart' : 'online') : 'offline'}${p.ha ? ', via HA' : ''}`,
            ],
            ['RESULT', (p) => p.result],
            ['DETAIL', (p) => p.detail],
          ])
        : '',
      staying.length
        ? `Staying:\n${staying.map((s) => `  ${s.vmid} ${s.name}: ${s.reason}`).join('\n')}`
        : '',
      planned
        ? ''
        : left.length
          ? `${left.length} guest(s) still on ${from}: ${left.map((g) => g.vmid).join(', ')}.`
          : `${from} has no guests left.`,
      tasks.length ? `Tasks: ${tasks.map((t) => `${t.upid}`).join(' ')}` : '',
    ]
      .filter(Boolean)
      .join('\n');
    return ok(
      { node: from, plan, staying, remaining: planned ? guests.length : left.length, tasks },
      text,
    );
  },
});

export const evacuateTools: AnyTool[] = [evacuateNode];
