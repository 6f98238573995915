import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PveApi, PveApiError } from '../../src/pve/index.js';
import { type RunningSimulator, startSimulator } from '../../src/simulator/server.js';

let sim: RunningSimulator;
let pve: PveApi;
beforeAll(async () => {
  sim = await startSimulator({ clock: 'real', taskScale: 0.01 });
  pve = new PveApi({
    url: sim.url,
    auth: { tokenId: sim.token.id, secret: sim.token.secret },
    tls: { ca: sim.ca },
  });
});
afterAll(async () => {
  await pve.close();
  await sim.close();
});

const resourceCalls = () =>
  sim.sim.requests.filter((r) => r.template === '/cluster/resources').length;

describe('guest lookup', () => {
  it('finds a guest by vmid from one cached /cluster/resources call', async () => {
    const before = resourceCalls();
    expect(await pve.findGuest(100)).toMatchObject({
      vmid: 100,
      type: 'qemu',
      node: 'pve1',
      name: 'web-01',
      status: 'running',
      pool: 'production',
    });
    expect(await pve.findGuest(202)).toMatchObject({
      type: 'lxc',
      node: 'pve2',
      name: 'ct-monitor',
    });
    expect(await pve.findGuest(9000)).toMatchObject({ template: true });
    expect(resourceCalls()).toBe(before + 1);
  });

  it('answers not_found for an unknown vmid, after looking once more', async () => {
    const err = await pve.findGuest(4242).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PveApiError);
    expect((err as PveApiError).kind).toBe('not_found');
  });

  it('forgets the cache after a write, so a migrated guest is found on its new node', async () => {
    const task = await pve.qemu.migrate('pve1', 103, { target: 'pve2' });
    expect((await task.wait({ minPollMs: 5 })).ok).toBe(true);
    expect((await pve.findGuest(103)).node).toBe('pve2');
  });

  it("completes a new guest's stale row from its node, and leaves an offline node's rows alone", async () => {
    // A clone has no stats in pmxcfs until pvestatd reports on it (10 s here, as in PVE).
    const task = await pve.qemu.clone('pve2', 9000, { newid: 9100, name: 'fresh-clone' });
    expect((await task.wait({ minPollMs: 5 })).ok).toBe(true);
    const calls = (path: string) => sim.sim.requests.filter((r) => r.path.endsWith(path)).length;
    const offlineBefore = calls('/nodes/pve3/qemu');
    expect(await pve.findGuest(9100)).toMatchObject({
      name: 'fresh-clone',
      status: 'stopped',
      template: false,
    });
    const rows = await pve.cluster.resources('vm');
    expect(rows.find((r) => r.vmid === 9100)).toMatchObject({ name: 'fresh-clone', maxcpu: 2 });
    expect(rows.find((r) => r.vmid === 107)).toEqual({
      id: 'qemu/107',
      type: 'qemu',
      vmid: 107,
      node: 'pve3',
      status: 'unknown',
    });
    expect(calls('/nodes/pve3/qemu')).toBe(offlineBefore);
  });

  it('retries on the new node when the guest moved behind the cache', async () => {
    await pve.findGuest(201);
    // Moved by someone else: the cache still says pve1.
    sim.sim.cluster.guests.get(201)!.node = 'pve2';
    const status = await pve.withGuest(201, (g) => pve.guests(g.type).status(g.node, g.vmid));
    expect(status.name).toBe('ct-proxy');
  });
});
