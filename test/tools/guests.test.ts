/** Guests: listing, information and status (src/tools/guests.ts). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type McpHarness, startHarness } from '../helpers/mcp.js';

let h: McpHarness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());

describe('guests', () => {
  it('list_vms filters, pages and stays compact', async () => {
    const all = await h.call('proxmox_list_vms');
    expect(((all.structured?.items ?? []) as { vmid: number }[]).map((r) => r.vmid)).toEqual([
      100, 101, 102, 103, 104, 105, 106, 107, 9000,
    ]);
    const lines = all.text.split('\n');
    expect(lines[0]).toMatch(/^VMID +NAME +NODE +STATUS +CPU +TAGS$/);
    // Tags and, after @, the pool: how production and protected guests are told apart.
    expect(lines[1]).toMatch(/^100 +web-01 +pve1 +running +\d+% +prod,web@production$/);
    expect(lines[3]).toMatch(/^102 +db-01 .* db,prod,protected@production$/);
    const byTag = await h.call('proxmox_list_vms', { tag: 'prod', status: 'running' });
    expect(((byTag.structured?.items ?? []) as { vmid: number }[]).map((r) => r.vmid)).toEqual([
      100, 101, 102,
    ]);
    const page1 = await h.call('proxmox_list_vms', { limit: 4 });
    expect(page1.structured).toMatchObject({ total: 9, nextCursor: '4' });
    expect(page1.text).toMatch(/4 of 9 shown; next page: cursor=4/);
    const page3 = await h.call('proxmox_list_vms', { limit: 4, cursor: '8' });
    expect(((page3.structured?.items ?? []) as { vmid: number }[]).map((r) => r.vmid)).toEqual([
      9000,
    ]);
    expect(page3.structured?.nextCursor).toBeUndefined();
    const pattern = await h.call('proxmox_list_vms', { name: 'web-*' });
    expect(((pattern.structured?.items ?? []) as { name: string }[]).map((r) => r.name)).toEqual([
      'web-01',
      'web-02',
    ]);
  });

  it('list_containers shows containers only', async () => {
    const r = await h.call('proxmox_list_containers', { node: 'pve1' });
    expect(((r.structured?.items ?? []) as { vmid: number }[]).map((x) => x.vmid)).toEqual([
      200, 201,
    ]);
  });

  it("copes with a guest whose node stopped reporting: what is known, and why the rest isn't", async () => {
    const list = await h.call('proxmox_list_vms', { node: 'pve3' });
    expect(list.isError, list.text).toBeFalsy();
    expect(list.structured?.items).toEqual([
      expect.objectContaining({ vmid: 107, node: 'pve3', status: 'unknown' }),
    ]);
    const status = await h.call('proxmox_get_vm_status', { vmid: 107 });
    expect(status.isError).toBe(true);
    expect(status.text).toMatch(/^Node pve3 is offline or unreachable/);
  });

  it('get_vm_info accepts a numeric string vmid and summarises the config', async () => {
    const r = await h.call('proxmox_get_vm_info', { vmid: '102' });
    expect(r.isError).toBeFalsy();
    expect(r.structured).toMatchObject({
      vmid: 102,
      name: 'db-01',
      node: 'pve1',
      cores: 4,
      memoryMiB: 16384,
      tags: ['db', 'prod', 'protected'],
    });
    expect(r.structured?.disks).toEqual([
      { key: 'scsi0', volume: 'local-lvm:vm-102-disk-0', size: 64 * 2 ** 30 },
      { key: 'ide2', volume: 'none', media: 'cdrom' },
      { key: 'scsi1', volume: 'local-lvm:vm-102-disk-1', size: 200 * 2 ** 30 },
    ]);
    expect(r.text).toMatch(/^VM 102 db-01 on pve1: running/);
    // PVE sends `cpulimit` as a string ("0.5"): the info reads it as the number it is.
    const limited = await h.call('proxmox_get_vm_info', { vmid: 106 });
    expect(limited.structured?.cpulimit).toBe(0.5);
    expect(limited.text).toContain('CPU 1 core(s) limited to 0.5 CPU, memory 1024 MiB');
  });

  it('refuses a container id on a VM tool, and names the right one', async () => {
    const r = await h.call('proxmox_get_vm_status', { vmid: 200 });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/200 \(ct-dns\) is a container, not a VM/);
  });

  it('says which listing to use for an unknown vmid', async () => {
    const r = await h.call('proxmox_get_vm_status', { vmid: 4242 });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/No VM or container with ID 4242.*proxmox_list_vms/);
  });

  it('rejects bad input with a clear validation error', async () => {
    const r = await h.call('proxmox_get_vm_status', { vmid: 'abc' });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/vmid/);
    const low = await h.call('proxmox_get_vm_status', { vmid: 5 });
    expect(low.isError).toBe(true);
  });

  it('lists a paused VM as paused, and finds it by that status', async () => {
    const paused = await h.call('proxmox_suspend_vm', { vmid: 105 });
    expect(paused.isError, paused.text).toBeFalsy();
    try {
      const ids = async (status?: string) =>
        (
          ((await h.call('proxmox_list_vms', status ? { status } : {})).structured?.items ??
            []) as { vmid: number; status: string }[]
        ).map((r) => `${r.vmid}:${r.status}`);
      const pausedOnes = await ids('paused');
      expect(pausedOnes).toContain('105:paused');
      expect(pausedOnes.every((r) => r.endsWith(':paused'))).toBe(true);
      expect(await ids('running')).not.toContain('105:running');
      expect(await ids()).toContain('105:paused');
    } finally {
      await h.call('proxmox_resume_vm', { vmid: 105 });
    }
  });
});
