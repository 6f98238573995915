/**
 * The rails on the wire: every route by which a protected or out-of-scope guest was once reached
 * is refused before anything is sent, whatever tool or spelling carries it.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { scopeSchema } from '../../src/config/schema.js';
import { volumeOwner } from '../../src/contract/targets.js';
import { Scope } from '../../src/policy/scope.js';
import { buildDataset } from '../../src/simulator/datasets.js';
import { withoutPoolAudit } from '../helpers/acl.js';
import { type McpHarness, startHarness } from '../helpers/mcp.js';

const BACKUP_100 = 'backup-nfs:backup/vzdump-qemu-100-2026_11_20-01_00_03.vma.zst';

/** The simulator's requests from `from` on, as `METHOD template`. */
const sentSince = (h: McpHarness, from: number) =>
  h.sim.sim.requests.slice(from).map((r) => `${r.method} ${r.template ?? r.path}`);

const changing = (lines: string[]) => lines.filter((l) => !l.startsWith('GET '));

describe('protected guests, whatever the route', () => {
  let h: McpHarness;
  /** Questions put to the human: a refused route must ask nobody. */
  const asked: string[] = [];
  beforeAll(async () => {
    h = await startHarness({
      config: { toolsets: ['all'], confirm: 'elicit' },
      elicit: (message) => {
        asked.push(message);
        return { action: 'accept', content: { confirm: true } };
      },
      // Tags in the operator's spelling: PVE stores them lower-cased.
      cluster: { scope: { protected: { tags: ['Prod'], vmids: [], pools: [] } } },
    });
  });
  afterAll(() => h.close());

  const attempt = async (name: string, args: Record<string, unknown>) => {
    const from = h.sim.sim.requests.length;
    const questions = asked.length;
    const guests = JSON.stringify([...h.sim.sim.cluster.guests.values()].map((g) => g.config));
    const volumes = [...h.sim.sim.cluster.volumes.keys()].join();
    const answer = await h.call(name, args);
    expect(answer.isError, answer.text).toBe(true);
    expect(changing(sentSince(h, from))).toEqual([]);
    expect(JSON.stringify([...h.sim.sim.cluster.guests.values()].map((g) => g.config))).toBe(
      guests,
    );
    expect([...h.sim.sim.cluster.volumes.keys()].join()).toBe(volumes);
    expect(asked.length).toBe(questions);
    return answer.text;
  };
  const api = (method: string, path: string, params?: Record<string, unknown>) =>
    attempt('proxmox_api_request', { method, path, ...(params ? { params } : {}) });

  it.each([
    '//nodes/pve1/qemu/100/status/stop',
    '/nodes//pve1/qemu/100/status/stop',
    '/nodes/pve1/qemu/%31%30%30/status/stop',
    '/nodes/pve1/qemu/100/status/stop/',
  ])('refuses a stop spelled %s', async (path) => {
    expect(await api('POST', path)).toMatch(
      /VM 100 \(web-01\) is protected: it carries the tag 'prod'/,
    );
    expect(h.sim.sim.cluster.guests.get(100)?.running).toBe(true);
  });

  it('refuses removing the protecting tag', async () => {
    expect(await api('PUT', '/nodes/pve1/qemu/101/config', { tags: 'web' })).toMatch(/protected/);
  });

  it('refuses a restore over a protected guest', async () => {
    expect(
      await api('POST', '/nodes/pve1/qemu', { vmid: 100, archive: BACKUP_100, force: true }),
    ).toMatch(/VM 100 \(web-01\) is protected/);
  });

  it("refuses a restore of a protected guest's backup into another guest", async () => {
    expect(
      await api('POST', '/nodes/pve3/qemu', { vmid: 107, archive: BACKUP_100, force: true }),
    ).toMatch(/VM 100 \(web-01\) is protected/);
  });

  it("refuses stopping a protected guest's task", async () => {
    const upid = 'UPID:pve1:00001234:00005678:69000000:qmigrate:100:root@pam:';
    expect(await api('DELETE', `/nodes/pve1/tasks/${encodeURIComponent(upid)}`)).toMatch(
      /VM 100 \(web-01\) is protected/,
    );
  });

  it('refuses a backup of every guest of a node that holds protected ones, naming them', async () => {
    const text = await api('POST', '/nodes/pve1/vzdump', { all: 1, mode: 'stop' });
    expect(text).toMatch(/100 \(web-01\), 101 \(web-02\), 102 \(db-01\)/);
    expect(await api('POST', '/nodes/pve1/vzdump', { vmid: '103,102', mode: 'stop' })).toMatch(
      /VM 102 \(db-01\) is protected/,
    );
  });

  it("refuses deleting a protected guest's backup, by the raw API and by the tool", async () => {
    expect(await api('DELETE', `/nodes/pve1/storage/backup-nfs/content/${BACKUP_100}`)).toMatch(
      /VM 100 \(web-01\) is protected/,
    );
    expect(await attempt('proxmox_delete_backup', { volid: BACKUP_100 })).toMatch(
      /VM 100 \(web-01\) is protected/,
    );
  });

  it("refuses attaching a protected guest's disk to another guest", async () => {
    expect(
      await api('PUT', '/nodes/pve1/qemu/103/config', { scsi1: 'local-lvm:vm-102-disk-1' }),
    ).toMatch(/VM 102 \(db-01\) is protected/);
  });

  it("refuses importing a protected guest's disk into another guest", async () => {
    expect(
      await api('PUT', '/nodes/pve1/qemu/103/config', {
        scsi1: 'local-lvm:0,import-from=local-lvm:vm-102-disk-1',
      }),
    ).toMatch(/VM 102 \(db-01\) is protected/);
  });

  it('lets a node-wide backup through when it excludes the protected guests', async () => {
    const answer = await h.call('proxmox_api_request', {
      method: 'POST',
      path: '/nodes/pve1/vzdump',
      params: { all: 1, exclude: '100,101,102', storage: 'backup-nfs' },
    });
    expect(answer.isError, answer.text).toBeFalsy();
  });

  it('protects a guest tagged a moment ago, on the very next call', async () => {
    // The list primes the few-seconds cache reads may use; the change must not rely on it.
    await h.call('proxmox_list_vms');
    const guest = h.sim.sim.cluster.guests.get(104);
    if (!guest) throw new Error('no guest 104');
    guest.config.tags = 'dev;prod';
    try {
      expect(await attempt('proxmox_stop_vm', { vmid: 104 })).toMatch(
        /VM 104 \(dev-box\) is protected/,
      );
      expect(guest.running).toBe(true);
    } finally {
      guest.config.tags = 'dev';
    }
  });

  it('names a guest whose row has no name (node not reporting) by its ID alone', async () => {
    const guest = h.sim.sim.cluster.guests.get(107);
    if (!guest) throw new Error('no guest 107');
    guest.config.tags = 'prod';
    try {
      const text = await attempt('proxmox_delete_vm', { vmid: 107 });
      expect(text).toMatch(/^VM 107 is protected: it carries the tag 'prod'/);
    } finally {
      delete guest.config.tags;
    }
  });

  it('still lets unprotected guests be changed', async () => {
    const answer = await h.call('proxmox_api_request', {
      method: 'POST',
      path: '//nodes/pve2/qemu/%31%30%36/status/stop',
    });
    expect(answer.isError, answer.text).toBeFalsy();
  });
});

describe('scope on the wire', () => {
  let h: McpHarness;
  beforeAll(async () => {
    h = await startHarness({
      config: { toolsets: ['all'] },
      cluster: { scope: { pools: ['development'] } },
    });
  });
  afterAll(() => h.close());

  it('lists no backups of guests out of scope', async () => {
    const answer = await h.call('proxmox_list_storage_content', {
      node: 'pve1',
      storage: 'backup-nfs',
    });
    expect(answer.isError, answer.text).toBeFalsy();
    expect(answer.text).not.toMatch(/vzdump-(qemu|lxc)-(100|102|200)-/);
    const raw = await h.call('proxmox_api_request', {
      method: 'GET',
      path: '/nodes/pve1/storage/backup-nfs/content',
    });
    expect(raw.text).not.toMatch(/vzdump/);
  });

  it('refuses reading the task log of a guest out of scope', async () => {
    const upid = 'UPID:pve1:00001234:00005678:69000000:qmstart:100:root@pam:';
    const from = h.sim.sim.requests.length;
    const read = h.client.readResource({ uri: `proxmox://tasks/${encodeURIComponent(upid)}/log` });
    await expect(read).rejects.toThrow(/ID 100 is outside what this server may manage/);
    expect(sentSince(h, from).filter((l) => l.includes('/tasks/'))).toEqual([]);
  });

  it('refuses a new guest outside the scoped pools, and one without a pool', async () => {
    const from = h.sim.sim.requests.length;
    const outside = await h.call('proxmox_api_request', {
      method: 'POST',
      path: '/nodes/pve2/qemu',
      params: { vmid: 150, pool: 'production' },
    });
    expect(outside.text).toMatch(/Pool production is outside/);
    const none = await h.call('proxmox_api_request', {
      method: 'POST',
      path: '/nodes/pve2/qemu',
      params: { vmid: 150 },
    });
    expect(none.text).toMatch(
      /ID 150 is outside .* A new guest must be given one of those pools\./,
    );
    expect(changing(sentSince(h, from))).toEqual([]);
    expect(h.sim.sim.cluster.guests.has(150)).toBe(false);
  });
});

describe('pool facts without Pool.Audit', () => {
  it('the simulator leaves pool out of resource rows and refuses the pool, as PVE does', async () => {
    const h = await startHarness({ token: withoutPoolAudit });
    try {
      const rows = (await h.pve.client.call('GET /cluster/resources', { type: 'vm' })) as {
        vmid: number;
        pool?: string;
      }[];
      expect(rows.find((r) => r.vmid === 104)?.pool).toBeUndefined();
      await expect(
        h.pve.client.call('GET /pools/{poolid}', { poolid: 'development' }),
      ).rejects.toThrow(/Pool.Audit/);
    } finally {
      await h.close();
    }
  });

  it('refuses changes while a protected pool cannot be read, naming the privilege', async () => {
    const h = await startHarness({
      token: withoutPoolAudit,
      cluster: { scope: { protected: { pools: ['production'], tags: [], vmids: [] } } },
    });
    const warned = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const from = h.sim.sim.requests.length;
      const stop = await h.call('proxmox_stop_vm', { vmid: 100 });
      expect(stop.isError).toBe(true);
      expect(stop.text).toMatch(/Pool.Audit on \/pool\/production/);
      // The operator hears of it once, on stderr, not only the model.
      const told = warned.mock.calls
        .map((c) => String(c[0]))
        .filter((l) => l.includes('Pool.Audit'));
      expect(told).toHaveLength(1);
      expect(told[0]).toMatch(/warning: cluster 'default': .*changes to guests are refused/);
      expect(changing(sentSince(h, from))).toEqual([]);
      expect(h.sim.sim.cluster.guests.get(100)?.running).toBe(true);
    } finally {
      warned.mockRestore();
      await h.close();
    }
  });

  it('knows the members once Pool.Audit is granted on the pool', async () => {
    // Pool.Audit on the protected pool alone is enough to decide.
    const h = await startHarness({
      token: (sim) => {
        const auth = withoutPoolAudit(sim);
        sim.sim.cluster.acl.push({
          path: '/pool/production',
          type: 'group',
          ugid: 'operators',
          roleid: 'PVEPoolUser',
          propagate: true,
        } as (typeof sim.sim.cluster.acl)[number]);
        return auth;
      },
      cluster: { scope: { protected: { pools: ['production'], tags: [], vmids: [] } } },
    });
    try {
      const stop = await h.call('proxmox_stop_vm', { vmid: 100 });
      expect(stop.text).toMatch(
        /VM 100 \(web-01\) is protected: it is in the protected pool 'production'/,
      );
      const other = await h.call('proxmox_stop_vm', { vmid: 106 });
      expect(other.isError, other.text).toBeFalsy();
    } finally {
      await h.close();
    }
  });
});

describe('bypasses found by attacking the rails (regressions)', () => {
  /** The small dataset with a Proxmox Backup Server storage holding a backup of 102. */
  const withPbs = () => {
    const d = buildDataset('small');
    d.storages.push({
      storage: 'backup-pbs',
      type: 'pbs',
      content: ['backup'],
      shared: true,
      sizeGiB: 1000,
    } as (typeof d.storages)[number]);
    d.content?.push({
      storage: 'backup-pbs',
      volid: PBS_102,
      content: 'backup',
      size: 9e9,
      vmid: 102,
      ctime: 1795000000,
    } as NonNullable<typeof d.content>[number]);
    return d;
  };
  const PBS_102 = 'backup-pbs:backup/vm/102/2026-11-20T01:00:03Z';
  let h: McpHarness;
  const asked: string[] = [];
  beforeAll(async () => {
    h = await startHarness({
      sim: { dataset: withPbs() },
      config: { toolsets: ['all'], confirm: 'elicit' },
      cluster: {
        scope: { vmids: ['103-199'], protected: { vmids: ['102'], tags: [], pools: [] } },
      },
      elicit: (m) => {
        asked.push(m);
        return { action: 'accept', content: { confirm: true } };
      },
    });
  });
  afterAll(() => h.close());

  const refused = async (name: string, args: Record<string, unknown>, why: RegExp) => {
    const from = h.sim.sim.requests.length;
    const questions = asked.length;
    const volumes = [...h.sim.sim.cluster.volumes.keys()].join();
    const r = await h.call(name, args);
    expect(r.isError, r.text).toBe(true);
    expect(r.text).toMatch(why);
    expect(changing(sentSince(h, from))).toEqual([]);
    expect(asked.length).toBe(questions);
    expect([...h.sim.sim.cluster.volumes.keys()].join()).toBe(volumes);
  };

  it('ties a Proxmox Backup Server snapshot to its guest', async () => {
    await refused(
      'proxmox_restore_backup',
      { volid: PBS_102, vmid: 150, node: 'pve1' },
      /ID 102 is outside/,
    );
    await refused('proxmox_delete_backup', { volid: PBS_102 }, /ID 102 is outside/);
    expect(h.sim.sim.cluster.guests.has(150)).toBe(false);
  });

  it('reads a volume named by file=, volume= or after other keys', async () => {
    for (const params of [
      { unused5: 'file=local-lvm:vm-102-disk-1' },
      { scsi3: 'cache=none,local-lvm:vm-102-disk-1' },
    ])
      await refused(
        'proxmox_api_request',
        { method: 'PUT', path: '/nodes/pve1/qemu/103/config', params },
        /ID 102 is outside/,
      );
    await refused(
      'proxmox_api_request',
      {
        method: 'PUT',
        path: '/nodes/pve1/lxc/201/config',
        params: { mp5: 'volume=local-lvm:vm-102-disk-0,mp=/mnt/db' },
      },
      /ID 201 is outside|ID 102 is outside/,
    );
  });

  it('refuses a host path as a disk, which no guest check can cover', async () => {
    await refused(
      'proxmox_api_request',
      {
        method: 'PUT',
        path: '/nodes/pve1/qemu/103/config',
        params: { scsi4: '/dev/mapper/pve-vm--102--disk--0' },
      },
      /cannot be tied to one guest/,
    );
  });

  it('takes only an ISO volume id as an ISO', async () => {
    await refused(
      'proxmox_create_vm',
      { name: 'x', node: 'pve1', vmid: 150, iso: 'file=local-lvm:vm-102-disk-0' },
      /is not an ISO image volume id/,
    );
    expect(h.sim.sim.cluster.guests.has(150)).toBe(false);
  });

  it('asks before converting a guest to a template', async () => {
    const questions = asked.length;
    const r = await h.call('proxmox_convert_to_template', { vmid: 103, dryRun: false });
    expect(r.isError, r.text).toBeFalsy();
    expect(asked.slice(questions).join()).toMatch(/Convert to a template \(cannot be undone/);
  });

  it('hides out-of-scope guests inside answers: pool members, HA by bare vmid, backups', async () => {
    const pool = await h.call('proxmox_api_request', { method: 'GET', path: '/pools/production' });
    expect(pool.text).not.toMatch(/"vmid":10[0-2]/);
    const ha = await h.call('proxmox_api_request', {
      method: 'GET',
      path: '/cluster/ha/resources/100',
    });
    expect(ha.isError).toBe(true);
    expect(ha.text).toMatch(/ID 100 is outside/);
    const backups = await h.call('proxmox_list_storage_content', {
      node: 'pve1',
      storage: 'backup-pbs',
    });
    expect(backups.text).not.toContain('vm/102');
  });
});

describe('a node-only scope', () => {
  it('hides the backups of guests on other nodes', async () => {
    const h = await startHarness({
      config: { toolsets: ['all'] },
      cluster: { scope: { nodes: ['pve2'] } },
    });
    try {
      const r = await h.call('proxmox_list_storage_content', {
        node: 'pve2',
        storage: 'backup-nfs',
      });
      expect(r.isError, r.text).toBeFalsy();
      expect(r.text).not.toMatch(/vzdump-(qemu|lxc)-(100|102|200)-/);
    } finally {
      await h.close();
    }
  });
});

describe('bypasses found by a second attack (regressions)', () => {
  let h: McpHarness;
  const asked: string[] = [];
  beforeAll(async () => {
    h = await startHarness({
      config: { toolsets: ['all'], confirm: 'elicit' },
      cluster: {
        scope: { vmids: ['103-199'], protected: { vmids: ['105'], tags: [], pools: [] } },
      },
      elicit: (m) => {
        asked.push(m);
        return { action: 'accept', content: { confirm: true } };
      },
    });
  });
  afterAll(() => h.close());

  const refusal = async (name: string, args: Record<string, unknown>) => {
    const from = h.sim.sim.requests.length;
    const questions = asked.length;
    const r = await h.call(name, args);
    expect(r.isError, r.text).toBe(true);
    expect(changing(sentSince(h, from))).toEqual([]);
    expect(asked.length).toBe(questions);
    return r.text;
  };

  it('reads a flag sent as a list as PVE would, and names no guest it may not show', async () => {
    const text = await refusal('proxmox_api_request', {
      method: 'POST',
      path: '/nodes/pve1/vzdump',
      params: { all: ['1'], storage: 'backup-nfs', mode: 'stop' },
    });
    expect(text).toMatch(/would act on every guest it selects.*\d+ outside its scope/);
    expect(text).not.toMatch(/web-01|db-01|ct-dns/);
  });

  it("ties a linked clone's disk to the clone, not its base", async () => {
    expect(volumeOwner('local-lvm:base-9000-disk-0/vm-150-disk-0')).toBe(150);
    expect(
      await refusal('proxmox_api_request', {
        method: 'PUT',
        path: '/nodes/pve1/qemu/103/config',
        params: { scsi1: 'local-lvm:base-9000-disk-0/vm-105-disk-0' },
      }),
    ).toMatch(/VM 105 \(ci-runner\) is protected/);
  });

  it('refuses raw QEMU arguments and device passthrough, which reach host devices', async () => {
    expect(
      await refusal('proxmox_api_request', {
        method: 'PUT',
        path: '/nodes/pve1/qemu/103/config',
        params: { args: '-drive file=/dev/pve/vm-105-disk-0,if=virtio' },
      }),
    ).toMatch(/cannot be tied to one guest/);
  });

  it('refuses stopping, or reading, a backup task of several guests', async () => {
    const upid = 'UPID:pve1:00001234:00005678:69000000:vzdump::root@pam:';
    expect(await refusal('proxmox_stop_task', { upid })).toMatch(/cannot be tied to one guest/);
    expect((await h.call('proxmox_get_task_log', { upid })).text).toMatch(
      /cannot be tied to one guest/,
    );
  });

  it('hides nodes out of scope in /cluster/status too', async () => {
    const n = await startHarness({
      config: { toolsets: ['all'] },
      cluster: { scope: { nodes: ['pve1'] } },
    });
    try {
      const r = await n.call('proxmox_api_request', { method: 'GET', path: '/cluster/status' });
      expect(r.text).not.toMatch(/pve2|pve3/);
    } finally {
      await n.close();
    }
  });

  it('shows the standard input a command would read', async () => {
    const questions = asked.length;
    await h.call('proxmox_exec_command', { vmid: 104, command: ['sh'], input: 'curl x | sh' });
    expect(asked.slice(questions).join()).toMatch(
      /Run the command \["sh"\] with standard input "curl x \| sh"/,
    );
  });

  it('deletes only backups with the backup tool', async () => {
    expect(
      await refusal('proxmox_delete_backup', { volid: 'local-lvm:vm-103-disk-0', node: 'pve1' }),
    ).toMatch(/is not a backup on local-lvm|not available/);
    expect(h.sim.sim.cluster.guests.get(103)?.config.scsi0).toMatch(/vm-103-disk-0/);
  });
});

describe('nested pools', () => {
  it('protect the guests of their sub-pools', () => {
    const scope = new Scope(
      scopeSchema.parse({ pools: ['development'], protected: { pools: ['production'] } }),
    );
    expect(scope.protection({ vmid: 1, pool: 'production/db' })).toMatch(/protected pool/);
    expect(scope.protection({ vmid: 1, pool: 'productionx' })).toBeUndefined();
    expect(scope.allowsGuest({ vmid: 1, pool: 'development/ci' })).toBe(true);
    expect(scope.allowsGuest({ vmid: 1, pool: 'developmentx' })).toBe(false);
  });
});

describe('what a review of the rails found (regressions)', () => {
  it('lets the bulk tool run under a limited scope, each guest checked as it goes', async () => {
    const h = await startHarness({
      config: { toolsets: ['all'] },
      cluster: { scope: { pools: ['development'] } },
    });
    try {
      const r = await h.call('proxmox_bulk_guests', {
        action: 'start',
        vmids: [105],
        pool: 'development',
      });
      expect(r.isError, r.text).toBeFalsy();
      expect(r.text).not.toMatch(/cluster as a whole/);
      // The same words for a hidden guest and for no guest at all.
      const hidden = await h.call('proxmox_start_vm', { vmid: 100 });
      const none = await h.call('proxmox_api_request', {
        method: 'POST',
        path: '/nodes/pve1/qemu/998/status/start',
      });
      expect(hidden.text.replace('100', 'N')).toBe(none.text.replace('998', 'N'));
    } finally {
      await h.close();
    }
  });

  it("keeps a command's standard input out of the audit log", async () => {
    const h = await startHarness({ config: { toolsets: ['all'], confirm: 'elicit' } });
    try {
      const r = await h.call('proxmox_exec_command', {
        vmid: 104,
        command: ['sh'],
        input: 'echo canary-stdin-4711',
      });
      expect(r.text).toMatch(/^Needs confirmation/);
      expect(JSON.stringify(h.auditLines)).not.toContain('canary-stdin-4711');
    } finally {
      await h.close();
    }
  });

  it('refuses what cannot be tied to a guest only while scope or protection is configured', async () => {
    const h = await startHarness({
      config: { toolsets: ['all'] },
      cluster: { scope: { protected: { tags: [], vmids: [], pools: [] } } },
    });
    try {
      const r = await h.call('proxmox_stop_task', {
        upid: 'UPID:pve1:00001234:00005678:69000000:vzdump::root@pam:',
      });
      expect(r.text).not.toMatch(/cannot be tied to one guest/);
    } finally {
      await h.close();
    }
  });

  it('lets a protected template be cloned: a clone only reads its source', async () => {
    const h = await startHarness({
      config: { toolsets: ['all'] },
      cluster: { scope: { protected: { vmids: ['9000'], tags: [], pools: [] } } },
    });
    try {
      const r = await h.call('proxmox_clone_guest', { vmid: 9000, newid: 410, name: 'from-gold' });
      expect(r.isError, r.text).toBeFalsy();
      expect(h.sim.sim.cluster.guests.get(410)?.config.name).toBe('from-gold');
      expect((await h.call('proxmox_delete_vm', { vmid: 9000 })).text).toMatch(/is protected/);
    } finally {
      await h.close();
    }
  });
});
