/** Metrics (src/tools/metrics.ts). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type McpHarness, startHarness } from '../helpers/mcp.js';

let h: McpHarness;
beforeAll(async () => {
  h = await startHarness({ config: { toolsets: ['all'] } });
});
afterAll(() => h.close());

describe('metrics', () => {
  it('summarises node and guest metrics as min, avg, max and last', async () => {
    const n = await h.call('proxmox_get_node_metrics', { node: 'pve1', timeframe: 'day' });
    const cpu = (
      (n.structured?.series ?? []) as {
        series: string;
        min: number;
        avg: number;
        max: number;
        points: number;
      }[]
    ).find((s) => s.series === 'cpu');
    expect(cpu?.points).toBe(70);
    expect(cpu?.min).toBeLessThanOrEqual(cpu?.avg ?? 0);
    expect(cpu?.avg).toBeLessThanOrEqual(cpu?.max ?? 0);
    expect(n.text.split('\n')[1]).toMatch(/^SERIES +MIN +AVG +MAX +LAST$/);
    const g = await h.call('proxmox_get_guest_metrics', { vmid: 102 });
    expect(((g.structured?.series ?? []) as { series: string }[]).map((s) => s.series)).toEqual([
      'cpu',
      'memory',
      'netin',
      'netout',
      'diskread',
      'diskwrite',
    ]);
  });
});
