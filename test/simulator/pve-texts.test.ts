/**
 * Error texts and statuses as Proxmox VE's own code words them (qemu-server, pve-container,
 * pve-manager, pve-access-control, pve-storage, pve-ha-manager), each checked against the Perl.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSim, type TestSim } from '../helpers/sim.js';

let sim: TestSim;
beforeAll(async () => {
  sim = await startTestSim();
});
afterAll(() => sim.close());

const token = (user: string, id: string) =>
  `PVEAPIToken=${user}!${id}=${sim.sim.cluster.users.get(user)?.tokens.get(id)?.secret}`;
const message = async (method: string, path: string, params = {}, auth?: string) =>
  (await sim.call(method, path, params, auth ? { auth } : {})).body?.message;
const backupOf = async (vmid: number) =>
  (
    await sim.data<{ volid: string }[]>('GET', '/nodes/pve1/storage/backup-nfs/content', { vmid })
  )[0]?.volid ?? '';
/** Starts a snapshot task and leaves it running, so the guest holds lock `snapshot`. */
const lockBySnapshot = (node: string, type: string, vmid: number) =>
  sim.data('POST', `/nodes/${node}/${type}/${vmid}/snapshot`, { snapname: `held${vmid}` });

describe('power actions', () => {
  it('stop with overrule-shutdown is a parameter error for an HA guest', async () => {
    const res = await sim.call('POST', '/nodes/pve1/qemu/100/status/stop', {
      'overrule-shutdown': 1,
    });
    expect(res.status).toBe(400);
    expect(res.body?.errors).toEqual({ 'overrule-shutdown': 'Not applicable for HA resources.' });
  });

  it('a container reboot checks no lock and kills a container that ignores the shutdown', async () => {
    const ct = sim.sim.cluster.guests.get(200);
    if (!ct) throw new Error('no CT 200');
    ct.ignoreShutdown = true;
    const slow = await sim.task('POST', '/nodes/pve1/lxc/200/status/reboot', { timeout: 10 });
    expect(slow.exitstatus).toBe('OK');
    expect(ct.running).toBe(true);
    ct.ignoreShutdown = false;
    // The reboot itself passes the lock; the start after it is refused by the prestart hook.
    ct.config.lock = 'backup';
    const locked = await sim.task('POST', '/nodes/pve1/lxc/200/status/reboot');
    expect(locked.exitstatus).toBe(
      "command 'systemctl start pve-container@200' failed: exit code 1",
    );
    expect(ct.running).toBe(false);
    delete ct.config.lock;
    await sim.task('POST', '/nodes/pve1/lxc/200/status/start');
  });
});

describe('config updates', () => {
  it("a key both set and deleted, in PVE's own quoting", async () => {
    for (const path of ['/nodes/pve1/qemu/103/config', '/nodes/pve1/lxc/201/config']) {
      const res = await sim.call('PUT', path, { description: 'x', delete: 'description' });
      expect(res.status).toBe(400);
      expect(res.body?.errors).toEqual({
        delete: "you can't use '-description' and -delete description' at the same time",
      });
    }
  });

  it('a stale digest: qemu-server and pve-container word it differently', async () => {
    const stale = '0'.repeat(40);
    expect(
      await message('PUT', '/nodes/pve1/qemu/103/config', { description: 'x', digest: stale }),
    ).toBe('checksum mismatch (file change by other user?)\n');
    expect(
      await message('PUT', '/nodes/pve1/lxc/201/config', { description: 'x', digest: stale }),
    ).toBe('detected modified configuration - file changed by other user? Try again.\n');
  });

  it('a storage without the content: a parameter error for VMs, its own words for containers', async () => {
    const vm = await sim.call('PUT', '/nodes/pve1/qemu/103/config', { scsi1: 'local:8' });
    expect(vm.status).toBe(400);
    expect(vm.body?.errors).toEqual({ storage: "storage 'local' does not support vm images" });
    expect(await message('PUT', '/nodes/pve1/lxc/201/config', { mp0: 'local:4,mp=/data' })).toBe(
      "storage 'local' does not allow content type 'rootdir' (Container)\n",
    );
  });

  it('a storage restricted to other nodes is not available on this one', async () => {
    expect(await message('POST', '/nodes/pve1/qemu', { vmid: 180, scsi0: 'tank:8' })).toBe(
      "storage 'tank' is not available on node 'pve1'\n",
    );
    expect(await message('GET', '/nodes/pve1/storage/tank/content')).toBe(
      "storage 'tank' is not available on node 'pve1'\n",
    );
  });
});

describe('create and restore', () => {
  it('refuses without VM.Allocate naming nothing, and a missing pool first, as a 403', async () => {
    const alice = token('alice@pve', 'automation');
    const denied = await sim.call('POST', '/nodes/pve1/qemu', { vmid: 180 }, { auth: alice });
    expect(denied.status).toBe(403);
    expect(denied.body?.message).toBe('Permission check failed\n');
    const restore = await sim.call(
      'POST',
      '/nodes/pve1/qemu',
      { vmid: 180, archive: await backupOf(100) },
      { auth: alice },
    );
    expect(restore.status).toBe(403);
    expect(restore.body?.message).toBe('Permission check failed\n');
    const pool = "Permission check failed (pool 'nope' does not exist)\n";
    const noPool = await sim.call('POST', '/nodes/pve1/qemu', { vmid: 180, pool: 'nope' });
    expect(noPool.status).toBe(403);
    expect(noPool.body?.message).toBe(pool);
    expect(await message('POST', '/nodes/pve1/qemu', { vmid: 180, pool: 'nope' }, alice)).toBe(
      pool,
    );
    expect(
      await message('POST', '/nodes/pve1/qemu', {
        vmid: 180,
        archive: await backupOf(100),
        pool: 'nope',
      }),
    ).toBe(pool);
    expect(await message('POST', '/nodes/pve1/qemu/103/clone', { newid: 180, pool: 'nope' })).toBe(
      pool,
    );
  });

  it('a container on a taken vmid names the guest that has it, before the permission check', async () => {
    const template = 'local:vztmpl/alpine-3.20-default_20240908_amd64.tar.xz';
    const alice = token('alice@pve', 'automation');
    expect(
      await message('POST', '/nodes/pve1/lxc', { vmid: 100, ostemplate: template }, alice),
    ).toBe("VM 100 already exists on node 'pve1'\n");
    expect(await message('POST', '/nodes/pve1/lxc', { vmid: 202, ostemplate: template })).toBe(
      "CT 202 already exists on node 'pve2'\n",
    );
    const ct = await backupOf(200);
    // Restore over a VM, or over a container of another node, even with force.
    expect(
      await message('POST', '/nodes/pve1/lxc', {
        vmid: 100,
        ostemplate: ct,
        restore: 1,
        force: 1,
      }),
    ).toBe("VM 100 already exists on node 'pve1'\n");
    expect(
      await message('POST', '/nodes/pve1/lxc', {
        vmid: 202,
        ostemplate: ct,
        restore: 1,
        force: 1,
        storage: 'local-lvm',
      }),
    ).toBe("CT 202 already exists on node 'pve2'\n");
  });

  it("a container's rootfs on a storage without container volumes is a parameter error", async () => {
    const res = await sim.call('POST', '/nodes/pve1/lxc', {
      vmid: 280,
      ostemplate: 'local:vztmpl/alpine-3.20-default_20240908_amd64.tar.xz',
      rootfs: 'local:4',
    });
    expect(res.status).toBe(400);
    expect(res.body?.errors).toEqual({
      storage: "storage 'local' does not support container directories",
    });
  });

  it('restore over a running container is refused before a task; over a locked guest, prefixed', async () => {
    const ct = await backupOf(200);
    expect(
      await message('POST', '/nodes/pve1/lxc', {
        vmid: 200,
        ostemplate: ct,
        restore: 1,
        force: 1,
        storage: 'local-lvm',
      }),
    ).toBe("can't overwrite running container\n");
    await lockBySnapshot('pve1', 'lxc', 201);
    expect(
      await message('POST', '/nodes/pve1/lxc', {
        vmid: 201,
        ostemplate: ct,
        restore: 1,
        force: 1,
        storage: 'local-lvm',
      }),
    ).toBe('unable to restore CT 201 - CT is locked (snapshot)\n');
    await lockBySnapshot('pve1', 'qemu', 103);
    expect(
      await message('POST', '/nodes/pve1/qemu', {
        vmid: 103,
        archive: await backupOf(100),
        force: 1,
      }),
    ).toBe('unable to restore VM 103 - VM is locked (snapshot)\n');
    // The template conversion checks the lock first too.
    expect(await message('POST', '/nodes/pve1/qemu/103/template')).toBe(
      'VM is locked (snapshot)\n',
    );
    sim.sim.runTasks();
  });
});

describe('destroy, clone, migrate, template', () => {
  it('container clones: a taken newid (itself included), a running source, a storage elsewhere', async () => {
    expect(await message('POST', '/nodes/pve1/lxc/201/clone', { newid: 100 })).toBe(
      "VM 100 already exists on node 'pve1'\n",
    );
    expect(await message('POST', '/nodes/pve1/lxc/201/clone', { newid: 201 })).toBe(
      "CT 201 already exists on node 'pve1'\n",
    );
    expect(await message('POST', '/nodes/pve1/lxc/200/clone', { newid: 300 })).toBe(
      'Full clone of a running container is only possible from a snapshot\n',
    );
    expect(
      await message('POST', '/nodes/pve1/lxc/201/clone', {
        newid: 300,
        target: 'pve2',
        storage: 'local-lvm',
      }),
    ).toBe("can't clone to non-shared storage 'local-lvm'\n");
  });

  it("a VM clone onto a container's vmid fails in its task, when the config is written", async () => {
    const run = await sim.task('POST', '/nodes/pve1/qemu/103/clone', { newid: 200 });
    expect(run.upid).toMatch(/:qmclone:103:/);
    expect(run.exitstatus).toBe(
      "close (rename) atomic file '/etc/pve/nodes/pve1/qemu-server/200.conf' failed: File exists",
    );
    expect(sim.sim.cluster.guests.get(200)?.type).toBe('lxc');
  });

  it('template conversion: snapshots, then already a template, then running', async () => {
    expect(await message('POST', '/nodes/pve1/qemu/102/template')).toBe(
      'unable to create template, because VM contains snapshots\n',
    );
    expect(await message('POST', '/nodes/pve2/lxc/202/template')).toBe(
      'unable to create template, because CT contains snapshots\n',
    );
    expect(await message('POST', '/nodes/pve2/qemu/9000/template')).toBe(
      "you can't convert a template to a template\n",
    );
    expect(await message('POST', '/nodes/pve1/qemu/100/template')).toBe(
      "you can't convert a VM to template if VM is running\n",
    );
    expect(await message('POST', '/nodes/pve1/lxc/200/template')).toBe(
      "you can't convert a CT to template if the CT is running\n",
    );
  });

  it('a container template: it cannot start, and a linked clone takes no storage', async () => {
    await sim.call('DELETE', '/nodes/pve1/lxc/201/snapshot/held201');
    sim.sim.runTasks();
    await sim.call('POST', '/nodes/pve1/lxc/201/template');
    sim.sim.runTasks();
    expect((await sim.task('POST', '/nodes/pve1/lxc/201/status/start')).exitstatus).toBe(
      "you can't start a CT if it's a template",
    );
    const linked = await sim.call('POST', '/nodes/pve1/lxc/201/clone', {
      newid: 300,
      storage: 'local-lvm',
    });
    expect(linked.status).toBe(500);
    expect(linked.body?.message).toBe("parameter 'storage' not allowed for linked clones\n");
  });

  it('a running container migrates only online or with restart', async () => {
    expect(await message('POST', '/nodes/pve1/lxc/200/migrate', { target: 'pve2' })).toBe(
      "can't migrate running container without --online or --restart\n",
    );
  });
});

describe('snapshots', () => {
  it('reserved names: current and pending (any case) for VMs, current and vzdump for containers', async () => {
    const reserved = (name: string) => `unable to use snapshot name '${name}' (reserved name)\n`;
    expect(await message('POST', '/nodes/pve1/qemu/103/snapshot', { snapname: 'current' })).toBe(
      reserved('current'),
    );
    expect(await message('POST', '/nodes/pve1/qemu/103/snapshot', { snapname: 'Pending' })).toBe(
      reserved('pending'),
    );
    expect(await message('POST', '/nodes/pve1/lxc/200/snapshot', { snapname: 'current' })).toBe(
      reserved('current'),
    );
    expect(await message('POST', '/nodes/pve1/lxc/200/snapshot', { snapname: 'vzdump' })).toBe(
      reserved('vzdump'),
    );
    const pending = await sim.task('POST', '/nodes/pve1/lxc/200/snapshot', { snapname: 'pending' });
    expect(pending.exitstatus).toBe('OK');
  });
});

describe('backup', () => {
  it('vzdump: stdout only on the command line, and something to back up', async () => {
    const stdout = await sim.call('POST', '/nodes/pve1/vzdump', { vmid: '103', stdout: 1 });
    expect(stdout.status).toBe(400);
    expect(stdout.body?.errors).toEqual({
      stdout: 'option is only allowed on the command line interface.',
    });
    const none = await sim.call('POST', '/nodes/pve1/vzdump', { storage: 'backup-nfs' });
    expect(none.status).toBe(400);
    expect(none.body?.errors).toEqual({ vmid: 'property is missing' });
  });
});

describe('agent', () => {
  it("an unknown exec pid is the agent's error on the qga command", async () => {
    expect(await message('GET', '/nodes/pve1/qemu/100/agent/exec-status', { pid: 4242 })).toBe(
      "VM 100 qga command 'guest-exec-status' failed - Invalid parameter 'pid'\n",
    );
  });

  it('a disabled agent is configured but not running', async () => {
    await sim.data('PUT', '/nodes/pve1/qemu/103/config', { agent: '0' });
    expect(await message('POST', '/nodes/pve1/qemu/103/agent/ping')).toBe(
      'VM 103 is not running\n',
    );
    await sim.task('POST', '/nodes/pve1/qemu/103/status/start');
    expect(await message('POST', '/nodes/pve1/qemu/103/agent/ping')).toBe(
      'QEMU guest agent is not running\n',
    );
  });
});

describe('HA and access', () => {
  it('a bare vmid names the VM or container that has it', async () => {
    expect(await sim.data('GET', '/cluster/ha/resources/100')).toMatchObject({ sid: 'vm:100' });
    expect(await message('GET', '/cluster/ha/resources/200')).toBe("no such resource 'ct:200'\n");
    expect(await message('GET', '/cluster/ha/resources/999')).toBe(
      'unable to detect SID from VMID - VM/CT 999 does not exist\n',
    );
  });

  it('the permissions of an unknown user or token are empty, not an error', async () => {
    expect(await sim.data('GET', '/access/permissions', { userid: 'nobody@pve' })).toEqual({});
    expect(
      await sim.data('GET', '/access/permissions', { userid: 'nobody@pve', path: '/vms' }),
    ).toEqual({ '/vms': {} });
    expect(await sim.data('GET', '/access/permissions', { userid: 'alice@pve!nope' })).toEqual({});
  });
});
