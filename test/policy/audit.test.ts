/** The audit log: one exact line per attempt at a change, whatever its fate, secrets masked. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startHarness } from '../helpers/mcp.js';

describe('the audit log', () => {
  it('has a line for every decision, bad input and failed dry runs included', async () => {
    let answer: 'accept' | 'decline' = 'accept';
    const h = await startHarness({
      config: { toolsets: ['all'], confirm: 'elicit', logLevel: 'error' },
      cluster: { scope: { protected: { vmids: ['100'], tags: [], pools: [] } } },
      elicit: () =>
        answer === 'accept'
          ? { action: 'accept', content: { confirm: true } }
          : { action: 'decline' },
    });
    try {
      const last = () => h.auditLines.at(-1);
      await h.call('proxmox_list_vms');
      expect(h.auditLines).toEqual([]);
      await h.call('proxmox_start_vm', { vmid: 103, timeout: 0 });
      expect(last()).toMatchObject({
        tool: 'proxmox_start_vm',
        decision: 'allowed',
        outcome: 'running',
      });
      await h.call('proxmox_stop_vm', { vmid: 105 });
      expect(last()).toMatchObject({
        tool: 'proxmox_stop_vm',
        decision: 'confirmed',
        outcome: 'ok',
      });
      answer = 'decline';
      await h.call('proxmox_stop_vm', { vmid: 104 });
      expect(last()).toMatchObject({ decision: 'declined', outcome: 'not-run' });
      await h.call('proxmox_stop_vm', { vmid: 100 });
      expect(last()).toMatchObject({
        decision: 'refused',
        outcome: 'not-run',
        reason: expect.stringMatching(/VM 100 \(web-01\) is protected/),
      });
      await h.call('proxmox_delete_vm', { vmid: 102 });
      expect(last()).toMatchObject({
        decision: 'refused',
        reason: expect.stringMatching(/is running/),
      });
      await h.call('proxmox_create_vm', { name: 'x', node: 'pve2', pool: 'nope', dryRun: true });
      expect(last()).toMatchObject({ decision: 'dry-run', outcome: 'error' });
      await h.call('proxmox_create_vm', { name: 'x', node: 'pve2', dryRun: true });
      expect(last()).toMatchObject({ decision: 'dry-run', outcome: 'not-run' });
      const bad = await h.call('proxmox_stop_vm', { vmid: 'not-a-number', node: 'pve1' });
      expect(bad.isError).toBe(true);
      expect(last()).toMatchObject({
        tool: 'proxmox_stop_vm',
        decision: 'refused',
        outcome: 'not-run',
        reason: expect.stringMatching(/^invalid arguments: vmid: /),
        args: { vmid: 'not-a-number', node: 'pve1' },
      });
    } finally {
      await h.close();
    }
  });

  it('masks secrets at any depth, in the audit file', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'pmcp-audit-')), 'audit.jsonl');
    const h = await startHarness({ config: { toolsets: ['all'], auditLog: file } });
    try {
      await h.call('proxmox_api_request', {
        method: 'PUT',
        path: '/nodes/pve2/qemu/104/config',
        params: {
          cipassword: 'canary-one',
          description: 'key PVEAPIToken=root@pam!ci=canary-two here',
          tags: ['ops@pve!bot=canary-three'],
        },
      });
      await h.call('proxmox_create_container', {
        hostname: 'ct-x',
        template: 'debian-12-standard_12.7-1_amd64.tar.zst',
        node: 'pve1',
        password: 'canary-four',
        dryRun: true,
      });
      const text = readFileSync(file, 'utf8');
      expect(text.trim().split('\n')).toHaveLength(2);
      for (const canary of ['canary-one', 'canary-two', 'canary-three', 'canary-four'])
        expect(text).not.toContain(canary);
      expect(text).toContain('PVEAPIToken=root@pam!ci=***');
    } finally {
      await h.close();
    }
  });
});
