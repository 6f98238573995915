/**
 * Tasks: PVE runs every long operation as a task named by a UPID. Waiting polls its status
 * (quickly at first, then backing off), streams new log lines, and tells success from failure
 * the way PVE does: `OK` and `WARNINGS: n` are success.
 */
import type { ApiReturns } from '../contract/api-types.js';
import { parseUpid, type Upid } from '../contract/upid.js';
import type { PveClient } from './client.js';
import { PveApiError } from './errors.js';
import { sleep } from './sleep.js';

export { parseUpid, type Upid };

export interface WaitOptions {
  /** Give up waiting after this long and report the task as still running. Default 10 minutes. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Receives each new log line as it appears. */
  onProgress?: (event: { line: string; lines: number }) => void;
  /** Polling interval bounds; defaults 100 ms rising to 2 s. */
  minPollMs?: number;
  maxPollMs?: number;
}

export interface TaskOutcome {
  upid: string;
  node: string;
  type: string;
  /** `stopped`, or `running` when the wait timed out. */
  status: 'running' | 'stopped';
  /** True when the task ended with `OK` or `WARNINGS: n`. */
  ok: boolean;
  exitstatus?: string;
  /** The log's `WARN:` lines. */
  warnings: string[];
  /** The last lines of the log (up to 20). */
  logTail: string[];
  /** How long the wait lasted. */
  durationMs: number;
  /** How long the task itself ran, from its start and end times on the node, when known. */
  taskDurationMs?: number;
  timedOut: boolean;
}

/** Status of a task right after its creation may not be readable yet: tolerate this long. */
const YOUNG_TASK_GRACE_MS = 5_000;
const TAIL = 20;

/**
 * Whether a first page of a task log is PVE's answer for a log with no line yet: one entry
 * `{n: 1, t: "no content"}` (pve-common PVE/Tools.pm dump_logfile).
 */
export const isEmptyLog = (page: unknown[]) =>
  page.length === 1 &&
  (page[0] as { n?: unknown; t?: unknown }).n === 1 &&
  (page[0] as { t?: unknown }).t === 'no content';

export const isSuccess = (exitstatus: string | undefined) =>
  exitstatus === 'OK' || (exitstatus?.startsWith('WARNINGS: ') ?? false);

/** The task id a recording view answers for a task it did not start (dry runs, plans). */
export const plannedUpid = (node: string, id: string | number) =>
  `UPID:${node}:00000000:00000000:00000000:dryrun:${id}:dry-run@pve:`;

/** Waits for a task to end; a timeout answers the still-running state, an abort throws. */
export async function waitForTask(
  client: PveClient,
  upid: string,
  opts: WaitOptions = {},
): Promise<TaskOutcome> {
  const parsed = parseUpid(upid);
  if (!parsed) throw new Error(`not a task id (UPID): ${upid}`);
  // A planned task never ran: it is taken as done, so a plan goes on as the real call would.
  if (parsed.type === 'dryrun')
    return {
      upid,
      node: parsed.node,
      type: parsed.type,
      status: 'stopped',
      ok: true,
      exitstatus: 'OK',
      warnings: [],
      logTail: [],
      durationMs: 0,
      timedOut: false,
    };
  const started = Date.now();
  const deadline = started + (opts.timeoutMs ?? 600_000);
  const minPoll = opts.minPollMs ?? 100;
  const maxPoll = opts.maxPollMs ?? 2_000;
  const lines: string[] = [];
  let delay = minPoll;

  const readLog = async () => {
    for (;;) {
      const page = await client.call(
        'GET /nodes/{node}/tasks/{upid}/log',
        { node: parsed.node, upid, start: lines.length, limit: 500 },
        { signal: opts.signal },
      );
      // PVE answers an empty log with one placeholder line: not a line of the task's.
      if (!lines.length && isEmptyLog(page)) return;
      for (const entry of page) {
        const line = String((entry as { t?: unknown }).t ?? '');
        lines.push(line);
        opts.onProgress?.({ line, lines: lines.length });
      }
      if (page.length < 500) return;
    }
  };

  for (;;) {
    let status: { status: string; exitstatus?: string } | undefined;
    try {
      status = await client.call(
        'GET /nodes/{node}/tasks/{upid}/status',
        { node: parsed.node, upid },
        { signal: opts.signal },
      );
    } catch (err) {
      // Right after the fork the task may not exist yet for the API: PVE answers 400.
      const young = Date.now() - started < YOUNG_TASK_GRACE_MS;
      if (
        !(err instanceof PveApiError && young && (err.status === 400 || err.kind === 'not_found'))
      )
        throw err;
    }
    if (status) await readLog();
    if (status?.status === 'stopped') {
      // Lines written just before the end may arrive with the final status.
      await readLog();
      // What the task changed is done now: facts read while it ran are out of date.
      client.changed();
      const taskDurationMs = await ranFor(client, parsed, opts.signal);
      return {
        upid,
        node: parsed.node,
        type: parsed.type,
        status: 'stopped',
        ok: isSuccess(status.exitstatus),
        exitstatus: status.exitstatus,
        warnings: lines.filter((l) => /^WARN(ING)?: /.test(l)),
        logTail: lines.slice(-TAIL),
        durationMs: Date.now() - started,
        ...(taskDurationMs === undefined ? {} : { taskDurationMs }),
        timedOut: false,
      };
    }
    if (Date.now() >= deadline) {
      return {
        upid,
        node: parsed.node,
        type: parsed.type,
        status: 'running',
        ok: false,
        warnings: lines.filter((l) => /^WARN(ING)?: /.test(l)),
        logTail: lines.slice(-TAIL),
        durationMs: Date.now() - started,
        timedOut: true,
      };
    }
    await sleep(Math.min(delay, Math.max(0, deadline - Date.now())), opts.signal);
    delay = Math.min(maxPoll, Math.round(delay * 1.5));
  }
}

/**
 * How long an ended task ran: its end time from the node's task list (the status has none), less
 * its start time. Undefined when it cannot be read: the answer does without it.
 */
async function ranFor(
  client: PveClient,
  task: Upid,
  signal?: AbortSignal,
): Promise<number | undefined> {
  try {
    const rows = await client.call(
      'GET /nodes/{node}/tasks',
      {
        node: task.node,
        since: task.starttime,
        until: task.starttime,
        typefilter: task.type,
        // Just ended, it may still be in the active list.
        source: 'all',
        limit: 50,
      },
      { signal },
    );
    const row = rows.find((r) => r.upid === task.upid) as { endtime?: number } | undefined;
    return row?.endtime === undefined ? undefined : (row.endtime - task.starttime) * 1000;
  } catch {
    return undefined;
  }
}

/** A row of a node's task list: `status` is `RUNNING` while the task runs, then its exit status. */
export type TaskRow = ApiReturns['GET /nodes/{node}/tasks'][number];

export type WatchOptions = Pick<WaitOptions, 'timeoutMs' | 'signal' | 'minPollMs' | 'maxPollMs'>;

/**
 * Watches tasks on many nodes at once with one read of each node's task list per tick, where a
 * wait per task would poll each task's status. `seen` gets, per node, the tasks started since the
 * time given for it; the watch ends when `seen` answers true (true), or at the deadline (false).
 */
export async function watchNodeTasks(
  client: PveClient,
  since: ReadonlyMap<string, number>,
  seen: (rows: Map<string, TaskRow[]>) => boolean | Promise<boolean>,
  opts: WatchOptions = {},
): Promise<boolean> {
  const deadline = Date.now() + (opts.timeoutMs ?? 600_000);
  // PVE's bulk workers look at their guests' tasks once a second (pve-manager Nodes.pm): a
  // watch of them need not look more often, and looking less often only makes it answer late.
  const maxPoll = opts.maxPollMs ?? 1_000;
  let delay = opts.minPollMs ?? 100;
  for (;;) {
    const rows = new Map(
      await Promise.all(
        [...since].map(
          async ([node, from]) =>
            [
              node,
              await client.call(
                'GET /nodes/{node}/tasks',
                // PVE lists 50 by default, the newest first: enough for every task since then.
                { node, since: from, source: 'all', limit: 10_000 },
                { signal: opts.signal },
              ),
            ] as const,
        ),
      ),
    );
    if (await seen(rows)) {
      client.changed();
      return true;
    }
    if (Date.now() >= deadline) return false;
    await sleep(Math.min(delay, Math.max(0, deadline - Date.now())), opts.signal);
    delay = Math.min(maxPoll, Math.round(delay * 1.5));
  }
}

/** An ended task's outcome from its row in the node's list; its log is read only when it failed or warned. */
export async function outcomeOfRow(
  client: PveClient,
  row: TaskRow,
  signal?: AbortSignal,
): Promise<TaskOutcome> {
  const exitstatus = row.status;
  const ok = isSuccess(exitstatus);
  let lines: string[] = [];
  if (!ok || exitstatus !== 'OK') {
    const page = await client.call(
      'GET /nodes/{node}/tasks/{upid}/log',
      { node: row.node, upid: row.upid, start: 0, limit: 5_000 },
      { signal },
    );
    if (!isEmptyLog(page)) lines = page.map((e) => String((e as { t?: unknown }).t ?? ''));
  }
  const parsed = parseUpid(row.upid);
  return {
    upid: row.upid,
    node: row.node,
    type: row.type,
    status: 'stopped',
    ok,
    exitstatus,
    warnings: lines.filter((l) => /^WARN(ING)?: /.test(l)),
    logTail: lines.slice(-TAIL),
    durationMs: 0,
    ...(row.endtime === undefined || !parsed
      ? {}
      : { taskDurationMs: (row.endtime - parsed.starttime) * 1000 }),
    timedOut: false,
  };
}

/**
 * Waits for several tasks with one watch (watchNodeTasks); `onEnd` hears of each as it ends. One
 * task is waited for as waitForTask does. Tasks still running at the deadline answer `timedOut`.
 */
export async function waitForTasks(
  client: PveClient,
  upids: string[],
  opts: WatchOptions & { onEnd?: (outcome: TaskOutcome) => void | Promise<void> } = {},
): Promise<TaskOutcome[]> {
  const started = Date.now();
  const ended = new Map<string, TaskOutcome>();
  const end = async (outcome: TaskOutcome) => {
    ended.set(outcome.upid, { ...outcome, durationMs: Date.now() - started });
    await opts.onEnd?.(outcome);
  };
  const watched: Upid[] = [];
  for (const upid of new Set(upids)) {
    const parsed = parseUpid(upid);
    if (!parsed) throw new Error(`not a task id (UPID): ${upid}`);
    if (upids.length === 1 || parsed.type === 'dryrun')
      await end(await waitForTask(client, upid, opts));
    else watched.push(parsed);
  }
  const since = new Map<string, number>();
  for (const t of watched)
    since.set(t.node, Math.min(since.get(t.node) ?? t.starttime, t.starttime));
  if (watched.length)
    await watchNodeTasks(
      client,
      since,
      async (rows) => {
        for (const t of watched) {
          if (ended.has(t.upid)) continue;
          const row = rows.get(t.node)?.find((r) => r.upid === t.upid);
          if (row && row.status !== undefined && row.status !== 'RUNNING')
            await end(await outcomeOfRow(client, row, opts.signal));
        }
        return watched.every((t) => ended.has(t.upid));
      },
      opts,
    );
  return [...new Set(upids)].map(
    (upid) =>
      ended.get(upid) ?? {
        upid,
        node: parseUpid(upid)?.node ?? '',
        type: parseUpid(upid)?.type ?? '',
        status: 'running',
        ok: false,
        warnings: [],
        logTail: [],
        durationMs: Date.now() - started,
        timedOut: true,
      },
  );
}

/** Stops a running task (`DELETE /nodes/{node}/tasks/{upid}`). */
export async function stopTask(client: PveClient, upid: string): Promise<void> {
  const parsed = parseUpid(upid);
  if (!parsed) throw new Error(`not a task id (UPID): ${upid}`);
  await client.call('DELETE /nodes/{node}/tasks/{upid}', { node: parsed.node, upid });
}

/** A started task: its UPID, and a way to wait for it. */
export class TaskRef {
  readonly info: Upid;
  constructor(
    private readonly client: PveClient,
    readonly upid: string,
  ) {
    const info = parseUpid(upid);
    if (!info) throw new Error(`expected a task id (UPID), got ${JSON.stringify(upid)}`);
    this.info = info;
  }
  wait(opts?: WaitOptions): Promise<TaskOutcome> {
    return waitForTask(this.client, this.upid, opts);
  }
  stop(): Promise<void> {
    return stopTask(this.client, this.upid);
  }
}
