/** Tools this server does not offer, told as such (src/server/offered.ts). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type McpHarness, startHarness } from '../helpers/mcp.js';

describe('a tool not offered', () => {
  let h: McpHarness;
  beforeAll(async () => {
    h = await startHarness({
      config: { toolsets: ['core', 'backup'], excludeTools: ['proxmox_delete_backup'] },
    });
  });
  afterAll(() => h.close());

  it("names the toolset to enable and how, instead of the SDK's bare 'not found'", async () => {
    await expect(h.call('proxmox_list_pools')).rejects.toThrow(
      /proxmox_list_pools is in the cluster toolset, which this server does not offer: the operator adds it with toolsets \(PROXMOX_TOOLSETS=core,backup,cluster or --toolsets core,backup,cluster\) and restarts the server\./,
    );
  });

  it('says when the configuration removed it, and when no such tool exists', async () => {
    await expect(
      h.call('proxmox_delete_backup', { volid: 'backup-nfs:backup/x.vma.zst' }),
    ).rejects.toThrow(/proxmox_delete_backup is removed by this server's excludeTools setting/);
    await expect(h.call('proxmox_make_coffee')).rejects.toThrow(
      /There is no tool named proxmox_make_coffee; tools\/list shows the tools this server offers\./,
    );
  });

  it('leaves calls of offered tools as they were', async () => {
    const r = await h.call('proxmox_list_backups', {});
    expect(r.isError, r.text).toBeFalsy();
  });

  it('is noted where an answer names it as the next step', async () => {
    // A pool that does not exist points to proxmox_list_pools (cluster toolset).
    const r = await h.call('proxmox_create_vm', { name: 'note-test', pool: 'nowhere' });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/List pools with proxmox_list_pools\./);
    expect(r.text).toMatch(
      /\nproxmox_list_pools is in the cluster toolset, which this server does not offer/,
    );
  });
});

describe('in read-only mode', () => {
  let h: McpHarness;
  beforeAll(async () => {
    h = await startHarness({ config: { readOnly: true } });
  });
  afterAll(() => h.close());

  it('says a changing tool is not offered because the server is read-only', async () => {
    await expect(h.call('proxmox_start_vm', { vmid: 103 })).rejects.toThrow(
      /proxmox_start_vm changes things, and this server is read-only \(readOnly\)\./,
    );
  });
});

describe('in the 2026-07-28 era', () => {
  let h: McpHarness;
  beforeAll(async () => {
    h = await startHarness({ era: 'modern' });
  });
  afterAll(() => h.close());

  it('names the toolset too', async () => {
    await expect(h.call('proxmox_backup_guest', { vmid: 100 })).rejects.toThrow(
      /proxmox_backup_guest is in the backup toolset, which this server does not offer/,
    );
    expect((await h.call('proxmox_list_vms', {})).isError).toBeFalsy();
  });
});
