/**
 * Power actions on many guests at once, the way PVE does them itself: one bulk task per node
 * (`startall`, `stopall`, `suspendall`; pve-manager PVE/API2/Nodes.pm), all nodes at once. PVE
 * orders the guests by their startup order, waits their `up` delays and bounds the tasks running
 * on each node; the server watches every node's task list once per tick for the guests' own tasks.
 */

import { z } from 'zod';
import type { GuestType, TaskRef, TaskRow } from '../pve/index.js';
import { isSuccess, kindOf, watchNodeTasks } from '../pve/index.js';
import { hasTag, maxWorkers, namePattern, node, ToolError, vmid, waitTimeout } from './common.js';
import { type AnyTool, defineTool, ok, type ToolContext } from './define.js';
import { listGuests } from './guest-views.js';
import { table } from './render.js';

const bulkResult = z.object({
  vmid: z.number(),
  name: z.string(),
  node: z.string(),
  type: z.enum(['qemu', 'lxc']),
  result: z.enum(['done', 'skipped', 'failed', 'running', 'refused', 'planned']),
  detail: z.string(),
  upid: z.string().optional(),
});
type BulkResult = z.infer<typeof bulkResult>;

type Action = 'start' | 'shutdown' | 'stop' | 'suspend';

/** The guests' own tasks that a node's bulk task starts, for each action. */
const CHILD_TASKS: Record<Action, RegExp> = {
  start: /^(qmstart|vzstart|hastart)$/,
  shutdown: /^(qmshutdown|vzshutdown|hastop)$/,
  stop: /^(qmshutdown|vzshutdown|hastop)$/,
  suspend: /^qmsuspend$/,
};

const bulkGuests = defineTool({
  name: 'proxmox_bulk_guests',
  title: 'Start, shut down, stop or suspend many guests',
  description:
    'Starts, shuts down, stops or suspends to disk many guests (vmids, filters or all: true): one PVE bulk task per node, in startup order. Skips templates and guests already so; answers per guest.',
  toolset: 'core',
  access: 'destructive',
  plans: true,
  targets: (a) => ({ selected: true, nodes: [a.node] }),
  input: z.object({
    action: z.enum(['start', 'shutdown', 'stop', 'suspend']),
    vmids: z.array(vmid).max(10_000).optional(),
    node: node.optional(),
    tag: z.string().optional(),
    pool: z.string().optional(),
    name: z.string().optional().describe('Substring, or a * ? pattern'),
    type: z.enum(['qemu', 'lxc']).optional(),
    all: z.boolean().default(false),
    shutdownTimeout: z.coerce
      .number()
      .int()
      .min(1)
      .max(7_200)
      .optional()
      .describe('shutdown: seconds per guest'),
    forceStop: z.boolean().default(false).describe('shutdown: then stop hard'),
    maxWorkers: maxWorkers.describe('Tasks at once per node'),
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
    tasks: z.array(z.object({ node: z.string(), upid: z.string() })),
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
    const chosen = rows
      .filter((r) => !wanted || wanted.has(r.vmid ?? 0))
      .filter((r) => !args.node || r.node === args.node)
      .filter((r) => !args.tag || hasTag(r.tags, args.tag))
      .filter((r) => !args.pool || r.pool === args.pool)
      .filter((r) => !match || match(r.name ?? ''))
      .sort((a, b) => (a.vmid ?? 0) - (b.vmid ?? 0));
    const results: BulkResult[] = [];
    for (const id of wanted ?? []) {
      if (!chosen.some((t) => t.vmid === id))
        results.push({
          vmid: id,
          name: '',
          node: '',
          type: 'qemu',
          result: 'failed',
          detail: 'no such guest',
        });
    }
    const action = args.action as Action;
    const goal = action === 'start' ? 'running' : 'stopped';
    // The guests each node's bulk task is to act on.
    const todo = new Map<string, BulkResult[]>();
    for (const r of chosen) {
      const base: BulkResult = {
        vmid: r.vmid ?? 0,
        name: r.name ?? '',
        node: r.node ?? '',
        type: r.type as GuestType,
        result: 'failed',
        detail: '',
      };
      try {
        ctx.guard({ vmid: base.vmid, node: base.node, pool: r.pool, tags: r.tags });
      } catch (err) {
        results.push({ ...base, result: 'refused', detail: (err as Error).message });
        continue;
      }
      const skip = r.template
        ? 'template'
        : r.status === goal || (action === 'suspend' && r.status !== 'running')
          ? `already ${r.status}`
          : action === 'suspend' && base.type === 'lxc'
            ? 'only VMs are suspended to disk'
            : undefined;
      if (skip) results.push({ ...base, result: 'skipped', detail: skip });
      else if (r.status === 'unknown') results.push({ ...base, detail: 'node offline' });
      else todo.set(base.node, [...(todo.get(base.node) ?? []), base]);
    }

    const started = new Map<string, TaskRef>();
    await Promise.all(
      [...todo].map(async ([nodeName, guests]) => {
        const vms = guests.map((g) => g.vmid).join(',');
        const workers = args.maxWorkers === undefined ? {} : { 'max-workers': args.maxWorkers };
        try {
          started.set(
            nodeName,
            action === 'start'
              ? // force: a guest without onboot starts too (startall starts only onboot ones).
                await ctx.pve.nodes.bulk(nodeName, 'startall', { vms, force: true, ...workers })
              : action === 'suspend'
                ? await ctx.pve.nodes.bulk(nodeName, 'suspendall', { vms, ...workers })
                : await ctx.pve.nodes.bulk(nodeName, 'stopall', {
                    vms,
                    // A stop is a shutdown given no time before the hard stop.
                    timeout: action === 'stop' ? 0 : args.shutdownTimeout,
                    'force-stop': action === 'stop' || args.forceStop,
                    ...workers,
                  }),
          );
        } catch (err) {
          for (const g of guests) g.detail = err instanceof Error ? err.message : String(err);
        }
      }),
    );

    const bulks = [...started].map(([n, task]) => ({ node: n, task, guests: todo.get(n) ?? [] }));
    await followNodeTasks(ctx, bulks, CHILD_TASKS[action], args.timeout);
    // A guest the bulk task started nothing for may have got there on its own meanwhile.
    const now = bulks.some((b) => b.guests.some((g) => !g.upid && g.result === 'failed'))
      ? await listGuests(ctx.pve, args.type, ctx.signal)
      : [];
    for (const g of [...todo.values()].flat()) {
      const state = now.find((r) => r.vmid === g.vmid)?.status;
      if (!g.upid && g.result === 'failed' && state === goal)
        Object.assign(g, { result: 'skipped', detail: `already ${state}` });
      results.push(g);
    }
    results.sort((a, b) => a.vmid - b.vmid);
    const count = (k: BulkResult['result']) => results.filter((r) => r.result === k).length;
    const summary = {
      done: count('done'),
      skipped: count('skipped'),
      failed: count('failed'),
      running: count('running'),
      refused: count('refused'),
    };
    const tasks = [...started].map(([n, t]) => ({ node: n, upid: t.upid }));
    const text = results.length
      ? `${action}: ${summary.done} done, ${summary.skipped} skipped, ${summary.failed} failed${summary.running ? `, ${summary.running} still running` : ''}${summary.refused ? `, ${summary.refused} refused by policy` : ''}\n${table(
          results,
          [
            ['VMID', (r) => r.vmid],
            ['NAME', (r) => r.name],
            ['NODE', (r) => r.node],
            ['RESULT', (r) => r.result],
            ['DETAIL', (r) => r.detail],
          ],
        )}${tasks.length ? `\nNode tasks: ${tasks.map((t) => t.upid).join(' ')}` : ''}`
      : 'No guests match.';
    return ok({ action, ...summary, results, tasks }, text);
  },
});

export const bulkTools: AnyTool[] = [bulkGuests];

/** A guest a bulk task was given, and what became of it. */
export interface Followed {
  vmid: number;
  name: string;
  type: GuestType;
  result: string;
  detail: string;
  upid?: string;
}

/** A node's bulk task and the guests it was given. */
export interface NodeBulk {
  node: string;
  task: TaskRef;
  guests: Followed[];
}

const ended = (row: TaskRow | undefined) => row?.status !== undefined && row.status !== 'RUNNING';

/**
 * Follows node bulk tasks to their end, reading each node's task list once per tick, and tells
 * each guest whose own task ended as progress. Each guest's result is then its task's end, or for
 * a guest the bulk task started nothing for, what the bulk task's log says of it.
 */
export async function followNodeTasks(
  ctx: ToolContext,
  bulks: NodeBulk[],
  children: RegExp,
  timeoutSeconds: number,
): Promise<void> {
  const guests = bulks.flatMap((b) => b.guests);
  const planned = bulks.some((b) => b.task.info.type === 'dryrun');
  const childOf = new Map<number, TaskRow>();
  const bulkRows = new Map<string, TaskRow | undefined>();
  const told = new Set<number>();
  // Several bulk tasks on one node are watched with one read of its list.
  const since = new Map<string, number>();
  for (const b of bulks)
    since.set(b.node, Math.min(since.get(b.node) ?? Infinity, b.task.info.starttime));
  if (!planned && bulks.length)
    await watchNodeTasks(
      ctx.pve.client,
      since,
      async (byNode) => {
        for (const b of bulks) {
          const list = byNode.get(b.node) ?? [];
          const mine = new Set(b.guests.map((g) => String(g.vmid)));
          bulkRows.set(
            b.task.upid,
            list.find((r) => r.upid === b.task.upid),
          );
          // The list is newest first: the row kept for a guest is its latest task.
          for (const row of [...list].reverse())
            if (children.test(row.type) && mine.has(row.id)) childOf.set(Number(row.id), row);
        }
        for (const g of guests) {
          const row = childOf.get(g.vmid);
          if (told.has(g.vmid) || !ended(row)) continue;
          told.add(g.vmid);
          await ctx.progress(
            `${told.size}/${guests.length}: ${kindOf(g.type)} ${g.vmid} ${g.name}: ${row?.status}`,
            { done: told.size, total: guests.length },
          );
        }
        return bulks.every((b) => ended(bulkRows.get(b.task.upid)));
      },
      { timeoutMs: timeoutSeconds * 1000, signal: ctx.signal },
    );
  for (const b of bulks) {
    let log: string[] | undefined;
    for (const g of b.guests) {
      const row = childOf.get(g.vmid);
      if (row) g.upid = row.upid;
      if (planned) Object.assign(g, { result: 'planned', detail: '' });
      else if (row && ended(row))
        Object.assign(
          g,
          isSuccess(row.status)
            ? {
                result: 'done',
                detail: row.type.startsWith('ha') ? 'requested from HA' : row.status,
              }
            : { result: 'failed', detail: row.status },
        );
      else if (row || !ended(bulkRows.get(b.task.upid)))
        Object.assign(g, { result: 'running', detail: 'still running at the timeout' });
      else {
        log ??= (await ctx.pve.tasks.log(b.node, b.task.upid, 0, 5_000)).lines;
        // The lines naming the guest, each with the indented lines that go on from it.
        const said: string[] = [];
        let naming = false;
        for (const line of log) {
          naming = new RegExp(`\\b${g.vmid}\\b`).test(line) || (naming && /^\s/.test(line));
          if (naming) said.push(line.trim());
        }
        Object.assign(g, {
          result: 'failed',
          detail: said.length
            ? said.join('; ')
            : `no task started for it (bulk task ${b.task.upid})`,
        });
      }
    }
  }
}
