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
    const info = await h.call('proxmox_get_container_info', { vmid: 108 });
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

describe('backup', () => {
  it('backs up to the shared backup storage and lists it', async () => {
    const r = await h.call('proxmox_backup_guest', {
      vmid: 105,
      notes: '{{guestname}} before change',
    });
    expect(r.isError, r.text).toBeFalsy();
    expect(r.structured).toMatchObject({ storage: 'backup-nfs', status: 'completed' });
    const list = await h.call('proxmox_list_backups', { vmid: 105 });
    const backups = list.structured?.backups as { volid: string; notes?: string }[];
    expect(backups[0]?.notes).toBe('ci-runner before change');
    expect(backups).toHaveLength(1);
  });

  it('restores to a new id, refuses to overwrite without force, deletes a backup', async () => {
    const backups = ((await h.call('proxmox_list_backups', { vmid: 200 })).structured?.backups ??
      []) as {
      volid: string;
    }[];
    const volid = backups[0]?.volid ?? '';
    const restored = await h.call('proxmox_restore_backup', { volid });
    expect(restored.isError, restored.text).toBeFalsy();
    // No storage given: PVE would pick `local`, which holds no containers; the tool picks one.
    expect(restored.text).toMatch(
      /^Restore vzdump-lxc-200-.* to container \d+ on pve1, disks on (local-lvm|tank) \(chosen: it holds containers and has the most room\): done/,
    );
    expect(restored.structured?.storage).toMatch(/^(local-lvm|tank)$/);
    // A protected backup is refused before anything is sent (PVE's task would fail on it).
    const stored = h.sim.sim.cluster.volume('pve1', volid);
    if (stored) stored.protected = true;
    const kept = await h.call('proxmox_delete_backup', { volid });
    expect(kept.text).toMatch(/is a protected backup: PVE keeps it from deletion/);
    if (stored) stored.protected = undefined;
    const refused = await h.call('proxmox_restore_backup', { volid, vmid: 201 });
    expect(refused.isError).toBe(true);
    expect(refused.text).toMatch(/set force to overwrite/);
    expect((await h.call('proxmox_delete_backup', { volid })).structured).toMatchObject({
      status: 'completed',
    });
    expect(
      (
        ((await h.call('proxmox_list_backups', { vmid: 200 })).structured?.backups ??
          []) as unknown[]
      ).length,
    ).toBe(0);
  });
});

describe('metrics, agent, access, cluster, api', () => {
  it('summarises node and guest metrics as min, avg, max and last', async () => {
    const n = await h.call('proxmox_get_node_metrics', { node: 'pve1', timeframe: 'day' });
    const cpu = (
      (n.structured?.series ?? []) as {
        series: string;
        min: number;
        avg: number;
        max: number;
        points: number;
      }[]
    ).find((s) => s.series === 'cpu');
    expect(cpu?.points).toBe(70);
    expect(cpu?.min).toBeLessThanOrEqual(cpu?.avg ?? 0);
    expect(cpu?.avg).toBeLessThanOrEqual(cpu?.max ?? 0);
    expect(n.text.split('\n')[1]).toMatch(/^SERIES +MIN +AVG +MAX +LAST$/);
    const g = await h.call('proxmox_get_guest_metrics', { vmid: 102 });
    expect(((g.structured?.series ?? []) as { series: string }[]).map((s) => s.series)).toEqual([
      'cpu',
      'memory',
      'netin',
      'netout',
      'diskread',
      'diskwrite',
    ]);
  });

  it('reads the guest OS and addresses, and explains a missing agent', async () => {
    expect((await h.call('proxmox_get_guest_os_info', { vmid: 101 })).text).toMatch(
      /runs Debian GNU\/Linux 12/,
    );
    const net = await h.call('proxmox_get_guest_network', { vmid: 101 });
    expect(net.text).toMatch(/ens18 .* 10\.0\.1\.103\/24/);
    expect((await h.call('proxmox_get_guest_network', { vmid: 202 })).isError).toBeFalsy();
    // PVE answers null for a stopped container's interfaces, not an error.
    const stopped = await h.call('proxmox_get_guest_network', { vmid: 201 });
    expect(stopped.isError).toBe(true);
    expect(stopped.text).toMatch(/^Container 201 \([\w-]+\) is not running/);
    const none = await h.call('proxmox_get_guest_os_info', { vmid: 106 });
    expect(none.isError).toBe(true);
    expect(none.text).toMatch(/No QEMU guest agent configured/);
  });

  it('runs a command through the agent', async () => {
    const r = await h.call('proxmox_exec_command', { vmid: 101, command: ['uname', '-a'] });
    expect(r.structured).toMatchObject({ exited: true, exitcode: 0, truncated: false });
    expect(r.text).toMatch(/^exit code 0\nstdout:\nLinux web-02 /);
  });

  it('says who it acts as and what it may do', async () => {
    const r = await h.call('proxmox_get_permissions');
    expect(r.structured).toMatchObject({ identity: 'root@pam!simulator', cannot: [] });
    const users = await h.call('proxmox_list_users');
    expect(users.text).toMatch(/alice@pve +yes +Alice +automation/);
    const tokens = await h.call('proxmox_list_tokens', { userid: 'alice@pve' });
    expect(tokens.structured?.tokens).toEqual([
      { tokenid: 'automation', privsep: true, comment: 'read-only automation' },
    ]);
    expect(JSON.stringify(tokens)).not.toContain(
      h.sim.sim.cluster.users.get('alice@pve')?.tokens.get('automation')?.secret,
    );
  });

  it('HA status, pools, node networks', async () => {
    const ha = await h.call('proxmox_get_ha_status');
    expect(ha.structured).toMatchObject({ quorate: true, master: 'pve1' });
    expect(((ha.structured?.resources ?? []) as { sid: string }[]).map((r) => r.sid)).toEqual([
      'vm:100',
      'vm:101',
    ]);
    const pool = await h.call('proxmox_list_pools', { poolid: 'infra' });
    expect(pool.text).toMatch(/^infra \(Infrastructure containers\):/);
    const net = await h.call('proxmox_list_node_networks', { node: 'pve1', type: 'bridge' });
    expect(net.structured?.interfaces).toEqual([
      expect.objectContaining({
        iface: 'vmbr0',
        cidr: '10.0.0.11/24',
        gateway: '10.0.0.1',
        ports: 'eno1',
      }),
    ]);
  });

  it('passes any contract operation through, validated first', async () => {
    const ok = await h.call('proxmox_api_request', {
      method: 'GET',
      path: '/nodes/pve1/qemu/102/pending',
    });
    expect(ok.isError).toBeFalsy();
    expect(Array.isArray(ok.structured?.data)).toBe(true);
    const outside = await h.call('proxmox_api_request', {
      method: 'POST',
      path: '/nodes/pve1/execute',
    });
    expect(outside.isError).toBe(true);
    expect(outside.text).toMatch(/not an operation of the API contract/);
    const bad = await h.call('proxmox_api_request', {
      method: 'GET',
      path: '/cluster/resources',
      params: { type: 'everything' },
    });
    expect(bad.isError).toBe(true);
    expect(bad.text).toMatch(/type: value 'everything' does not have a value in the enumeration/);
  });
});
