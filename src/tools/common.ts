/**
 * What many tools share: argument schemas, finding a guest from its vmid, running a task with
 * progress, and filtering and paging lists.
 */
import { z } from 'zod';
import { NODE_NAME } from '../contract/formats.js';
import {
  type GuestRef,
  type GuestType,
  idAndName,
  kindOf,
  PveApiError,
  splitTags,
  type TaskOutcome,
  type TaskRef,
} from '../pve/index.js';
import { sleep } from '../pve/sleep.js';
import type { Progress, ToolContext } from './define.js';

/** A failure the user can act on; the server turns it into an `isError` result. */
export class ToolError extends Error {
  constructor(
    message: string,
    readonly data?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'ToolError';
  }
}

// Argument schemas. Ids may arrive as numeric strings: some clients send them so.
export const vmid = z.coerce.number().int().min(100).max(999_999_999);
// Node names are checked against PVE's format in code rather than in the schema that every tool
// repeats; the client also refuses a bad one before anything is sent.
export const node = z.string().refine((s) => NODE_NAME.test(s), 'not a valid node name');
// With a vmid, the node is found from it; a node given must be the guest's (see INSTRUCTIONS).
export const optionalNode = node.optional();
// Named plainly enough to need no description (it is in every changing tool).
// Seconds to wait for a task; 0 answers its UPID at once (see INSTRUCTIONS). Bounds checked, not
// advertised: twenty tools repeat this schema.
export const waitTimeout = z.coerce
  .number()
  .refine((n) => Number.isInteger(n) && n >= 0 && n <= 3_600, 'whole seconds, 0 to 3600')
  .default(300)
  .describe('Seconds');
export const limit = z.coerce.number().int().min(1).max(1_000).default(100);
export const cursor = z
  .string()
  .regex(/^\d+$/, 'use the nextCursor of a previous answer')
  .optional()
  .describe('nextCursor of the previous page');

const listTool = (type: GuestType) =>
  type === 'qemu' ? 'proxmox_list_vms' : 'proxmox_list_containers';

/**
 * Finds a guest by vmid, checking what the caller expects: its kind (a VM tool on a container is
 * refused) and, when given, its node.
 */
export async function resolveGuest(
  ctx: ToolContext,
  id: number,
  /** `only`: why no tool does this for the other kind (no "use the other tool" then). */
  opts: { type?: GuestType; node?: string; only?: string } = {},
): Promise<GuestRef> {
  const guest = await ctx.pve.findGuest(id, { signal: ctx.signal }).catch((err: unknown) => {
    if (err instanceof PveApiError && err.kind === 'not_found') return undefined;
    throw err;
  });
  if (!guest) {
    const where = opts.type ? listTool(opts.type) : 'proxmox_list_vms or proxmox_list_containers';
    throw new ToolError(
      `No VM or container with ID ${id} exists in cluster '${ctx.cluster}' (or the credentials may not see it). List guests with ${where}.`,
      { vmid: id },
    );
  }
  if (opts.type && guest.type !== opts.type) {
    const other = kindOf(guest.type);
    throw new ToolError(
      opts.only
        ? `Guest ${idAndName(guest)} is a ${other}, not a ${kindOf(opts.type)}: ${opts.only}.`
        : `Guest ${idAndName(guest)} is a ${other}, not a ${kindOf(opts.type)}: use the ${other} tool instead (see ${listTool(guest.type)}).`,
      { vmid: id, type: guest.type },
    );
  }
  if (opts.node && opts.node !== guest.node) {
    throw new ToolError(
      `${kindOf(guest.type)} ${id} is on node ${guest.node}, not ${opts.node}. Omit node to let the vmid decide.`,
      { vmid: id, node: guest.node },
    );
  }
  return guest;
}

export const taskFields = {
  upid: z.string().optional().describe('Task ID'),
  status: z
    .enum(['completed', 'failed', 'started', 'running', 'planned'])
    .describe(
      'started: not waited for; running: still running when the wait ended; planned: dry run',
    ),
  exitstatus: z.string().optional(),
  durationMs: z.number().optional(),
  warnings: z.array(z.string()).optional(),
  log: z.array(z.string()).optional().describe('Last lines of the task log'),
};
export const taskOutput = z.object(taskFields);
/** A task's outcome on one guest. */
export const guestTask = z.object({ vmid: z.number(), node: z.string(), ...taskFields });
/** How many guest tasks a node bulk task runs at once (PVE's `max-workers`, 1 to 64). */
export const maxWorkers = z.coerce.number().int().min(1).max(64).optional();
/** A guest's name as PVE allows it (a DNS name). */
export const hostname = z
  .string()
  .regex(/^[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?$/, 'a DNS name: letters, digits, - and .')
  .max(63);
export type TaskSummary = z.infer<typeof taskOutput>;

/** What to try after a task that failed: the known ways on, else where its whole log is. */
function nextStep(type: string, exitstatus: string | undefined, upid: string): string {
  // QEMU and LXC shutdowns that ran out of time (qemu-server vm_stop, pve-container vm_shutdown).
  if (/shutdown$/.test(type) && /got timeout|did not stop/.test(exitstatus ?? ''))
    return `\nThe guest did not shut down within the timeout (its OS may ignore ACPI, or need longer): call again with a longer shutdownTimeout, or with forceStop: true to stop it hard after the timeout, or stop it with ${type.startsWith('vz') ? 'proxmox_stop_container' : 'proxmox_stop_vm'}.\nTask ${upid}.`;
  return `\nTask ${upid}; proxmox_get_task_log gives its whole log.`;
}

function seconds(ms: number | undefined): string {
  return ms === undefined ? '' : ` in ${(ms / 1000).toFixed(1)}s`;
}

// Tasks whose logs count their way to 100%: backups and restores (`INFO:  25% (…)`, `progress 25%
// (read …)`), clones, disk moves and migrations (`transferred … (25.00%)`), downloads.
const PERCENT_TASKS =
  /^(?:vzdump|qmrestore|vzrestore|qmclone|vzclone|qmmove|move_volume|qmigrate|vzmigrate|imgcopy|download)$/;

/** How far a task got, from a log line that says so. */
function percentOf(type: string, line: string): Progress | undefined {
  if (!PERCENT_TASKS.test(type)) return undefined;
  const m = /(?:^|[\s(])(\d{1,3}(?:\.\d+)?)%/.exec(line);
  const done = m ? Number(m[1]) : Number.NaN;
  return done >= 0 && done <= 100 ? { done, total: 100 } : undefined;
}

/** How long a task ran, as its node tells; else how long it was waited for, said so. */
const took = (o: TaskOutcome) =>
  o.taskDurationMs === undefined
    ? ` (waited ${(o.durationMs / 1000).toFixed(1)}s)`
    : seconds(o.taskDurationMs);

/**
 * Starts a task and, unless the timeout is 0, waits for it while streaming its log as progress.
 * A failed task throws a ToolError quoting the log's last lines; a wait that runs out answers
 * `running` with the UPID.
 */
export async function runTask(
  ctx: ToolContext,
  task: TaskRef | null,
  opts: {
    timeout: number;
    what: string;
    ha?: HaGoal;
    /** A container shutdown with forceStop: lxc-stop kills it after these seconds, silently. */
    killAfter?: number;
  },
): Promise<{ summary: TaskSummary; text: string }> {
  const startedAt = Date.now();
  if (!task) return { summary: { status: 'completed' }, text: `${opts.what}: done.` };
  if (task.info.type === 'dryrun')
    return { summary: { status: 'planned' }, text: `${opts.what}: planned (dry run).` };
  if (opts.timeout === 0) {
    return {
      summary: { upid: task.upid, status: 'started' },
      text: `${opts.what}: started task ${task.upid}.`,
    };
  }
  await ctx.progress(`${opts.what}: task ${task.info.type} started`);
  let outcome: TaskOutcome;
  try {
    outcome = await task.wait({
      timeoutMs: opts.timeout * 1000,
      signal: ctx.signal,
      onProgress: (e) => void ctx.progress(e.line, percentOf(task.info.type, e.line)),
    });
  } catch (err) {
    if (ctx.signal.aborted)
      throw new ToolError(`${opts.what}: stopped waiting; the task goes on (${task.upid}).`, {
        upid: task.upid,
      });
    throw err;
  }
  if (outcome.timedOut) {
    return {
      summary: {
        upid: task.upid,
        status: 'running',
        durationMs: outcome.durationMs,
        log: outcome.logTail.slice(-5),
      },
      text: `${opts.what}: still running after ${opts.timeout}s. Task ${task.upid}; follow it with proxmox_wait_task.`,
    };
  }
  if (!outcome.ok) {
    const tail = outcome.logTail.filter((l) => !l.startsWith('TASK ')).slice(-5);
    throw new ToolError(
      `${opts.what} failed: ${outcome.exitstatus}.${tail.length ? `\nLast log lines:\n${tail.map((l) => `  ${l}`).join('\n')}` : ''}${nextStep(task.info.type, outcome.exitstatus, task.upid)}`,
      { upid: task.upid, exitstatus: outcome.exitstatus },
    );
  }
  // For a guest under HA, the task only asked the HA stack: the change itself comes later.
  if (opts.ha && /^ha(start|stop|migrate)$/.test(task.info.type))
    return followHa(ctx, task.upid, opts.ha, opts, startedAt);
  const warnings = outcome.warnings.length
    ? ` with ${outcome.warnings.length} warning(s): ${outcome.warnings.join('; ')}`
    : '';
  // A shutdown with forceStop that ran out of time ends OK, though the guest was killed.
  // QEMU logs it (qemu-server vm_stop); lxc-stop does not (pve-container PVE/LXC.pm vm_stop), so
  // a container's task that lasted the whole timeout tells it.
  const killed =
    outcome.logTail.find((l) => /terminating now with SIG(?:TERM|KILL)/.test(l)) ??
    (opts.killAfter !== undefined && (outcome.taskDurationMs ?? 0) >= opts.killAfter * 1000
      ? `the task lasted the whole ${opts.killAfter}s timeout, after which lxc-stop kills the container`
      : undefined);
  const noted = killed ? [...outcome.warnings, killed] : outcome.warnings;
  return {
    summary: {
      upid: task.upid,
      status: 'completed',
      exitstatus: outcome.exitstatus,
      durationMs: outcome.taskDurationMs ?? outcome.durationMs,
      ...(noted.length ? { warnings: noted } : {}),
    },
    // The task's id, for its log and status later (proxmox_get_task_status).
    text: `${opts.what}: done${took(outcome)}${warnings}${killed ? `, but not cleanly: it did not shut down within the timeout and was stopped hard (${killed}); unsaved data in it may be lost` : ''}. Task ${task.upid}.`,
  };
}

/** Where an HA-managed guest should be once HA acts on a request (start, stop, migrate). */
export interface HaGoal {
  guest: GuestRef;
  status?: 'running' | 'stopped';
  node?: string;
}

/**
 * After a request to HA (`hastart`, `hastop`, `hamigrate` end OK at once, having only asked), waits
 * within the call's timeout until the guest reaches the goal or its HA service reports an error
 * (qemu-server PVE/API2/Qemu.pm, pve-container PVE/LXC/Status.pm), and says which.
 */
async function followHa(
  ctx: ToolContext,
  upid: string,
  goal: HaGoal,
  opts: { timeout: number; what: string },
  startedAt: number,
): Promise<{ summary: TaskSummary; text: string }> {
  const { guest } = goal;
  const sid = `${guest.type === 'qemu' ? 'vm' : 'ct'}:${guest.vmid}`;
  const wanted = [goal.status, goal.node && `on ${goal.node}`].filter(Boolean).join(' ');
  const asked = `${opts.what}: requested of HA (task ${upid})`;
  await ctx.progress(`${asked}; waiting until it is ${wanted}`);
  for (let delay = 250; ; delay = Math.min(2_000, delay * 2)) {
    ctx.pve.invalidateGuests();
    const now = (await ctx.pve.guestIndex({ signal: ctx.signal }, { all: true })).get(guest.vmid);
    const elapsed = Date.now() - startedAt;
    if (
      now &&
      (!goal.status || now.status === goal.status) &&
      (!goal.node || now.node === goal.node)
    )
      return {
        summary: { upid, status: 'completed', exitstatus: 'OK', durationMs: elapsed },
        text: `${asked}, and the HA manager carried it out: ${kindOf(guest.type)} ${guest.vmid} is ${wanted} after ${(elapsed / 1000).toFixed(1)}s.`,
      };
    // Without the right to read the HA status, the guest's own state is all there is to follow.
    const services = (await ctx.pve.cluster.haStatus().catch(() => [])) as {
      sid?: string;
      state?: string;
      status?: string;
    }[];
    const service = services.find((s) => s.sid === sid);
    if (service?.state === 'error')
      throw new ToolError(
        `${asked}, but the HA service ${sid} is in error (${service.status ?? 'error'}): the HA manager could not carry it out. Its own task says why (proxmox_list_tasks with vmid ${guest.vmid}); once fixed, set the service's state again (ha-manager set ${sid} --state ${goal.status === 'stopped' ? 'stopped' : 'started'}).`,
        { upid, sid },
      );
    if (elapsed >= opts.timeout * 1000)
      return {
        summary: { upid, status: 'running', durationMs: elapsed },
        text: `${asked}; the HA manager has not made it ${wanted} within ${opts.timeout}s. It acts on its own schedule: follow the guest with proxmox_get_${guest.type === 'qemu' ? 'vm' : 'container'}_status.`,
      };
    try {
      await sleep(Math.min(delay, opts.timeout * 1000 - elapsed), ctx.signal);
    } catch (err) {
      if (!ctx.signal.aborted) throw err;
      throw new ToolError(`${asked}; stopped waiting: HA goes on without this call.`, { upid });
    }
  }
}

/**
 * `*` and `?` wildcards; without them, a case-insensitive substring. Matched without a regular
 * expression: the segments between stars are found left to right, so any pattern answers at once.
 */
export function namePattern(pattern: string | undefined): ((name: string) => boolean) | undefined {
  if (!pattern) return undefined;
  const p = pattern.toLowerCase();
  if (!/[*?]/.test(p)) return (name) => name.toLowerCase().includes(p);
  const parts = p.split('*');
  const first = parts[0] ?? '';
  const last = parts.length > 1 ? (parts[parts.length - 1] ?? '') : '';
  const middle = parts.slice(1, -1).filter(Boolean);
  return (name) => {
    const s = name.toLowerCase();
    /** Whether `seg` matches `s` at `at`, `?` standing for any one character. */
    const at = (seg: string, i: number) => {
      if (i < 0 || seg.length > s.length - i) return false;
      for (let k = 0; k < seg.length; k++) if (seg[k] !== '?' && seg[k] !== s[i + k]) return false;
      return true;
    };
    if (parts.length === 1) return p.length === s.length && at(p, 0);
    if (!at(first, 0)) return false;
    let pos = first.length;
    for (const seg of middle) {
      let i = pos;
      while (i + seg.length <= s.length && !at(seg, i)) i++;
      if (i + seg.length > s.length) return false;
      pos = i + seg.length;
    }
    return s.length - last.length >= pos && at(last, s.length - last.length);
  };
}

/** Whether a guest carries a tag, in any spelling (PVE stores tags lower-cased). */
export const hasTag = (tags: string | string[] | undefined, tag: string) =>
  splitTags(tags).some((t) => t.toLowerCase() === tag.toLowerCase());

export function paginate<T>(items: T[], pageSize: number, from: string | undefined) {
  const start = from ? Number(from) : 0;
  const page = items.slice(start, start + pageSize);
  const next = start + page.length < items.length ? String(start + page.length) : undefined;
  return { page, total: items.length, nextCursor: next };
}

export const pageFields = {
  total: z.number().describe('Rows matching the filters'),
  nextCursor: z.string().optional().describe('Pass as cursor for the next page'),
};

export function pageNote(shown: number, total: number, next: string | undefined): string {
  return next ? `\n${shown} of ${total} shown; next page: cursor=${next}` : '';
}
