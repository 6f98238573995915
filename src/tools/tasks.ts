/** Tasks: the recent ones, one's status and log, waiting for one, stopping one. */
import { z } from 'zod';
import { parseUpid, TaskRef } from '../pve/index.js';
import { node, runTask, ToolError, taskFields, vmid, waitTimeout } from './common.js';
import { type AnyTool, defineTool, ok } from './define.js';
import { table } from './render.js';

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
    // PVE answers a task it has no log of with this one line (pve-common dump_logfile).
    if (total === 1 && /^unable to open file - /.test(data[0] ?? ''))
      throw new ToolError(
        `Node ${p.node} has no log of task ${args.upid} (${data[0]}): the UPID may be mistyped, or the task log rotated away. proxmox_list_tasks lists the node's tasks.`,
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
    'Waits for a task to end, its log lines as progress; answers how it ended, or that it still runs when the wait ends.',
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

export const taskTools: AnyTool[] = [listTasks, getTaskStatus, getTaskLog, waitTask, stopTask];
