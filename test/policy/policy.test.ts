import { describe, expect, it } from 'vitest';
import { startHarness } from '../helpers/mcp.js';

/** What the simulator holds, to prove a call changed nothing. */
function snapshot(h: Awaited<ReturnType<typeof startHarness>>) {
  const c = h.sim.sim.cluster;
  return JSON.stringify({
    guests: [...c.guests.values()].map((g) => [
      g.vmid,
      g.node,
      g.running,
      g.paused,
      g.config,
      [...g.snapshots.keys()],
    ]),
    volumes: [...c.volumes.keys()].sort(),
    counters: [...h.sim.sim.counters],
  });
}

/** An elicitation handler that notes each question and gives one answer. */
const answering =
  <T>(asked: string[], answer: T) =>
  (message: string): T => {
    asked.push(message);
    return answer;
  };

describe('read-only', () => {
  it('keeps proxmox_api_request to GET', async () => {
    const h = await startHarness({ config: { readOnly: true, toolsets: ['core', 'api'] } });
    try {
      const tools = (await h.client.listTools()).tools;
      expect(tools.every((t) => t.annotations?.readOnlyHint)).toBe(true);
      expect(tools.map((t) => t.name)).toContain('proxmox_api_request');
      expect(
        (await h.call('proxmox_api_request', { method: 'GET', path: '/version' })).isError,
      ).toBeFalsy();
      const post = await h.call('proxmox_api_request', {
        method: 'POST',
        path: '/nodes/pve1/qemu/103/status/start',
      });
      expect(post.isError).toBe(true);
      expect(post.text).toMatch(/method/);
    } finally {
      await h.close();
    }
  });
});

describe('scope', () => {
  it('hides guests out of scope from lists and refuses them elsewhere', async () => {
    const h = await startHarness({
      config: { toolsets: ['core', 'api'] },
      cluster: { scope: { pools: ['development', 'infra'] } },
    });
    try {
      const vms = await h.call('proxmox_list_vms');
      expect(((vms.structured?.items ?? []) as { vmid: number }[]).map((r) => r.vmid)).toEqual([
        104, 105,
      ]);
      const cts = await h.call('proxmox_list_containers');
      expect(((cts.structured?.items ?? []) as { vmid: number }[]).map((r) => r.vmid)).toEqual([
        200, 201, 202,
      ]);
      const status = await h.call('proxmox_get_vm_status', { vmid: 100 });
      expect(status.isError).toBe(true);
      expect(status.text).toBe(
        "ID 100 is outside what this server may manage in cluster 'default' (pools development, infra). A new guest must be given one of those pools.",
      );
      const before = snapshot(h);
      expect((await h.call('proxmox_stop_vm', { vmid: 100 })).isError).toBe(true);
      expect(snapshot(h)).toBe(before);
      const api = await h.call('proxmox_api_request', {
        method: 'GET',
        path: '/nodes/pve1/qemu/100/config',
      });
      expect(api.isError).toBe(true);
    } finally {
      await h.close();
    }
  });

  it('limits nodes and vmid ranges', async () => {
    const h = await startHarness({ cluster: { scope: { nodes: ['pve2'], vmids: ['100-199'] } } });
    try {
      expect(
        (((await h.call('proxmox_list_nodes')).structured?.nodes ?? []) as { node: string }[]).map(
          (n) => n.node,
        ),
      ).toEqual(['pve2']);
      expect(
        (((await h.call('proxmox_list_vms')).structured?.items ?? []) as { vmid: number }[]).map(
          (r) => r.vmid,
        ),
      ).toEqual([104, 105, 106]);
      expect((await h.call('proxmox_get_node_status', { node: 'pve1' })).text).toMatch(
        /Node pve1 is outside/,
      );
      // Without an ID, the one PVE hands out is checked on the wire: 108 is in range.
      const create = await h.call('proxmox_create_vm', { name: 'x', node: 'pve2' });
      expect(create.isError, create.text).toBeFalsy();
      expect(h.sim.sim.cluster.guests.get(108)?.node).toBe('pve2');
      expect(
        (await h.call('proxmox_create_vm', { name: 'x', node: 'pve2', vmid: 300 })).text,
      ).toMatch(/ID 300 is outside/);
    } finally {
      await h.close();
    }
  });
});

describe('protected guests', () => {
  it('can be read but not changed, stopped or deleted, by any tool', async () => {
    const h = await startHarness({
      config: { toolsets: ['all'] },
      cluster: { scope: { protected: { tags: ['prod'], vmids: ['9000'] } } },
    });
    try {
      expect((await h.call('proxmox_get_vm_status', { vmid: 100 })).isError).toBeFalsy();
      const before = snapshot(h);
      const attempts: [string, Record<string, unknown>][] = [
        ['proxmox_stop_vm', { vmid: 100 }],
        ['proxmox_shutdown_vm', { vmid: 101 }],
        ['proxmox_delete_vm', { vmid: 102 }],
        ['proxmox_create_snapshot', { vmid: 102, snapname: 'x1' }],
        ['proxmox_rollback_snapshot', { vmid: 102, snapname: 'before-upgrade' }],
        ['proxmox_update_guest_config', { vmid: 100, description: 'x' }],
        ['proxmox_resize_disk', { vmid: 100, disk: 'scsi0', size: '+1G' }],
        ['proxmox_migrate_guest', { vmid: 100, target: 'pve2' }],
        ['proxmox_convert_to_template', { vmid: 101 }],
        ['proxmox_backup_guest', { vmid: 100 }],
        ['proxmox_exec_command', { vmid: 100, command: ['id'] }],
        ['proxmox_api_request', { method: 'POST', path: '/nodes/pve1/qemu/100/status/stop' }],
      ];
      for (const [name, args] of attempts) {
        const r = await h.call(name, args);
        expect(r.isError, name).toBe(true);
        expect(r.text, name).toMatch(/is protected: it carries the tag 'prod'/);
      }
      const bulk = await h.call('proxmox_bulk_guests', { action: 'stop', tag: 'web' });
      expect(bulk.structured).toMatchObject({ done: 0, refused: 2 });
      expect(snapshot(h)).toBe(before);
    } finally {
      await h.close();
    }
  });
});

describe('confirmation', () => {
  it.each(['legacy', 'modern'] as const)(
    'asks the human through the client (%s era) and proceeds when accepted',
    async (era) => {
      const asked: string[] = [];
      const h = await startHarness({
        era,
        config: { confirm: 'elicit' },
        elicit: answering(asked, { action: 'accept', content: { confirm: true } }),
      });
      try {
        const r = await h
          .call('proxmox_delete_vm', { vmid: 107 })
          .catch((e: unknown) => ({ isError: true, text: String(e) }));
        // 107 is on the offline pve3: a doomed call fails at once and asks nobody.
        expect(r.text).toMatch(/pve3 is offline|offline or unreachable/);
        expect(asked).toEqual([]);
        const stop = await h.call('proxmox_stop_vm', { vmid: 105 });
        expect(stop.structured).toMatchObject({ status: 'completed' });
        expect(asked[0]).toMatch(
          /Stop hard, like pulling the power \(unsaved data is lost\): VM 105 \(ci-runner\) on pve2, now running\./,
        );
      } finally {
        await h.close();
      }
    },
  );

  it('names disks and snapshots that a delete destroys', async () => {
    const asked: string[] = [];
    const h = await startHarness({
      config: { confirm: 'elicit' },
      elicit: answering(asked, { action: 'decline' }),
    });
    try {
      // A running guest cannot be deleted: 104 is stopped first, as an administrator would.
      const guest = h.sim.sim.cluster.guests.get(104);
      if (guest) guest.running = false;
      const before = snapshot(h);
      const r = await h.call('proxmox_delete_vm', { vmid: 104 });
      expect(r.isError).toBe(true);
      expect(r.text).toMatch(/^The user declined it: nothing was done/);
      expect(asked[0]).toMatch(
        /Destroy, with its disks and snapshots: VM 104 \(dev-box\) on pve2, now stopped\.\n {2}VM 104 loses its disks scsi0 local-lvm:vm-104-disk-0 \(40G\)\.\n {2}1 snapshot\(s\) lost\./,
      );
      expect(snapshot(h)).toBe(before);
      expect(h.auditLines.at(-1)).toMatchObject({
        tool: 'proxmox_delete_vm',
        decision: 'declined',
        outcome: 'not-run',
      });
    } finally {
      await h.close();
    }
  });

  it('refuses a retry whose requestState this server did not seal, before anything runs', async () => {
    const h = await startHarness({
      era: 'modern',
      config: { confirm: 'elicit' },
      elicit: () => ({ action: 'accept', content: { confirm: true } }),
    });
    try {
      const forged = h.client.request({
        method: 'tools/call',
        params: {
          name: 'proxmox_stop_vm',
          arguments: { vmid: 105 },
          inputResponses: { confirm: { action: 'accept', content: { confirm: true } } },
          requestState: 'forged.state.9999999999999.mac',
        },
      } as never);
      await expect(forged).rejects.toThrow(/Invalid or expired requestState/);
      expect(h.sim.sim.cluster.guests.get(105)?.running).toBe(true);
    } finally {
      await h.close();
    }
  });

  it('counts a cancel as no', async () => {
    const h = await startHarness({
      era: 'modern',
      config: { confirm: 'elicit' },
      elicit: () => ({ action: 'cancel' }),
    });
    try {
      const r = await h.call('proxmox_reset_vm', { vmid: 100 });
      expect(r.text).toMatch(/^The user cancelled it/);
    } finally {
      await h.close();
    }
  });

  it('falls back to confirm: true with a client that cannot ask, and says so in the first refusal', async () => {
    const h = await startHarness({ config: { confirm: 'elicit' } });
    try {
      const first = await h.call('proxmox_stop_vm', { vmid: 105 });
      expect(first.isError).toBe(true);
      expect(first.text).toMatch(
        /^Needs confirmation\. On cluster 'default':\nStop hard.*: VM 105 \(ci-runner\) .*call again with confirm: true/s,
      );
      expect(h.sim.sim.cluster.guests.get(105)?.running).toBe(true);
      const second = await h.call('proxmox_stop_vm', { vmid: 105, confirm: true });
      expect(second.structured).toMatchObject({ status: 'completed' });
    } finally {
      await h.close();
    }
  });

  it('strict refuses without a client that can ask, whatever the arguments say', async () => {
    const h = await startHarness({ config: { confirm: 'strict' } });
    try {
      const tools = (await h.client.listTools()).tools;
      expect(
        JSON.stringify(tools.find((t) => t.name === 'proxmox_stop_vm')?.inputSchema),
      ).not.toContain('confirm');
      const r = await h.call('proxmox_stop_vm', { vmid: 105, confirm: true });
      expect(r.isError).toBe(true);
      expect(r.text).toMatch(/confirmation mode strict/);
      expect(h.sim.sim.cluster.guests.get(105)?.running).toBe(true);
    } finally {
      await h.close();
    }
  });
});

describe('dry run', () => {
  it('lists the exact calls and the checks, changes nothing and asks nothing', async () => {
    const asked: string[] = [];
    const h = await startHarness({
      config: { confirm: 'elicit', toolsets: ['all'] },
      elicit: answering(asked, { action: 'accept', content: { confirm: true } }),
    });
    try {
      const before = snapshot(h);
      const stop = await h.call('proxmox_stop_vm', { vmid: 105, dryRun: true });
      expect(stop.isError).toBeFalsy();
      expect(stop.structured?.dryRun).toEqual({
        calls: [
          {
            method: 'POST',
            path: '/api2/json/nodes/pve2/qemu/105/status/stop',
            params: { node: 'pve2', vmid: 105 },
          },
        ],
        checks: {
          vmid: 105,
          exists: true,
          inScope: true,
          protected: false,
          status: 'running',
          node: 'pve2',
        },
      });
      expect(stop.text).toMatch(
        /^Dry run of proxmox_stop_vm: nothing was changed\.\nIt would call:\n {2}POST \/api2\/json\/nodes\/pve2\/qemu\/105\/status\/stop/,
      );
      const create = await h.call('proxmox_create_vm', {
        name: 'planned',
        node: 'pve1',
        dryRun: true,
      });
      expect(
        (
          (create.structured?.dryRun ?? { calls: [] }) as {
            calls: { method: string; params: Record<string, unknown> }[];
          }
        ).calls[0],
      ).toMatchObject({
        method: 'POST',
        params: { name: 'planned', scsi0: 'local-lvm:32,iothread=1' },
      });
      const config = await h.call('proxmox_update_guest_config', {
        vmid: 104,
        cores: 3,
        dryRun: true,
      });
      expect(
        ((config.structured?.dryRun ?? { calls: [] }) as { calls: { method: string }[] }).calls.map(
          (c) => c.method,
        ),
      ).toEqual(['PUT']);
      const secret = await h.call('proxmox_create_container', {
        hostname: 'c',
        template: 'alpine-3.20-default_20240908_amd64.tar.xz',
        node: 'pve1',
        password: 'canary-pass-123',
        dryRun: true,
      });
      expect(JSON.stringify(secret)).not.toContain('canary-pass-123');
      expect(asked).toEqual([]);
      expect(snapshot(h)).toBe(before);
      expect(h.auditLines.filter((l) => l.decision === 'dry-run')).toHaveLength(4);
    } finally {
      await h.close();
    }
  });
});

describe('the demo', () => {
  it('shows protection at work on its database, with the default configuration', async () => {
    const h = await startHarness();
    try {
      const r = await h.call('proxmox_stop_vm', { vmid: 102 });
      expect(r.isError).toBe(true);
      expect(r.text).toMatch(/VM 102 \(db-01\) is protected: it carries the tag 'protected'/);
      expect(h.sim.sim.cluster.guests.get(102)?.running).toBe(true);
    } finally {
      await h.close();
    }
  });
});
