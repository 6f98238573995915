/**
 * The task engine: what PVE's fork_worker does. A task gets a UPID at once, holds its guest lock
 * while it runs, writes its log over simulated time, and applies its effect when it ends.
 */
import { formatUpid } from '../contract/upid.js';
import type { SimClock } from './clock.js';
import { TaskError } from './errors.js';
import type { SimGuest } from './state.js';

export interface TaskSpec {
  node: string;
  /** PVE task type: qmstart, qmclone, vzdump, ... */
  type: string;
  id?: string;
  /** `user@realm`, or `user@realm!tokenid` for API tokens. */
  user: string;
  /** Simulated run time, before the engine's scale. Defaults by type. */
  durationMs?: number;
  /** A config lock the task holds while it runs (released unless the effect changed it). */
  lock?: { guest: SimGuest; lock: string };
  /** Log lines written as the task starts. */
  log?: string[];
  /** Log lines spread evenly over the run (progress). */
  steps?: string[];
  /** The worker fails at once with this error (checks PVE makes inside the task). */
  fail?: string;
  /**
   * The effect, applied when the task ends. Returns more log lines; `WARN: ` lines are warnings.
   * Throwing TaskError ends the task with that error.
   */
  run?: () => string[] | undefined;
  /** Undoes what was set up at start, when the task fails or is stopped. */
  abort?: () => void;
}

export interface SimTask {
  upid: string;
  node: string;
  pid: number;
  pstart: number;
  starttime: number;
  type: string;
  id: string;
  user: string;
  startedAt: number;
  endsAt: number;
  endtime?: number;
  status: 'running' | 'stopped';
  exitstatus?: string;
  lines: { at: number; text: string }[];
  spec: TaskSpec;
}

/** How long tasks of each type take, in simulated ms, before scaling. */
const DURATIONS: Record<string, number> = {
  qmstart: 1_500,
  vzstart: 1_200,
  qmstop: 800,
  vzstop: 600,
  qmshutdown: 4_000,
  vzshutdown: 3_000,
  qmreboot: 5_000,
  vzreboot: 4_000,
  qmreset: 300,
  qmpause: 300,
  vzsuspend: 500,
  qmsuspend: 4_000,
  qmresume: 300,
  vzresume: 300,
  qmclone: 6_000,
  vzclone: 5_000,
  qmigrate: 8_000,
  vzmigrate: 6_000,
  qmsnapshot: 2_000,
  vzsnapshot: 1_500,
  qmrollback: 2_500,
  vzrollback: 2_000,
  qmdelsnapshot: 1_500,
  vzdelsnapshot: 1_200,
  qmdestroy: 1_500,
  vzdestroy: 1_200,
  qmcreate: 2_000,
  vzcreate: 5_000,
  qmrestore: 8_000,
  vzrestore: 7_000,
  qmtemplate: 1_500,
  vztemplate: 1_500,
  resize: 500,
  vzdump: 8_000,
  imgdel: 300,
  qmconfig: 200,
};

/** What a fault may do to a task: end it with this exit status instead of running its effect. */
export type TaskFaultHook = (task: SimTask) => string | undefined;

export class TaskEngine {
  readonly tasks = new Map<string, SimTask>();
  private nextPid = 0x0010_0000;
  /** A task log older than this many tasks is forgotten, as PVE rotates its task index. */
  private readonly keep = 5_000;

  constructor(
    private readonly clock: SimClock,
    /** Multiplies every task duration; 0 finishes tasks as soon as the clock is read again. */
    public durationScale = 1,
    public faultHook: TaskFaultHook = () => undefined,
  ) {}

  /** Adds a task that already ended (a dataset's history), with its log and outcome. */
  recordPast(past: {
    node: string;
    type: string;
    id?: string;
    user: string;
    startedAt: number;
    durationMs: number;
    exitstatus: string;
    log: string[];
  }): void {
    const spec = { node: past.node, type: past.type, id: past.id, user: past.user };
    const task = this.create(spec, past.startedAt, past.startedAt + past.durationMs);
    this.end(task, past.exitstatus, past.log, task.endsAt);
  }

  /** A new task in the index, running from `startedAt` to `endsAt`. */
  private create(spec: TaskSpec, startedAt: number, endsAt: number): SimTask {
    const base = {
      node: spec.node,
      pid: this.nextPid++,
      pstart: Math.floor(startedAt / 10) % 0xffffffff,
      starttime: Math.floor(startedAt / 1000),
      type: spec.type,
      id: spec.id ?? '',
      user: spec.user,
    };
    const task: SimTask = {
      ...base,
      upid: formatUpid(base),
      startedAt,
      endsAt,
      status: 'running',
      lines: [],
      spec,
    };
    this.tasks.set(task.upid, task);
    return task;
  }

  start(spec: TaskSpec): SimTask {
    const now = this.clock.now();
    const duration = spec.fail ? 100 : (spec.durationMs ?? DURATIONS[spec.type] ?? 1_000);
    const task = this.create(spec, now, now + Math.round(duration * this.durationScale));
    task.lines = (spec.log ?? []).map((text) => ({ at: now, text }));
    const steps = spec.steps ?? [];
    steps.forEach((text, i) => {
      task.lines.push({ at: now + ((task.endsAt - now) * (i + 1)) / (steps.length + 1), text });
    });
    if (spec.lock) spec.lock.guest.config.lock = spec.lock.lock;
    this.prune();
    return task;
  }

  /** Ends every task whose time has come, in the order they end. */
  tick(): void {
    const now = this.clock.now();
    const due = [...this.tasks.values()]
      .filter((t) => t.status === 'running' && t.endsAt <= now)
      .sort((a, b) => a.endsAt - b.endsAt);
    for (const task of due) this.finish(task);
  }

  /** Ends a running task at once, as `DELETE /nodes/{node}/tasks/{upid}` does. */
  stop(task: SimTask): void {
    if (task.status !== 'running') return;
    // The worker dies on SIGTERM with 'received interrupt' (pve-common PVE/RESTEnvironment.pm
    // fork_worker), which becomes its exit status.
    this.end(task, 'received interrupt', []);
  }

  private finish(task: SimTask): void {
    const { spec } = task;
    const forced = this.faultHook(task);
    // A forced `WARNINGS: n` still does the work, with n warnings in the log.
    const forcedWarnings = Number(/^WARNINGS: (\d+)$/.exec(forced ?? '')?.[1] ?? 0);
    if (forced !== undefined && !forcedWarnings) {
      this.end(task, forced, []);
      return;
    }
    if (spec.fail) {
      this.end(task, spec.fail, []);
      return;
    }
    try {
      const lines = [
        ...(spec.run?.() ?? []),
        ...Array.from({ length: forcedWarnings }, (_, i) => `WARN: simulated warning ${i + 1}`),
      ];
      const warnings = lines.filter((l) => l.startsWith('WARN: ')).length;
      this.end(task, warnings ? `WARNINGS: ${warnings}` : 'OK', lines);
    } catch (err) {
      if (!(err instanceof TaskError)) throw err;
      this.end(task, err.message, err.lines);
    }
  }

  private end(task: SimTask, exitstatus: string, lines: string[], endedAt?: number): void {
    const at = endedAt ?? Math.max(this.clock.now(), task.startedAt);
    const ok = exitstatus === 'OK' || exitstatus.startsWith('WARNINGS: ');
    if (!ok) task.spec.abort?.();
    const lock = task.spec.lock;
    if (lock && lock.guest.config.lock === lock.lock) delete lock.guest.config.lock;
    // Progress lines not yet shown are dropped when a task ends early.
    task.lines = task.lines.filter((l) => l.at <= at || ok);
    for (const l of task.lines) l.at = Math.min(l.at, at);
    for (const text of lines) task.lines.push({ at, text });
    const last =
      exitstatus === 'OK' ? 'TASK OK' : ok ? `TASK ${exitstatus}` : `TASK ERROR: ${exitstatus}`;
    task.lines.push({ at, text: last });
    task.status = 'stopped';
    task.exitstatus = exitstatus;
    task.endtime = Math.floor(at / 1000);
  }

  /** The log lines written so far. */
  logOf(task: SimTask): string[] {
    const now = this.clock.now();
    return task.lines.filter((l) => task.status === 'stopped' || l.at <= now).map((l) => l.text);
  }

  /** Tasks still running that hold or wait on this guest. */
  runningFor(vmid: number): SimTask[] {
    const id = String(vmid);
    return [...this.tasks.values()].filter((t) => t.status === 'running' && t.id === id);
  }

  private prune(): void {
    if (this.tasks.size <= this.keep) return;
    for (const [upid, task] of this.tasks) {
      if (this.tasks.size <= this.keep) break;
      if (task.status === 'stopped') this.tasks.delete(upid);
    }
  }
}
