/** Users, tokens and permissions (src/tools/access.ts). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type McpHarness, startHarness } from '../helpers/mcp.js';

let h: McpHarness;
beforeAll(async () => {
  h = await startHarness({ config: { toolsets: ['all'] } });
});
afterAll(() => h.close());

describe('access', () => {
  it('says who it acts as and what it may do', async () => {
    const r = await h.call('proxmox_get_permissions');
    expect(r.structured).toMatchObject({ identity: 'root@pam!simulator', cannot: [] });
    // In brief: what works first, then the paths holding the same privileges once.
    expect(Buffer.byteLength(r.text)).toBeLessThanOrEqual(1_500);
    const lines = r.text.split('\n');
    expect(lines[0]).toBe("Acting as root@pam!simulator in cluster 'default'.");
    expect(lines[1]).toMatch(/^Toolsets that work: core, provision, backup, .*api\.$/);
    expect(lines[2]).toMatch(/^Can: see VMs and containers; /);
    expect(lines.slice(3)).toHaveLength(1);
    expect(lines[3]).toMatch(/^\/, \/access, .*: \d+ privileges: .*VM\.Allocate/);
    const users = await h.call('proxmox_list_users');
    expect(users.text).toMatch(/alice@pve +yes +Alice +automation/);
    const tokens = await h.call('proxmox_list_tokens', { userid: 'alice@pve' });
    expect(tokens.structured?.tokens).toEqual([
      { tokenid: 'automation', privsep: true, comment: 'read-only automation' },
    ]);
    expect(JSON.stringify(tokens)).not.toContain(
      h.sim.sim.cluster.users.get('alice@pve')?.tokens.get('automation')?.secret,
    );
  });
});

describe('permissions of a limited token', () => {
  it('says which toolsets work and what each of the others needs', async () => {
    const alice = await startHarness({
      config: { toolsets: ['access'] },
      token: (sim) => ({
        tokenId: 'alice@pve!automation',
        secret: sim.sim.cluster.users.get('alice@pve')?.tokens.get('automation')?.secret ?? '',
      }),
    });
    try {
      const r = await alice.call('proxmox_get_permissions');
      const lines = r.text.split('\n');
      expect(lines[0]).toBe("Acting as alice@pve!automation in cluster 'default'.");
      expect(lines[2]).toMatch(
        /^Not: .*agent_exec \(needs VM\.GuestAgent\.Unrestricted on \/vms\)/,
      );
      expect(r.text).toMatch(
        /Cannot: .*start, stop and reboot guests \(needs VM\.PowerMgmt on \/vms\)/,
      );
      const toolsets = r.structured?.toolsets as { toolset: string; works: boolean }[];
      expect(toolsets.find((t) => t.toolset === 'core')?.works).toBe(false);
    } finally {
      await alice.close();
    }
  });
});
