/** Changing guests that exist (src/tools/provision.ts), and containers' create and delete (src/tools/lifecycle.ts). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type McpHarness, startHarness } from '../helpers/mcp.js';

let h: McpHarness;
beforeAll(async () => {
  h = await startHarness({ config: { toolsets: ['all'] } });
});
afterAll(() => h.close());

describe('provision', () => {
  it('creates a container from a template named by file', async () => {
    const r = await h.call('proxmox_create_container', {
      hostname: 'ct-web',
      template: 'debian-12-standard_12.7-1_amd64.tar.zst',
      node: 'pve1',
      memory: 1024,
      ip: '10.0.0.80/24',
      gateway: '10.0.0.1',
      password: 'hunter22',
      start: true,
    });
    expect(r.isError, r.text).toBeFalsy();
    expect(r.structured).toMatchObject({
      vmid: 108,
      hostname: 'ct-web',
      storage: 'local-lvm',
      status: 'completed',
    });
    expect(r.text).toMatch(
      /^Create container 108 \(ct-web\) on pve1 from .*, and start it: done in /,
    );
    const info = await h.call('proxmox_get_container_info', { vmid: 108 });
    // What an update of the configuration takes to refuse a change made in between.
    expect(info.text).toMatch(/\ndigest: [0-9a-f]{40}$/);
    expect(info.structured).toMatchObject({ name: 'ct-web', memoryMiB: 1024, status: 'running' });
    expect(JSON.stringify(info.structured)).not.toContain('hunter22');
    const missing = await h.call('proxmox_create_container', {
      hostname: 'x',
      template: 'nope.tar.zst',
      node: 'pve1',
    });
    expect(missing.isError).toBe(true);
    expect(missing.text).toMatch(/No container template 'nope.tar.zst' on pve1/);
  });

  it('clones a template (linked by default) and a VM (full)', async () => {
    const linked = await h.call('proxmox_clone_guest', { vmid: 9000, name: 'from-tpl' });
    expect(linked.structured).toMatchObject({ status: 'completed', target: 'pve2' });
    expect(linked.text).toMatch(/linked: done/);
    // To another node PVE needs shared storage for every disk, full clones too: said up front.
    const across = await h.call('proxmox_clone_guest', {
      vmid: 103,
      newid: 310,
      name: 'win-copy',
      target: 'pve2',
      storage: 'tank',
    });
    expect(across.isError).toBe(true);
    expect(across.text).toBe(
      'VM 103 (win-app) cannot be cloned to pve2: PVE clones to another node only when every disk (CD-ROM ISOs included) and the target storage are shared, and here scsi0 on local-lvm, ide2 on local, the target storage tank are local to pve1. Clone it on pve1 and migrate the clone, or move its disks to shared storage first.',
    );
    const linkedWithStorage = await h.call('proxmox_clone_guest', { vmid: 9000, storage: 'tank' });
    expect(linkedWithStorage.text).toMatch(/^storage applies to full clones only/);
    const full = await h.call('proxmox_clone_guest', { vmid: 103, newid: 310, name: 'win-copy' });
    expect(full.structured).toMatchObject({ newid: 310, status: 'completed' });
    const bad = await h.call('proxmox_clone_guest', { vmid: 103, newid: 311, full: false });
    expect(bad.isError).toBe(true);
    expect(bad.text).toMatch(/Proxmox refused: Linked clone feature is not supported/);
  });

  it('changes settings with digest protection, reporting what waits for a restart', async () => {
    const info = await h.call('proxmox_get_vm_info', { vmid: 105 });
    const digest = info.structured?.digest as string;
    const r = await h.call('proxmox_update_guest_config', {
      vmid: 105,
      cores: 4,
      tags: ['ci', 'fast'],
      description: 'runner',
      vlan: 20,
      sshKeys: 'ssh-ed25519 AAAA test@x',
      digest,
    });
    expect(r.isError, r.text).toBeFalsy();
    expect(r.structured).toMatchObject({ pending: ['cores'] });
    expect(r.text).toMatch(/pending until the next start: cores/);
    const after = await h.call('proxmox_get_vm_info', { vmid: 105 });
    expect(after.structured).toMatchObject({ tags: ['ci', 'fast'], description: 'runner' });
    expect(((after.structured?.nets ?? []) as { tag?: number }[])[0]?.tag).toBe(20);
    const stale = await h.call('proxmox_update_guest_config', {
      vmid: 105,
      description: 'again',
      digest,
    });
    expect(stale.isError).toBe(true);
    expect(stale.text).toMatch(/changed since it was read/);
    const ct = await h.call('proxmox_update_guest_config', { vmid: 200, ciuser: 'x' });
    expect(ct.isError).toBe(true);
  });

  it('grows a disk and refuses to shrink it', async () => {
    expect(
      (await h.call('proxmox_resize_disk', { vmid: 104, disk: 'scsi0', size: '+8G' })).structured,
    ).toMatchObject({ status: 'completed' });
    const shrink = await h.call('proxmox_resize_disk', { vmid: 104, disk: 'scsi0', size: '10G' });
    expect(shrink.isError).toBe(true);
    expect(shrink.text).toMatch(/failed: shrinking disks is not supported/);
  });

  it('migrates a running VM live and a container by restart', async () => {
    const vm = await h.call('proxmox_migrate_guest', {
      vmid: 100,
      target: 'pve2',
      withLocalDisks: true,
    });
    expect(vm.isError, vm.text).toBeFalsy();
    expect((await h.call('proxmox_get_vm_status', { vmid: 100 })).structured).toMatchObject({
      node: 'pve2',
      status: 'running',
    });
    const ct = await h.call('proxmox_migrate_guest', { vmid: 200, target: 'pve2' });
    expect(ct.structured).toMatchObject({ status: 'completed' });
    expect((await h.call('proxmox_get_container_status', { vmid: 200 })).structured).toMatchObject({
      node: 'pve2',
      status: 'running',
    });
  });

  it('converts to a template and deletes a container', async () => {
    expect((await h.call('proxmox_convert_to_template', { vmid: 310 })).structured).toMatchObject({
      status: 'completed',
    });
    expect((await h.call('proxmox_list_vms', { name: 'win-copy' })).structured?.items).toEqual([
      expect.objectContaining({ template: true }),
    ]);
    expect(
      (await h.call('proxmox_delete_container', { vmid: 108, force: true })).structured,
    ).toMatchObject({ status: 'completed' });
    expect((await h.call('proxmox_delete_container', { vmid: 100 })).text).toMatch(
      /is a VM, not a container/,
    );
  });
});
