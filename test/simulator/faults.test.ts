import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseFaultFlag } from '../../src/simulator/faults.js';
import { startTestSim, type TestSim } from '../helpers/sim.js';

let sim: TestSim;
beforeAll(async () => {
  sim = await startTestSim();
});
afterAll(() => sim.close());
afterEach(() => sim.sim.faults.clear());

describe('faults', () => {
  it('adds latency to matching requests', async () => {
    sim.sim.faults.add({ kind: 'latency', ms: 120, path: '/version', times: 1 });
    const t0 = performance.now();
    await sim.call('GET', '/version');
    // A lower bound only: the delay was applied (no assertion on how fast anything is).
    expect(performance.now() - t0).toBeGreaterThanOrEqual(100);
  });

  it('answers a chosen status, a set number of times', async () => {
    sim.sim.faults.add({ kind: 'status', status: 503, path: '/cluster/resources', times: 2 });
    expect((await sim.call('GET', '/cluster/resources')).status).toBe(503);
    expect((await sim.call('GET', '/cluster/resources')).status).toBe(503);
    expect((await sim.call('GET', '/cluster/resources')).status).toBe(200);
  });

  it('answers 595 for a node made unreachable by a glob', async () => {
    sim.sim.faults.add({ kind: 'status', status: 595, path: '/nodes/pve2/**' });
    const res = await sim.call('GET', '/nodes/pve2/qemu');
    expect(res.status).toBe(595);
    expect(res.reason).toBe('Connection refused');
    expect((await sim.call('GET', '/nodes/pve1/qemu')).status).toBe(200);
  });

  it('resets the connection before handling: nothing changes', async () => {
    sim.sim.faults.add({
      kind: 'reset',
      method: 'POST',
      path: '/nodes/{node}/qemu/{vmid}/status/start',
      times: 1,
    });
    const before = sim.sim.counters.get('qemu.start') ?? 0;
    await expect(sim.call('POST', '/nodes/pve1/qemu/103/status/start')).rejects.toThrow();
    expect(sim.sim.counters.get('qemu.start') ?? 0).toBe(before);
  });

  it('resets the connection after handling: the change happened, the answer is lost', async () => {
    sim.sim.faults.add({
      kind: 'reset',
      method: 'POST',
      path: '/nodes/*/qemu/*/status/start',
      when: 'after',
      times: 1,
    });
    const before = sim.sim.counters.get('qemu.start') ?? 0;
    await expect(sim.call('POST', '/nodes/pve1/qemu/103/status/start')).rejects.toThrow();
    expect(sim.sim.counters.get('qemu.start')).toBe(before + 1);
    sim.sim.runTasks();
    expect(await sim.data('GET', '/nodes/pve1/qemu/103/status/current')).toMatchObject({
      status: 'running',
    });
  });

  it('answers a transient 400 for the status of a young task', async () => {
    sim.sim.faults.add({ kind: 'upid-status-400', ms: 1000, times: 1 });
    const upid = await sim.data<string>('POST', '/nodes/pve1/qemu/103/status/stop');
    const path = `/nodes/pve1/tasks/${encodeURIComponent(upid)}/status`;
    const first = await sim.call('GET', path);
    expect(first.status).toBe(400);
    expect(first.body?.errors).toEqual({ upid: 'no such task' });
    expect((await sim.call('GET', path)).status).toBe(200);
    sim.sim.runTasks();
  });

  it('expires every ticket at once', async () => {
    const t = await sim.data<{ ticket: string }>(
      'POST',
      '/access/ticket',
      { username: 'root@pam', password: 'simulator' },
      { auth: 'none' },
    );
    sim.sim.faults.add({ kind: 'ticket-expiry', times: 1 });
    expect((await sim.call('GET', '/version', {}, { auth: { ticket: t.ticket } })).status).toBe(
      401,
    );
    const fresh = await sim.data<{ ticket: string }>(
      'POST',
      '/access/ticket',
      { username: 'root@pam', password: 'simulator' },
      { auth: 'none' },
    );
    expect((await sim.call('GET', '/version', {}, { auth: { ticket: fresh.ticket } })).status).toBe(
      200,
    );
  });

  it('fails tasks of a type with a given exit status, changing nothing', async () => {
    sim.sim.faults.add({
      kind: 'task-fail',
      taskType: 'qmstart',
      exitstatus: 'start failed: QEMU exited with code 1',
      times: 1,
    });
    const res = await sim.task('POST', '/nodes/pve2/qemu/106/status/start');
    expect(res.exitstatus).toBe('start failed: QEMU exited with code 1');
  });
});

describe('fault flags of the standalone command', () => {
  it('parse into rules', () => {
    expect(parseFaultFlag('status:code=503,path=/cluster/resources,times=2')).toEqual({
      kind: 'status',
      status: 503,
      path: '/cluster/resources',
      times: 2,
    });
    expect(parseFaultFlag('reset:method=POST,when=after')).toEqual({
      kind: 'reset',
      method: 'POST',
      when: 'after',
    });
    expect(
      parseFaultFlag('task-fail:type=qmstart,exitstatus=start failed: code 1, see log'),
    ).toEqual({
      kind: 'task-fail',
      taskType: 'qmstart',
      exitstatus: 'start failed: code 1, see log',
    });
  });

  it('refuse unknown kinds and options', () => {
    expect(() => parseFaultFlag('explode')).toThrow(/unknown fault 'explode'/);
    expect(() => parseFaultFlag('latency:speed=1')).toThrow(/unknown fault option 'speed'/);
    expect(() => parseFaultFlag('latency:ms=soon')).toThrow(/needs a number/);
  });
});
