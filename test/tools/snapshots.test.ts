/** Snapshots (src/tools/snapshots.ts). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type McpHarness, startHarness } from '../helpers/mcp.js';

let h: McpHarness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());

describe('snapshots', () => {
  it('list_snapshots prints the tree and where the current state is', async () => {
    const r = await h.call('proxmox_list_snapshots', { vmid: 102 });
    expect(r.text.split('\n')).toEqual([
      expect.stringMatching(/^before-upgrade /),
      expect.stringMatching(/^ {2}after-upgrade /),
    ]);
    expect(r.structured).toMatchObject({
      vmid: 102,
      snapshots: [{ name: 'before-upgrade' }, { name: 'after-upgrade', parent: 'before-upgrade' }],
    });
    // A snapshot a task is still deleting is marked so.
    const snap = h.sim.sim.cluster.guests.get(102)?.snapshots.get('after-upgrade');
    if (!snap) throw new Error('no snapshot');
    snap.snapstate = 'delete';
    try {
      const busy = await h.call('proxmox_list_snapshots', { vmid: 102 });
      expect(busy.text).toMatch(/after-upgrade .*\(being deleted\)/);
      expect(busy.structured?.snapshots).toContainEqual(
        expect.objectContaining({ name: 'after-upgrade', snapstate: 'delete' }),
      );
    } finally {
      delete snap.snapstate;
    }
  });

  it('snapshot create, rollback and delete', async () => {
    expect(
      (
        await h.call('proxmox_create_snapshot', {
          vmid: 200,
          snapname: 'pre-change',
          description: 'before',
        })
      ).structured,
    ).toMatchObject({ status: 'completed' });
    const tree = await h.call('proxmox_list_snapshots', { vmid: 200 });
    expect(tree.structured).toMatchObject({ current: 'pre-change' });
    expect(
      (
        await h.call('proxmox_rollback_snapshot', {
          vmid: 200,
          snapname: 'pre-change',
          start: true,
        })
      ).structured,
    ).toMatchObject({ status: 'completed' });
    expect((await h.call('proxmox_get_container_status', { vmid: 200 })).structured).toMatchObject({
      status: 'running',
    });
    expect(
      (await h.call('proxmox_delete_snapshot', { vmid: 200, snapname: 'pre-change' })).structured,
    ).toMatchObject({ status: 'completed' });
    const missing = await h.call('proxmox_delete_snapshot', { vmid: 200, snapname: 'pre-change' });
    expect(missing.isError).toBe(true);
    expect(missing.text).toBe(
      "Container 200 (ct-dns) has no snapshot 'pre-change'. List its snapshots with proxmox_list_snapshots.",
    );
    const taken = await h.call('proxmox_create_snapshot', { vmid: 200, snapname: 'pre-change' });
    expect(taken.isError).toBeFalsy();
    const again = await h.call('proxmox_create_snapshot', { vmid: 200, snapname: 'pre-change' });
    expect(again.text).toMatch(/^Container 200 \(ct-dns\) already has a snapshot 'pre-change'/);
    const rollback = await h.call('proxmox_rollback_snapshot', { vmid: 200, snapname: 'gone' });
    expect(rollback.text).toMatch(/^Container 200 \(ct-dns\) has no snapshot 'gone'/);
  });
});
