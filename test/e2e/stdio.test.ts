import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { describe, expect, it } from 'vitest';

// The built CLI, as a client configuration would start it.
const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

async function connect(args: string[], era: 'legacy' | 'modern', env: Record<string, string> = {}) {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [cli, ...args],
    env: { PATH: process.env.PATH ?? '', ...env },
    stderr: 'pipe',
  });
  const client = new Client(
    { name: 'e2e', version: '1.0.0' },
    era === 'modern' ? { versionNegotiation: { mode: { pin: '2026-07-28' } } } : {},
  );
  await client.connect(transport);
  return client;
}

describe('the built CLI over stdio', () => {
  it.each(['legacy', 'modern'] as const)('serves the demo in the %s era', async (era) => {
    const client = await connect(['--demo'], era);
    try {
      const tools = (await client.listTools()).tools.map((t) => t.name);
      expect(tools).toContain('proxmox_list_vms');
      expect(tools.length).toBeLessThanOrEqual(40);
      const result = await client.callTool({ name: 'proxmox_test_connection', arguments: {} });
      expect(result.isError).toBeFalsy();
      expect(result.structuredContent).toMatchObject({
        clusterName: 'demo',
        nodes: 3,
        nodesOnline: 2,
      });
    } finally {
      await client.close();
    }
  });

  it('offers only read tools with --read-only', async () => {
    const client = await connect(['--demo', '--read-only'], 'legacy');
    try {
      const tools = (await client.listTools()).tools;
      expect(tools.every((t) => t.annotations?.readOnlyHint === true)).toBe(true);
      expect(tools.map((t) => t.name)).not.toContain('proxmox_delete_vm');
    } finally {
      await client.close();
    }
  });

  it('stops with a message naming the setting when the configuration is wrong', async () => {
    const { spawnSync } = await import('node:child_process');
    const run = spawnSync(process.execPath, [cli], {
      env: { PATH: process.env.PATH ?? '', PROXMOX_URL: 'https://pve.example:8006' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(run.status).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/PROXMOX_API_TOKEN.*no credentials/);
    const unknown = spawnSync(process.execPath, [cli, '--demo', '--tools', 'proxmox_nope'], {
      env: { PATH: process.env.PATH ?? '' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/unknown tool 'proxmox_nope'/);
    // A misspelled read_only must never run a writable server.
    const dir = mkdtempSync(join(tmpdir(), 'pmcp-typo-'));
    const config = join(dir, 'config.yaml');
    writeFileSync(
      config,
      'url: https://pve.example:8006\napiToken: root@pam!mcp=11111111-2222-3333-4444-555555555555\nread_only: true\n',
    );
    const typo = spawnSync(process.execPath, [cli, '--config', config], {
      env: { PATH: process.env.PATH ?? '' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(typo.status).toBe(2);
    expect(typo.stderr).toMatch(/unknown setting 'read_only'.*did you mean 'readOnly'/);
  });
});
