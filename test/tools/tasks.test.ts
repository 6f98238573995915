/** Tasks: history, waits, failures (src/tools/tasks.ts and the task outcomes of every tool). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type McpHarness, startHarness } from '../helpers/mcp.js';

let h: McpHarness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());

describe('tasks', () => {
  it('shows the demo history: failed tasks from before the server started', async () => {
    const r = await h.call('proxmox_list_tasks', { state: 'failed' });
    expect(r.isError, r.text).toBeFalsy();
    expect(r.text).toMatch(/qmstart/);
    expect(r.text).toMatch(/vzdump/);
  });

  it('returns the UPID at once with timeout: 0', async () => {
    const r = await h.call('proxmox_stop_vm', { vmid: 105, timeout: 0 });
    expect(r.structured).toMatchObject({
      status: 'started',
      upid: expect.stringMatching(/qmstop:105/),
    });
    const w = await h.call('proxmox_wait_task', { upid: r.structured?.upid });
    expect(w.structured).toMatchObject({ status: 'completed', exitstatus: 'OK', type: 'qmstop' });
  });

  it("reports a task's own duration, not how long it was waited for", async () => {
    // A task of a simulated minute and a half, ended before anyone waits for it.
    h.sim.sim.tasks.durationScale = 1;
    const r = await h.call('proxmox_shutdown_vm', {
      vmid: 106,
      shutdownTimeout: 90,
      forceStop: true,
      timeout: 0,
    });
    h.sim.sim.tasks.durationScale = 0;
    h.sim.sim.runTasks();
    const w = await h.call('proxmox_wait_task', { upid: r.structured?.upid });
    expect(w.text).toMatch(/: done in 90\.0s, but not cleanly/);
    expect(w.structured?.durationMs).toBe(90_000);
    await h.call('proxmox_start_vm', { vmid: 106 });
  });

  it('answers "still running" when the wait runs out, and the task can be stopped', async () => {
    // The task takes its time: the clock stands still until moved.
    h.sim.sim.tasks.durationScale = 1;
    const r = await h.call('proxmox_shutdown_vm', { vmid: 106, shutdownTimeout: 3000, timeout: 1 });
    h.sim.sim.tasks.durationScale = 0;
    expect(r.isError).toBeFalsy();
    expect(r.structured).toMatchObject({ status: 'running' });
    expect(r.text).toMatch(/still running after 1s.*proxmox_wait_task/);
    const upid = r.structured?.upid as string;
    const listed = await h.call('proxmox_list_tasks', { state: 'running' });
    expect(((listed.structured?.tasks ?? []) as { upid: string }[]).map((t) => t.upid)).toContain(
      upid,
    );
    const stop = await h.call('proxmox_stop_task', { upid });
    expect(stop.structured).toMatchObject({ stopped: true });
    const status = await h.call('proxmox_get_task_status', { upid });
    expect(status.structured).toMatchObject({
      status: 'stopped',
      exitstatus: 'received interrupt',
      ok: false,
    });
  });

  it('reports a failed task with its last log lines', async () => {
    h.sim.sim.faults.add({
      kind: 'task-fail',
      taskType: 'vzstart',
      exitstatus: "startup for container '201' failed",
      times: 1,
    });
    const r = await h.call('proxmox_start_container', { vmid: 201 });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(
      /^Start container 201 \(ct-proxy\) on pve1 failed: startup for container '201' failed\./,
    );
    expect(r.text).toMatch(/Task UPID:pve1:/);
  });
});

describe('a task that is not there', () => {
  it('has no log: said so, not shown as a log line', async () => {
    const h = await startHarness();
    try {
      const r = await h.call('proxmox_get_task_log', {
        upid: 'UPID:pve1:00000001:00000001:00000001:qmstart:100:root@pam:',
      });
      expect(r.isError).toBe(true);
      expect(r.text).toMatch(
        /^Node pve1 has no log of task UPID:pve1:00000001:00000001:00000001:qmstart:100:root@pam: \(unable to open file - No such file or directory\): .* proxmox_list_tasks lists the node's tasks\.$/,
      );
    } finally {
      await h.close();
    }
  });
});
