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
