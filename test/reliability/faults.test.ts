import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { FaultRule } from '../../src/simulator/faults.js';
import { type McpHarness, startHarness } from '../helpers/mcp.js';

// Reads a user makes all day; each must end in a clear result under every fault.
const READS: [string, Record<string, unknown>][] = [
  ['proxmox_list_vms', {}],
  ['proxmox_get_vm_status', { vmid: 100 }],
  ['proxmox_get_vm_info', { vmid: 102 }],
  ['proxmox_list_nodes', {}],
  ['proxmox_get_cluster_status', {}],
  ['proxmox_list_storage', {}],
  ['proxmox_list_snapshots', { vmid: 102 }],
  ['proxmox_list_tasks', {}],
];

let h: McpHarness;
beforeAll(async () => {
  h = await startHarness({ config: { toolsets: ['all'] } });
});
afterAll(() => h.close());
afterEach(() => h.sim.sim.faults.clear());

const counter = (name: string) => h.sim.sim.counters.get(name) ?? 0;

describe('under injected faults', () => {
  it.each<[string, FaultRule]>([
    ['latency', { kind: 'latency', ms: 50 }],
    ['a burst of 503s on reads', { kind: 'status', status: 503, method: 'GET', times: 2 }],
    ['a burst of 502s', { kind: 'status', status: 502, method: 'GET', times: 2 }],
    ['connection resets on reads', { kind: 'reset', method: 'GET', times: 2 }],
  ])('reads recover by retry: %s', async (_name, rule) => {
    for (const [tool, args] of READS) {
      h.sim.sim.faults.clear();
      h.sim.sim.faults.add(rule);
      const r = await h.call(tool, args);
      expect(r.isError, `${tool}: ${r.text}`).toBeFalsy();
    }
  });

  it('an offline node answers 595, and the tools say so plainly', async () => {
    h.sim.sim.faults.add({ kind: 'status', status: 595, path: '/nodes/pve2/**' });
    const r = await h.call('proxmox_get_vm_status', { vmid: 105 });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/^Node pve2 is offline or unreachable \(HTTP 595/);
    expect((await h.call('proxmox_list_vms')).isError).toBeFalsy();
  });

  it('a write whose answer is lost is not sent twice, and says what happened', async () => {
    const before = counter('qemu.start');
    h.sim.sim.faults.add({
      kind: 'reset',
      method: 'POST',
      path: '/nodes/*/qemu/*/status/start',
      when: 'after',
      times: 1,
    });
    const r = await h.call('proxmox_start_vm', { vmid: 103 });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/did not answer/);
    expect(counter('qemu.start')).toBe(before + 1);
    // The start went through: the guest runs, and a new call finds nothing to do.
    expect((await h.call('proxmox_start_vm', { vmid: 103 })).text).toMatch(/already running/);
  });

  it('writes refused by 5xx are not retried, and no mutation happens twice', async () => {
    const creates = counter('guest.create');
    const deletes = counter('guest.delete');
    h.sim.sim.faults.add({
      kind: 'status',
      status: 500,
      method: 'POST',
      path: '/nodes/*/qemu',
      times: 1,
      message: 'got timeout',
    });
    const created = await h.call('proxmox_create_vm', { name: 'flaky', node: 'pve1', diskSize: 4 });
    expect(created.isError).toBe(true);
    expect(counter('guest.create')).toBe(creates);
    const again = await h.call('proxmox_create_vm', { name: 'flaky', node: 'pve1', diskSize: 4 });
    expect(again.structured).toMatchObject({ status: 'completed' });
    expect(counter('guest.create')).toBe(creates + 1);
    h.sim.sim.faults.add({ kind: 'reset', method: 'DELETE', when: 'after', times: 1 });
    const vmid = again.structured?.vmid as number;
    expect((await h.call('proxmox_delete_vm', { vmid })).isError).toBe(true);
    expect(counter('guest.delete')).toBe(deletes + 1);
  });

  it('a failing task is reported with its error, and the state is unchanged', async () => {
    h.sim.sim.faults.add({
      kind: 'task-fail',
      taskType: 'qmsnapshot',
      exitstatus: 'snapshot failed: storage full',
      times: 1,
    });
    const r = await h.call('proxmox_create_snapshot', { vmid: 104, snapname: 'doomed' });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/failed: snapshot failed: storage full/);
    expect([...(h.sim.sim.cluster.guests.get(104)?.snapshots.keys() ?? [])]).not.toContain(
      'doomed',
    );
  });

  it('the transient 400 right after a task starts does not break the wait', async () => {
    h.sim.sim.faults.add({ kind: 'upid-status-400', ms: 60_000, times: 2 });
    expect((await h.call('proxmox_reboot_vm', { vmid: 101 })).structured).toMatchObject({
      status: 'completed',
    });
  });
});

describe('ticket expiry mid-session', () => {
  it('logs in again, transparently, for reads and writes', async () => {
    const t = await startHarness({
      cluster: { apiToken: undefined, user: 'root@pam', password: 'simulator' },
    });
    try {
      expect((await t.call('proxmox_list_vms')).isError).toBeFalsy();
      t.sim.sim.faults.add({ kind: 'ticket-expiry', times: 1 });
      expect((await t.call('proxmox_get_vm_status', { vmid: 100 })).isError).toBeFalsy();
      t.sim.sim.faults.add({ kind: 'ticket-expiry', times: 1 });
      expect((await t.call('proxmox_start_vm', { vmid: 103 })).structured).toMatchObject({
        status: 'completed',
      });
    } finally {
      await t.close();
    }
  });
});
