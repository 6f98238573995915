import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSim, type TestSim } from '../helpers/sim.js';

let sim: TestSim;
beforeAll(async () => {
  sim = await startTestSim();
});
afterAll(() => sim.close());

describe('the QEMU guest agent', () => {
  it('answers ping, info, OS info and interfaces of a running VM with the agent', async () => {
    expect(await sim.data('POST', '/nodes/pve1/qemu/100/agent/ping')).toEqual({ result: {} });
    expect(await sim.data('GET', '/nodes/pve1/qemu/100/agent/get-osinfo')).toMatchObject({
      result: { id: 'debian', 'version-id': '12' },
    });
    const info = await sim.data<{ result: { supported_commands: { name: string }[] } }>(
      'GET',
      '/nodes/pve1/qemu/100/agent/info',
    );
    expect(info.result.supported_commands.map((c) => c.name)).toContain('guest-exec');
    const ifaces = await sim.data<{
      result: { name: string; 'hardware-address': string; 'ip-addresses': unknown[] }[];
    }>('GET', '/nodes/pve1/qemu/100/agent/network-get-interfaces');
    expect(ifaces.result.map((i) => i.name)).toEqual(['lo', 'ens18']);
    const cfg = await sim.data<{ net0: string }>('GET', '/nodes/pve1/qemu/100/config');
    expect(cfg.net0.toLowerCase()).toContain(ifaces.result[1]?.['hardware-address']);
  });

  it('runs a command: exec answers a pid, exec-status the exit code and output once it ends', async () => {
    const { pid } = await sim.data<{ pid: number }>('POST', '/nodes/pve1/qemu/100/agent/exec', {
      command: ['hostname'],
    });
    expect(await sim.data('GET', '/nodes/pve1/qemu/100/agent/exec-status', { pid })).toEqual({
      exited: 0,
    });
    sim.sim.advance(500);
    expect(await sim.data('GET', '/nodes/pve1/qemu/100/agent/exec-status', { pid })).toEqual({
      exited: 1,
      exitcode: 0,
      'out-data': 'web-01\n',
    });
    const missing = await sim.data<{ pid: number }>('POST', '/nodes/pve1/qemu/100/agent/exec', {
      command: ['frobnicate', '--now'],
    });
    sim.sim.advance(500);
    expect(
      await sim.data('GET', '/nodes/pve1/qemu/100/agent/exec-status', { pid: missing.pid }),
    ).toMatchObject({ exited: 1, exitcode: 127 });
  });

  it("answers PVE's errors without the agent configured, with the VM stopped, or with the agent down", async () => {
    expect((await sim.call('POST', '/nodes/pve2/qemu/106/agent/ping')).body?.message).toBe(
      'No QEMU guest agent configured\n',
    );
    expect((await sim.call('POST', '/nodes/pve1/qemu/103/agent/ping')).body?.message).toBe(
      'No QEMU guest agent configured\n',
    );
    expect((await sim.call('POST', '/nodes/pve2/qemu/104/agent/ping')).body?.message).toBe(
      'QEMU guest agent is not running\n',
    );
    expect((await sim.call('GET', '/nodes/pve3/qemu/107/agent/info')).status).toBe(595);
  });

  it('needs VM.GuestAgent.Unrestricted to exec', async () => {
    const secret = sim.sim.cluster.users.get('alice@pve')?.tokens.get('automation')?.secret;
    const res = await sim.call(
      'POST',
      '/nodes/pve2/qemu/104/agent/exec',
      { command: ['id'] },
      { auth: `PVEAPIToken=alice@pve!automation=${secret}` },
    );
    expect(res.status).toBe(403);
    expect(res.body?.message).toBe(
      'Permission check failed (/vms/104, VM.GuestAgent.Unrestricted)\n',
    );
  });
});

describe('container interfaces', () => {
  it('lists a running container; a stopped one answers null', async () => {
    const rows = await sim.data<{ name: string; inet?: string }[]>(
      'GET',
      '/nodes/pve1/lxc/200/interfaces',
    );
    expect(rows.map((r) => [r.name, r.inet])).toEqual([
      ['lo', '127.0.0.1/8'],
      ['eth0', '10.0.0.53/24'],
    ]);
    // pve-container PVE/LXC.pm get_interfaces: no pid to enter, no error.
    const stopped = await sim.call('GET', '/nodes/pve1/lxc/201/interfaces');
    expect(stopped.status).toBe(200);
    expect(stopped.body).toEqual({ data: null });
  });
});

describe('node views', () => {
  it('network interfaces, with a type filter', async () => {
    const all = await sim.data<{ iface: string }[]>('GET', '/nodes/pve1/network');
    expect(all.map((i) => i.iface)).toEqual(['eno1', 'eno2', 'vmbr0']);
    expect(
      (await sim.data<{ iface: string }[]>('GET', '/nodes/pve1/network', { type: 'bridge' })).map(
        (i) => i.iface,
      ),
    ).toEqual(['vmbr0']);
  });

  it('RRD series: 70 points per timeframe, MAX at or above AVERAGE', async () => {
    const avg = await sim.data<{ time: number; cpu: number }[]>('GET', '/nodes/pve1/rrddata', {
      timeframe: 'hour',
      cf: 'AVERAGE',
    });
    const max = await sim.data<{ time: number; cpu: number }[]>('GET', '/nodes/pve1/rrddata', {
      timeframe: 'hour',
      cf: 'MAX',
    });
    expect(avg).toHaveLength(70);
    expect((avg[1]?.time ?? 0) - (avg[0]?.time ?? 0)).toBe(60);
    for (const [i, p] of avg.entries()) expect(max[i]?.cpu).toBeGreaterThanOrEqual(p.cpu);
    const day = await sim.data<{ time: number }[]>('GET', '/nodes/pve1/qemu/102/rrddata', {
      timeframe: 'day',
    });
    expect((day[1]?.time ?? 0) - (day[0]?.time ?? 0)).toBe(1_800);
  });
});
