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

/**
 * The UPID's owner as pve-common PVE/UPID.pm decode reads it, or undefined for text that is not a
 * UPID (its pattern, not the contract's).
 */
function decodeUpid(upid: string): string | undefined {
  const m =
    /^UPID:([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):([0-9A-Fa-f]{8}):([^:\s/]+):([^:\s/]*):([^:\s/]+):$/.exec(
      upid,
    );
  return m ? (m[8] as string) : undefined;
}

/**
 * A page of a log file as pve-common PVE/Tools.pm dump_logfile reads it: limit 0 reads to the
 * end, and a file with no line yet answers one placeholder line (a hack for the web UI's store),
 * counted in the total.
 */
export function dumpLogfile(lines: string[], start = 0, limit = 50): WithTotal {
  if (!lines.length) return new WithTotal([{ n: 1, t: 'no content' }], 1);
  const end = limit === 0 ? lines.length : start + limit;
  const page = lines.slice(start, end).map((t, i) => ({ n: start + i + 1, t }));
  return new WithTotal(page, lines.length);
}

const upidError = (message: string) =>
  new PveError(400, 'Parameter verification failed.', { upid: message });

/** The owner check of pve-manager PVE/API2/Tasks.pm: the owner, or the privilege on the node. */
function checkTaskAccess(ctx: Ctx, owner: string, write: boolean): void {
  const priv = write ? 'Sys.Modify' : 'Sys.Audit';
  const node = str(ctx, 'node');
  if (owner.split('!')[0] !== ctx.auth.userid && !ctx.access.has(ctx.auth, `/nodes/${node}`, priv))
    throw new PveError(403, `Permission check failed (/nodes/${node}, ${priv})`);
}

/**
 * The task named by the path, visible to the caller, or PVE's errors: a UPID that does not parse,
 * then one whose task file this node lacks, then the owner check (pve-manager PVE/API2/Tasks.pm).
 */
function findTask(ctx: Ctx, write = false): SimTask {
  const upid = str(ctx, 'upid') ?? '';
  if (!decodeUpid(upid)) throw upidError('unable to parse worker upid');
  const task = ctx.tasks.tasks.get(upid);
  if (!task || task.node !== str(ctx, 'node')) throw upidError('no such task');
  checkTaskAccess(ctx, task.user, write);
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
    // read_task_log does not look for the task file: pve-common PVE/Tools.pm dump_logfile answers
    // for a file it cannot open.
    const upid = str(ctx, 'upid') ?? '';
    const owner = decodeUpid(upid);
    if (!owner) throw upidError('unable to parse worker upid');
    const found = ctx.tasks.tasks.get(upid);
    if (!found || found.node !== str(ctx, 'node')) {
      checkTaskAccess(ctx, owner, false);
      return new WithTotal([{ n: 1, t: 'unable to open file - No such file or directory' }], 1);
    }
    const task = findTask(ctx);
    return dumpLogfile(ctx.tasks.logOf(task), num(ctx, 'start'), num(ctx, 'limit'));
  },

  'DELETE /nodes/{node}/tasks/{upid}': (ctx) => {
    const task = findTask(ctx, true);
    ctx.tasks.stop(task);
    return null;
  },
};
