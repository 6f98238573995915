/** Storage (src/tools/storage.ts). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type McpHarness, startHarness } from '../helpers/mcp.js';

let h: McpHarness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());

describe('storage', () => {
  it('storage list, usage and content', async () => {
    const list = await h.call('proxmox_list_storage');
    expect(
      ((list.structured?.storages ?? []) as { storage: string; node: string }[]).filter(
        (s) => s.storage === 'backup-nfs',
      ),
    ).toEqual([expect.objectContaining({ node: 'shared' })]);
    const usage = await h.call('proxmox_get_storage_usage', { storage: 'local-lvm', node: 'pve1' });
    expect(usage.text).toMatch(/^local-lvm on pve1: .* used of 1.8T \(\d+%\), .* free$/);
    const isos = await h.call('proxmox_list_storage_content', {
      storage: 'local',
      node: 'pve1',
      content: 'iso',
    });
    expect(isos.structured?.total).toBe(4);
    const backups = await h.call('proxmox_list_storage_content', {
      storage: 'backup-nfs',
      vmid: 100,
    });
    expect(backups.structured?.total).toBe(2);
    const ambiguous = await h.call('proxmox_list_storage_content', { storage: 'local' });
    expect(ambiguous.isError).toBe(true);
    expect(ambiguous.text).toMatch(/local to each of .*name the node/);
  });
});
