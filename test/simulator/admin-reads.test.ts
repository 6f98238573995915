import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dataset } from '../../src/simulator/dataset-types.js';
import { buildDataset } from '../../src/simulator/datasets.js';
import { startTestSim, type TestSim } from '../helpers/sim.js';

const startTime = Date.UTC(2026, 10, 30, 12, 0, 0);
type Line = { n: number; t: string };

describe('node administration reads', () => {
  let sim: TestSim;
  beforeAll(async () => {
    sim = await startTestSim({ startTime });
  });
  afterAll(() => sim.close());

  it('pages the syslog with start and limit, and counts every line in total', async () => {
    const first = await sim.call('GET', '/nodes/pve1/syslog', { start: 0, limit: 10 });
    const lines = first.body?.data as Line[];
    const total = first.body?.total as number;
    expect(lines.map((l) => l.n)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(lines[0]?.t).toMatch(/^Oct \d\d \d\d:\d\d:\d\d pve1 kernel: Linux version 6\.14/);
    expect(total).toBeGreaterThan(50);

    const next = await sim.call('GET', '/nodes/pve1/syslog', { start: 5, limit: 10 });
    expect((next.body?.data as Line[] | undefined)?.[0]).toEqual(lines[5]);
    expect(next.body?.total).toBe(total);
    // dump_journal reads 50 lines when the limit is 0 or absent.
    expect((await sim.data<Line[]>('GET', '/nodes/pve1/syslog', { limit: 0 })).length).toBe(50);
    const past = await sim.call('GET', '/nodes/pve1/syslog', { start: total + 5 });
    expect(past.body?.data).toEqual([]);
    expect(past.body?.total).toBe(total);
  });

  it('filters the syslog by unit and time; what matches nothing says so', async () => {
    const daemon = await sim.data<Line[]>('GET', '/nodes/pve1/syslog', {
      service: 'pvedaemon',
      limit: 500,
    });
    expect(daemon.every((l) => / (pvedaemon\[\d+\]|systemd\[1\]): /.test(l.t))).toBe(true);
    expect(
      daemon.some((l) => /<root@pam> end task UPID:pve1:.*:qmstart:103:.* start failed/.test(l.t)),
    ).toBe(true);
    const recent = await sim.data<Line[]>('GET', '/nodes/pve1/syslog', {
      since: '2026-11-30 10:00',
      until: '2026-11-30 11:30:00',
      limit: 500,
    });
    expect(recent.length).toBeGreaterThan(0);
    expect(recent.every((l) => /^Nov 30 1[01]:/.test(l.t))).toBe(true);
    // PVE 9.1 passes sshd to journalctl as it is; the unit is ssh.service.
    const none = await sim.call('GET', '/nodes/pve1/syslog', { service: 'sshd' });
    expect(none.body?.data).toEqual([{ n: 1, t: '-- No entries --' }]);
    expect(none.body?.total).toBe(1);
  });

  it('logs a new task in the syslog and the journal, read on with its cursors', async () => {
    const journal = await sim.data<string[]>('GET', '/nodes/pve1/journal', { lastentries: 5 });
    expect(journal).toHaveLength(7);
    expect(journal[0]).toMatch(
      /^s=[0-9a-f]{32};i=[0-9a-f]+;b=[0-9a-f]{32};m=[0-9a-f]+;t=[0-9a-f]+;x=/,
    );
    const end = journal.at(-1) as string;
    expect(await sim.data('GET', '/nodes/pve1/journal', { startcursor: end })).toEqual([end, end]);

    const upid = await sim.data<string>('POST', '/nodes/pve1/qemu/103/status/start');
    sim.sim.runTasks();
    const more = await sim.data<string[]>('GET', '/nodes/pve1/journal', { startcursor: end });
    expect(more[0]).toBe(end);
    expect(more.slice(1, -1)).toEqual([
      expect.stringMatching(
        new RegExp(
          `pvedaemon\\[\\d+\\]: <root@pam!simulator> starting task ${upid.replace(/[$]/g, '\\$')}$`,
        ),
      ),
      expect.stringMatching(new RegExp(`pvedaemon\\[\\d+\\]: start VM 103: ${upid}$`)),
      expect.stringMatching(new RegExp(`<root@pam!simulator> end task ${upid} OK$`)),
    ]);
    // Older lines, up to the first cursor of the earlier answer.
    const older = await sim.data<string[]>('GET', '/nodes/pve1/journal', {
      lastentries: 2,
      endcursor: journal[0] as string,
    });
    expect(older).toHaveLength(4);
    expect(older.at(-1)).toBe(journal[0]);
  });

  it('lists the services of PVE 9 with their states', async () => {
    const services = await sim.data<Record<string, string>[]>('GET', '/nodes/pve1/services');
    expect(services.map((s) => s.service)).toContain('pve-lxc-syscalld');
    expect(services.find((s) => s.service === 'pveproxy')).toEqual({
      service: 'pveproxy',
      name: 'pveproxy',
      desc: 'PVE API Proxy Server',
      state: 'running',
      'unit-state': 'enabled',
      'active-state': 'active',
    });
    expect(await sim.data('GET', '/nodes/pve1/services/systemd-timesyncd/state')).toMatchObject({
      state: 'dead',
      'unit-state': 'not-found',
      'active-state': 'inactive',
    });
    const unknown = await sim.call('GET', '/nodes/pve1/services/nginx/state');
    expect(unknown.status).toBe(400);
    expect(unknown.body?.errors?.service).toMatch(
      /^value 'nginx' does not have a value in the enumeration 'chrony, corosync, cron, .*, systemd-timesyncd'$/,
    );
  });

  it('lists the updates waiting, pve-manager after the simulated version', async () => {
    const updates = await sim.data<Record<string, string>[]>('GET', '/nodes/pve1/apt/update');
    expect(updates.find((u) => u.Package === 'pve-manager')).toMatchObject({
      OldVersion: '9.1.3',
      Version: '9.1.4',
      Origin: 'Proxmox',
    });
    // A kernel the meta package pulls in is new: it has no old version.
    expect(updates.find((u) => u.Package?.endsWith('-pve-signed'))).not.toHaveProperty(
      'OldVersion',
    );
  });

  it('lists the disks: the system NVMe, the ZFS pool of pve2, partitions on request', async () => {
    const disks = await sim.data<Record<string, unknown>[]>('GET', '/nodes/pve2/disks/list');
    expect(disks.map((d) => [d.devpath, d.used])).toEqual([
      ['/dev/nvme0n1', 'BIOS boot'],
      ['/dev/sda', 'ZFS'],
      ['/dev/sdb', 'ZFS'],
    ]);
    expect(disks[0]).toMatchObject({ type: 'nvme', health: 'PASSED', gpt: 1 });
    const plain = await sim.data<Record<string, unknown>[]>('GET', '/nodes/pve2/disks/list', {
      'include-partitions': 1,
      skipsmart: 1,
    });
    expect(plain.find((d) => d.devpath === '/dev/sda9')).toMatchObject({
      parent: '/dev/sda',
      type: 'partition',
      used: 'ZFS reserved',
    });
    expect(plain[0]).toMatchObject({ used: 'partitions', health: 'UNKNOWN', wearout: 'N/A' });
  });

  it('shows the cluster log newest first, as many as max asks', async () => {
    const log = await sim.data<Record<string, unknown>[]>('GET', '/cluster/log', { max: 3 });
    expect(log).toHaveLength(3);
    const times = log.map((e) => e.time as number);
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    expect(log[0]).toMatchObject({ pri: 6, tag: 'pvedaemon', node: 'pve1' });
    expect(log[0]?.id).toBe(`${log[0]?.uid}:pve1`);
    const all = await sim.data<Record<string, unknown>[]>('GET', '/cluster/log');
    expect(all.some((e) => e.pri === 3 && String(e.msg).includes('QEMU exited with code 1'))).toBe(
      true,
    );
    expect(all.some((e) => e.node === 'pve3')).toBe(true);
  });

  it('logs logins; a user without Sys.Syslog sees only their own entries', async () => {
    const login = await sim.data<{ ticket: string; CSRFPreventionToken: string }>(
      'POST',
      '/access/ticket',
      { username: 'alice@pve', password: 'alice-password' },
      { auth: 'none' },
    );
    const [latest] = await sim.data<Record<string, unknown>[]>('GET', '/cluster/log', { max: 1 });
    expect(latest).toMatchObject({ user: 'root@pam', msg: "successful auth for user 'alice@pve'" });
    const alice = { ticket: login.ticket, csrf: login.CSRFPreventionToken };
    expect(await sim.data('GET', '/cluster/log', {}, { auth: alice })).toEqual([]);
    await sim.data('POST', '/nodes/pve2/qemu/105/status/start', {}, { auth: alice });
    sim.sim.runTasks();
    const own = await sim.data<Record<string, unknown>[]>(
      'GET',
      '/cluster/log',
      {},
      { auth: alice },
    );
    expect(own.map((e) => e.user)).toEqual(['alice@pve', 'alice@pve']);
  });
});

describe('replication, backup and HA jobs', () => {
  let sim: TestSim;
  beforeAll(async () => {
    sim = await startTestSim({ startTime });
  });
  afterAll(() => sim.close());

  it('lists a guest replication job, failing since its disks left ZFS', async () => {
    const jobs = await sim.data<Record<string, unknown>[]>('GET', '/nodes/pve1/replication', {
      guest: 102,
    });
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({
      id: '102-0',
      guest: 102,
      jobnum: 0,
      type: 'local',
      source: 'pve1',
      target: 'pve2',
      schedule: '*/15',
      vmtype: 'qemu',
      error: "missing replicate feature on volume 'local-lvm:vm-102-disk-0'",
    });
    // After three quick retries it tries every 30 minutes (PVE/ReplicationState.pm job_status).
    const job = jobs[0] as { fail_count: number; last_try: number; next_sync: number };
    expect(job.fail_count).toBeGreaterThan(3);
    expect(job.next_sync - job.last_try).toBe(1800);
    expect(await sim.data('GET', '/nodes/pve1/replication', { guest: 100 })).toEqual([]);

    expect(await sim.data('GET', '/cluster/replication/102-0')).toMatchObject({
      id: '102-0',
      target: 'pve2',
      comment: 'PostgreSQL standby copy',
      digest: expect.stringMatching(/^[0-9a-f]{40}$/),
    });
    const log = await sim.data<Line[]>('GET', '/nodes/pve1/replication/102-0/log');
    expect(log.map((l) => l.t.slice(20))).toEqual([
      '102-0: start replication job',
      "102-0: end replication job with error: missing replicate feature on volume 'local-lvm:vm-102-disk-0'",
    ]);
    // Job status is kept by the node the guest is on.
    const elsewhere = await sim.call('GET', '/nodes/pve2/replication/102-0/status');
    expect(elsewhere.body?.message).toBe("no such replication job '102-0'\n");
    expect((await sim.call('GET', '/cluster/replication/999-0')).body?.message).toBe(
      "no such replication job '999-0'\n",
    );
  });

  it('shows backup jobs and the guests none of them covers', async () => {
    const jobs = await sim.data<Record<string, unknown>[]>('GET', '/cluster/backup');
    expect(jobs.map((j) => j.id)).toEqual(['backup-5f2a9c1e-8d3b', 'backup-0c7e4d2a-61f9']);
    // The nightly job's next run: 01:00 the next day.
    expect(jobs[0]?.['next-run']).toBe(Date.UTC(2026, 11, 1, 1, 0) / 1000);
    expect(await sim.data('GET', '/cluster/backup/backup-5f2a9c1e-8d3b')).toEqual({
      id: 'backup-5f2a9c1e-8d3b',
      type: 'vzdump',
      enabled: 1,
      schedule: '01:00',
      vmid: '100,102,200',
      storage: 'backup-nfs',
      mode: 'snapshot',
      compress: 'zstd',
      mailnotification: 'failure',
      'notes-template': 'nightly {{guestname}}',
      'prune-backups': { 'keep-daily': 7, 'keep-weekly': 4 },
      comment: 'Nightly production backup',
    });
    const missing = await sim.call('GET', '/cluster/backup/backup-00000000-0000');
    expect(missing.status).toBe(400);
    expect(missing.body?.errors).toEqual({ id: "No such job 'backup-00000000-0000'" });
    const uncovered = await sim.data<{ vmid: number }[]>(
      'GET',
      '/cluster/backup-info/not-backed-up',
    );
    expect(uncovered.map((g) => g.vmid)).toEqual([101, 103, 106, 107, 201, 202, 203, 9000]);
  });

  it('answers HA groups, and on PVE 9 the rules they become', async () => {
    expect(await sim.data('GET', '/cluster/ha/groups')).toEqual([
      expect.objectContaining({ group: 'prefer-pve1', type: 'group', nodes: 'pve1:2,pve2:1' }),
    ]);
    const rules = await sim.data<Record<string, unknown>[]>('GET', '/cluster/ha/rules');
    expect(rules).toEqual([
      expect.objectContaining({
        rule: 'ha-group-prefer-pve1',
        type: 'node-affinity',
        resources: 'vm:100,vm:101',
        nodes: 'pve1:2,pve2:1',
        order: 1,
      }),
    ]);
    expect(await sim.data('GET', '/cluster/ha/rules', { type: 'resource-affinity' })).toEqual([]);
    expect(await sim.data('GET', '/cluster/ha/rules', { resource: 'vm:101' })).toHaveLength(1);
    expect((await sim.call('GET', '/cluster/ha/rules/nope')).body?.message).toBe(
      "no such ha rule 'nope'\n",
    );
  });
});

describe('other datasets and versions', () => {
  it('PVE 8.4 has HA groups but no rules, and its own services and updates', async () => {
    const sim = await startTestSim({ startTime, pveVersion: '8.4.2' });
    try {
      const rules = await sim.call('GET', '/cluster/ha/rules');
      expect(rules.status).toBe(501);
      expect(rules.body?.message).toBe("Method 'GET /cluster/ha/rules' not implemented\n");
      expect(await sim.data('GET', '/cluster/ha/groups/prefer-pve1')).toMatchObject({
        group: 'prefer-pve1',
      });
      const services = await sim.data<{ service: string; desc: string }[]>(
        'GET',
        '/nodes/pve1/services',
      );
      expect(services.map((s) => s.service)).not.toContain('qmeventd');
      expect(services.find((s) => s.service === 'postfix')?.desc).toBe(
        'Postfix Mail Transport Agent (instance -)',
      );
      expect((await sim.call('GET', '/nodes/pve1/services/lxcfs/state')).status).toBe(400);
      const updates = await sim.data<Record<string, string>[]>('GET', '/nodes/pve1/apt/update');
      expect(updates.find((u) => u.Package === 'pve-manager')?.Version).toBe('8.4.3');
    } finally {
      await sim.close();
    }
  });

  it('PVE 9 refuses the groups once they are rules', async () => {
    const dataset: Dataset = {
      ...buildDataset('small'),
      ha: [{ sid: 'vm:100' }, { sid: 'vm:101' }],
      haGroups: [],
      haRules: [
        {
          rule: 'web-apart',
          type: 'resource-affinity',
          resources: 'vm:101,vm:100',
          affinity: 'negative',
        },
      ],
    };
    const sim = await startTestSim({ startTime, dataset });
    try {
      expect((await sim.call('GET', '/cluster/ha/groups')).body?.message).toBe(
        'cannot index groups: ha groups have been migrated to rules\n',
      );
      expect((await sim.call('GET', '/cluster/ha/groups/any')).body?.message).toBe(
        'cannot read group: ha groups have been migrated to rules\n',
      );
      expect(await sim.data('GET', '/cluster/ha/rules/web-apart')).toMatchObject({
        rule: 'web-apart',
        type: 'resource-affinity',
        resources: 'vm:100,vm:101',
        affinity: 'negative',
        order: 1,
      });
    } finally {
      await sim.close();
    }
  });

  it('large: ZFS databases replicate every 15 minutes, and the state moves with the clock', async () => {
    const sim = await startTestSim({ startTime, dataset: 'large' });
    try {
      const jobs = await sim.data<{ id: string; target: string; source: string }[]>(
        'GET',
        '/cluster/replication',
      );
      expect(jobs.length).toBeGreaterThan(10);
      const job = jobs[0] as { id: string; source: string };
      const status = async () =>
        sim.data<Record<string, number>>(
          'GET',
          `/nodes/${job.source}/replication/${job.id}/status`,
        );
      const before = await status();
      expect(before).toMatchObject({ fail_count: 0, last_sync: startTime / 1000 });
      expect(before.next_sync).toBe(startTime / 1000 + 900);
      sim.sim.advance(16 * 60_000);
      expect((await status()).last_sync).toBe(startTime / 1000 + 900);
      const log = await sim.data<Line[]>('GET', `/nodes/${job.source}/replication/${job.id}/log`);
      expect(log.map((l) => l.t)).toContainEqual(
        expect.stringMatching(/incremental sync 'local-zfs:vm-\d+-disk-0'/),
      );
      expect(log.at(-1)?.t).toMatch(/: end replication job$/);
      // Every guest but the templates is in the backup job.
      const uncovered = await sim.data<{ vmid: number }[]>(
        'GET',
        '/cluster/backup-info/not-backed-up',
      );
      const rows = await sim.data<{ vmid: number; template: number }[]>(
        'GET',
        '/cluster/resources',
        {
          type: 'vm',
        },
      );
      const templates = rows.filter((r) => r.template === 1).map((r) => r.vmid);
      expect(uncovered.map((g) => g.vmid)).toEqual(templates.sort((a, b) => a - b));
    } finally {
      await sim.close();
    }
  });
});
