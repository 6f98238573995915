import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type McpHarness, startHarness } from '../helpers/mcp.js';

let h: McpHarness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());

describe('core tools, read', () => {
  it('test_connection', async () => {
    const r = await h.call('proxmox_test_connection');
    expect(r.isError).toBeFalsy();
    expect(r.text).toBe(
      "Connected to cluster 'demo' running Proxmox VE 9.1.3: 2 of 3 node(s) online.",
    );
    expect(r.structured).toEqual({
      cluster: 'default',
      clusterName: 'demo',
      version: '9.1.3',
      nodes: 3,
      nodesOnline: 2,
    });
  });

  it('list_vms filters, pages and stays compact', async () => {
    const all = await h.call('proxmox_list_vms');
    expect(((all.structured?.items ?? []) as { vmid: number }[]).map((r) => r.vmid)).toEqual([
      100, 101, 102, 103, 104, 105, 106, 107, 9000,
    ]);
    const lines = all.text.split('\n');
    expect(lines[0]).toMatch(/^VMID +NAME +NODE +STATUS +CPU +MEM$/);
    expect(lines[1]).toMatch(/^100 +web-01 +pve1 +running +\d/);
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

  it('shows the demo history: failed tasks from before the server started', async () => {
    const r = await h.call('proxmox_list_tasks', { state: 'failed' });
    expect(r.isError, r.text).toBeFalsy();
    expect(r.text).toMatch(/qmstart/);
    expect(r.text).toMatch(/vzdump/);
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

  it('cluster status, nodes, node status, version', async () => {
    const c = await h.call('proxmox_get_cluster_status');
    expect(c.structured).toMatchObject({
      name: 'demo',
      quorate: true,
      guests: { running: 8, templates: 1 },
    });
    expect(c.text).toMatch(/2\/3 nodes online \(offline: pve3\)/);
    const nodes = await h.call('proxmox_list_nodes');
    expect(nodes.text.split('\n')).toHaveLength(4);
    const ns = await h.call('proxmox_get_node_status', { node: 'pve1' });
    expect(ns.structured).toMatchObject({
      node: 'pve1',
      cpus: 16,
      pveversion: expect.stringMatching(/^pve-manager\/9\.1\.3/),
    });
    const offline = await h.call('proxmox_get_node_status', { node: 'pve3' });
    expect(offline.isError).toBe(true);
    expect(offline.text).toMatch(/offline or unreachable/);
    // An unknown name is not an offline node (PVE: 500, hostname lookup failed).
    const unknown = await h.call('proxmox_get_node_status', { node: 'pve9' });
    expect(unknown.text).toBe(
      "There is no node named 'pve9' in cluster 'default'. List the nodes with proxmox_list_nodes.",
    );
    expect((await h.call('proxmox_get_version')).structured).toMatchObject({ version: '9.1.3' });
  });

  it('storage list, usage and content', async () => {
    const list = await h.call('proxmox_list_storage');
    expect(
      ((list.structured?.storages ?? []) as { storage: string; node: string }[]).filter(
        (s) => s.storage === 'backup-nfs',
      ),
    ).toEqual([expect.objectContaining({ node: 'shared' })]);
    const usage = await h.call('proxmox_get_storage_usage', { storage: 'local-lvm', node: 'pve1' });
    expect(usage.text).toMatch(/^local-lvm on pve1: .* used of 1.8T \(\d+%\), .* free$/);
    const isos = await h.call('proxmox_list_storage_content', {
      storage: 'local',
      node: 'pve1',
      content: 'iso',
    });
    expect(isos.structured?.total).toBe(4);
    const backups = await h.call('proxmox_list_storage_content', {
      storage: 'backup-nfs',
      vmid: 100,
    });
    expect(backups.structured?.total).toBe(2);
    const ambiguous = await h.call('proxmox_list_storage_content', { storage: 'local' });
    expect(ambiguous.isError).toBe(true);
    expect(ambiguous.text).toMatch(/local to each of .*name the node/);
  });

  it('list_snapshots prints the tree and where the current state is', async () => {
    const r = await h.call('proxmox_list_snapshots', { vmid: 102 });
    expect(r.text.split('\n')).toEqual([
      expect.stringMatching(/^before-upgrade /),
      expect.stringMatching(/^ {2}after-upgrade /),
    ]);
    expect(r.structured).toMatchObject({
      vmid: 102,
      snapshots: [{ name: 'before-upgrade' }, { name: 'after-upgrade', parent: 'before-upgrade' }],
    });
    // A snapshot a task is still deleting is marked so.
    const snap = h.sim.sim.cluster.guests.get(102)?.snapshots.get('after-upgrade');
    if (!snap) throw new Error('no snapshot');
    snap.snapstate = 'delete';
    try {
      const busy = await h.call('proxmox_list_snapshots', { vmid: 102 });
      expect(busy.text).toMatch(/after-upgrade .*\(being deleted\)/);
      expect(busy.structured?.snapshots).toContainEqual(
        expect.objectContaining({ name: 'after-upgrade', snapstate: 'delete' }),
      );
    } finally {
      delete snap.snapstate;
    }
  });
});

describe('core tools, changes', () => {
  it('starts a VM, waits, and streams progress', async () => {
    const progress: string[] = [];
    const r = await h.call(
      'proxmox_start_vm',
      { vmid: 103 },
      { onprogress: (p) => progress.push(p.message ?? '') },
    );
    expect(r.isError).toBeFalsy();
    expect(r.structured).toMatchObject({
      vmid: 103,
      node: 'pve1',
      action: 'start',
      status: 'completed',
      exitstatus: 'OK',
    });
    expect(r.structured?.upid).toMatch(
      /^UPID:pve1:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:qmstart:103:root@pam!simulator:$/,
    );
    expect(r.text).toMatch(/^Start VM 103 \(win-app\) on pve1: done in \d+\.\ds\.$/);
    expect(progress[0]).toBe('Start VM 103 (win-app) on pve1: task qmstart started');
    expect(progress).toContain('TASK OK');
    const again = await h.call('proxmox_start_vm', { vmid: 103 });
    expect(again.text).toMatch(/already running; nothing to do/);
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

  it('suspends a container by checkpoint (it stops) and resumes it; a running one needs nothing', async () => {
    const running = await h.call('proxmox_resume_container', { vmid: 202 });
    expect(running.text).toMatch(/Container 202 \(ct-monitor\) is already running; nothing to do/);
    const suspend = await h.call('proxmox_suspend_container', { vmid: 202 });
    expect(suspend.isError, suspend.text).toBeFalsy();
    expect((await h.call('proxmox_get_container_status', { vmid: 202 })).structured).toMatchObject({
      status: 'stopped',
    });
    const resume = await h.call('proxmox_resume_container', { vmid: 202 });
    expect(resume.isError, resume.text).toBeFalsy();
    expect((await h.call('proxmox_get_container_status', { vmid: 202 })).structured).toMatchObject({
      status: 'running',
    });
  });

  it('reboots a running container, stops it, and says a stopped one needs no stop', async () => {
    const status = async () =>
      (await h.call('proxmox_get_container_status', { vmid: 202 })).structured?.status;
    const reboot = await h.call('proxmox_reboot_container', { vmid: 202 });
    expect(reboot.isError, reboot.text).toBeFalsy();
    expect(reboot.text).toMatch(/^Reboot container 202 \(ct-monitor\) on pve2: done/);
    expect(await status()).toBe('running');
    const stop = await h.call('proxmox_stop_container', { vmid: 202 });
    expect(stop.isError, stop.text).toBeFalsy();
    expect(stop.structured).toMatchObject({ vmid: 202, action: 'stop', status: 'completed' });
    expect(await status()).toBe('stopped');
    const again = await h.call('proxmox_stop_container', { vmid: 202 });
    expect(again.text).toMatch(/Container 202 \(ct-monitor\) is already stopped; nothing to do/);
    await h.call('proxmox_start_container', { vmid: 202 });
    expect(await status()).toBe('running');
  });

  it('asks HA for an HA-managed guest, then waits for the HA manager and says what it did', async () => {
    const stop = await h.call('proxmox_stop_vm', { vmid: 101 });
    expect(stop.isError, stop.text).toBeFalsy();
    expect(stop.text).toMatch(
      /^Stop VM 101 \(web-02\) on pve1: requested of HA \(task UPID:pve1:[^)]*:hastop:101:[^)]*\), and the HA manager carried it out: VM 101 is stopped after [\d.]+s\.$/,
    );
    expect(h.sim.sim.cluster.guests.get(101)?.running).toBe(false);
    // A start the HA manager cannot carry out: the service ends in error, and the tool says so.
    const guest = h.sim.sim.cluster.guests.get(101);
    if (!guest) throw new Error('no 101');
    const net0 = guest.config.net0 ?? '';
    guest.config.net0 = net0.replace(/bridge=\w+/, 'bridge=vmbr9');
    try {
      const start = await h.call('proxmox_start_vm', { vmid: 101 });
      expect(start.isError).toBe(true);
      expect(start.text).toMatch(/requested of HA .*, but the HA service vm:101 is in error/);
    } finally {
      guest.config.net0 = net0;
      // As an administrator would: ha-manager set vm:101 --state disabled, then started again.
      const service = h.sim.sim.cluster.ha.get('vm:101');
      if (service) delete service.error;
    }
    const again = await h.call('proxmox_start_vm', { vmid: 101 });
    expect(again.text).toMatch(/the HA manager carried it out: VM 101 is running/);
  });

  it('returns the UPID at once with timeout: 0', async () => {
    const r = await h.call('proxmox_stop_vm', { vmid: 103, timeout: 0 });
    expect(r.structured).toMatchObject({
      status: 'started',
      upid: expect.stringMatching(/qmstop:103/),
    });
    const w = await h.call('proxmox_wait_task', { upid: r.structured?.upid });
    expect(w.structured).toMatchObject({ status: 'completed', exitstatus: 'OK', type: 'qmstop' });
  });

  it('answers "still running" when the wait runs out, and the task can be stopped', async () => {
    const r = await h.call('proxmox_shutdown_vm', { vmid: 106, shutdownTimeout: 3000, timeout: 1 });
    expect(r.isError).toBeFalsy();
    expect(r.structured).toMatchObject({ status: 'running' });
    expect(r.text).toMatch(/still running after 1s.*proxmox_wait_task/);
    const upid = r.structured?.upid as string;
    const listed = await h.call('proxmox_list_tasks', { state: 'running' });
    expect(((listed.structured?.tasks ?? []) as { upid: string }[]).map((t) => t.upid)).toContain(
      upid,
    );
    const stop = await h.call('proxmox_stop_task', { upid });
    expect(stop.structured).toMatchObject({ stopped: true });
    const status = await h.call('proxmox_get_task_status', { upid });
    expect(status.structured).toMatchObject({
      status: 'stopped',
      exitstatus: 'received interrupt',
      ok: false,
    });
  });

  it('reports a failed task with its last log lines', async () => {
    h.sim.sim.faults.add({
      kind: 'task-fail',
      taskType: 'vzstart',
      exitstatus: "startup for container '201' failed",
      times: 1,
    });
    const r = await h.call('proxmox_start_container', { vmid: 201 });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(
      /^Start container 201 \(ct-proxy\) on pve1 failed: startup for container '201' failed\./,
    );
    expect(r.text).toMatch(/Task UPID:pve1:/);
  });

  it('names the lock of a locked guest', async () => {
    const snap = await h.call('proxmox_create_snapshot', {
      vmid: 101,
      snapname: 'slow',
      vmstate: true,
      timeout: 0,
    });
    expect(snap.structured?.status).toBe('started');
    const r = await h.call('proxmox_create_snapshot', { vmid: 101, snapname: 'second' });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/VM 101 \(web-02\) is locked \(snapshot\)/);
    await h.call('proxmox_wait_task', { upid: snap.structured?.upid });
  });

  it('snapshot create, rollback and delete', async () => {
    expect(
      (
        await h.call('proxmox_create_snapshot', {
          vmid: 200,
          snapname: 'pre-change',
          description: 'before',
        })
      ).structured,
    ).toMatchObject({ status: 'completed' });
    const tree = await h.call('proxmox_list_snapshots', { vmid: 200 });
    expect(tree.structured).toMatchObject({ current: 'pre-change' });
    expect(
      (
        await h.call('proxmox_rollback_snapshot', {
          vmid: 200,
          snapname: 'pre-change',
          start: true,
        })
      ).structured,
    ).toMatchObject({ status: 'completed' });
    expect((await h.call('proxmox_get_container_status', { vmid: 200 })).structured).toMatchObject({
      status: 'running',
    });
    expect(
      (await h.call('proxmox_delete_snapshot', { vmid: 200, snapname: 'pre-change' })).structured,
    ).toMatchObject({ status: 'completed' });
    const missing = await h.call('proxmox_delete_snapshot', { vmid: 200, snapname: 'pre-change' });
    expect(missing.isError).toBe(true);
    expect(missing.text).toMatch(/not found.*snapshot 'pre-change' does not exist/);
  });

  it('creates a VM with a vmid from the cluster, then deletes it', async () => {
    const created = await h.call('proxmox_create_vm', {
      name: 'new-box',
      node: 'pve1',
      cores: 2,
      memory: 1024,
      diskSize: 8,
      iso: 'debian-12.8.0-amd64-netinst.iso',
    });
    expect(created.isError, created.text).toBeFalsy();
    expect(created.structured).toMatchObject({
      vmid: 108,
      node: 'pve1',
      storage: 'local-lvm',
      status: 'completed',
    });
    const info = await h.call('proxmox_get_vm_info', { vmid: 108 });
    expect(info.structured).toMatchObject({ name: 'new-box', cores: 2, memoryMiB: 1024 });
    expect(info.structured?.disks).toContainEqual({
      key: 'ide2',
      volume: 'local:iso/debian-12.8.0-amd64-netinst.iso',
      media: 'cdrom',
    });
    const deleted = await h.call('proxmox_delete_vm', { vmid: 108 });
    expect(deleted.structured).toMatchObject({ status: 'completed' });
    expect((await h.call('proxmox_get_vm_status', { vmid: 108 })).isError).toBe(true);
  });

  it('refuses to delete a running VM, in plain words', async () => {
    const r = await h.call('proxmox_delete_vm', { vmid: 100 });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/VM 100 \(web-01\) is running: stop or shut it down first/);
  });

  it('bulk: shuts down a tag, skipping the stopped, with a per-guest table', async () => {
    const progress: string[] = [];
    const r = await h.call(
      'proxmox_bulk_guests',
      { action: 'stop', tag: 'infra' },
      { onprogress: (p) => progress.push(p.message ?? '') },
    );
    expect(r.structured).toMatchObject({ action: 'stop', done: 2, skipped: 1, failed: 0 });
    expect(r.text.split('\n')[0]).toBe('stop: 2 done, 1 skipped, 0 failed');
    expect(progress.length).toBeGreaterThanOrEqual(2);
    const none = await h.call('proxmox_bulk_guests', { action: 'start' });
    expect(none.isError).toBe(true);
  });
});
