import { Client } from '@modelcontextprotocol/client';
import { InMemoryTransport } from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { createServer } from '../../src/server/create.js';
import { buildDeps, closeDeps } from '../../src/server/deps.js';
import { startSimulator } from '../../src/simulator/server.js';

describe('two clusters', () => {
  it('route each call by its cluster argument, and say so in the text', async () => {
    const [small, large] = await Promise.all([
      startSimulator({ clock: 'real', taskScale: 0.01 }),
      startSimulator({ clock: 'real', dataset: 'large' }),
    ]);
    const config = configSchema.parse({
      confirm: 'none',
      clusters: [
        {
          name: 'lab',
          url: small.url,
          apiToken: `${small.token.id}=${small.token.secret}`,
          fingerprint: small.fingerprint,
        },
        {
          name: 'prod',
          url: large.url,
          apiToken: `${large.token.id}=${large.token.secret}`,
          fingerprint: large.fingerprint,
          readOnly: true,
        },
      ],
    });
    const deps = buildDeps(config, { version: 'test', auditStream: { write: () => undefined } });
    const [a, b] = InMemoryTransport.createLinkedPair();
    const handle = serveStdio(() => createServer(config, deps), { transport: a });
    const client = new Client({ name: 't', version: '1' });
    await client.connect(b);
    try {
      const tool = (await client.listTools()).tools.find((t) => t.name === 'proxmox_list_vms');
      expect(tool?.inputSchema.properties?.cluster).toEqual({
        type: 'string',
        enum: ['lab', 'prod'],
        description: 'Cluster to act on',
      });
      expect(tool?.inputSchema.required).toContain('cluster');
      const lab = await client.callTool({
        name: 'proxmox_list_vms',
        arguments: { cluster: 'lab' },
      });
      const prod = await client.callTool({
        name: 'proxmox_list_vms',
        arguments: { cluster: 'prod', limit: 5 },
      });
      expect((lab.structuredContent as { total: number }).total).toBe(9);
      expect((prod.structuredContent as { total: number }).total).toBe(1_714);
      expect((lab.content as { text: string }[])[0]?.text).toMatch(/^\[cluster lab\] VMID/);
      // prod is read-only: changes there are refused, while lab allows them.
      const refused = await client.callTool({
        name: 'proxmox_start_vm',
        arguments: { cluster: 'prod', vmid: 1001 },
      });
      expect((refused.content as { text: string }[])[0]?.text).toMatch(
        /Cluster 'prod' is read-only/,
      );
      const started = await client.callTool({
        name: 'proxmox_start_vm',
        arguments: { cluster: 'lab', vmid: 103 },
      });
      expect(started.structuredContent).toMatchObject({ status: 'completed' });
      const missing = await client.callTool({ name: 'proxmox_list_vms', arguments: {} });
      expect(missing.isError).toBe(true);
      // Resources: the default cluster without a prefix, each one by name with it.
      const read = async (uri: string) =>
        ((await client.readResource({ uri })).contents[0] as { text: string }).text;
      expect(await read('proxmox://guests/100')).toMatch(/web-01/);
      expect(await read('proxmox://prod/guests/1004')).toMatch(/prod-lb-0004/);
      expect(await read('proxmox://lab/nodes/pve1')).toMatch(/^pve1: pve-manager/);
      expect(await read('proxmox://prod/cluster/status')).toMatch(/^Cluster large\npve01: online/);
      expect(await read('proxmox://nowhere/cluster/status')).toBe(
        "There is no cluster named 'nowhere' here (configured: lab, prod).",
      );
      const completed = await client.complete({
        ref: { type: 'ref/resource', uri: 'proxmox://{cluster}/guests/{vmid}' },
        argument: { name: 'vmid', value: '100' },
        context: { arguments: { cluster: 'prod' } },
      });
      expect(completed.completion.values).toContain('1004');
    } finally {
      await client.close();
      await handle.close();
      await closeDeps(deps);
      await Promise.all([small.close(), large.close()]);
    }
  });
});
