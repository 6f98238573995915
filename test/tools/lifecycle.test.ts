/** Creating and deleting guests (src/tools/lifecycle.ts). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type McpHarness, startHarness } from '../helpers/mcp.js';

let h: McpHarness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());

describe('lifecycle', () => {
  it('creates a VM with a vmid from the cluster, then deletes it', async () => {
    const created = await h.call('proxmox_create_vm', {
      name: 'new-box',
      node: 'pve1',
      cores: 2,
      memory: 1024,
      diskSize: 8,
      iso: 'debian-12.8.0-amd64-netinst.iso',
    });
    expect(created.isError, created.text).toBeFalsy();
    expect(created.structured).toMatchObject({
      vmid: 108,
      node: 'pve1',
      storage: 'local-lvm',
      status: 'completed',
    });
    const info = await h.call('proxmox_get_vm_info', { vmid: 108 });
    expect(info.structured).toMatchObject({ name: 'new-box', cores: 2, memoryMiB: 1024 });
    expect(info.structured?.disks).toContainEqual({
      key: 'ide2',
      volume: 'local:iso/debian-12.8.0-amd64-netinst.iso',
      media: 'cdrom',
    });
    const deleted = await h.call('proxmox_delete_vm', { vmid: 108 });
    expect(deleted.structured).toMatchObject({ status: 'completed' });
    expect((await h.call('proxmox_get_vm_status', { vmid: 108 })).isError).toBe(true);
  });

  it('refuses to delete a running VM, in plain words', async () => {
    const r = await h.call('proxmox_delete_vm', { vmid: 100 });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/VM 100 \(web-01\) is running: stop or shut it down first/);
  });
});
