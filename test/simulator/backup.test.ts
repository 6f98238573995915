import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSim, type TestSim } from '../helpers/sim.js';

let sim: TestSim;
beforeAll(async () => {
  sim = await startTestSim();
});
afterAll(() => sim.close());

type Volume = {
  volid: string;
  vmid?: number;
  size: number;
  notes?: string;
  protected?: number;
  subtype?: string;
};
const backups = (vmid?: number) =>
  sim.data<Volume[]>('GET', '/nodes/pve1/storage/backup-nfs/content', { content: 'backup', vmid });

describe('vzdump', () => {
  it('backs up a guest: lock backup while it runs, a new volume with notes, the log PVE writes', async () => {
    const before = (await backups(103)).length;
    const upid = await sim.data<string>('POST', '/nodes/pve1/vzdump', {
      vmid: '103',
      storage: 'backup-nfs',
      mode: 'snapshot',
      compress: 'zstd',
      'notes-template': '{{guestname}} on {{node}}',
    });
    expect(upid).toMatch(/:vzdump:103:/);
    expect(await sim.data('GET', '/nodes/pve1/qemu/103/status/current')).toMatchObject({
      lock: 'backup',
    });
    sim.sim.runTasks();
    const after = await backups(103);
    expect(after.length).toBe(before + 1);
    const created = after.find((v) => v.notes === 'win-app on pve1');
    expect(created?.volid).toMatch(
      /^backup-nfs:backup\/vzdump-qemu-103-\d{4}_\d{2}_\d{2}-\d{2}_\d{2}_\d{2}\.vma\.zst$/,
    );
    const log = await sim.data<{ t: string }[]>(
      'GET',
      `/nodes/pve1/tasks/${encodeURIComponent(upid)}/log`,
      { limit: 100 },
    );
    const lines = log.map((l) => l.t);
    expect(lines[0]).toMatch(/^INFO: starting new backup job: vzdump 103 --storage backup-nfs/);
    expect(lines).toContain('INFO: Backup job finished successfully');
    expect(lines.at(-1)).toBe('TASK OK');
  });

  it('answers "OK" without a task when no selected guest is on the node', async () => {
    const res = await sim.call('POST', '/nodes/pve1/vzdump', {
      vmid: '105',
      storage: 'backup-nfs',
    });
    expect(res.body).toEqual({ data: 'OK' });
  });

  it('fails the job for a locked guest, and refuses storage without backup content', async () => {
    await sim.data('POST', '/nodes/pve1/qemu/102/snapshot', { snapname: 'during' });
    const job = await sim.task('POST', '/nodes/pve1/vzdump', {
      vmid: '102',
      storage: 'backup-nfs',
    });
    expect(job.exitstatus).toBe('job errors');
    expect(job.log).toContain('ERROR: Backup of VM 102 failed - VM is locked (snapshot)');
    // The job checks its storage itself (pve-manager PVE/VZDump.pm new, storage_info).
    const wrong = await sim.task('POST', '/nodes/pve1/vzdump', {
      vmid: '103',
      storage: 'local-lvm',
    });
    expect(wrong.exitstatus).toBe(
      "could not get storage information for 'local-lvm': can't use storage 'local-lvm' for backups - wrong content type",
    );
    const unknown = await sim.task('POST', '/nodes/pve1/vzdump', { vmid: '103', storage: 'nope' });
    expect(unknown.exitstatus).toBe(
      "could not activate storage 'nope': storage 'nope' does not exist could not get storage information for 'nope': storage 'nope' does not exist",
    );
    expect(sim.sim.cluster.guests.get(103)?.config.lock).toBeUndefined();
  });

  it('refuses an unknown pool before any task (PVE/API2Tools.pm)', async () => {
    const res = await sim.call('POST', '/nodes/pve1/vzdump', { pool: 'nope', storage: 'local' });
    expect(res.status).toBe(500);
    expect(res.body?.message).toBe("pool 'nope' does not exist\n");
  });

  it('takes an ID of no guest and fails it inside the task, as PVE/VZDump.pm does', async () => {
    const job = await sim.task('POST', '/nodes/pve1/vzdump', {
      vmid: '9876',
      storage: 'backup-nfs',
    });
    expect(job.upid).toMatch(/:vzdump:9876:/);
    expect(job.exitstatus).toBe('job errors');
    expect(job.log).toContain("ERROR: Backup of VM 9876 failed - unable to find VM '9876'");
    expect(job.log).toContain('INFO: Backup job finished with errors');
  });
});

describe('restore', () => {
  it('restores a backup to a new vmid with its original config', async () => {
    const [vol] = await backups(100);
    const res = await sim.task('POST', '/nodes/pve1/qemu', {
      vmid: 170,
      archive: vol?.volid ?? '',
      storage: 'local-lvm',
    });
    expect(res.upid).toMatch(/:qmrestore:170:/);
    const cfg = await sim.data<Record<string, unknown>>('GET', '/nodes/pve1/qemu/170/config');
    expect(cfg).toMatchObject({
      name: 'web-01',
      cores: 2,
      scsi0: 'local-lvm:vm-170-disk-0,iothread=1,size=32G',
    });
  });

  it('applies options given with the archive over the backup (qemu-server override_conf)', async () => {
    const [vol] = await backups(100);
    const res = await sim.task('POST', '/nodes/pve1/qemu', {
      vmid: 171,
      archive: vol?.volid ?? '',
      storage: 'local-lvm',
      name: 'web-01-copy',
      onboot: 0,
      unique: 1,
    });
    expect(res.exitstatus).toBe('OK');
    const cfg = await sim.data<Record<string, unknown>>('GET', '/nodes/pve1/qemu/171/config');
    expect(cfg).toMatchObject({ name: 'web-01-copy', onboot: 0, cores: 2 });
    const source = await sim.data<Record<string, unknown>>('GET', '/nodes/pve1/qemu/100/config');
    expect(String(cfg.net0).split(',')[0]).not.toBe(String(source.net0).split(',')[0]);
    await sim.task('DELETE', '/nodes/pve1/qemu/171');
  });

  it('refuses to restore over an existing vmid without force, and over a running one even with it', async () => {
    const [vol] = await backups(100);
    const taken = await sim.call('POST', '/nodes/pve1/qemu', {
      vmid: 170,
      archive: vol?.volid ?? '',
    });
    expect(taken.body?.message).toBe(
      "unable to restore VM 170 - VM 170 already exists on node 'pve1'\n",
    );
    await sim.task('POST', '/nodes/pve1/qemu/170/status/start');
    // qemu-server's restore worker finds the VM running: the task fails, the VM stays as it was.
    const running = await sim.task('POST', '/nodes/pve1/qemu', {
      vmid: 170,
      archive: vol?.volid ?? '',
      force: 1,
    });
    expect(running.upid).toMatch(/:qmrestore:170:/);
    expect(running.exitstatus).toBe('unable to restore VM 170 - vm is running');
    expect(sim.sim.cluster.guests.get(170)?.config.lock).toBeUndefined();
  });

  it('restores over an existing guest with force, replacing its disks', async () => {
    await sim.task('POST', '/nodes/pve1/qemu/170/status/stop');
    await sim.data('PUT', '/nodes/pve1/qemu/170/config', { name: 'changed' });
    const [vol] = await backups(100);
    expect(
      (
        await sim.task('POST', '/nodes/pve1/qemu', {
          vmid: 170,
          archive: vol?.volid ?? '',
          force: 1,
        })
      ).exitstatus,
    ).toBe('OK');
    expect(
      (await sim.data<Record<string, unknown>>('GET', '/nodes/pve1/qemu/170/config')).name,
    ).toBe('web-01');
    const disks = (
      await sim.data<Volume[]>('GET', '/nodes/pve1/storage/local-lvm/content', { vmid: 170 })
    ).map((v) => v.volid);
    expect(disks).toHaveLength(1);
  });

  it('restores a container archive with pct restore (ostemplate + restore)', async () => {
    const [vol] = await backups(200);
    await sim.task('POST', '/nodes/pve1/lxc', {
      vmid: 270,
      ostemplate: vol?.volid ?? '',
      restore: 1,
      storage: 'local-lvm',
    });
    expect(await sim.data('GET', '/nodes/pve1/lxc/270/config')).toMatchObject({
      hostname: 'ct-dns',
    });
  });

  it('restores a container to local when no storage is named, which holds no containers', async () => {
    // pve-container PVE/API2/LXC.pm create_vm: storage defaults to 'local'.
    const [vol] = await backups(200);
    const res = await sim.call('POST', '/nodes/pve1/lxc', {
      vmid: 271,
      ostemplate: vol?.volid ?? '',
      restore: 1,
    });
    expect(res.status).toBe(400);
    expect(res.body?.errors).toEqual({
      storage: "storage 'local' does not support container directories",
    });
  });
});

describe('storage', () => {
  it('lists storages with use, status and content', async () => {
    const list = await sim.data<
      {
        storage: string;
        total: number;
        used: number;
        avail: number;
        shared: number;
        content: string;
      }[]
    >('GET', '/nodes/pve1/storage');
    // A storage restricted to other nodes is listed, enabled 0 and without figures, unless a
    // content filter asks for usable ones (pve-storage PVE/Storage.pm storage_info).
    expect(list.map((s) => s.storage)).toEqual(['local', 'local-lvm', 'backup-nfs', 'tank']);
    for (const s of list) expect(s.used + s.avail).toBe(s.total);
    expect(list.find((s) => s.storage === 'tank')).toMatchObject({
      enabled: 0,
      active: 0,
      total: 0,
    });
    expect(list.find((s) => s.storage === 'tank')).not.toHaveProperty('used_fraction');
    expect(
      (await sim.data<unknown[]>('GET', '/nodes/pve1/storage', { content: 'images' })).length,
    ).toBe(1);
    expect(
      (await sim.data<unknown[]>('GET', '/nodes/pve2/storage', { content: 'images' })).length,
    ).toBe(2);
    // Any of the content types listed will do.
    expect(
      (
        await sim.data<{ storage: string }[]>('GET', '/nodes/pve1/storage', {
          content: 'vztmpl,images',
        })
      ).map((s) => s.storage),
    ).toEqual(['local', 'local-lvm']);
  });

  it('an unknown storage is a parameter error; one of another node is disabled here', async () => {
    // pve-storage PVE/API2/Storage/Status.pm index and read_status.
    for (const res of [
      await sim.call('GET', '/nodes/pve1/storage', { storage: 'nope' }),
      await sim.call('GET', '/nodes/pve1/storage/nope/status'),
      await sim.call('GET', '/nodes/pve1/storage', { storage: 'tank', content: 'images' }),
    ]) {
      expect(res.status).toBe(400);
      expect(res.body?.errors).toEqual({ storage: 'No such storage.' });
    }
    expect(await sim.data('GET', '/nodes/pve1/storage/tank/status')).toEqual({
      type: 'zfspool',
      content: 'images,rootdir',
      active: 0,
      enabled: 0,
      shared: 0,
      total: 0,
      used: 0,
      avail: 0,
    });
  });

  it('deletes a volume by task, refuses a protected one and one still in use', async () => {
    const [vol] = await backups(102);
    const del = await sim.task(
      'DELETE',
      `/nodes/pve1/storage/backup-nfs/content/${encodeURIComponent(vol?.volid ?? '')}`,
    );
    expect(del.upid).toMatch(/:imgdel:102@backup-nfs:/);
    expect((await backups(102)).length).toBe(0);
    const inUse = await sim.call(
      'DELETE',
      `/nodes/pve1/storage/local-lvm/content/${encodeURIComponent('local-lvm:vm-100-disk-0')}`,
    );
    expect(inUse.body?.message).toBe(
      "unable to delete volume 'local-lvm:vm-100-disk-0' - still used by VM 100\n",
    );
    const volume = sim.sim.cluster.volume(
      'pve1',
      'backup-nfs:backup/vzdump-lxc-200-2026_11_20-01_12_09.tar.zst',
    );
    if (volume) volume.protected = true;
    // The request succeeds; its imgdel task fails (pve-storage PVE/Storage/Plugin.pm free_image).
    const prot = await sim.task(
      'DELETE',
      `/nodes/pve1/storage/backup-nfs/content/${encodeURIComponent('backup-nfs:backup/vzdump-lxc-200-2026_11_20-01_12_09.tar.zst')}`,
    );
    expect(prot.exitstatus).toBe(
      "cannot remove protected volume 'backup/vzdump-lxc-200-2026_11_20-01_12_09.tar.zst' on 'backup-nfs'",
    );
    expect(volume && sim.sim.cluster.volume('pve1', volume.volid)).toBeTruthy();
    // With `delay` PVE waits for the task and dies with its error (PVE/API2/Storage/Content.pm).
    const waited = await sim.call(
      'DELETE',
      `/nodes/pve1/storage/backup-nfs/content/${encodeURIComponent('backup-nfs:backup/vzdump-lxc-200-2026_11_20-01_12_09.tar.zst')}`,
      { delay: 5 },
    );
    expect(waited.status).toBe(500);
    expect(waited.body?.message).toBe(
      "cannot remove protected volume 'backup/vzdump-lxc-200-2026_11_20-01_12_09.tar.zst' on 'backup-nfs'\n",
    );
    expect(volume && sim.sim.cluster.volume('pve1', volume.volid)).toBeTruthy();
    if (volume) volume.protected = false;
    const done = await sim.call(
      'DELETE',
      `/nodes/pve1/storage/backup-nfs/content/${encodeURIComponent('backup-nfs:backup/vzdump-lxc-200-2026_11_20-01_12_09.tar.zst')}`,
      { delay: 5 },
    );
    expect(done.body).toEqual({ data: null });
    expect(volume && sim.sim.cluster.volume('pve1', volume.volid)).toBeFalsy();
  });
});
