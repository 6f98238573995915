/** /nodes/{node}/tasks: listing, status, log and stop. */
import type { Ctx, Routes } from '../context.js';
import { bool, num, str, WithTotal } from '../context.js';
import { PveError } from '../errors.js';
import type { SimTask } from '../tasks.js';

/** Splits `user@realm!token` the way the task APIs report it. */
function userFields(task: SimTask) {
  const [user, tokenid] = task.user.split('!');
  return tokenid ? { user, tokenid } : { user };
}

/** The fields that name a task, shared by listings and status. */
function taskIdentity(task: SimTask): Record<string, unknown> {
  return {
    upid: task.upid,
    node: task.node,
    pid: task.pid,
    pstart: task.pstart,
    starttime: task.starttime,
    type: task.type,
    id: task.id,
    ...userFields(task),
  };
}

export function taskListItem(task: SimTask) {
  const item = taskIdentity(task);
  if (task.status === 'stopped') {
    item.endtime = task.endtime;
    item.status = task.exitstatus;
  } else {
    item.status = 'RUNNING';
  }
  return item;
}

/** The task named by the path, visible to the caller, or PVE's errors. */
function findTask(ctx: Ctx, write = false): SimTask {
  const upid = str(ctx, 'upid') ?? '';
  const task = ctx.tasks.tasks.get(upid);
  if (!task || task.node !== str(ctx, 'node')) {
    throw new PveError(400, 'Parameter verification failed.', { upid: 'no such task' });
  }
  const owner = task.user.split('!')[0] === ctx.auth.userid;
  const priv = write ? 'Sys.Modify' : 'Sys.Audit';
  if (!owner && !ctx.access.has(ctx.auth, `/nodes/${task.node}`, priv)) {
    throw new PveError(403, `Permission check failed (/nodes/${task.node}, ${priv})`);
  }
  return task;
}

const STATUS_CLASSES: Record<string, (t: SimTask) => boolean> = {
  ok: (t) => t.exitstatus === 'OK',
  warning: (t) => t.exitstatus?.startsWith('WARNINGS: ') ?? false,
  error: (t) =>
    t.status === 'stopped' &&
    t.exitstatus !== 'OK' &&
    !t.exitstatus?.startsWith('WARNINGS: ') &&
    t.exitstatus !== 'unexpected status',
  unknown: (t) => t.exitstatus === 'unexpected status',
};

export const taskRoutes: Routes = {
  'GET /nodes/{node}/tasks': (ctx) => {
    const node = str(ctx, 'node');
    const source = str(ctx, 'source') ?? 'archive';
    const vmid = num(ctx, 'vmid');
    const typefilter = str(ctx, 'typefilter');
    const userfilter = str(ctx, 'userfilter');
    const statuses = (str(ctx, 'statusfilter') ?? '').split(/[,; ]+/).filter(Boolean);
    const since = num(ctx, 'since');
    const until = num(ctx, 'until');
    const audit = ctx.access.has(ctx.auth, `/nodes/${node}`, 'Sys.Audit');
    const list = [...ctx.tasks.tasks.values()].filter((t) => {
      if (t.node !== node) return false;
      if (source === 'active' && t.status !== 'running') return false;
      if (source === 'archive' && t.status === 'running') return false;
      if (!audit && t.user.split('!')[0] !== ctx.auth.userid) return false;
      if (vmid !== undefined && t.id !== String(vmid)) return false;
      if (typefilter && t.type !== typefilter) return false;
      if (userfilter && !t.user.includes(userfilter)) return false;
      if (bool(ctx, 'errors') && !STATUS_CLASSES.error?.(t)) return false;
      if (statuses.length && !statuses.some((s) => STATUS_CLASSES[s]?.(t))) return false;
      if (since !== undefined && t.starttime < since) return false;
      if (until !== undefined && t.starttime > until) return false;
      return true;
    });
    list.sort((a, b) => b.startedAt - a.startedAt || b.pid - a.pid);
    const start = num(ctx, 'start') ?? 0;
    const limit = num(ctx, 'limit') ?? 50;
    return new WithTotal(list.slice(start, start + limit).map(taskListItem), list.length);
  },

  'GET /nodes/{node}/tasks/{upid}/status': (ctx) => {
    const task = findTask(ctx);
    const out = { ...taskIdentity(task), status: task.status } as Record<string, unknown>;
    if (task.status === 'stopped') out.exitstatus = task.exitstatus;
    return out;
  },

  'GET /nodes/{node}/tasks/{upid}/log': (ctx) => {
    const task = findTask(ctx);
    // pve-common PVE/Tools.pm dump_logfile: limit 0 reads to the end, and a log with no line yet
    // answers one placeholder line (a hack for the web UI's store), counted in the total.
    const lines = ctx.tasks.logOf(task);
    if (!lines.length) return new WithTotal([{ n: 1, t: 'no content' }], 1);
    const start = num(ctx, 'start') ?? 0;
    const limit = num(ctx, 'limit') ?? 50;
    const end = limit === 0 ? lines.length : start + limit;
    const page = lines.slice(start, end).map((t, i) => ({ n: start + i + 1, t }));
    return new WithTotal(page, lines.length);
  },

  'DELETE /nodes/{node}/tasks/{upid}': (ctx) => {
    const task = findTask(ctx, true);
    ctx.tasks.stop(task);
    return null;
  },
};
