import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { PveApi, type PveApiError, parseUpid } from '../../src/pve/index.js';
import { type RunningSimulator, startSimulator } from '../../src/simulator/server.js';

// A real-time clock with tasks sped up a hundredfold: waits end quickly and for real.
let sim: RunningSimulator;
let pve: PveApi;
beforeAll(async () => {
  sim = await startSimulator({ clock: 'real', taskScale: 0.01 });
  pve = new PveApi({
    url: sim.url,
    auth: { tokenId: sim.token.id, secret: sim.token.secret },
    tls: { fingerprint: sim.fingerprint },
  });
});
afterAll(async () => {
  await pve.close();
  await sim.close();
});
afterEach(() => sim.sim.faults.clear());

describe('UPIDs', () => {
  it('parse into node, type, id, user and start time', () => {
    expect(parseUpid('UPID:pve:000FF1FD:10F9374C:630D702C:qmstart:100:root@pam!mcp:')).toEqual({
      upid: 'UPID:pve:000FF1FD:10F9374C:630D702C:qmstart:100:root@pam!mcp:',
      node: 'pve',
      pid: 0xff1fd,
      pstart: 0x10f9374c,
      starttime: 0x630d702c,
      type: 'qmstart',
      id: '100',
      user: 'root@pam',
      tokenid: 'mcp',
    });
    expect(parseUpid('UPID:pve:nothex:x')).toBeUndefined();
  });
});

describe('an empty task log', () => {
  it('is no line: no progress, no tail, and the first real line is not skipped', async () => {
    const manual = await startSimulator({ clock: 'manual' });
    const api = new PveApi({
      url: manual.url,
      auth: { tokenId: manual.token.id, secret: manual.token.secret },
      tls: { fingerprint: manual.fingerprint },
    });
    try {
      const task = await api.qemu.start('pve1', 103);
      // While the start runs, PVE answers its empty log with a placeholder.
      expect(await api.tasks.log('pve1', task.upid)).toEqual({ lines: [], total: 0 });
      const seen: string[] = [];
      const waiting = task.wait({
        onProgress: (e) => seen.push(e.line),
        minPollMs: 5,
        maxPollMs: 5,
      });
      // Polled a few times while the log had no line yet: still no progress.
      const polls = () =>
        manual.sim.requests.filter((r) => r.template === '/nodes/{node}/tasks/{upid}/status')
          .length;
      const before = polls();
      await vi.waitFor(() => expect(polls()).toBeGreaterThan(before + 2));
      expect(seen).toEqual([]);
      manual.sim.runTasks();
      const outcome = await waiting;
      expect(seen).toEqual(['TASK OK']);
      expect(outcome.logTail).toEqual(['TASK OK']);
    } finally {
      await api.close();
      await manual.close();
    }
  });
});

describe('waiting for a task', () => {
  it('ends OK and streams the log', async () => {
    const lines: string[] = [];
    const task = await pve.qemu.clone('pve2', 9000, {
      newid: 300,
      name: 'from-template',
      full: true,
    });
    const outcome = await task.wait({ onProgress: (e) => lines.push(e.line), minPollMs: 5 });
    expect(outcome).toMatchObject({
      ok: true,
      status: 'stopped',
      exitstatus: 'OK',
      type: 'qmclone',
      timedOut: false,
      warnings: [],
    });
    expect(lines[0]).toBe('create full clone of drive scsi0 (local-lvm:base-9000-disk-0)');
    expect(lines.at(-1)).toBe('TASK OK');
    expect(outcome.logTail.at(-1)).toBe('TASK OK');
    expect((await pve.qemu.status('pve2', 300)).name).toBe('from-template');
  });

  it('counts WARNINGS as success and collects the warning lines', async () => {
    sim.sim.faults.add({
      kind: 'task-fail',
      taskType: 'qmsnapshot',
      exitstatus: 'WARNINGS: 2',
      times: 1,
    });
    const outcome = await (await pve.qemu.snapshot('pve1', 101, 'warned')).wait({ minPollMs: 5 });
    expect(outcome).toMatchObject({
      ok: true,
      exitstatus: 'WARNINGS: 2',
      warnings: ['WARN: simulated warning 1', 'WARN: simulated warning 2'],
    });
  });

  it('reports a failed task with its last log lines', async () => {
    // 102 is not under HA: its own qmstart runs, and fails inside the task.
    const outcome = await (await pve.qemu.start('pve1', 102)).wait({ minPollMs: 5 });
    expect(outcome).toMatchObject({
      ok: false,
      status: 'stopped',
      exitstatus: 'VM 102 already running',
    });
    expect(outcome.logTail.at(-1)).toBe('TASK ERROR: VM 102 already running');
  });

  it('tolerates the transient 400 right after a task was created', async () => {
    sim.sim.faults.add({ kind: 'upid-status-400', ms: 60_000, times: 2 });
    const outcome = await (await pve.lxc.start('pve1', 201)).wait({ minPollMs: 5 });
    expect(outcome.ok).toBe(true);
  });

  it('answers "still running" when the wait times out, and the task can then be stopped', async () => {
    // VM 106 ignores ACPI: its shutdown waits out the timeout (here 600 s, run at 1/100).
    const task = await pve.qemu.shutdown('pve2', 106, { timeout: 600 });
    const outcome = await task.wait({ timeoutMs: 150, minPollMs: 10 });
    expect(outcome).toMatchObject({ status: 'running', ok: false, timedOut: true });
    await task.stop();
    const after = await task.wait({ minPollMs: 5 });
    expect(after).toMatchObject({ status: 'stopped', ok: false, exitstatus: 'received interrupt' });
  });

  it('stops waiting, not the task, when aborted', async () => {
    const task = await pve.qemu.shutdown('pve2', 106, { timeout: 600 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('caller went away')), 50);
    await expect(task.wait({ signal: controller.signal, minPollMs: 10 })).rejects.toThrow(
      'caller went away',
    );
    expect((await pve.tasks.status('pve2', task.upid)).status).toBe('running');
    await task.stop();
  });

  it('reports a task the API does not know as not found', async () => {
    const bogus = 'UPID:pve1:00000001:00000001:00000001:qmstart:100:root@pam:';
    const err = (await pve.tasks.status('pve1', bogus).catch((e: unknown) => e)) as PveApiError;
    expect(err.status).toBe(400);
    expect(err.errors).toEqual({ upid: 'no such task' });
  });
});

describe('a watch of many tasks', () => {
  it('reads each node’s task list once per tick, and no task’s status', async () => {
    const own = await startSimulator({ clock: 'real', taskScale: 0.05 });
    const api = new PveApi({
      url: own.url,
      auth: { tokenId: own.token.id, secret: own.token.secret },
      tls: { fingerprint: own.fingerprint },
    });
    try {
      const tasks = [
        await api.qemu.start('pve1', 103),
        await api.lxc.start('pve1', 201),
        await api.qemu.stop('pve2', 105),
      ];
      // A container already stopped: its task fails, and the failure comes with its log.
      own.sim.cluster.guests.get(201)!.config.lock = 'backup';
      const from = own.sim.requests.length;
      const heard: string[] = [];
      const outcomes = await api.tasks.waitAll(
        tasks.map((t) => t.upid),
        { minPollMs: 5, maxPollMs: 20, onEnd: (o) => void heard.push(o.type) },
      );
      const asked = own.sim.requests.slice(from);
      expect(outcomes.map((o) => [o.type, o.ok])).toEqual([
        ['qmstart', true],
        ['vzstart', false],
        ['qmstop', true],
      ]);
      expect(outcomes[1]?.exitstatus).toMatch(/locked/);
      expect(outcomes[1]?.logTail.length).toBeGreaterThan(0);
      expect(heard.sort()).toEqual(['qmstart', 'qmstop', 'vzstart']);
      expect(asked.filter((r) => r.template === '/nodes/{node}/tasks/{upid}/status')).toEqual([]);
      const lists = (node: string) =>
        asked.filter((r) => r.template === '/nodes/{node}/tasks' && r.path.includes(`/${node}/`))
          .length;
      // One read per node per tick: as many for each node.
      expect(lists('pve1')).toBeGreaterThan(0);
      expect(lists('pve1')).toBe(lists('pve2'));
      expect(own.sim.cluster.guests.get(103)?.running).toBe(true);
    } finally {
      await api.close();
      await own.close();
    }
  });
});
