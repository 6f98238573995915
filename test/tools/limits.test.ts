import { describe, expect, it, vi } from 'vitest';
import { startHarness } from '../helpers/mcp.js';

describe('on the large dataset', () => {
  it('lists 2,000 guests with one API call, at most 64 bytes of text a guest', async () => {
    const h = await startHarness({ sim: { dataset: 'large' } });
    try {
      const before = h.sim.sim.requests.filter((r) => r.template === '/cluster/resources').length;
      const r = await h.call('proxmox_list_vms', { limit: 1_000 });
      expect(h.sim.sim.requests.filter((q) => q.template === '/cluster/resources').length).toBe(
        before + 1,
      );
      const rows = r.text.split('\n').filter((l) => /^\d+ +\S+ +pve\d+ /.test(l));
      expect(rows).toHaveLength(1_000);
      expect(Buffer.byteLength(r.text) / rows.length).toBeLessThanOrEqual(64);
    } finally {
      await h.close();
    }
  });
});

describe('failures in plain words', () => {
  it('names the missing privilege and path', async () => {
    const h = await startHarness({
      token: (sim) => ({
        tokenId: 'alice@pve!automation',
        secret: sim.sim.cluster.users.get('alice@pve')?.tokens.get('automation')?.secret ?? '',
      }),
    });
    try {
      const r = await h.call('proxmox_stop_vm', { vmid: 105 });
      expect(r.isError).toBe(true);
      expect(r.text).toMatch(
        /^Permission denied: the credentials lack VM.PowerMgmt on \/vms\/105 in cluster 'default'/,
      );
      expect(r.structured).toBeUndefined();
      const hidden = await h.call('proxmox_get_vm_status', { vmid: 100 });
      expect(hidden.text).toMatch(/No VM or container with ID 100.*may not see it/);
    } finally {
      await h.close();
    }
  });

  it('says a stopped VM is not running', async () => {
    const h = await startHarness();
    try {
      const r = await h.call('proxmox_reset_vm', { vmid: 103 });
      expect(r.isError).toBe(true);
      expect(r.text).toBe(
        'VM 103 is not running, so this cannot be done now. Start it first (proxmox_start_vm).',
      );
    } finally {
      await h.close();
    }
  });

  it('a cancelled call stops waiting, not the task', async () => {
    // The task takes its time: the clock stands still until moved.
    const h = await startHarness({ sim: { taskScale: 1 } });
    try {
      const controller = new AbortController();
      const call = h.client.callTool(
        { name: 'proxmox_shutdown_vm', arguments: { vmid: 106, shutdownTimeout: 3_000 } },
        { signal: controller.signal },
      );
      // Cancelled once the task runs.
      await vi.waitFor(() =>
        expect(
          [...h.sim.sim.tasks.tasks.values()].some(
            (t) => t.status === 'running' && t.spec.type === 'qmshutdown',
          ),
        ).toBe(true),
      );
      controller.abort();
      await expect(call).rejects.toThrow();
      const running = await h.call('proxmox_list_tasks', { state: 'running', node: 'pve2' });
      expect((running.structured?.tasks ?? []) as { type: string; id: string }[]).toContainEqual(
        expect.objectContaining({ type: 'qmshutdown', id: '106' }),
      );
    } finally {
      await h.close();
    }
  });
});
