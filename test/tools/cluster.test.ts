/** HA, pools and node networks (src/tools/cluster.ts). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type McpHarness, startHarness } from '../helpers/mcp.js';

let h: McpHarness;
beforeAll(async () => {
  h = await startHarness({ config: { toolsets: ['all'] } });
});
afterAll(() => h.close());

describe('cluster', () => {
  it('HA status, pools, node networks', async () => {
    const ha = await h.call('proxmox_get_ha_status');
    expect(ha.structured).toMatchObject({ quorate: true, master: 'pve1' });
    expect(((ha.structured?.resources ?? []) as { sid: string }[]).map((r) => r.sid)).toEqual([
      'vm:100',
      'vm:101',
    ]);
    const pool = await h.call('proxmox_list_pools', { poolid: 'infra' });
    expect(pool.text).toMatch(/^infra \(Infrastructure containers\):/);
    const net = await h.call('proxmox_list_node_networks', { node: 'pve1', type: 'bridge' });
    expect(net.structured?.interfaces).toEqual([
      expect.objectContaining({
        iface: 'vmbr0',
        cidr: '10.0.0.11/24',
        gateway: '10.0.0.1',
        ports: 'eno1',
      }),
    ]);
  });
});
