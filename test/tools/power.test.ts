/** Guest power (src/tools/power.ts). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type McpHarness, startHarness } from '../helpers/mcp.js';

let h: McpHarness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());

describe('power', () => {
  it('starts a VM, waits, and streams progress', async () => {
    const progress: string[] = [];
    const r = await h.call(
      'proxmox_start_vm',
      { vmid: 103 },
      { onprogress: (p) => progress.push(p.message ?? '') },
    );
    expect(r.isError).toBeFalsy();
    expect(r.structured).toMatchObject({
      vmid: 103,
      node: 'pve1',
      action: 'start',
      status: 'completed',
      exitstatus: 'OK',
    });
    expect(r.structured?.upid).toMatch(
      /^UPID:pve1:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:qmstart:103:root@pam!simulator:$/,
    );
    expect(r.text).toMatch(
      /^Start VM 103 \(win-app\) on pve1: done in \d+\.\ds\. Task UPID:pve1:[0-9A-F:]+:qmstart:103:root@pam!simulator:\.$/,
    );
    expect(progress[0]).toBe('Start VM 103 (win-app) on pve1: task qmstart started');
    expect(progress).toContain('TASK OK');
    const again = await h.call('proxmox_start_vm', { vmid: 103 });
    expect(again.text).toMatch(/already running; nothing to do/);
  });

  it('says when a shutdown runs out of time, what to try, and when a forced one killed the guest', async () => {
    // VM 106 ignores ACPI shutdown requests.
    const timedOut = await h.call('proxmox_shutdown_vm', { vmid: 106, shutdownTimeout: 5 });
    expect(timedOut.isError).toBe(true);
    expect(timedOut.text).toMatch(
      /failed: VM quit\/powerdown failed - got timeout\.\n(?:.*\n)*The guest did not shut down within the timeout .*: call again with a longer shutdownTimeout, or with forceStop: true to stop it hard after the timeout, or stop it with proxmox_stop_vm\.\nTask UPID:/,
    );
    const forced = await h.call('proxmox_shutdown_vm', {
      vmid: 106,
      shutdownTimeout: 5,
      forceStop: true,
    });
    expect(forced.isError, forced.text).toBeFalsy();
    expect(forced.text).toMatch(
      /: done in \d+\.\ds, but not cleanly: it did not shut down within the timeout and was stopped hard \(VM still running - terminating now with SIGTERM\); unsaved data in it may be lost\. Task UPID:\S+\.$/,
    );
    expect(forced.structured?.warnings).toEqual([
      'VM still running - terminating now with SIGTERM',
    ]);
    await h.call('proxmox_start_vm', { vmid: 106 });
  });

  it('tells a container killed by a forced shutdown from one that shut down', async () => {
    const ct = h.sim.sim.cluster.guests.get(200);
    if (!ct) throw new Error('no CT 200');
    ct.ignoreShutdown = true;
    // lxc-stop kills after the timeout without a log line: the task's length tells it. The task
    // takes its simulated second here.
    h.sim.sim.tasks.durationScale = 1;
    const call = h.call('proxmox_shutdown_container', {
      vmid: 200,
      shutdownTimeout: 1,
      forceStop: true,
    });
    // The manual clock moves when the task has started.
    while (
      !h.sim.sim.tasks.tasks.size ||
      ![...h.sim.sim.tasks.tasks.values()].some(
        (t) => t.status === 'running' && t.upid.includes(':vzshutdown:200:'),
      )
    )
      await new Promise((r) => setTimeout(r, 5));
    h.sim.sim.runTasks();
    const forced = await call;
    h.sim.sim.tasks.durationScale = 0;
    expect(forced.isError, forced.text).toBeFalsy();
    expect(forced.text).toMatch(
      /: done in 1\.0s, but not cleanly: it did not shut down within the timeout and was stopped hard \(the task lasted the whole 1s timeout, after which lxc-stop kills the container\)/,
    );
    ct.ignoreShutdown = false;
    await h.call('proxmox_start_container', { vmid: 200 });
    const clean = await h.call('proxmox_shutdown_container', { vmid: 200, forceStop: true });
    expect(clean.isError, clean.text).toBeFalsy();
    expect(clean.text).not.toMatch(/not cleanly/);
    await h.call('proxmox_start_container', { vmid: 200 });
  });

  it('suspends a container by checkpoint (it stops) and resumes it; a running one needs nothing', async () => {
    const running = await h.call('proxmox_resume_container', { vmid: 202 });
    expect(running.text).toMatch(/Container 202 \(ct-monitor\) is already running; nothing to do/);
    const suspend = await h.call('proxmox_suspend_container', { vmid: 202 });
    expect(suspend.isError, suspend.text).toBeFalsy();
    expect((await h.call('proxmox_get_container_status', { vmid: 202 })).structured).toMatchObject({
      status: 'stopped',
    });
    const resume = await h.call('proxmox_resume_container', { vmid: 202 });
    expect(resume.isError, resume.text).toBeFalsy();
    expect((await h.call('proxmox_get_container_status', { vmid: 202 })).structured).toMatchObject({
      status: 'running',
    });
  });

  it('reboots a running container, stops it, and says a stopped one needs no stop', async () => {
    const status = async () =>
      (await h.call('proxmox_get_container_status', { vmid: 202 })).structured?.status;
    const reboot = await h.call('proxmox_reboot_container', { vmid: 202 });
    expect(reboot.isError, reboot.text).toBeFalsy();
    expect(reboot.text).toMatch(/^Reboot container 202 \(ct-monitor\) on pve2: done/);
    expect(await status()).toBe('running');
    const stop = await h.call('proxmox_stop_container', { vmid: 202 });
    expect(stop.isError, stop.text).toBeFalsy();
    expect(stop.structured).toMatchObject({ vmid: 202, action: 'stop', status: 'completed' });
    expect(await status()).toBe('stopped');
    const again = await h.call('proxmox_stop_container', { vmid: 202 });
    expect(again.text).toMatch(/Container 202 \(ct-monitor\) is already stopped; nothing to do/);
    await h.call('proxmox_start_container', { vmid: 202 });
    expect(await status()).toBe('running');
  });

  it('asks HA for an HA-managed guest, then waits for the HA manager and says what it did', async () => {
    const stop = await h.call('proxmox_stop_vm', { vmid: 101 });
    expect(stop.isError, stop.text).toBeFalsy();
    expect(stop.text).toMatch(
      /^Stop VM 101 \(web-02\) on pve1: requested of HA \(task UPID:pve1:[^)]*:hastop:101:[^)]*\), and the HA manager carried it out: VM 101 is stopped after [\d.]+s\.$/,
    );
    expect(h.sim.sim.cluster.guests.get(101)?.running).toBe(false);
    // A start the HA manager cannot carry out: the service ends in error, and the tool says so.
    const guest = h.sim.sim.cluster.guests.get(101);
    if (!guest) throw new Error('no 101');
    const net0 = guest.config.net0 ?? '';
    guest.config.net0 = net0.replace(/bridge=\w+/, 'bridge=vmbr9');
    try {
      const start = await h.call('proxmox_start_vm', { vmid: 101 });
      expect(start.isError).toBe(true);
      expect(start.text).toMatch(/requested of HA .*, but the HA service vm:101 is in error/);
    } finally {
      guest.config.net0 = net0;
      // As an administrator would: ha-manager set vm:101 --state disabled, then started again.
      const service = h.sim.sim.cluster.ha.get('vm:101');
      if (service) delete service.error;
    }
    const again = await h.call('proxmox_start_vm', { vmid: 101 });
    expect(again.text).toMatch(/the HA manager carried it out: VM 101 is running/);
  });

  it('names the lock of a locked guest', async () => {
    // Tasks take their time (the clock stands still until moved): the snapshot holds its lock.
    h.sim.sim.tasks.durationScale = 1;
    try {
      const snap = await h.call('proxmox_create_snapshot', {
        vmid: 101,
        snapname: 'slow',
        vmstate: true,
        timeout: 0,
      });
      expect(snap.structured?.status).toBe('started');
      const r = await h.call('proxmox_create_snapshot', { vmid: 101, snapname: 'second' });
      expect(r.isError).toBe(true);
      expect(r.text).toMatch(/VM 101 \(web-02\) is locked \(snapshot\)/);
    } finally {
      h.sim.sim.tasks.durationScale = 0;
      h.sim.sim.runTasks();
    }
  });
});
