/**
 * Confirmation by effect: what needs a human's yes follows from what the planned requests do, the
 * question names what is lost, doomed calls ask nobody, and dry runs say when a call would fail.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getOperation } from '../../src/contract/index.js';
import { requestKey } from '../../src/policy/guard.js';
import { ConfirmationSeal } from '../../src/policy/policy.js';
import { type McpHarness, startHarness } from '../helpers/mcp.js';

const BACKUP_100 = 'backup-nfs:backup/vzdump-qemu-100-2026_11_20-01_00_03.vma.zst';

describe('what asks, and what the human is shown', () => {
  let h: McpHarness;
  const asked: string[] = [];
  beforeAll(async () => {
    h = await startHarness({
      config: { toolsets: ['all'], confirm: 'elicit' },
      elicit: (message) => {
        asked.push(message);
        return { action: 'decline' };
      },
    });
  });
  afterAll(() => h.close());

  /** Calls, expects the decline, and returns the one question asked. */
  const question = async (name: string, args: Record<string, unknown>) => {
    const from = asked.length;
    const before = h.sim.sim.requests.filter((r) => r.method !== 'GET').length;
    const r = await h.call(name, args);
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/^The user declined it: nothing was done/);
    expect(h.sim.sim.requests.filter((q) => q.method !== 'GET').length).toBe(before);
    expect(asked.length).toBe(from + 1);
    return asked[from] as string;
  };

  it('asks before a disk leaves the configuration, unused disks included', async () => {
    expect(await question('proxmox_update_guest_config', { vmid: 105, delete: ['scsi0'] })).toMatch(
      /Remove scsi0 from its configuration .*: VM 105 \(ci-runner\) on pve2, now running\./,
    );
    expect(
      await question('proxmox_api_request', {
        method: 'PUT',
        path: '/nodes/pve2/qemu/105/config',
        params: { delete: 'unused0' },
      }),
    ).toMatch(
      /PUT \/nodes\/pve2\/qemu\/105\/config with \{"delete":"unused0"\}, acting on VM 105 \(ci-runner\) on pve2, now running: Remove unused0/,
    );
  });

  it('asks before a shutdown that may end in a hard stop, but not before a clean one', async () => {
    expect(
      await question('proxmox_shutdown_vm', { vmid: 105, forceStop: true, shutdownTimeout: 1 }),
    ).toMatch(/Shut down, and stop hard if not down after 1 s: VM 105 \(ci-runner\)/);
    const from = asked.length;
    const clean = await h.call('proxmox_shutdown_container', { vmid: 202 });
    expect(clean.isError, clean.text).toBeFalsy();
    expect(asked.length).toBe(from);
    await h.call('proxmox_start_container', { vmid: 202 });
  });

  it('names every guest of a bulk change', async () => {
    const text = await question('proxmox_bulk_guests', {
      action: 'shutdown',
      all: true,
      forceStop: true,
    });
    // 102 carries the demo's `protected` tag: the bulk tool leaves it out.
    expect(text).toMatch(
      /Shut down, and stop hard if not down after 180 s \(or the guest's startup down delay\), for 7 guests: /,
    );
    expect(text).not.toContain('VM 102');
    for (const g of [
      'VM 100 (web-01) on pve1',
      'VM 106 (legacy-app) on pve2',
      'Container 202 (ct-monitor) on pve2',
    ])
      expect(text).toContain(g);
    expect(await question('proxmox_bulk_guests', { action: 'start', all: true })).toMatch(
      /Acts on 2 guests at once: VM 103 \(win-app\) on pve1, now stopped; Container 201 \(ct-proxy\) on pve1, now stopped\./,
    );
  });

  it('names every guest a node-wide backup reaches', async () => {
    const text = await question('proxmox_api_request', {
      method: 'POST',
      path: '/nodes/pve2/vzdump',
      params: { all: 1, exclude: '9000', storage: 'backup-nfs' },
    });
    expect(text).toMatch(/Back up several guests at once/);
    for (const g of [
      'VM 104 (dev-box)',
      'VM 105 (ci-runner)',
      'VM 106 (legacy-app)',
      'Container 202 (ct-monitor)',
    ])
      expect(text).toContain(g);
    expect(text).not.toContain('debian-12-template');
  });

  it('shows the exact command a guest would run', async () => {
    expect(
      await question('proxmox_exec_command', {
        vmid: 104,
        command: ['systemctl', 'restart', 'nginx'],
      }),
    ).toMatch(/Run the command \["systemctl","restart","nginx"\]: VM 104 \(dev-box\) on pve2/);
  });

  it('shows a raw call with its method, path, parameters (secrets masked) and targets', async () => {
    const text = await question('proxmox_api_request', {
      method: 'POST',
      path: '/nodes/pve2/qemu/104/config',
      params: { cipassword: 'hunter22', memory: 4096 },
    });
    expect(text).toMatch(
      /POST \/nodes\/pve2\/qemu\/104\/config with \{"cipassword":"\*\*\*","memory":4096\}, acting on VM 104 \(dev-box\) on pve2, now running\./,
    );
    expect(text).not.toContain('hunter22');
  });

  it('names the disks and snapshots lost, and the backup deleted', async () => {
    expect(await question('proxmox_delete_vm', { vmid: 103 })).toMatch(
      /Destroy, with its disks and snapshots: VM 103 \(win-app\) on pve1, now stopped\.\n {2}VM 103 loses its disks scsi0 local-lvm:vm-103-disk-0 \(80G\)\./,
    );
    expect(await question('proxmox_delete_backup', { volid: BACKUP_100 })).toMatch(
      /Delete the volume backup-nfs:backup\/vzdump-qemu-100-.*: VM 100 \(web-01\) on pve1/,
    );
  });

  it('strips hidden characters from what it shows', async () => {
    const guest = h.sim.sim.cluster.guests.get(104);
    if (!guest) throw new Error('no 104');
    guest.config.name = 'dev\u202e-box\u200b';
    try {
      const text = await question('proxmox_stop_vm', { vmid: 104 });
      expect(text).toMatch(/VM 104 \(dev-box\) on pve2, now running/);
    } finally {
      guest.config.name = 'dev-box';
    }
  });

  it('asks nobody for a call that cannot succeed, and says why', async () => {
    const doomed: [string, Record<string, unknown>, RegExp][] = [
      [
        'proxmox_delete_vm',
        { vmid: 100 },
        /VM 100 \(web-01\) is running: stop or shut it down first/,
      ],
      ['proxmox_delete_vm', { vmid: 999999 }, /No VM or container with ID 999999 exists/],
      ['proxmox_stop_vm', { vmid: 107 }, /pve3 is offline|offline or unreachable/],
      ['proxmox_exec_command', { vmid: 105, command: ['id'] }, /no QEMU guest agent enabled/],
      [
        'proxmox_restore_backup',
        { volid: BACKUP_100, vmid: 104, force: true },
        /VM 104 \(dev-box\) is running: PVE restores only over a stopped guest/,
      ],
    ];
    for (const [name, args, why] of doomed) {
      const from = asked.length;
      const r = await h.call(name, args);
      expect(r.isError, name).toBe(true);
      expect(r.text).toMatch(why);
      expect(asked.length, name).toBe(from);
    }
  });

  it('fails a dry run plainly when the call would fail', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ pool: 'nope' }, /Pool 'nope' does not exist/],
      [{ node: 'pve9' }, /There is no node named 'pve9'/],
      [{ iso: 'missing.iso' }, /ISO 'missing.iso' was not found/],
      [{ storage: 'backup-nfs' }, /backup-nfs.*cannot hold VM disks|does not hold disk images/],
    ];
    for (const [extra, why] of cases) {
      const r = await h.call('proxmox_create_vm', {
        name: 'x',
        node: 'pve2',
        ...extra,
        dryRun: true,
      });
      expect(r.isError, JSON.stringify(extra)).toBe(true);
      expect(r.text).toMatch(/^Dry run of proxmox_create_vm: the call would fail/);
      expect(r.text).toMatch(why);
    }
    const fine = await h.call('proxmox_exec_command', { vmid: 104, command: ['id'], dryRun: true });
    expect(fine.isError, fine.text).toBeFalsy();
    expect(fine.text).toMatch(
      /POST \/api2\/json\/nodes\/pve2\/qemu\/104\/agent\/exec .*"command":\["id"\]/,
    );
  });

  it('a wire check refuses the storage precondition for raw calls too', async () => {
    const from = asked.length;
    const r = await h.call('proxmox_api_request', {
      method: 'POST',
      path: '/nodes/pve2/qemu',
      params: { vmid: 150, scsi0: 'backup-nfs:8' },
    });
    expect(r.text).toMatch(/Storage 'backup-nfs' on pve2 does not hold disk images/);
    expect(asked.length).toBe(from);
  });

  it('refuses a template or backup that does not exist before a task allocates disks', async () => {
    const from = asked.length;
    const template = await h.call('proxmox_create_container', {
      hostname: 'x',
      template: 'local:vztmpl/nope.tar.zst',
      node: 'pve1',
    });
    expect(template.text).toBe(
      'The container template local:vztmpl/nope.tar.zst does not exist on node pve1. proxmox_list_storage_content lists the templates of a storage.',
    );
    const backup = await h.call('proxmox_restore_backup', {
      volid: 'backup-nfs:backup/vzdump-qemu-999-2026_11_20-01_00_03.vma.zst',
    });
    expect(backup.text).toBe(
      'The backup backup-nfs:backup/vzdump-qemu-999-2026_11_20-01_00_03.vma.zst does not exist on node pve1. proxmox_list_backups lists them.',
    );
    // The raw API is held to it as well.
    const raw = await h.call('proxmox_api_request', {
      method: 'POST',
      path: '/nodes/pve1/lxc',
      params: { vmid: 151, ostemplate: 'local:vztmpl/nope.tar.zst' },
    });
    expect(raw.text).toMatch(/The container template local:vztmpl\/nope\.tar\.zst does not exist/);
    expect(asked.length).toBe(from);
    expect(h.sim.sim.cluster.guests.has(151)).toBe(false);
  });
});

describe('many guests', () => {
  it('lists the first 20 and counts the rest', async () => {
    const asked: string[] = [];
    const h = await startHarness({
      sim: { dataset: 'large' },
      config: { confirm: 'elicit' },
      elicit: (m) => {
        asked.push(m);
        return { action: 'decline' };
      },
    });
    try {
      await h.call('proxmox_bulk_guests', { action: 'stop', node: 'pve01' });
      const text = asked[0] ?? '';
      const m = /for (\d+) guests: (.*); and (\d+) more\./.exec(text);
      expect(m, text.slice(0, 300)).not.toBeNull();
      expect(m?.[2]?.split('; ')).toHaveLength(20);
      expect(Number(m?.[3])).toBe(Number(m?.[1]) - 20);
    } finally {
      await h.close();
    }
  });
});

describe('the run', () => {
  it('may make no change its plan did not hold', async () => {
    const h = await startHarness();
    try {
      const start = getOperation('POST', '/nodes/{node}/qemu/{vmid}/status/start');
      const stop = getOperation('POST', '/nodes/{node}/qemu/{vmid}/status/stop');
      if (!start || !stop) throw new Error('no operation');
      const guard = h.deps.guards.get('default')?.session({
        planned: new Set([requestKey(start, { node: 'pve1', vmid: 103 })]),
      });
      if (!guard) throw new Error('no guard');
      await expect(guard.check(stop, { node: 'pve1', vmid: 103 })).rejects.toThrow(
        /a change its plan did not hold/,
      );
      // The same request with other parameters is another request.
      await expect(guard.check(start, { node: 'pve1', vmid: 103, timeout: 5 })).rejects.toThrow(
        /a change its plan did not hold/,
      );
      await expect(guard.check(start, { node: 'pve1', vmid: 103 })).resolves.toBeUndefined();
    } finally {
      await h.close();
    }
  });
});

describe('the confirmation seal', () => {
  it('binds one call and what it showed, once, for ten minutes', () => {
    let now = 1_000_000;
    const seal = new ConfirmationSeal(() => now);
    const args = { vmid: 100 };
    const state = seal.seal('proxmox_stop_vm', args, 'Stop VM 100');
    expect(seal.verify(state, 'proxmox_stop_vm', { vmid: 101 }, 'Stop VM 100')).toBe(false);
    expect(seal.verify(state, 'proxmox_stop_vm', args, 'Stop VM 100 and more')).toBe(false);
    expect(seal.verify(state, 'proxmox_stop_vm', args, 'Stop VM 100')).toBe(true);
    // Single use.
    expect(seal.verify(state, 'proxmox_stop_vm', args, 'Stop VM 100')).toBe(false);
    const later = seal.seal('proxmox_stop_vm', args, 'Stop VM 100');
    now += 10 * 60_000 + 1;
    expect(seal.verify(later, 'proxmox_stop_vm', args, 'Stop VM 100')).toBe(false);
    expect(seal.verify(`${later}x`, 'proxmox_stop_vm', args, 'Stop VM 100')).toBe(false);
  });
});
