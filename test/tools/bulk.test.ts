/** Power actions on many guests (src/tools/bulk.ts). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type McpHarness, startHarness } from '../helpers/mcp.js';

let h: McpHarness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());

describe('bulk', () => {
  it('bulk: shuts down a tag, skipping the stopped, with a per-guest table', async () => {
    const progress: string[] = [];
    const counts: string[] = [];
    const r = await h.call(
      'proxmox_bulk_guests',
      { action: 'stop', tag: 'infra' },
      {
        onprogress: (p) => {
          progress.push(p.message ?? '');
          if (p.total !== undefined) counts.push(`${p.progress}/${p.total}`);
        },
      },
    );
    // Guests done of guests chosen, for a client to show as a share.
    expect(counts).toEqual(['1/2', '2/2']);
    expect(r.structured).toMatchObject({ action: 'stop', done: 2, skipped: 1, failed: 0 });
    expect(r.text.split('\n')[0]).toBe('stop: 2 done, 1 skipped, 0 failed');
    expect(progress.length).toBeGreaterThanOrEqual(2);
    const none = await h.call('proxmox_bulk_guests', { action: 'start' });
    expect(none.isError).toBe(true);
  });
});
