/**
 * The node bulk actions (pve-manager PVE/API2/Nodes.pm startall, stopall, suspendall,
 * migrateall): which guests, in what order, how many at once, and when, on the simulated clock.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Dataset, DatasetGuest } from '../../src/simulator/dataset-types.js';
import { startTestSim, type TestSim } from '../helpers/sim.js';

/** Simulated time starts on a whole second, so task start and end seconds count from 0. */
const T0 = Date.UTC(2026, 0, 5, 8, 0, 0);

interface GuestSpec {
  vmid: number;
  type?: 'qemu' | 'lxc';
  node?: string;
  status?: 'running' | 'stopped';
  config?: Record<string, string | number>;
  ignoreShutdown?: boolean;
}

function guest(g: GuestSpec): DatasetGuest {
  const type = g.type ?? 'qemu';
  const mac = `BC:24:11:00:${String(Math.floor(g.vmid / 100)).padStart(2, '0')}:${String(g.vmid % 100).padStart(2, '0')}`;
  return {
    vmid: g.vmid,
    type,
    node: g.node ?? 'pve1',
    status: g.status ?? 'stopped',
    behaviour: g.ignoreShutdown ? { ignoreShutdown: true } : undefined,
    config:
      type === 'qemu'
        ? {
            name: `vm-${g.vmid}`,
            memory: 1024,
            scsi0: `ceph:vm-${g.vmid}-disk-0,size=8G`,
            net0: `virtio=${mac},bridge=vmbr0`,
            ...g.config,
          }
        : {
            hostname: `ct-${g.vmid}`,
            memory: 512,
            rootfs: `ceph:vm-${g.vmid}-disk-0,size=8G`,
            net0: `name=eth0,bridge=vmbr0,hwaddr=${mac},type=veth`,
            ...g.config,
          },
  };
}

function dataset(guests: GuestSpec[], extra: Partial<Dataset> = {}): Dataset {
  return {
    version: 1,
    seed: 7,
    cluster: 'bulk',
    nodes: [
      { name: 'pve1', cpus: 16 },
      { name: 'pve2', cpus: 16 },
    ],
    storages: [
      { storage: 'local-lvm', type: 'lvmthin', content: ['images', 'rootdir'], sizeGiB: 500 },
      { storage: 'ceph', type: 'rbd', content: ['images', 'rootdir'], shared: true, sizeGiB: 500 },
    ],
    guests: guests.map(guest),
    ...extra,
  };
}

let sim: TestSim;
let running: TestSim[] = [];
afterEach(async () => {
  await Promise.all(running.map((s) => s.close()));
  running = [];
});

/** A simulator with these guests on pve1 (by default), its clock manual and at T0. */
async function start(
  guests: GuestSpec[],
  extra: Partial<Dataset> = {},
  opts: Parameters<typeof startTestSim>[0] = {},
) {
  sim = await startTestSim({ dataset: dataset(guests, extra), startTime: T0, ...opts });
  running.push(sim);
  return sim;
}

interface TaskRow {
  type: string;
  id: string;
  /** Seconds from the start of the test's clock. */
  start: number;
  end?: number;
  status: string;
}

/** The node's task list (finished and running), oldest first, with times from T0 in seconds. */
async function tasks(node = 'pve1', source: 'all' | 'active' = 'all'): Promise<TaskRow[]> {
  const list = await sim.data<
    { type: string; id: string; starttime: number; endtime?: number; status: string }[]
  >('GET', `/nodes/${node}/tasks`, { limit: 500, source });
  return list.reverse().map((t) => ({
    type: t.type,
    id: t.id,
    start: t.starttime - T0 / 1000,
    end: t.endtime === undefined ? undefined : t.endtime - T0 / 1000,
    status: t.status,
  }));
}

const children = async (type: string, node = 'pve1') =>
  (await tasks(node)).filter((t) => t.type === type);

/** The log of the node's newest task of a type. */
async function logOf(type: string): Promise<string[]> {
  const [task] = await sim.data<{ upid: string }[]>('GET', '/nodes/pve1/tasks', {
    typefilter: type,
  });
  const path = `/nodes/pve1/tasks/${encodeURIComponent(task?.upid ?? '')}/log`;
  return (await sim.data<{ t: string }[]>('GET', path)).map((l) => l.t);
}

const state = async (vmid: number, type: 'qemu' | 'lxc' = 'qemu', node = 'pve1') =>
  (await sim.data<{ status: string; lock?: string }>(
    'GET',
    `/nodes/${node}/${type}/${vmid}/status/current`,
  )) as { status: string; lock?: string };

/** The most child tasks of a type running at once, stepping the clock second by second. */
async function mostAtOnce(type: string, seconds: number): Promise<number> {
  let most = 0;
  for (let s = 0; s <= seconds; s++) {
    const active = (await tasks('pve1', 'active')).filter((t) => t.type === type);
    most = Math.max(most, active.length);
    sim.sim.advance(1000);
  }
  return most;
}

describe('startall', () => {
  it('starts by order, waits `up` (else 3 s for a VM), and finishes each order group first', async () => {
    await start([
      { vmid: 100, config: { onboot: 1, startup: 'order=1,up=10' } },
      { vmid: 101, config: { onboot: 1, startup: 'order=1' } },
      { vmid: 200, type: 'lxc', config: { onboot: 1, startup: 'order=2,up=5' } },
      { vmid: 102, config: { onboot: 1 } },
    ]);
    const bulk = await sim.task('POST', '/nodes/pve1/startall', { 'max-workers': 4 });
    expect(bulk.upid).toMatch(
      /^UPID:pve1:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:startall::root@pam!simulator:$/,
    );
    expect(bulk.exitstatus).toBe('OK');
    expect(bulk.log).toEqual([
      'Starting VM 100',
      'Waiting for 10 seconds (startup delay)',
      'Starting VM 101',
      'Starting CT 200',
      'Waiting for 5 seconds (startup delay)',
      'Starting VM 102',
      'TASK OK',
    ]);
    // 100 at 0; 101 after 100's 10 s; group 1 waits 101's default 3 s, then polls (reaps at 13,
    // sleeps to 14); 200 at 14, its 5 s, reaped at 19; 102 at 20, 3 s, reaped at 23, done at 24.
    expect(await tasks()).toEqual([
      { type: 'startall', id: '', start: 0, end: 24, status: 'OK' },
      { type: 'qmstart', id: '100', start: 0, end: 1, status: 'OK' },
      { type: 'qmstart', id: '101', start: 10, end: 11, status: 'OK' },
      { type: 'vzstart', id: '200', start: 14, end: 15, status: 'OK' },
      { type: 'qmstart', id: '102', start: 20, end: 21, status: 'OK' },
    ]);
    for (const vmid of [100, 101, 102]) expect((await state(vmid)).status).toBe('running');
    expect((await state(200, 'lxc')).status).toBe('running');
  });

  it('starts the next order group only when every start of the one before has ended', async () => {
    await start([
      { vmid: 100, config: { onboot: 1, startup: 'order=1,up=0' } },
      { vmid: 101, config: { onboot: 1, startup: 'order=1,up=0' } },
      { vmid: 200, type: 'lxc', config: { onboot: 1, startup: 'order=2' } },
    ]);
    await sim.task('POST', '/nodes/pve1/startall', { 'max-workers': 4 });
    const [a, b] = await children('qmstart');
    const [ct] = await children('vzstart');
    // Both VMs start at once (no delay, room for 4), and end at 1.5 s; the poll sees them at 2 s.
    expect([a?.start, b?.start]).toEqual([0, 0]);
    expect(ct?.start).toBe(3);
    expect(ct?.start).toBeGreaterThan(Math.max(a?.end ?? 99, b?.end ?? 99));
  });

  it('runs at most max-workers starts at once', async () => {
    const vms = [100, 101, 102, 103, 104, 105];
    await start(vms.map((vmid) => ({ vmid, config: { onboot: 1, startup: 'up=0' } })));
    await sim.data('POST', '/nodes/pve1/startall', { 'max-workers': 2 });
    expect(await mostAtOnce('qmstart', 12)).toBe(2);
    sim.sim.runTasks();
    const starts = await children('qmstart');
    expect(starts.map((t) => [t.id, t.start])).toEqual([
      ['100', 0],
      ['101', 0],
      ['102', 3],
      ['103', 3],
      ['104', 6],
      ['105', 6],
    ]);
  });

  it('takes max_workers from datacenter.cfg, and shows it in /cluster/options', async () => {
    await start(
      [100, 101, 102].map((vmid) => ({ vmid, config: { onboot: 1, startup: 'up=0' } })),
      { datacenter: { max_workers: 1 } },
    );
    expect(await sim.data('GET', '/cluster/options')).toMatchObject({ max_workers: 1 });
    await sim.task('POST', '/nodes/pve1/startall');
    // One at a time: each start (1.5 s) is reaped at 2 s, and the next begins after the poll's sleep.
    expect((await children('qmstart')).map((t) => t.start)).toEqual([0, 3, 6]);
  });

  it('without a setting, runs the node CPU threads less one at once (at least 1, at most 8)', async () => {
    const guests = [100, 101, 102, 103].map((vmid) => ({
      vmid,
      config: { onboot: 1, startup: 'up=0' },
    }));
    await start(guests, { nodes: [{ name: 'pve1', cpus: 3 }] });
    await sim.task('POST', '/nodes/pve1/startall');
    expect((await children('qmstart')).map((t) => t.start)).toEqual([0, 0, 3, 3]);
    await start(guests, { nodes: [{ name: 'pve1', cpus: 1 }] });
    await sim.task('POST', '/nodes/pve1/startall');
    expect((await children('qmstart')).map((t) => t.start)).toEqual([0, 3, 6, 9]);
  });

  it('starts only onboot guests unless forced; skips templates, running guests, other nodes', async () => {
    await start([
      { vmid: 100, config: { onboot: 1 } },
      { vmid: 101 },
      { vmid: 102, config: { onboot: 0 } },
      { vmid: 103, status: 'running', config: { onboot: 1 } },
      { vmid: 104, config: { onboot: 1, template: 1 } },
      { vmid: 105, node: 'pve2', config: { onboot: 1 } },
    ]);
    const plain = await sim.task('POST', '/nodes/pve1/startall', { 'max-workers': 8 });
    expect(plain.log).toEqual(['Starting VM 100', 'TASK OK']);
    expect((await state(101)).status).toBe('stopped');
    const forced = await sim.task('POST', '/nodes/pve1/startall', { force: 1, 'max-workers': 8 });
    expect(forced.log).toEqual(['Starting VM 101', 'Starting VM 102', 'TASK OK']);
    expect((await state(101)).status).toBe('running');
    expect((await state(102)).status).toBe('running');
    expect((await state(104)).status).toBe('stopped');
    expect((await state(105, 'qemu', 'pve2')).status).toBe('stopped');
  });

  it('takes `vms` as a list split on commas, semicolons and spaces; HA guests only when named', async () => {
    await start(
      [
        { vmid: 100, config: { onboot: 1 } },
        { vmid: 101, config: { onboot: 1 } },
        { vmid: 102, config: { onboot: 1 } },
        { vmid: 103, config: { onboot: 1 } },
      ],
      { ha: [{ sid: 'vm:103', state: 'stopped' }] },
    );
    const all = await sim.task('POST', '/nodes/pve1/startall', {
      'max-workers': 8,
      vms: '101;102',
    });
    expect(all.log).toEqual(['Starting VM 101', 'Starting VM 102', 'TASK OK']);
    expect((await state(100)).status).toBe('stopped');
    // Without `vms`, the HA-managed VM 103 is left to the HA stack.
    const rest = await sim.task('POST', '/nodes/pve1/startall', { 'max-workers': 8 });
    expect(rest.log).toEqual(['Starting VM 100', 'TASK OK']);
    expect((await state(103)).status).toBe('stopped');
    // Named, it is started through the HA stack, as its own start would be.
    const ha = await sim.task('POST', '/nodes/pve1/startall', { 'max-workers': 8, vms: '103 104' });
    expect(ha.log).toEqual(['Starting VM 103', 'TASK OK']);
    const types = (await tasks()).filter((t) => t.id === '103').map((t) => t.type);
    expect(types).toEqual(['hastart', 'qmstart']);
    expect((await state(103)).status).toBe('running');
  });

  it('logs a start that failed in its task, when it reaps it', async () => {
    await start([
      { vmid: 100, config: { onboot: 1, net0: 'virtio=BC:24:11:00:01:00,bridge=vmbr9' } },
      { vmid: 101, config: { onboot: 1 } },
    ]);
    const bulk = await sim.task('POST', '/nodes/pve1/startall', { 'max-workers': 8 });
    // The failure is noticed in the group's final wait, after VM 101 was started.
    expect(bulk.log).toEqual([
      'Starting VM 100',
      'Starting VM 101',
      "Starting VM 100 failed: bridge 'vmbr9' does not exist",
      'TASK OK',
    ]);
    expect(bulk.exitstatus).toBe('OK');
    expect((await state(100)).status).toBe('stopped');
    expect((await state(101)).status).toBe('running');
  });

  it('removes a left-over backup lock first', async () => {
    await start([{ vmid: 100, config: { onboot: 1, lock: 'backup' } }]);
    const bulk = await sim.task('POST', '/nodes/pve1/startall');
    expect(bulk.log).toEqual([
      "removed left over backup lock from '100'!",
      'Starting VM 100',
      'TASK OK',
    ]);
    expect(await state(100)).toMatchObject({ status: 'running' });
    expect((await state(100)).lock).toBeUndefined();
  });

  it('checks VM.PowerMgmt on / or on each guest `vms` names', async () => {
    await start(
      [
        { vmid: 100, config: { onboot: 1 } },
        { vmid: 101, config: { onboot: 1 } },
      ],
      {
        users: [{ userid: 'op@pve', tokens: [{ tokenid: 't', secret: 'secret', privsep: false }] }],
        acl: [{ path: '/vms/100', user: 'op@pve', roleid: 'PVEVMUser' }],
      },
    );
    const auth = 'PVEAPIToken=op@pve!t=secret';
    const none = await sim.call('POST', '/nodes/pve1/startall', {}, { auth });
    expect([none.status, none.body?.message]).toEqual([
      403,
      'Permission check failed (/, VM.PowerMgmt)\n',
    ]);
    const other = await sim.call('POST', '/nodes/pve1/startall', { vms: '100,101' }, { auth });
    expect([other.status, other.body?.message]).toEqual([
      403,
      'Permission check failed (/vms/101, VM.PowerMgmt)\n',
    ]);
    const own = await sim.task('POST', '/nodes/pve1/startall', { vms: '100' }, { auth });
    expect(own.upid).toMatch(/:startall::op@pve!t:$/);
    expect(own.log).toEqual(['Starting VM 100', 'TASK OK']);
    const migrate = await sim.call('POST', '/nodes/pve1/migrateall', { target: 'pve2' }, { auth });
    expect(migrate.body?.message).toBe('Permission check failed (/, VM.Migrate)\n');
    const suspend = await sim.call('POST', '/nodes/pve1/suspendall', {}, { auth });
    expect(suspend.body?.message).toBe(
      'Permission check failed (/, VM.PowerMgmt && VM.Config.Disk)\n',
    );
  });

  it('stopped with DELETE, starts nothing more', async () => {
    await start([100, 101, 102].map((vmid) => ({ vmid, config: { onboot: 1 } })));
    const upid = await sim.data<string>('POST', '/nodes/pve1/startall', { 'max-workers': 8 });
    sim.sim.advance(1000);
    await sim.data('DELETE', `/nodes/pve1/tasks/${encodeURIComponent(upid)}`);
    sim.sim.runTasks();
    expect((await children('qmstart')).map((t) => t.id)).toEqual(['100']);
    expect((await children('startall'))[0]?.status).toBe('received interrupt');
  });
});

describe('stopall', () => {
  it('stops by descending order and vmid, with `down` or `timeout` as each shutdown timeout', async () => {
    await start([
      { vmid: 100, status: 'running', config: { startup: 'order=1,down=30' } },
      { vmid: 101, status: 'running', config: { startup: 'order=2' } },
      { vmid: 102, status: 'running' },
      { vmid: 200, type: 'lxc', status: 'running', config: { startup: 'order=2' } },
      { vmid: 103 },
    ]);
    const bulk = await sim.task('POST', '/nodes/pve1/stopall', { timeout: 60, 'max-workers': 8 });
    expect(bulk.exitstatus).toBe('OK');
    expect(bulk.log).toEqual([
      'Stopping VM 102 (timeout = 60 seconds)',
      'Stopping CT 200 (timeout = 60 seconds)',
      'Stopping VM 101 (timeout = 60 seconds)',
      'Stopping VM 100 (timeout = 30 seconds)',
      'TASK OK',
    ]);
    for (const vmid of [100, 101, 102]) expect((await state(vmid)).status).toBe('stopped');
    expect((await state(200, 'lxc')).status).toBe('stopped');
    await start([{ vmid: 100, status: 'running' }]);
    expect((await sim.task('POST', '/nodes/pve1/stopall')).log[0]).toBe(
      'Stopping VM 100 (timeout = 180 seconds)',
    );
  });

  it('waits out a guest that ignores ACPI for its `down` timeout, then stops it hard; the next group waits', async () => {
    await start([
      { vmid: 100, status: 'running', config: { startup: 'order=1' } },
      {
        vmid: 101,
        status: 'running',
        config: { startup: 'order=2,down=20' },
        ignoreShutdown: true,
      },
    ]);
    const bulk = await sim.task('POST', '/nodes/pve1/stopall', { 'max-workers': 8 });
    expect(bulk.log.slice(0, 2)).toEqual([
      'Stopping VM 101 (timeout = 20 seconds)',
      'Stopping VM 100 (timeout = 180 seconds)',
    ]);
    const [stuck, next] = await children('qmshutdown');
    expect(stuck).toMatchObject({ id: '101', start: 0, end: 20, status: 'OK' });
    // Reaped at 20 s, then the poll's second: VM 100 (order 1) after all of order 2.
    expect(next).toMatchObject({ id: '100', start: 21 });
    expect((await state(101)).status).toBe('stopped');
  });

  it('with force-stop=0 a shutdown that times out fails and the guest keeps running', async () => {
    await start([
      { vmid: 100, status: 'running', config: { startup: 'down=20' }, ignoreShutdown: true },
    ]);
    const bulk = await sim.task('POST', '/nodes/pve1/stopall', { 'force-stop': 0 });
    expect(bulk.exitstatus).toBe('OK');
    const [shutdown] = await children('qmshutdown');
    expect(shutdown).toMatchObject({ status: 'VM quit/powerdown failed - got timeout' });
    expect((await state(100)).status).toBe('running');
  });

  it('with timeout 0 and force-stop stops each guest hard at once', async () => {
    await start([{ vmid: 100, status: 'running' }]);
    const bulk = await sim.task('POST', '/nodes/pve1/stopall', { timeout: 0 });
    expect(bulk.log[0]).toBe('Stopping VM 100 (timeout = 0 seconds)');
    const [shutdown] = await children('qmshutdown');
    expect(shutdown).toMatchObject({ start: 0, end: 0, status: 'OK' });
    expect(await logOf('qmshutdown')).toEqual([
      'VM still running - terminating now with SIGTERM',
      'TASK OK',
    ]);
    expect((await state(100)).status).toBe('stopped');
  });
});

describe('suspendall', () => {
  it('suspends running VMs to disk, warns of containers, and skips stopped VMs', async () => {
    await start([
      { vmid: 100, status: 'running' },
      { vmid: 101 },
      { vmid: 200, type: 'lxc', status: 'running' },
    ]);
    const bulk = await sim.task('POST', '/nodes/pve1/suspendall', { 'max-workers': 2 });
    expect(bulk.log).toEqual([
      'WARN: skipping 200, only VMs can be suspended',
      'VM 101 not running, skipping suspension',
      'Suspending VM 100',
      'TASK WARNINGS: 1',
    ]);
    expect(bulk.exitstatus).toBe('WARNINGS: 1');
    expect(await state(100)).toMatchObject({ status: 'stopped', lock: 'suspended' });
    expect((await state(200, 'lxc')).status).toBe('running');
    expect((await children('qmsuspend')).map((t) => t.id)).toEqual(['100']);
  });
});

describe('migrateall', () => {
  it('refuses the local node as target (400) and runs only with a worker limit (500)', async () => {
    await start([{ vmid: 100 }]);
    const local = await sim.call('POST', '/nodes/pve1/migrateall', {
      target: 'pve1',
      'max-workers': 2,
    });
    expect([local.status, local.body?.errors]).toEqual([400, { target: 'target is local node.' }]);
    const unknown = await sim.call('POST', '/nodes/pve1/migrateall', {
      target: 'pve7',
      'max-workers': 2,
    });
    expect([unknown.status, unknown.body?.message]).toEqual([500, "no such cluster node 'pve7'\n"]);
    const before = sim.sim.tasks.tasks.size;
    const nolimit = await sim.call('POST', '/nodes/pve1/migrateall', { target: 'pve2' });
    expect([nolimit.status, nolimit.body?.message]).toEqual([
      500,
      "either 'max-workers' parameter or max_workers in datacenter.cfg must be set!\n",
    ]);
    expect(sim.sim.tasks.tasks.size).toBe(before);
    // The deprecated `maxworkers` will do.
    const alias = await sim.task('POST', '/nodes/pve1/migrateall', {
      target: 'pve2',
      maxworkers: 1,
    });
    expect(alias.exitstatus).toBe('OK');
  });

  it('moves every guest, templates and HA guests too, in string order of vmid', async () => {
    await start(
      [
        { vmid: 1000, status: 'running' },
        { vmid: 101, config: { template: 1 } },
        { vmid: 102 },
        { vmid: 200, type: 'lxc', status: 'running' },
        { vmid: 103, node: 'pve2' },
      ],
      { ha: [{ sid: 'vm:102', state: 'stopped' }], datacenter: { max_workers: 2 } },
    );
    const bulk = await sim.task('POST', '/nodes/pve1/migrateall', { target: 'pve2' });
    expect(bulk.log).toEqual([
      'Check VM 1000: precondition check passed',
      'Migrating VM 1000',
      'Check VM 101: precondition check passed',
      'Migrating VM 101',
      'Check VM 102: precondition check passed',
      'Migrating VM 102',
      'Migrating CT 200',
      'All jobs finished, used 4 workers in total.',
      'TASK OK',
    ]);
    expect(bulk.exitstatus).toBe('OK');
    const resources = await sim.data<{ vmid: number; node: string; status: string }[]>(
      'GET',
      '/cluster/resources',
      { type: 'vm' },
    );
    const where = Object.fromEntries(resources.map((r) => [r.vmid, [r.node, r.status]]));
    expect(where).toEqual({
      1000: ['pve2', 'running'],
      101: ['pve2', 'stopped'],
      102: ['pve2', 'stopped'],
      103: ['pve2', 'stopped'],
      200: ['pve2', 'running'],
    });
    // The HA guest went through the HA stack.
    expect((await tasks()).filter((t) => t.id === '102').map((t) => t.type)).toEqual([
      'hamigrate',
      'qmigrate',
    ]);
  });

  it('skips a running VM with local disks, and fails when no migration started', async () => {
    await start([
      { vmid: 100, status: 'running', config: { scsi0: 'local-lvm:vm-100-disk-0,size=8G' } },
    ]);
    const bulk = await sim.task('POST', '/nodes/pve1/migrateall', {
      target: 'pve2',
      'max-workers': 2,
    });
    expect(bulk.log).toEqual([
      'Check VM 100: skip VM 100 - precondition check failed:',
      '  Has local disks: local-lvm:vm-100-disk-0',
      'TASK ERROR: no migrations worker started...',
    ]);
    expect(bulk.exitstatus).toBe('no migrations worker started...');
    expect((await state(100)).status).toBe('running');
    // With local disks allowed it goes.
    const again = await sim.task('POST', '/nodes/pve1/migrateall', {
      target: 'pve2',
      'max-workers': 2,
      'with-local-disks': 1,
    });
    expect(again.log.slice(0, 2)).toEqual([
      'Check VM 100: precondition check passed',
      'Migrating VM 100',
    ]);
    expect((await state(100, 'qemu', 'pve2')).status).toBe('running');
  });

  it('skips VMs with local resources or storages the target lacks, and a locked VM', async () => {
    await start(
      [
        { vmid: 100, config: { hostpci0: '0000:01:00.0' } },
        { vmid: 101, config: { scsi1: 'fast:vm-101-disk-0,size=8G' } },
        { vmid: 102, status: 'running', config: { usb0: 'mapping=stick', serial0: 'socket' } },
        { vmid: 103, config: { lock: 'backup' } },
        { vmid: 104 },
      ],
      {
        storages: [
          { storage: 'ceph', type: 'rbd', content: ['images'], shared: true, sizeGiB: 500 },
          { storage: 'fast', type: 'lvmthin', content: ['images'], nodes: ['pve1'], sizeGiB: 50 },
        ],
      },
    );
    const bulk = await sim.task('POST', '/nodes/pve1/migrateall', {
      target: 'pve2',
      'max-workers': 4,
    });
    expect(bulk.log).toEqual([
      'Check VM 100: skip VM 100 - precondition check failed:',
      '  Has local resources: hostpci0',
      'Check VM 101: skip VM 101 - precondition check failed:',
      '  Has unavailable storages: fast',
      'Check VM 102: skip VM 102 - precondition check failed:',
      '  Has local resources: usb0',
      '  Has unavailable resources: usb0',
      'Check VM 103: VM is locked (backup)',
      'Check VM 104: precondition check passed',
      'Migrating VM 104',
      'All jobs finished, used 1 workers in total.',
      'TASK OK',
    ]);
    expect((await state(104, 'qemu', 'pve2')).status).toBe('stopped');
    expect((await state(100)).status).toBe('stopped');
  });

  it('says so when no guest matches, and ends OK', async () => {
    await start([{ vmid: 100 }]);
    const bulk = await sim.task('POST', '/nodes/pve1/migrateall', {
      target: 'pve2',
      'max-workers': 1,
      vms: '999',
    });
    expect(bulk.log).toEqual(['no virtual guests matched, nothing to do..', 'TASK OK']);
  });

  it('runs at most max-workers migrations at once', async () => {
    await start([100, 101, 102, 103].map((vmid) => ({ vmid })));
    await sim.data('POST', '/nodes/pve1/migrateall', { target: 'pve2', 'max-workers': 2 });
    expect(await mostAtOnce('qmigrate', 30)).toBe(2);
    sim.sim.runTasks();
    expect((await children('qmigrate')).length).toBe(4);
  });
});

describe('/cluster/options', () => {
  it('answers the datacenter options and the tags the caller may see', async () => {
    await start(
      [
        { vmid: 100, config: { tags: 'web;prod' } },
        { vmid: 101, config: { tags: 'db' } },
      ],
      {
        users: [{ userid: 'op@pve', tokens: [{ tokenid: 't', secret: 's', privsep: false }] }],
        acl: [{ path: '/vms/101', user: 'op@pve', roleid: 'PVEVMUser' }],
      },
    );
    expect(await sim.data('GET', '/cluster/options')).toEqual({
      description: '',
      mac_prefix: 'BC:24:11',
      'allowed-tags': ['db', 'prod', 'web'],
    });
    // Without Sys.Audit on /, the handler still answers, with less.
    expect(
      await sim.data('GET', '/cluster/options', {}, { auth: 'PVEAPIToken=op@pve!t=s' }),
    ).toEqual({ 'allowed-tags': ['db'] });
  });
});

describe('the schedule on other clocks', () => {
  const ordered = [
    { vmid: 100, config: { onboot: 1, startup: 'order=3' } },
    { vmid: 101, config: { onboot: 1, startup: 'order=1,up=2' } },
    { vmid: 200, type: 'lxc' as const, config: { onboot: 1, startup: 'order=2' } },
    { vmid: 102, config: { onboot: 1, startup: 'order=2' } },
  ];

  it('with durations scaled to nothing, keeps the order', async () => {
    await start(ordered, {}, { taskScale: 0 });
    const bulk = await sim.task('POST', '/nodes/pve1/startall', { 'max-workers': 1 });
    expect(bulk.log.filter((l) => l.startsWith('Starting'))).toEqual([
      'Starting VM 101',
      'Starting VM 102',
      'Starting CT 200',
      'Starting VM 100',
    ]);
    // The node's list is by start time: the children in the order they were started.
    const started = (await tasks()).filter((t) => t.type !== 'startall').map((t) => t.id);
    expect(started).toEqual(['101', '102', '200', '100']);
    await sim.task('POST', '/nodes/pve1/stopall', {});
    const stopped = (await tasks()).filter((t) => /shutdown$/.test(t.type)).map((t) => t.id);
    expect(stopped).toEqual(['100', '200', '102', '101']);
  });

  it('ends at once on a manual clock with durations scaled to nothing', async () => {
    await start(ordered, {}, { taskScale: 0 });
    const upid = await sim.data<string>('POST', '/nodes/pve1/startall', { 'max-workers': 1 });
    // No advance: reading the clock again plays the whole schedule.
    const status = await sim.data('GET', `/nodes/pve1/tasks/${encodeURIComponent(upid)}/status`);
    expect(status).toMatchObject({ status: 'stopped', exitstatus: 'OK' });
    expect((await tasks()).every((t) => t.start === 0 && t.end === 0)).toBe(true);
  });

  it('waits on a guest task started at another scale without spinning', async () => {
    await start([100, 101].map((vmid) => ({ vmid, config: { onboot: 1, startup: 'up=0' } })));
    await sim.data('POST', '/nodes/pve1/startall', { 'max-workers': 1 });
    // VM 100's start (1.5 s) runs at scale 1; the worker's next polls scale to nothing.
    sim.sim.tasks.durationScale = 0;
    sim.sim.runTasks();
    expect((await children('qmstart')).map((t) => [t.id, t.start])).toEqual([
      ['100', 0],
      ['101', 1],
    ]);
    expect((await children('startall'))[0]).toMatchObject({ end: 1, status: 'OK' });
  });

  it('plays out on the real clock as requests come', async () => {
    await start(ordered, {}, { clock: 'real', taskScale: 0.01 });
    const upid = await sim.data<string>('POST', '/nodes/pve1/startall', { 'max-workers': 1 });
    const path = `/nodes/pve1/tasks/${encodeURIComponent(upid)}/status`;
    for (let i = 0; i < 200; i++) {
      if ((await sim.data<{ status: string }>('GET', path)).status === 'stopped') break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(await sim.data('GET', path)).toMatchObject({ status: 'stopped', exitstatus: 'OK' });
    const started = (await tasks()).filter((t) => t.type !== 'startall').map((t) => t.id);
    expect(started).toEqual(['101', '102', '200', '100']);
    for (const vmid of [100, 101, 102]) expect((await state(vmid)).status).toBe('running');
  });
});
