/** Backups (src/tools/backup.ts). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type McpHarness, startHarness } from '../helpers/mcp.js';

let h: McpHarness;
beforeAll(async () => {
  h = await startHarness({ config: { toolsets: ['all'] } });
});
afterAll(() => h.close());

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
    // The answer names the new backup, for a restore or a deletion.
    expect(r.structured?.volid).toBe(backups[0]?.volid);
    expect(r.text).toMatch(
      /: done in \d+\.\ds\. Task UPID:\S+\. Backup backup-nfs:backup\/vzdump-qemu-105-[\d_-]+\.vma\.zst\.$/,
    );
  });

  it('restores to a new id, refuses to overwrite without force, deletes a backup', async () => {
    const backups = ((await h.call('proxmox_list_backups', { vmid: 200 })).structured?.backups ??
      []) as {
      volid: string;
    }[];
    const volid = backups[0]?.volid ?? '';
    const shares: string[] = [];
    const restored = await h.call(
      'proxmox_restore_backup',
      { volid },
      { onprogress: (p) => p.total !== undefined && shares.push(`${p.progress}/${p.total}`) },
    );
    // The restore's own percentages, as its log counts them.
    expect(shares.filter((s) => /^\d+\/100$/.test(s))).toEqual([
      '25/100',
      '50/100',
      '75/100',
      '100/100',
    ]);
    expect(restored.isError, restored.text).toBeFalsy();
    // No storage given: PVE would pick `local`, which holds no containers; the tool picks one.
    expect(restored.text).toMatch(
      /^Restore backup-nfs:backup\/vzdump-lxc-200-.* to container \d+ on pve1, disks on (local-lvm|tank) \(chosen: it holds containers and has the most room\), with /,
    );
    expect(restored.structured?.storage).toMatch(/^(local-lvm|tank)$/);
    // A copy beside its source takes no identity of it: new MACs, its own name, no start at boot.
    expect(restored.text).toMatch(
      /, with new MAC addresses, name ct-dns-restored, start at boot off: done/,
    );
    const copy = h.sim.sim.cluster.guests.get(restored.structured?.vmid as number);
    const source = h.sim.sim.cluster.guests.get(200);
    expect(copy?.config.hostname).toBe('ct-dns-restored');
    expect(copy?.config.onboot).toBe('0');
    const mac = (net?: string) => /hwaddr=([0-9A-F:]+)/i.exec(net ?? '')?.[1];
    expect(mac(copy?.config.net0)).toBeDefined();
    expect(mac(copy?.config.net0)).not.toBe(mac(source?.config.net0));
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
