/**
 * Which checks PVE makes before forking a task (an HTTP error) and which inside the worker (a task
 * that fails), and errors PVE raises that the simulator once did not, each read from Proxmox's
 * Perl: qemu-server, pve-container, pve-guest-common, pve-storage, pve-manager, pve-common.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSim, type TestSim } from '../helpers/sim.js';

let sim: TestSim;
beforeAll(async () => {
  sim = await startTestSim();
});
afterAll(() => sim.close());

const guest = (vmid: number) => {
  const g = sim.sim.cluster.guests.get(vmid);
  if (!g) throw new Error(`no guest ${vmid}`);
  return g;
};
/** Runs a task-returning call that must answer a UPID, and returns the task's end. */
const task = (method: string, path: string, params = {}) => sim.task(method, path, params);
const refusal = async (method: string, path: string, params = {}) => {
  const res = await sim.call(method, path, params);
  return { status: res.status, message: res.body?.message, errors: res.body?.errors };
};
/** Sets a lock for the length of `fn`. */
async function locked<T>(vmid: number, lock: string, fn: () => Promise<T>): Promise<T> {
  guest(vmid).config.lock = lock;
  try {
    return await fn();
  } finally {
    delete guest(vmid).config.lock;
  }
}

describe('snapshots: the worker checks (pve-guest-common PVE/AbstractConfig.pm)', () => {
  it('create: lock, then a name in use, then a template, in the task', async () => {
    const busy = await locked(103, 'backup', () =>
      task('POST', '/nodes/pve1/qemu/103/snapshot', { snapname: 'x1' }),
    );
    expect(busy.exitstatus).toBe('VM is locked (backup)');
    expect(guest(103).snapshots.has('x1')).toBe(false);
    const used = await task('POST', '/nodes/pve1/qemu/102/snapshot', {
      snapname: 'before-upgrade',
    });
    expect(used.exitstatus).toBe("snapshot name 'before-upgrade' already used");
    const ct = await locked(201, 'mounted', () =>
      task('POST', '/nodes/pve1/lxc/201/snapshot', { snapname: 'x1' }),
    );
    expect(ct.exitstatus).toBe('CT is locked (mounted)');
    const template = await task('POST', '/nodes/pve2/qemu/9000/snapshot', { snapname: 'x1' });
    expect(template.exitstatus).toBe("you can't take a snapshot if it's a template");
  });

  it('create for a missing guest: qemu-server reads the config before forking, pve-container in it', async () => {
    expect(await refusal('POST', '/nodes/pve1/qemu/999/snapshot', { snapname: 'x' })).toEqual({
      status: 500,
      message: "Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist\n",
      errors: undefined,
    });
    const ct = await task('POST', '/nodes/pve1/lxc/999/snapshot', { snapname: 'x' });
    expect(ct.upid).toMatch(/:vzsnapshot:999:/);
    expect(ct.exitstatus).toBe("Configuration file 'nodes/pve1/lxc/999.conf' does not exist");
  });

  it('rollback: guest, snapshot and lock, all in the task', async () => {
    const missing = await task('POST', '/nodes/pve1/qemu/102/snapshot/nope/rollback');
    expect(missing.exitstatus).toBe("snapshot 'nope' does not exist");
    const busy = await locked(102, 'backup', () =>
      task('POST', '/nodes/pve1/qemu/102/snapshot/before-upgrade/rollback'),
    );
    expect(busy.exitstatus).toBe('VM is locked (backup)');
    expect(guest(102).running).toBe(true);
    const gone = await task('POST', '/nodes/pve1/qemu/999/snapshot/x/rollback');
    expect(gone.exitstatus).toBe(
      "Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist",
    );
    const ct = await task('POST', '/nodes/pve1/lxc/999/snapshot/x/rollback');
    expect(ct.exitstatus).toBe("Configuration file 'nodes/pve1/lxc/999.conf' does not exist");
  });

  it('delete: a locked guest fails in the task even with force; a missing guest too', async () => {
    const forced = await locked(102, 'backup', () =>
      task('DELETE', '/nodes/pve1/qemu/102/snapshot/before-upgrade', { force: 1 }),
    );
    expect(forced.exitstatus).toBe('VM is locked (backup)');
    expect(guest(102).snapshots.get('before-upgrade')?.snapstate).toBeUndefined();
    const gone = await task('DELETE', '/nodes/pve1/lxc/999/snapshot/x');
    expect(gone.exitstatus).toBe("Configuration file 'nodes/pve1/lxc/999.conf' does not exist");
  });

  it('snapshot config: nothing to do without a description; a locked guest refused', async () => {
    expect(await sim.data('PUT', '/nodes/pve1/qemu/999/snapshot/x/config')).toBeNull();
    for (const [type, vmid, label] of [
      ['qemu', 102, 'VM'],
      ['lxc', 202, 'CT'],
    ] as const) {
      const node = type === 'qemu' ? 'pve1' : 'pve2';
      const snap = type === 'qemu' ? 'before-upgrade' : 'pre-grafana-11';
      const res = await locked(vmid, 'backup', () =>
        refusal('PUT', `/nodes/${node}/${type}/${vmid}/snapshot/${snap}/config`, {
          description: 'x',
        }),
      );
      expect(res).toMatchObject({ status: 500, message: `${label} is locked (backup)\n` });
    }
  });

  it("a container's snapshot list carries the digest too", async () => {
    const list = await sim.data<{ name: string; digest?: string }[]>(
      'GET',
      '/nodes/pve2/lxc/202/snapshot',
    );
    const config = await sim.data<{ digest: string }>('GET', '/nodes/pve2/lxc/202/config');
    expect(list.find((s) => s.name === 'current')?.digest).toBe(config.digest);
  });
});

describe('resize', () => {
  it('QEMU checks everything in the task (qemu-server resize_vm)', async () => {
    const stale = await task('PUT', '/nodes/pve1/qemu/103/resize', {
      disk: 'scsi0',
      size: '+1G',
      digest: '0'.repeat(40),
    });
    expect(stale.exitstatus).toBe('checksum mismatch (file change by other user?)');
    const busy = await locked(103, 'backup', () =>
      task('PUT', '/nodes/pve1/qemu/103/resize', { disk: 'scsi0', size: '+1G' }),
    );
    expect(busy.exitstatus).toBe('VM is locked (backup)');
    const gone = await task('PUT', '/nodes/pve1/qemu/999/resize', { disk: 'scsi0', size: '+1G' });
    expect(gone.exitstatus).toBe(
      "Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist",
    );
    const cdrom = await task('PUT', '/nodes/pve1/qemu/103/resize', { disk: 'ide2', size: '+1G' });
    expect(cdrom.exitstatus).toBe("you can't resize a cdrom");
  });

  it("LXC checks before its task: lock, digest, and a missing mount point's format error", async () => {
    const busy = await locked(201, 'backup', () =>
      refusal('PUT', '/nodes/pve1/lxc/201/resize', {
        disk: 'rootfs',
        size: '+1G',
        digest: '0'.repeat(40),
      }),
    );
    expect(busy).toMatchObject({ status: 500, message: 'CT is locked (backup)\n' });
    // parse_volume of an empty string: pve-common PVE/JSONSchema.pm parse_property_string.
    expect(await refusal('PUT', '/nodes/pve1/lxc/201/resize', { disk: 'mp3', size: '1G' })).toEqual(
      {
        status: 500,
        message: 'format error\n',
        errors: {
          volume: 'property is missing and it is not optional',
          mp: 'property is missing and it is not optional',
        },
      },
    );
  });
});

describe('a power action on a guest this node does not have', () => {
  it('answers as each handler meets it', async () => {
    const unknown = "unable to find configuration file for VM 999 on node 'pve1'";
    for (const action of ['reset', 'reboot', 'suspend', 'resume'])
      expect(await refusal('POST', `/nodes/pve1/qemu/999/status/${action}`)).toMatchObject({
        status: 500,
        message: `${unknown}\n`,
      });
    for (const action of ['stop', 'shutdown'])
      expect((await task('POST', `/nodes/pve1/qemu/999/status/${action}`)).exitstatus).toBe(
        unknown,
      );
    // VM 202 is a container: this node has no VM config of that id.
    expect((await refusal('POST', '/nodes/pve2/qemu/202/status/reset')).message).toBe(
      "unable to find configuration file for VM 202 on node 'pve2'\n",
    );
    expect((await task('POST', '/nodes/pve1/lxc/999/status/start')).exitstatus).toBe(
      "Configuration file 'nodes/pve1/lxc/999.conf' does not exist",
    );
    for (const action of ['stop', 'shutdown', 'suspend'])
      expect((await refusal('POST', `/nodes/pve1/lxc/999/status/${action}`)).message).toBe(
        'CT 999 not running\n',
      );
    expect((await refusal('POST', '/nodes/pve1/lxc/999/status/reboot')).message).toBe(
      'VM 999 not running\n',
    );
  });
});

describe('locks on stopped guests', () => {
  it('stopping or shutting down a stopped VM ends OK without looking at its lock', async () => {
    await locked(103, 'backup', async () => {
      for (const action of ['stop', 'shutdown'])
        expect((await task('POST', `/nodes/pve1/qemu/103/status/${action}`)).exitstatus).toBe('OK');
    });
  });

  it("a container's resume checks no lock (pve-container PVE/API2/LXC/Status.pm)", async () => {
    const ct = guest(201);
    ct.checkpoint = true;
    const resumed = await locked(201, 'backup', () =>
      task('POST', '/nodes/pve1/lxc/201/status/resume'),
    );
    expect(resumed.exitstatus).toBe('OK');
    expect(ct.running).toBe(true);
    await task('POST', '/nodes/pve1/lxc/201/status/stop');
  });
});

describe('destroy', () => {
  it('a locked container is refused before the task, after protection', async () => {
    const ct = guest(201);
    ct.config.protection = '1';
    const both = await locked(201, 'backup', () => refusal('DELETE', '/nodes/pve1/lxc/201'));
    expect(both.message).toBe("can't remove CT 201 - protection mode enabled\n");
    delete ct.config.protection;
    const busy = await locked(201, 'backup', () => refusal('DELETE', '/nodes/pve1/lxc/201'));
    expect(busy).toMatchObject({ status: 500, message: 'CT is locked (backup)\n' });
  });
});

describe('container migration (pve-container PVE/LXC/Migrate.pm prepare)', () => {
  it('lock, online mode and storages fail the vzmigrate task with migration aborted', async () => {
    const busy = await locked(201, 'backup', () =>
      task('POST', '/nodes/pve1/lxc/201/migrate', { target: 'pve2' }),
    );
    expect(busy.upid).toMatch(/:vzmigrate:201:/);
    expect(busy.exitstatus).toBe('migration aborted');
    expect(busy.log).toContain(
      'ERROR: migration aborted (duration 00:00:00): CT is locked (backup)',
    );
    expect(guest(201).node).toBe('pve1');
    const online = await task('POST', '/nodes/pve1/lxc/200/migrate', {
      target: 'pve2',
      online: 1,
    });
    expect(online.exitstatus).toBe('migration aborted');
    expect(online.log).toContain(
      'ERROR: migration aborted (duration 00:00:00): lxc live migration is currently not implemented',
    );
    const ct = guest(202);
    ct.config.mp0 = 'tank:subvol-202-disk-1,mp=/data,size=8G';
    const storage = await task('POST', '/nodes/pve2/lxc/202/migrate', {
      target: 'pve1',
      restart: 1,
    });
    delete ct.config.mp0;
    expect(storage.log).toContain(
      "ERROR: migration aborted (duration 00:00:00): storage 'tank' is not available on node 'pve1'",
    );
    expect(ct.node).toBe('pve2');
  });
});

describe('restore and create from archives', () => {
  const lxcBackup = 'backup-nfs:backup/vzdump-lxc-200-2026_11_20-01_12_09.tar.zst';
  const vmBackup = 'backup-nfs:backup/vzdump-qemu-100-2026_11_20-01_00_03.vma.zst';

  it('an archive of the wrong kind: the content type before the task, the file inside it', async () => {
    expect(
      (
        await refusal('POST', '/nodes/pve1/qemu', {
          vmid: 150,
          archive: 'local:iso/virtio-win-0.1.266.iso',
        })
      ).message,
    ).toBe(
      "unable to use volume local:iso/virtio-win-0.1.266.iso - content type needs to be 'backup'\n",
    );
    // qemu-server PVE/QemuServer.pm restore_tar_archive.
    const vm = await task('POST', '/nodes/pve1/qemu', { vmid: 150, archive: lxcBackup });
    expect(vm.exitstatus).toBe(
      "ERROR: file '/mnt/pve/backup-nfs/dump/vzdump-lxc-200-2026_11_20-01_12_09.tar.zst' does not look like a QemuServer vzdump backup",
    );
    expect(sim.sim.cluster.guests.has(150)).toBe(false);
    // pve-container recover_config, pve-storage extract_vzdump_config_tar.
    const ct = await task('POST', '/nodes/pve1/lxc', {
      vmid: 150,
      ostemplate: vmBackup,
      restore: 1,
      storage: 'local-lvm',
    });
    expect(ct.exitstatus).toBe(
      'unable to restore CT 150 - ERROR: archive contains no configuration file',
    );
    expect(ct.log[0]).toBe(`recovering backed-up configuration from '${vmBackup}'`);
    expect(sim.sim.cluster.guests.has(150)).toBe(false);
  });

  it('a missing archive: qemu-server refuses before its task, pve-container fails in it', async () => {
    const gone = 'backup-nfs:backup/vzdump-lxc-200-2020_01_01-00_00_00.tar.zst';
    expect((await refusal('POST', '/nodes/pve1/qemu', { vmid: 150, archive: gone })).message).toBe(
      `volume '${gone}' does not exist\n`,
    );
    const ct = await task('POST', '/nodes/pve1/lxc', {
      vmid: 150,
      ostemplate: gone,
      restore: 1,
      storage: 'local-lvm',
    });
    expect(ct.exitstatus).toBe(`unable to restore CT 150 - volume '${gone}' does not exist`);
  });

  it('a container from a template: its type before the task, the file inside it', async () => {
    expect(
      (
        await refusal('POST', '/nodes/pve1/lxc', {
          vmid: 150,
          ostemplate: 'local:iso/debian-12.8.0-amd64-netinst.iso',
        })
      ).message,
    ).toBe(
      "unable to use volume local:iso/debian-12.8.0-amd64-netinst.iso - content type needs to be 'vztmpl'\n",
    );
    const volumes = sim.sim.cluster.volumes.size;
    const missing = await task('POST', '/nodes/pve1/lxc', {
      vmid: 150,
      ostemplate: 'local:vztmpl/nope.tar.zst',
      rootfs: 'local-lvm:4',
    });
    expect(missing.exitstatus).toBe(
      "unable to create CT 150 - volume 'local:vztmpl/nope.tar.zst' does not exist",
    );
    expect(sim.sim.cluster.guests.has(150)).toBe(false);
    expect(sim.sim.cluster.volumes.size).toBe(volumes);
  });
});

describe('linked clones of a non-template, volume by volume', () => {
  it('refused before the task in each kind of words', async () => {
    expect(
      (await refusal('POST', '/nodes/pve1/qemu/103/clone', { newid: 150, full: 0 })).message,
    ).toBe("Linked clone feature is not supported for 'local-lvm:vm-103-disk-0' (scsi0)\n");
    expect(
      (await refusal('POST', '/nodes/pve1/lxc/201/clone', { newid: 150, full: 0 })).message,
    ).toBe("Linked clone feature for 'local-lvm:vm-201-disk-0' is not available\n");
  });

  it('LVM-thin clones a snapshot linked, template or not', async () => {
    const clone = await task('POST', '/nodes/pve1/qemu/102/clone', {
      newid: 151,
      full: 0,
      snapname: 'before-upgrade',
    });
    expect(clone.exitstatus).toBe('OK');
    expect(guest(151).config.scsi0).toMatch(/^local-lvm:vm-151-disk-0,/);
    await task('DELETE', '/nodes/pve1/qemu/151');
  });
});

describe('task endpoints (pve-manager PVE/API2/Tasks.pm)', () => {
  it('a UPID that does not parse, and one whose task file is missing', async () => {
    for (const [method, suffix] of [
      ['GET', '/status'],
      ['GET', '/log'],
      ['DELETE', ''],
    ] as const) {
      const res = await sim.call(method, `/nodes/pve1/tasks/not-a-upid${suffix}`);
      expect(res.status).toBe(400);
      expect(res.body?.errors).toEqual({ upid: 'unable to parse worker upid' });
    }
    const upid = 'UPID:pve1:0000ABCD:0000ABCD:6900ABCD:qmstart:100:root@pam:';
    const status = await sim.call('GET', `/nodes/pve1/tasks/${encodeURIComponent(upid)}/status`);
    expect(status.body?.errors).toEqual({ upid: 'no such task' });
    // The log is read without looking for the file first (pve-common PVE/Tools.pm dump_logfile).
    const log = await sim.call('GET', `/nodes/pve1/tasks/${encodeURIComponent(upid)}/log`);
    expect(log.status).toBe(200);
    expect(log.body).toEqual({
      data: [{ n: 1, t: 'unable to open file - No such file or directory' }],
      total: 1,
    });
  });
});
