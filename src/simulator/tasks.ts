/**
 * The task engine: what PVE's fork_worker does. A task gets a UPID at once, holds its guest lock
 * while it runs, writes its log over simulated time, and applies its effect when it ends.
 *
 * Time is played as a sequence of events: task ends and scheduled callbacks, each handled at its
 * own simulated time, earliest first (a task end before a callback due at the same time), however
 * late the clock is read. While an event plays, `now()` is its time, so a task it starts begins
 * then and a task it ends ends then.
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
  /**
   * A worker that runs over simulated time instead of for a fixed duration: the task ends when the
   * worker returns (`OK`, or `WARNINGS: n` after n `warn`s) or throws TaskError (the error).
   */
  worker?: (io: WorkerIo) => Worker;
}

/**
 * A worker's body, written as PVE's sequential Perl is: it yields the simulated milliseconds it
 * sleeps (`sleep(1)` yields 1000), which are scaled as task durations are.
 */
export type Worker = Generator<number, void, undefined>;

/** What a worker writes to its task log, at the simulated time it runs. */
export interface WorkerIo {
  /** A line, as `print`, `print STDERR` and `warn` write one. */
  print(text: string): void;
  /** `log_warn`: a `WARN: ` line that counts toward the task's `WARNINGS: n`. */
  warn(text: string): void;
}

interface Timer {
  at: number;
  seq: number;
  run: () => void;
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
export const DURATIONS: Record<string, number> = {
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
  /** Tasks not yet ended: what `tick` looks through. */
  private readonly running = new Set<SimTask>();
  private timers: Timer[] = [];
  private nextTimer = 0;
  /** The time of the event being played, while one is. */
  private playing?: number;
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
    this.running.add(task);
    return task;
  }

  /** The simulated time: that of the event being played, else the clock's. */
  now(): number {
    return this.playing ?? this.clock.now();
  }

  /** Simulated ms of work or sleep, at the engine's scale. */
  scaled(ms: number): number {
    return Math.round(ms * this.durationScale);
  }

  /** Runs `run` at simulated time `at`, in time order with the other events, once the clock is there. */
  schedule(at: number, run: () => void): void {
    this.timers.push({ at, seq: this.nextTimer++, run });
  }

  /** When the last event now pending is due: a running task's end or a callback; undefined if none. */
  horizon(): number | undefined {
    const times = [
      ...[...this.running].map((t) => t.endsAt).filter(Number.isFinite),
      ...this.timers.map((t) => t.at),
    ];
    return times.length ? Math.max(...times) : undefined;
  }

  /** The earliest end of a running task, or now if none is to come. */
  private nextTaskEnd(): number {
    const ends = [...this.running].map((t) => t.endsAt).filter(Number.isFinite);
    return ends.length ? Math.max(this.now(), Math.min(...ends)) : this.now();
  }

  start(spec: TaskSpec): SimTask {
    const now = this.now();
    if (spec.worker) return this.startWorker(spec, spec.worker, now);
    const duration = spec.fail ? 100 : (spec.durationMs ?? DURATIONS[spec.type] ?? 1_000);
    const task = this.create(spec, now, now + this.scaled(duration));
    task.lines = (spec.log ?? []).map((text) => ({ at: now, text }));
    const steps = spec.steps ?? [];
    steps.forEach((text, i) => {
      task.lines.push({ at: now + ((task.endsAt - now) * (i + 1)) / (steps.length + 1), text });
    });
    if (spec.lock) spec.lock.guest.config.lock = spec.lock.lock;
    this.prune();
    return task;
  }

  /**
   * A task run by a worker: it runs its first steps at once, then on from each sleep's end, until it
   * returns or fails. It ends no earlier than that (`endsAt` is open until then).
   */
  private startWorker(spec: TaskSpec, body: (io: WorkerIo) => Worker, now: number): SimTask {
    const task = this.create(spec, now, Number.POSITIVE_INFINITY);
    let warnings = 0;
    const io: WorkerIo = {
      print: (text) => void task.lines.push({ at: this.now(), text }),
      warn: (text) => {
        warnings++;
        io.print(`WARN: ${text}`);
      },
    };
    const worker = body(io);
    const step = () => {
      // A task stopped meanwhile (`received interrupt`) runs no further.
      if (task.status !== 'running') return void worker.return();
      try {
        const next = worker.next();
        if (next.done) this.end(task, warnings ? `WARNINGS: ${warnings}` : 'OK', []);
        else {
          // A sleep scaled to nothing lasts until the next task end (at once when one is due
          // now), so a worker waiting on a task started at another scale does not spin.
          const ms = this.scaled(next.value);
          this.schedule(ms > 0 ? this.now() + ms : this.nextTaskEnd(), step);
        }
      } catch (err) {
        if (!(err instanceof TaskError)) throw err;
        this.end(task, err.message, err.lines);
      }
    };
    step();
    this.prune();
    return task;
  }

  /** Plays every event whose time has come (task ends, callbacks), earliest first. */
  tick(): void {
    // An event's own effects are played by the loop that runs it.
    if (this.playing !== undefined) return;
    const now = this.clock.now();
    for (;;) {
      let task: SimTask | undefined;
      for (const t of this.running)
        if (t.endsAt <= now && (!task || t.endsAt < task.endsAt)) task = t;
      let timer: Timer | undefined;
      for (const t of this.timers)
        if (t.at <= now && (!timer || t.at < timer.at || (t.at === timer.at && t.seq < timer.seq)))
          timer = t;
      if (!task && !timer) return;
      try {
        if (task && (!timer || task.endsAt <= timer.at)) {
          this.playing = task.endsAt;
          this.finish(task);
        } else if (timer) {
          this.timers = this.timers.filter((t) => t !== timer);
          this.playing = timer.at;
          timer.run();
        }
      } finally {
        this.playing = undefined;
      }
    }
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
    const at = endedAt ?? Math.max(this.now(), task.startedAt);
    this.running.delete(task);
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
