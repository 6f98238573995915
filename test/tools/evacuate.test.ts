/** Emptying a node (src/tools/evacuate.ts). */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type McpHarness, onTheClock, startHarness } from '../helpers/mcp.js';

let h: McpHarness;
beforeEach(async () => {
  h = await startHarness({ config: { toolsets: ['core', 'provision'] } });
});
afterEach(() => h.close());

/** The ids of the guests' tasks of a type. */
const started = (type: RegExp) =>
  [...h.sim.sim.tasks.tasks.values()].filter((t) => type.test(t.type)).map((t) => t.id);

const on = (node: string) =>
  [...h.sim.sim.cluster.guests.values()].filter((g) => g.node === node).map((g) => g.vmid);

describe('proxmox_evacuate_node', () => {
  it('moves guests with local disks only when asked, and says what stays and why', async () => {
    const r = await h.call('proxmox_evacuate_node', { node: 'pve2' });
    expect(r.isError, r.text).toBeFalsy();
    expect(r.structured).toMatchObject({ plan: [], remaining: 5 });
    expect(r.text).toMatch(
      /105 ci-runner: disks on local storage local-lvm \(withLocalDisks: true moves them\)/,
    );
    expect(r.text).toMatch(/9000 debian-12-template: template: not moved/);
    expect(on('pve2').sort()).toEqual([104, 105, 106, 202, 9000]);
  });

  it('shows the plan in a dry run and changes nothing', async () => {
    const r = await h.call('proxmox_evacuate_node', {
      node: 'pve2',
      withLocalDisks: true,
      dryRun: true,
    });
    expect(r.isError, r.text).toBeFalsy();
    expect(r.text).toMatch(/POST \/api2\/json\/nodes\/pve2\/migrateall .*"target":"pve1"/);
    expect(r.text).toMatch(/Its plan:\nEvacuate pve2: 4 guest\(s\) to move, 1 staying\./);
    expect(r.text).toMatch(/105 +ci-runner +pve1 +online +planned/);
    expect(r.text).toMatch(/202 +ct-monitor +pve1 +restart +planned/);
    expect(on('pve2').sort()).toEqual([104, 105, 106, 202, 9000]);
  });

  it('empties the node through migrateall: running guests online, the template stays', async () => {
    const from = h.sim.sim.requests.length;
    const r = await h.call('proxmox_evacuate_node', { node: 'pve2', withLocalDisks: true });
    expect(r.isError, r.text).toBeFalsy();
    expect(r.structured).toMatchObject({ remaining: 1 });
    const plan = r.structured?.plan as {
      vmid: number;
      to: string;
      online: boolean;
      result: string;
    }[];
    expect(plan.map((p) => [p.vmid, p.to, p.online, p.result]).sort()).toEqual(
      [
        [104, 'pve1', true, 'done'], // paused: running to PVE, migrated live
        [105, 'pve1', true, 'done'],
        [106, 'pve1', true, 'done'],
        [202, 'pve1', true, 'done'],
      ].sort(),
    );
    expect(r.text).toMatch(/1 guest\(s\) still on pve2: 9000\./);
    expect(on('pve2')).toEqual([9000]);
    const posts = h.sim.sim.requests.slice(from).filter((q) => q.method === 'POST');
    expect(posts.map((q) => q.path)).toEqual(['/api2/json/nodes/pve2/migrateall']);
  });

  it("reports a guest PVE's precondition check skipped, from the node task's log", async () => {
    const vm = h.sim.sim.cluster.guests.get(105);
    if (!vm) throw new Error('no VM 105');
    vm.config.usb0 = 'host=1234:5678';
    const r = await h.call('proxmox_evacuate_node', { node: 'pve2', withLocalDisks: true });
    expect(r.text).toMatch(
      /105 +ci-runner +pve1 +online +failed +Check VM 105: skip VM 105 - precondition check failed:; Has local resources: usb0/,
    );
    expect(r.text).toMatch(/2 guest\(s\) still on pve2: 105, 9000\./);
    expect(on('pve2').sort()).toEqual([105, 9000]);
  });

  it('moves HA-managed guests through HA and leaves protected ones', async () => {
    const r = await onTheClock(
      h,
      h.call('proxmox_evacuate_node', { node: 'pve1', withLocalDisks: true }),
    );
    expect(r.isError, r.text).toBeFalsy();
    expect(r.text).toMatch(/100 +web-01 +pve2 +online, via HA +done +moved by HA/);
    expect(started(/^hamigrate$/)).toContain('100');
    expect(r.text).toMatch(/102 db-01: protected/);
    expect(on('pve1')).toEqual([102]);
  });

  it('refuses when the other nodes lack the memory for the running guests', async () => {
    const pve2 = h.sim.sim.cluster.nodes.get('pve2');
    if (!pve2) throw new Error('no pve2');
    pve2.memory = 4 * 2 ** 30;
    const r = await h.call('proxmox_evacuate_node', { node: 'pve1', withLocalDisks: true });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(
      /^Not enough free memory on pve2 for the running guests of pve1: .*Nothing was moved/,
    );
    expect(on('pve1').sort()).toEqual([100, 101, 102, 103, 200, 201]);
  });
});
