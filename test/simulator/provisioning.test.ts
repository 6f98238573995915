import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSim, type TestSim } from '../helpers/sim.js';

let sim: TestSim;
beforeAll(async () => {
  sim = await startTestSim();
});
afterAll(() => sim.close());

const config = (node: string, vmid: number, type = 'qemu') =>
  sim.data<Record<string, string | number>>('GET', `/nodes/${node}/${type}/${vmid}/config`);
const volumes = (node: string, storage: string) =>
  sim.data<{ volid: string; vmid?: number; size: number }[]>(
    'GET',
    `/nodes/${node}/storage/${storage}/content`,
  );

describe('create', () => {
  it('creates a VM: disks allocated, MAC generated, lock create while the task runs', async () => {
    const upid = await sim.data<string>('POST', '/nodes/pve1/qemu', {
      vmid: 150,
      name: 'fresh',
      cores: 2,
      memory: 2048,
      scsi0: 'local-lvm:10',
      net0: 'virtio,bridge=vmbr0',
      ide2: 'local:iso/debian-12.8.0-amd64-netinst.iso,media=cdrom',
    });
    expect(upid).toMatch(/:qmcreate:150:/);
    expect((await config('pve1', 150)).lock).toBe('create');
    sim.sim.runTasks();
    const cfg = await config('pve1', 150);
    expect(cfg.lock).toBeUndefined();
    expect(cfg.scsi0).toBe('local-lvm:vm-150-disk-0,size=10G');
    expect(cfg.net0).toMatch(/^virtio=BC:24:11:[0-9A-F]{2}:[0-9A-F]{2}:[0-9A-F]{2},bridge=vmbr0$/);
    expect((await volumes('pve1', 'local-lvm')).find((v) => v.vmid === 150)).toMatchObject({
      volid: 'local-lvm:vm-150-disk-0',
      size: 10 * 2 ** 30,
    });
    expect(sim.sim.counters.get('guest.create')).toBeGreaterThan(0);
  });

  it('a new guest has a stale resource row until pvestatd reports on it; its node knows it at once', async () => {
    const row = async () =>
      (await sim.data<Record<string, unknown>[]>('GET', '/cluster/resources', { type: 'vm' })).find(
        (r) => r.vmid === 150,
      );
    expect(await row()).toEqual({
      id: 'qemu/150',
      type: 'qemu',
      vmid: 150,
      node: 'pve1',
      status: 'unknown',
    });
    const local = await sim.data<Record<string, unknown>[]>('GET', '/nodes/pve1/qemu');
    expect(local.find((g) => g.vmid === 150)).toMatchObject({ name: 'fresh', status: 'stopped' });
    sim.sim.advance(10_000);
    expect(await row()).toMatchObject({ name: 'fresh', status: 'stopped', template: 0 });
  });

  it("refuses a taken vmid with PVE's message, naming where it lives", async () => {
    const res = await sim.call('POST', '/nodes/pve1/qemu', { vmid: 105, name: 'dup' });
    expect(res.status).toBe(500);
    expect(res.body?.message).toBe(
      "unable to create VM 105 - VM 105 already exists on node 'pve2'\n",
    );
  });

  it('refuses a storage that cannot hold images, and a missing ISO, changing nothing', async () => {
    const before = sim.sim.cluster.guests.size;
    // qemu-server PVE/API2/Qemu.pm $check_storage_access: a parameter error.
    const wrong = await sim.call('POST', '/nodes/pve1/qemu', { vmid: 151, scsi0: 'local:8' });
    expect(wrong.status).toBe(400);
    expect(wrong.body?.errors).toEqual({ storage: "storage 'local' does not support vm images" });
    const iso = await sim.call('POST', '/nodes/pve1/qemu', {
      vmid: 151,
      ide2: 'local:iso/nope.iso,media=cdrom',
    });
    expect(iso.body?.message).toBe("volume 'local:iso/nope.iso' does not exist\n");
    expect(sim.sim.cluster.guests.size).toBe(before);
  });

  it('creates a container from a template', async () => {
    await sim.task('POST', '/nodes/pve1/lxc', {
      vmid: 250,
      hostname: 'ct-new',
      ostemplate: 'local:vztmpl/alpine-3.20-default_20240908_amd64.tar.xz',
      rootfs: 'local-lvm:4',
      net0: 'name=eth0,bridge=vmbr0,ip=dhcp',
      start: 1,
    });
    const cfg = await config('pve1', 250, 'lxc');
    expect(cfg).toMatchObject({
      hostname: 'ct-new',
      ostype: 'alpine',
      rootfs: 'local-lvm:vm-250-disk-0,size=4G',
    });
    expect(cfg.net0).toMatch(/hwaddr=BC:24:11:/);
    expect(await sim.data('GET', '/nodes/pve1/lxc/250/status/current')).toMatchObject({
      status: 'running',
    });
  });
});

describe('config', () => {
  it('PUT applies at once; delete removes keys; a stale digest is refused', async () => {
    const before = await config('pve1', 150);
    await sim.data('PUT', '/nodes/pve1/qemu/150/config', {
      description: 'hello',
      onboot: 1,
      digest: String(before.digest),
    });
    const after = await config('pve1', 150);
    expect(after).toMatchObject({ description: 'hello', onboot: 1 });
    const stale = await sim.call('PUT', '/nodes/pve1/qemu/150/config', {
      description: 'again',
      digest: String(before.digest),
    });
    expect(stale.status).toBe(500);
    // qemu-server's own text; containers say pve-common's (see the LXC case below).
    expect(stale.body?.message).toBe('checksum mismatch (file change by other user?)\n');
    await sim.data('PUT', '/nodes/pve1/qemu/150/config', { delete: 'description,onboot' });
    const cleared = await config('pve1', 150);
    expect(cleared.description).toBeUndefined();
    expect(cleared.onboot).toBeUndefined();
  });

  it('POST config answers a qmconfig task', async () => {
    const res = await sim.task('POST', '/nodes/pve1/qemu/150/config', { tags: 'new' });
    expect(res.upid).toMatch(/:qmconfig:150:/);
    expect((await config('pve1', 150)).tags).toBe('new');
  });

  it('a running VM keeps cold changes pending until its next start', async () => {
    await sim.data('PUT', '/nodes/pve1/qemu/101/config', { cores: 8, description: 'live' });
    expect(await sim.data('GET', '/nodes/pve1/qemu/101/config', { current: 1 })).toMatchObject({
      cores: 2,
      description: 'live',
    });
    expect(await config('pve1', 101)).toMatchObject({ cores: 8 });
    const pending = await sim.data<{ key: string; value?: unknown; pending?: unknown }[]>(
      'GET',
      '/nodes/pve1/qemu/101/pending',
    );
    expect(pending.find((p) => p.key === 'cores')).toEqual({
      key: 'cores',
      value: '2',
      pending: '8',
    });
    await sim.task('POST', '/nodes/pve1/qemu/101/status/reboot');
    expect(await sim.data('GET', '/nodes/pve1/qemu/101/config', { current: 1 })).toMatchObject({
      cores: 8,
    });
  });

  it('a replaced disk stays as unused0', async () => {
    await sim.data('PUT', '/nodes/pve1/qemu/150/config', { scsi0: 'local-lvm:12' });
    const cfg = await config('pve1', 150);
    expect(cfg.scsi0).toBe('local-lvm:vm-150-disk-1,size=12G');
    expect(cfg.unused0).toBe('local-lvm:vm-150-disk-0');
  });
});

describe('resize', () => {
  it('grows a disk by +size or to a size; refuses shrinking inside the QEMU task', async () => {
    await sim.task('PUT', '/nodes/pve1/qemu/150/resize', { disk: 'scsi0', size: '+4G' });
    expect((await config('pve1', 150)).scsi0).toBe('local-lvm:vm-150-disk-1,size=16G');
    const shrink = await sim.task('PUT', '/nodes/pve1/qemu/150/resize', {
      disk: 'scsi0',
      size: '8G',
    });
    expect(shrink.exitstatus).toBe('shrinking disks is not supported');
  });

  it('LXC refuses before any task', async () => {
    const res = await sim.call('PUT', '/nodes/pve1/lxc/250/resize', { disk: 'rootfs', size: '2G' });
    expect(res.body?.message).toBe('unable to shrink disk size\n');
    const same = await sim.call('PUT', '/nodes/pve1/lxc/250/resize', {
      disk: 'rootfs',
      size: '4G',
    });
    expect(same.body?.message).toBe('disk is already at specified size\n');
  });
});

describe('clone and template', () => {
  it('clones a template linked by default: base volume as parent, lock clone on the new guest meanwhile', async () => {
    const upid = await sim.data<string>('POST', '/nodes/pve2/qemu/9000/clone', {
      newid: 160,
      name: 'linked-1',
    });
    expect(upid).toMatch(/:qmclone:9000:/);
    expect((await config('pve2', 160)).lock).toBe('clone');
    sim.sim.runTasks();
    const cfg = await config('pve2', 160);
    expect(cfg.lock).toBeUndefined();
    expect(cfg.scsi0).toMatch(/^local-lvm:base-9000-disk-0\/vm-160-disk-0,iothread=1,size=16G$/);
    expect(cfg.template).toBeUndefined();
    expect(cfg.net0).not.toBe((await config('pve2', 9000)).net0);
  });

  it('refuses a linked clone of a VM that is not a template, and a taken newid', async () => {
    const linked = await sim.call('POST', '/nodes/pve1/qemu/101/clone', { newid: 161, full: 0 });
    expect(linked.status).toBe(500);
    // qemu-server looks for the new config file on this node, the source's own included.
    const taken = await sim.call('POST', '/nodes/pve1/qemu/101/clone', { newid: 100 });
    expect(taken.body?.message).toBe('unable to create VM 100: config file already exists\n');
    const itself = await sim.call('POST', '/nodes/pve1/qemu/103/clone', { newid: 103 });
    expect(itself.body?.message).toBe('unable to create VM 103: config file already exists\n');
  });

  it('gives the smaller shapes as PVE does: backup format, snapshot digest, clone hostname, reboot refusals', async () => {
    await sim.task('POST', '/nodes/pve1/vzdump', {
      vmid: '103',
      storage: 'backup-nfs',
      compress: 'zstd',
    });
    const content = await sim.data<{ vmid?: number; format?: string; protected?: unknown }[]>(
      'GET',
      '/nodes/pve1/storage/backup-nfs/content',
      { vmid: 103 },
    );
    expect(content[0]).toMatchObject({ format: 'vma.zst' });
    expect(content[0]).not.toHaveProperty('protected');
    const snaps = await sim.data<{ name: string; digest?: string }[]>(
      'GET',
      '/nodes/pve1/qemu/102/snapshot',
    );
    const config = await sim.data<{ digest: string }>('GET', '/nodes/pve1/qemu/102/config');
    expect(snaps.find((x) => x.name === 'current')?.digest).toBe(config.digest);
    // pve-container clone_vm keeps the source's hostname unless one is given.
    await sim.task('POST', '/nodes/pve1/lxc/201/clone', { newid: 164 });
    expect(await sim.data('GET', '/nodes/pve1/lxc/164/config')).toMatchObject({
      hostname: 'ct-proxy',
    });
    expect((await sim.call('POST', '/nodes/pve1/lxc/201/status/reboot')).body?.message).toBe(
      'VM 201 not running\n',
    );
  });

  it('clones to another node only from shared storage, full clones too, checked before a task', async () => {
    // qemu-server PVE/API2/Qemu.pm clone_vm: every volume, a local ISO in a CD drive included, and
    // the target storage must be shared.
    // The target storage first: on this node, then shared.
    const missing = await sim.call('POST', '/nodes/pve1/qemu/103/clone', {
      newid: 163,
      full: 1,
      target: 'pve2',
      storage: 'tank',
    });
    expect(missing.body?.message).toBe("storage 'tank' is not available on node 'pve1'\n");
    const unshared = await sim.call('POST', '/nodes/pve1/qemu/103/clone', {
      newid: 163,
      full: 1,
      target: 'pve2',
      storage: 'local-lvm',
    });
    expect(unshared.body?.message).toBe("can't clone to non-shared storage 'local-lvm'\n");
    const across = await sim.call('POST', '/nodes/pve1/qemu/103/clone', {
      newid: 163,
      full: 1,
      target: 'pve2',
    });
    expect(across.status).toBe(500);
    expect(across.body?.message).toBe("can't clone VM to node 'pve2' (VM uses local storage)\n");
    // A plain die, not a parameter error (qemu-server and pve-container clone_vm).
    const linked = await sim.call('POST', '/nodes/pve2/qemu/9000/clone', {
      newid: 163,
      storage: 'tank',
    });
    expect(linked.status).toBe(500);
    expect(linked.body?.message).toBe("parameter 'storage' not allowed for linked clones\n");
    expect(sim.sim.cluster.guests.has(163)).toBe(false);
  });

  it('full-clones a VM onto another storage of its node and into a pool', async () => {
    await sim.task('POST', '/nodes/pve2/qemu/106/clone', {
      newid: 162,
      name: 'copy',
      full: 1,
      storage: 'tank',
      pool: 'development',
    });
    expect((await config('pve2', 162)).scsi0).toBe('tank:vm-162-disk-0,iothread=1,size=16G');
    const pool = await sim.data<{ members: { vmid?: number }[] }>('GET', '/pools/development');
    expect(pool.members.map((m) => m.vmid)).toContain(162);
  });

  it('converts to a template: disks renamed to base-; refused while running or with snapshots', async () => {
    await sim.task('POST', '/nodes/pve2/qemu/162/template');
    const cfg = await config('pve2', 162);
    expect(cfg.template).toBe(1);
    expect(cfg.scsi0).toBe('tank:base-162-disk-0,iothread=1,size=16G');
    expect((await sim.call('POST', '/nodes/pve2/qemu/162/template')).status).toBe(500);
    expect((await sim.call('POST', '/nodes/pve1/qemu/102/template')).status).toBe(500);
  });

  it('LXC template starts a task but answers null', async () => {
    await sim.task('POST', '/nodes/pve1/lxc/250/status/stop');
    const res = await sim.call('POST', '/nodes/pve1/lxc/250/template');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ data: null });
    sim.sim.runTasks();
    expect((await config('pve1', 250, 'lxc')).template).toBe(1);
  });
});

describe('migrate', () => {
  it('moves a stopped VM with its local disks, holding lock migrate', async () => {
    const upid = await sim.data<string>('POST', '/nodes/pve1/qemu/150/migrate', { target: 'pve2' });
    expect(upid).toMatch(/:qmigrate:150:/);
    expect((await config('pve1', 150)).lock).toBe('migrate');
    sim.sim.runTasks();
    expect((await config('pve2', 150)).lock).toBeUndefined();
    expect(
      (await volumes('pve2', 'local-lvm')).some((v) => v.volid === 'local-lvm:vm-150-disk-1'),
    ).toBe(true);
    const gone = await sim.call('GET', '/nodes/pve1/qemu/150/config');
    expect(gone.body?.message).toBe(
      "Configuration file 'nodes/pve1/qemu-server/150.conf' does not exist\n",
    );
  });

  it('fails a live migration with local disks inside its task', async () => {
    const run = await sim.task('POST', '/nodes/pve1/qemu/102/migrate', {
      target: 'pve2',
      online: 1,
    });
    expect(run.exitstatus).toBe('migration aborted');
    expect(run.log).toContain(
      "ERROR: can't migrate local disk 'local-lvm:vm-102-disk-0': can't live migrate attached local disks without with-local-disks option",
    );
    expect(sim.sim.cluster.guests.get(102)?.node).toBe('pve1');
  });

  it('refuses: a running VM without online, the local node, an offline target, a storage the target lacks', async () => {
    expect(
      (await sim.call('POST', '/nodes/pve1/qemu/102/migrate', { target: 'pve2' })).body?.message,
    ).toBe("can't migrate running VM without --online\n");
    const local = await sim.call('POST', '/nodes/pve1/qemu/103/migrate', { target: 'pve1' });
    expect(local.status).toBe(400);
    expect(local.body?.errors).toEqual({ target: 'target is local node.' });
    expect(
      (await sim.call('POST', '/nodes/pve1/qemu/103/migrate', { target: 'pve3' })).body?.message,
    ).toBe("target node 'pve3' is not online\n");
    expect(
      (await sim.call('POST', '/nodes/pve2/qemu/162/migrate', { target: 'pve1' })).body?.message,
    ).toBe("storage 'tank' is not available on node 'pve1'\n");
  });

  it('moves a running VM online when its disks may travel', async () => {
    const res = await sim.task('POST', '/nodes/pve1/qemu/102/migrate', {
      target: 'pve2',
      online: 1,
      'with-local-disks': 1,
    });
    expect(res.exitstatus).toBe('OK');
    expect(await sim.data('GET', '/nodes/pve2/qemu/102/status/current')).toMatchObject({
      status: 'running',
    });
  });
});

describe('delete', () => {
  it('refuses a running VM, a protected one, and an HA-managed one without purge', async () => {
    // VM 102 moved to pve2 in the migration test above.
    expect((await sim.call('DELETE', '/nodes/pve2/qemu/102')).body?.message).toBe(
      'VM 102 is running - destroy failed\n',
    );
    // HA is checked before the run state (Qemu.pm destroy_vm).
    expect((await sim.call('DELETE', '/nodes/pve1/qemu/101')).body?.message).toBe(
      'unable to remove VM 101 - used in HA resources and purge parameter not set.\n',
    );
    await sim.data('PUT', '/nodes/pve2/qemu/160/config', { protection: 1 });
    expect((await sim.call('DELETE', '/nodes/pve2/qemu/160')).body?.message).toBe(
      "can't remove VM 160 - protection mode enabled\n",
    );
    await sim.task('POST', '/nodes/pve1/qemu/101/status/stop');
    expect((await sim.call('DELETE', '/nodes/pve1/qemu/101')).body?.message).toBe(
      'unable to remove VM 101 - used in HA resources and purge parameter not set.\n',
    );
  });

  it('deletes with purge: guest, disks, pool membership and HA resource gone', async () => {
    const res = await sim.task('DELETE', '/nodes/pve1/qemu/101', { purge: 1 });
    expect(res.upid).toMatch(/:qmdestroy:101:/);
    expect((await sim.call('GET', '/nodes/pve1/qemu/101/status/current')).status).toBe(500);
    expect((await volumes('pve1', 'local-lvm')).some((v) => v.vmid === 101)).toBe(false);
    expect(
      (await sim.data<{ sid: string }[]>('GET', '/cluster/ha/resources')).map((r) => r.sid),
    ).toEqual(['vm:100']);
    const pool = await sim.data<{ members: { vmid?: number }[] }>('GET', '/pools/production');
    expect(pool.members.map((m) => m.vmid)).not.toContain(101);
    expect(sim.sim.counters.get('guest.delete')).toBe(1);
  });

  it('a running container is destroyed only with force', async () => {
    await sim.task('POST', '/nodes/pve2/lxc/202/status/start').catch(() => undefined);
    expect((await sim.call('DELETE', '/nodes/pve2/lxc/202')).body?.message).toBe(
      'unable to destroy CT 202 - container is running\n',
    );
    expect((await sim.task('DELETE', '/nodes/pve2/lxc/202', { force: 1 })).exitstatus).toBe('OK');
  });
});

describe('nextid', () => {
  it('answers the lowest free id as a string, and 400 for a taken one', async () => {
    const next = await sim.call('GET', '/cluster/nextid');
    // 101 was deleted above: the lowest free id again.
    expect(next.body).toEqual({ data: '101' });
    const taken = await sim.call('GET', '/cluster/nextid', { vmid: 100 });
    expect(taken.status).toBe(400);
    expect(taken.body).toEqual({
      data: null,
      message: 'Parameter verification failed.\n',
      errors: { vmid: 'VM 100 already exists' },
    });
    expect((await sim.call('GET', '/cluster/nextid', { vmid: 4000 })).body).toEqual({
      data: '4000',
    });
  });
});
