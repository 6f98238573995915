/** The raw API tool (src/tools/api.ts). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type McpHarness, startHarness } from '../helpers/mcp.js';

let h: McpHarness;
beforeAll(async () => {
  h = await startHarness({ config: { toolsets: ['all'] } });
});
afterAll(() => h.close());

describe('api', () => {
  it('passes any contract operation through, validated first', async () => {
    const ok = await h.call('proxmox_api_request', {
      method: 'GET',
      path: '/nodes/pve1/qemu/102/pending',
    });
    expect(ok.isError).toBeFalsy();
    expect(Array.isArray(ok.structured?.data)).toBe(true);
    const outside = await h.call('proxmox_api_request', {
      method: 'POST',
      path: '/nodes/pve1/execute',
    });
    expect(outside.isError).toBe(true);
    expect(outside.text).toMatch(/not an operation of the API contract/);
    const bad = await h.call('proxmox_api_request', {
      method: 'GET',
      path: '/cluster/resources',
      params: { type: 'everything' },
    });
    expect(bad.isError).toBe(true);
    expect(bad.text).toMatch(/type: value 'everything' does not have a value in the enumeration/);
  });
});
