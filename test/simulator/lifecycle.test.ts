import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSim, type TestSim } from '../helpers/sim.js';

let sim: TestSim;
beforeAll(async () => {
  sim = await startTestSim();
});
afterAll(() => sim.close());

const status = (type: 'qemu' | 'lxc', node: string, vmid: number) =>
  sim.data<Record<string, unknown>>('GET', `/nodes/${node}/${type}/${vmid}/status/current`);

describe('VM power', () => {
  it('start: a UPID, lock-free, then running; a second start fails inside its task', async () => {
    const first = await sim.task('POST', '/nodes/pve1/qemu/103/status/start');
    expect(first.exitstatus).toBe('OK');
    expect(first.upid).toMatch(
      /^UPID:pve1:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:qmstart:103:root@pam!simulator:$/,
    );
    expect(await status('qemu', 'pve1', 103)).toMatchObject({
      status: 'running',
      qmpstatus: 'running',
    });
    const again = await sim.task('POST', '/nodes/pve1/qemu/103/status/start');
    expect(again.exitstatus).toBe('VM 103 already running');
    expect(again.log.at(-1)).toBe('TASK ERROR: VM 103 already running');
  });

  it('start of a VM that is not on the node fails inside its task (qemu-server vm_start)', async () => {
    const missing = await sim.task('POST', '/nodes/pve1/qemu/9876/status/start');
    expect(missing.upid).toMatch(/:qmstart:9876:/);
    expect(missing.exitstatus).toBe(
      "Configuration file 'nodes/pve1/qemu-server/9876.conf' does not exist",
    );
  });

  it('reset, reboot, suspend and resume of a stopped VM are refused before any task starts', async () => {
    await sim.task('POST', '/nodes/pve1/qemu/103/status/stop');
    const tasksBefore = sim.sim.tasks.tasks.size;
    for (const action of ['reset', 'reboot', 'suspend', 'resume']) {
      const res = await sim.call('POST', `/nodes/pve1/qemu/103/status/${action}`);
      expect(res.status).toBe(500);
      expect(res.reason).toBe('VM 103 not running');
      expect(res.body).toEqual({ data: null, message: 'VM 103 not running\n' });
    }
    expect(sim.sim.tasks.tasks.size).toBe(tasksBefore);
  });

  it('stop of a stopped VM ends OK', async () => {
    expect((await sim.task('POST', '/nodes/pve1/qemu/103/status/stop')).exitstatus).toBe('OK');
  });

  it('suspend pauses (running + paused); resume continues', async () => {
    await sim.task('POST', '/nodes/pve1/qemu/101/status/suspend');
    expect(await status('qemu', 'pve1', 101)).toMatchObject({
      status: 'running',
      qmpstatus: 'paused',
    });
    const shutdown = await sim.call('POST', '/nodes/pve1/qemu/101/status/shutdown');
    expect(shutdown.body?.message).toBe('VM is paused - cannot shutdown\n');
    await sim.task('POST', '/nodes/pve1/qemu/101/status/resume');
    expect(await status('qemu', 'pve1', 101)).toMatchObject({
      status: 'running',
      qmpstatus: 'running',
    });
  });

  it('refuses suspend to disk for an HA-managed VM', async () => {
    const res = await sim.call('POST', '/nodes/pve1/qemu/101/status/suspend', { todisk: 1 });
    expect(res.body?.message).toBe('Cannot suspend HA managed VM to disk\n');
  });

  it('suspend to disk stops the VM with lock suspended; start brings it back', async () => {
    const upid = await sim.data<string>('POST', '/nodes/pve2/qemu/105/status/suspend', {
      todisk: 1,
    });
    expect(upid).toMatch(/:qmsuspend:105:/);
    expect(await status('qemu', 'pve2', 105)).toMatchObject({ lock: 'suspending' });
    sim.sim.runTasks();
    expect(await status('qemu', 'pve2', 105)).toMatchObject({
      status: 'stopped',
      lock: 'suspended',
    });
    await sim.task('POST', '/nodes/pve2/qemu/105/status/start');
    const after = await status('qemu', 'pve2', 105);
    expect(after.status).toBe('running');
    expect(after.lock).toBeUndefined();
  });

  it('a guest that ignores ACPI: shutdown times out, or force-stops', async () => {
    const failed = await sim.task('POST', '/nodes/pve2/qemu/106/status/shutdown', { timeout: 30 });
    expect(failed.exitstatus).toBe('VM quit/powerdown failed - got timeout');
    expect(await status('qemu', 'pve2', 106)).toMatchObject({ status: 'running' });
    const forced = await sim.task('POST', '/nodes/pve2/qemu/106/status/shutdown', {
      timeout: 30,
      forceStop: 1,
    });
    expect(forced.exitstatus).toBe('OK');
    expect(await status('qemu', 'pve2', 106)).toMatchObject({ status: 'stopped' });
  });

  it('a template cannot start', async () => {
    expect((await sim.task('POST', '/nodes/pve2/qemu/9000/status/start')).exitstatus).toBe(
      "you can't start a vm if it's a template",
    );
  });

  it('skiplock is for root@pam alone', async () => {
    // A parameter exception: 400 with the message on the parameter.
    const res = await sim.call('POST', '/nodes/pve1/qemu/100/status/stop', { skiplock: 1 });
    expect(res.status).toBe(400);
    expect(res.body?.errors).toEqual({ skiplock: 'Only root may use this option.' });
  });

  it('HA only takes the request; its manager acts later in its own task, or the service errs', async () => {
    // qemu-server PVE/API2/Qemu.pm: for an HA guest, start and stop run `ha-manager set`.
    const upid = await sim.data<string>('POST', '/nodes/pve1/qemu/101/status/stop');
    expect(upid).toMatch(/:hastop:101:/);
    sim.sim.advance(200);
    const path = `/nodes/pve1/tasks/${encodeURIComponent(upid)}`;
    expect(await sim.data('GET', `${path}/status`)).toMatchObject({ exitstatus: 'OK' });
    expect((await sim.data<{ t: string }[]>('GET', `${path}/log`)).map((l) => l.t)).toEqual([
      'Requesting HA stop for VM 101',
      'TASK OK',
    ]);
    // Requested, not done: the HA manager's own qmstop (as root@pam) is still running.
    expect(await status('qemu', 'pve1', 101)).toMatchObject({ status: 'running' });
    const own = (
      await sim.data<{ upid: string; type: string; user: string; status?: string }[]>(
        'GET',
        '/nodes/pve1/tasks',
        { source: 'active', vmid: 101 },
      )
    )[0];
    expect(own).toMatchObject({ type: 'qmstop', user: 'root@pam' });
    sim.sim.runTasks();
    expect(await status('qemu', 'pve1', 101)).toMatchObject({ status: 'stopped' });
    // A start the manager cannot carry out leaves the service in error.
    const guest = sim.sim.cluster.guests.get(101);
    if (!guest) throw new Error('no 101');
    guest.config.lock = 'backup';
    const start = await sim.task('POST', '/nodes/pve1/qemu/101/status/start');
    expect(start.exitstatus).toBe('OK');
    const services = await sim.data<{ sid?: string; state?: string }[]>(
      'GET',
      '/cluster/ha/status/current',
    );
    expect(services.find((x) => x.sid === 'vm:101')?.state).toBe('error');
    // It stays in error, whatever is asked, until an administrator disables it.
    delete guest.config.lock;
    await sim.task('POST', '/nodes/pve1/qemu/101/status/start');
    expect(await status('qemu', 'pve1', 101)).toMatchObject({ status: 'stopped' });
    const service = sim.sim.cluster.ha.get('vm:101');
    if (service) delete service.error;
    await sim.task('POST', '/nodes/pve1/qemu/101/status/start');
    expect(await status('qemu', 'pve1', 101)).toMatchObject({ status: 'running' });
  });

  it('an HA-managed VM starts and stops through hastart and hastop tasks', async () => {
    const stop = await sim.task('POST', '/nodes/pve1/qemu/100/status/stop');
    expect(stop.upid).toMatch(/:hastop:100:/);
    expect((await sim.data<{ state: string }>('GET', '/cluster/ha/resources/vm:100')).state).toBe(
      'stopped',
    );
    const start = await sim.task('POST', '/nodes/pve1/qemu/100/status/start');
    expect(start.upid).toMatch(/:hastart:100:/);
    expect(await status('qemu', 'pve1', 100)).toMatchObject({
      status: 'running',
      ha: { managed: 1, state: 'started' },
    });
  });
});

describe('container power', () => {
  it('refuses start of a running CT and stop of a stopped CT before any task', async () => {
    const start = await sim.call('POST', '/nodes/pve1/lxc/200/status/start');
    expect(start.body?.message).toBe('CT 200 already running\n');
    const stop = await sim.call('POST', '/nodes/pve1/lxc/201/status/stop');
    expect(stop.body?.message).toBe('CT 201 not running\n');
  });

  it('has no reset', async () => {
    const res = await sim.call('POST', '/nodes/pve1/lxc/200/status/reset');
    expect(res.status).toBe(501);
  });

  it('suspends by a CRIU checkpoint that stops it, and resumes from it; vzstart/vzstop task types', async () => {
    // pve-container PVE/LXC/Status.pm: lxc-checkpoint -s stops the container; -r restores it.
    const refused = await sim.call('POST', '/nodes/pve1/lxc/200/status/resume');
    expect(refused.status).toBe(500);
    expect(refused.body?.message).toBe('CT 200 already running\n');
    const suspended = await sim.task('POST', '/nodes/pve1/lxc/200/status/suspend');
    expect(suspended.upid).toMatch(/:vzsuspend:200:/);
    expect(await status('lxc', 'pve1', 200)).toMatchObject({ status: 'stopped' });
    const resumed = await sim.task('POST', '/nodes/pve1/lxc/200/status/resume');
    expect(resumed.upid).toMatch(/:vzresume:200:/);
    expect(resumed.exitstatus).toBe('OK');
    expect(await status('lxc', 'pve1', 200)).toMatchObject({ status: 'running' });
    // Without a checkpoint, the restore fails inside its task.
    const nothing = await sim.task('POST', '/nodes/pve1/lxc/201/status/resume');
    expect(nothing.exitstatus).toMatch(
      /^command 'lxc-checkpoint -n 201 -r .*' failed: exit code 1$/,
    );
    const stopped = await sim.task('POST', '/nodes/pve1/lxc/200/status/stop');
    expect(stopped.upid).toMatch(/:vzstop:200:/);
    const started = await sim.task('POST', '/nodes/pve1/lxc/200/status/start');
    expect(started.upid).toMatch(/:vzstart:200:/);
  });
});

describe('locks while tasks run', () => {
  it('a snapshot task holds lock snapshot; other changes are refused until it ends', async () => {
    const upid = await sim.data<string>('POST', '/nodes/pve1/qemu/102/snapshot', {
      snapname: 'locktest',
    });
    expect(await status('qemu', 'pve1', 102)).toMatchObject({ lock: 'snapshot' });
    // Listed while it is taken, marked so (pve-guest-common AbstractConfig.pm snapshot_prepare).
    const snaps = () =>
      sim.data<{ name: string; snapstate?: string }[]>('GET', '/nodes/pve1/qemu/102/snapshot');
    expect((await snaps()).find((x) => x.name === 'locktest')?.snapstate).toBe('prepare');
    const blocked = await sim.call('PUT', '/nodes/pve1/qemu/102/config', { description: 'x' });
    expect(blocked.body?.message).toBe('VM is locked (snapshot)\n');
    const del = await sim.call('DELETE', '/nodes/pve1/qemu/102');
    expect(del.status).toBe(500);
    sim.sim.runTasks();
    expect((await status('qemu', 'pve1', 102)).lock).toBeUndefined();
    expect((await snaps()).find((x) => x.name === 'locktest')).not.toHaveProperty('snapstate');
    await sim.data('DELETE', '/nodes/pve1/qemu/102/snapshot/locktest');
    expect((await snaps()).find((x) => x.name === 'locktest')?.snapstate).toBe('delete');
    sim.sim.runTasks();
    expect((await snaps()).some((x) => x.name === 'locktest')).toBe(false);
    expect(
      (
        await sim.data<{ status: string }>(
          'GET',
          `/nodes/pve1/tasks/${encodeURIComponent(upid)}/status`,
        )
      ).status,
    ).toBe('stopped');
  });

  it('a stop of a locked guest fails inside the task', async () => {
    await sim.data<string>('POST', '/nodes/pve1/qemu/102/snapshot', { snapname: 'locktest2' });
    const stop = await sim.data<string>('POST', '/nodes/pve1/qemu/102/status/stop');
    sim.sim.runTasks();
    const result = await sim.data<{ exitstatus: string }>(
      'GET',
      `/nodes/pve1/tasks/${encodeURIComponent(stop)}/status`,
    );
    expect(result.exitstatus).toBe('VM is locked (snapshot)');
  });

  it('a destroy or rollback of a locked guest fails inside the task too', async () => {
    const guest = sim.sim.cluster.guests.get(103);
    if (!guest) throw new Error('no 103');
    guest.config.lock = 'backup';
    try {
      const destroy = await sim.task('DELETE', '/nodes/pve1/qemu/103');
      expect(destroy.exitstatus).toBe('VM is locked (backup)');
      expect(sim.sim.cluster.guests.has(103)).toBe(true);
      expect(guest.config.lock).toBe('backup');
      const snap = sim.sim.cluster.guests.get(104)?.snapshots.keys().next().value ?? '';
      const g104 = sim.sim.cluster.guests.get(104);
      if (!g104) throw new Error('no 104');
      g104.config.lock = 'backup';
      const rollback = await sim.task('POST', `/nodes/pve2/qemu/104/snapshot/${snap}/rollback`);
      expect(rollback.exitstatus).toBe('VM is locked (backup)');
      delete g104.config.lock;
    } finally {
      delete guest.config.lock;
    }
  });
});
