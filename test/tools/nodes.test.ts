/** Nodes and the cluster: the tools of src/tools/nodes.ts. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type McpHarness, startHarness } from '../helpers/mcp.js';

let h: McpHarness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());

describe('nodes', () => {
  it('test_connection', async () => {
    const r = await h.call('proxmox_test_connection');
    expect(r.isError).toBeFalsy();
    expect(r.text).toBe(
      "Connected to cluster 'demo' running Proxmox VE 9.1.3: 2 of 3 node(s) online.",
    );
    expect(r.structured).toEqual({
      cluster: 'default',
      clusterName: 'demo',
      version: '9.1.3',
      nodes: 3,
      nodesOnline: 2,
    });
  });

  it('cluster status, nodes, node status, version', async () => {
    const c = await h.call('proxmox_get_cluster_status');
    expect(c.structured).toMatchObject({
      name: 'demo',
      quorate: true,
      guests: { running: 8, templates: 1 },
    });
    expect(c.text).toMatch(/2\/3 nodes online \(pve1, pve2, pve3 OFFLINE\)/);
    const nodes = await h.call('proxmox_list_nodes');
    expect(nodes.text.split('\n')).toHaveLength(4);
    const ns = await h.call('proxmox_get_node_status', { node: 'pve1' });
    expect(ns.structured).toMatchObject({
      node: 'pve1',
      cpus: 16,
      pveversion: expect.stringMatching(/^pve-manager\/9\.1\.3/),
    });
    const offline = await h.call('proxmox_get_node_status', { node: 'pve3' });
    expect(offline.isError).toBe(true);
    expect(offline.text).toMatch(/offline or unreachable/);
    // An unknown name is not an offline node (PVE: 500, hostname lookup failed).
    const unknown = await h.call('proxmox_get_node_status', { node: 'pve9' });
    expect(unknown.text).toBe(
      "There is no node named 'pve9' in cluster 'default'. List the nodes with proxmox_list_nodes.",
    );
    expect((await h.call('proxmox_get_version')).structured).toMatchObject({ version: '9.1.3' });
  });
});
