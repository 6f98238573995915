import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDataset } from '../../src/simulator/datasets.js';
import { startTestSim, type TestSim } from '../helpers/sim.js';

let sim: TestSim;
let upids: string[] = [];
beforeAll(async () => {
  // Without the small dataset's task history, so that the lists hold just these tasks.
  sim = await startTestSim({ dataset: { ...buildDataset('small'), tasks: [] } });
  upids = [
    await sim.data<string>('POST', '/nodes/pve1/qemu/103/status/start'),
    await sim.data<string>('POST', '/nodes/pve1/qemu/102/status/start'),
  ];
  sim.sim.runTasks();
  // One still running.
  upids.push(
    await sim.data<string>('POST', '/nodes/pve2/qemu/106/status/shutdown', { timeout: 600 }),
  );
});
afterAll(() => sim.close());

type Task = {
  upid: string;
  status: string;
  type: string;
  id: string;
  user: string;
  tokenid?: string;
  endtime?: number;
};

describe('tasks', () => {
  it('lists finished tasks by default, newest first, with total', async () => {
    const res = await sim.call('GET', '/nodes/pve1/tasks');
    const tasks = res.body?.data as Task[];
    expect(res.body?.total).toBe(2);
    expect(tasks.map((t) => t.upid)).toEqual([upids[1], upids[0]]);
    expect(tasks[0]).toMatchObject({
      type: 'qmstart',
      id: '102',
      user: 'root@pam',
      tokenid: 'simulator',
      status: 'VM 102 already running',
    });
  });

  it('filters: active, errors, vmid, type', async () => {
    const active = await sim.data<Task[]>('GET', '/nodes/pve2/tasks', { source: 'active' });
    expect(active.map((t) => [t.upid, t.status])).toEqual([[upids[2], 'RUNNING']]);
    expect(
      (await sim.data<Task[]>('GET', '/nodes/pve1/tasks', { errors: 1 })).map((t) => t.upid),
    ).toEqual([upids[1]]);
    expect(
      (await sim.data<Task[]>('GET', '/nodes/pve1/tasks', { vmid: 103 })).map((t) => t.upid),
    ).toEqual([upids[0]]);
    expect(
      (await sim.data<Task[]>('GET', '/nodes/pve1/tasks', { typefilter: 'qmstart' })).map(
        (t) => t.upid,
      ),
    ).toEqual([upids[1], upids[0]]);
  });

  it('/cluster/tasks lists every node', async () => {
    const all = await sim.data<Task[]>('GET', '/cluster/tasks');
    expect(all.map((t) => t.upid).sort()).toEqual([...upids].sort());
  });

  it('pages a log with n, t and total', async () => {
    const upid = await sim.data<string>('POST', '/nodes/pve1/vzdump', {
      vmid: '103',
      storage: 'backup-nfs',
    });
    sim.sim.runTasks();
    const path = `/nodes/pve1/tasks/${encodeURIComponent(upid)}/log`;
    const all = await sim.call('GET', path, { limit: 500 });
    const total = all.body?.total as number;
    const page = await sim.call('GET', path, { start: 2, limit: 3 });
    expect(page.body?.total).toBe(total);
    expect(((page.body?.data ?? []) as { n: number }[]).map((l) => l.n)).toEqual([3, 4, 5]);
  });

  it('shows the log of a running task as it is written', async () => {
    const upid = await sim.data<string>('POST', '/nodes/pve2/qemu/9000/clone', {
      newid: 400,
      full: 1,
    });
    const path = `/nodes/pve2/tasks/${encodeURIComponent(upid)}/log`;
    const early = (await sim.data<{ t: string }[]>('GET', path)).map((l) => l.t);
    expect(early).toEqual(['create full clone of drive scsi0 (local-lvm:base-9000-disk-0)']);
    sim.sim.advance(3_000);
    const later = (await sim.data<{ t: string }[]>('GET', path)).map((l) => l.t);
    expect(later.length).toBeGreaterThan(early.length);
    expect(later.at(-1)).toMatch(/^drive mirror: transferred/);
    sim.sim.runTasks();
    expect((await sim.data<{ t: string }[]>('GET', path)).at(-1)?.t).toBe('TASK OK');
  });

  it('answers an empty log with a placeholder line, limit 0 with every line, and no total of 0', async () => {
    // pve-common PVE/Tools.pm dump_logfile; pve-http-server leaves out a total of 0.
    const upid = await sim.data<string>('POST', '/nodes/pve1/qemu/103/status/start');
    const path = `/nodes/pve1/tasks/${encodeURIComponent(upid)}/log`;
    const empty = await sim.call('GET', path);
    expect(empty.body).toEqual({ data: [{ n: 1, t: 'no content' }], total: 1 });
    sim.sim.runTasks();
    const vzdump = await sim.data<string>('POST', '/nodes/pve1/vzdump', {
      vmid: '103',
      storage: 'backup-nfs',
    });
    sim.sim.runTasks();
    const log = `/nodes/pve1/tasks/${encodeURIComponent(vzdump)}/log`;
    const all = await sim.call('GET', log, { limit: 0 });
    const lines = all.body?.data as { n: number }[];
    expect(lines.length).toBe(all.body?.total);
    expect(lines.length).toBeGreaterThan(50 / 10);
    const none = await sim.call('GET', '/nodes/pve1/tasks', { vmid: 99999 });
    expect(none.body).toEqual({ data: [] });
  });

  it('stops a running task; an unknown UPID is a 400', async () => {
    const running = await sim.data<string>('POST', '/nodes/pve2/qemu/106/status/shutdown', {
      timeout: 600,
    });
    const path = `/nodes/pve2/tasks/${encodeURIComponent(running)}`;
    expect((await sim.call('DELETE', path)).status).toBe(200);
    expect(await sim.data('GET', `${path}/status`)).toMatchObject({
      status: 'stopped',
      exitstatus: 'received interrupt',
    });
    const log = await sim.data<{ t: string }[]>('GET', `${path}/log`);
    expect(log.at(-1)?.t).toBe('TASK ERROR: received interrupt');
    const bogus = await sim.call(
      'GET',
      `/nodes/pve1/tasks/${encodeURIComponent('UPID:pve1:00000001:00000001:00000001:qmstart:1:root@pam:')}/status`,
    );
    expect(bogus.status).toBe(400);
    expect(bogus.body?.errors).toEqual({ upid: 'no such task' });
  });
});
