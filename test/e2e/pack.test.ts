import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

describe('the packed package', () => {
  it('holds the built code and docs, no tests or schema data, and runs from an empty directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pmcp-pack-'));
    const [info] = JSON.parse(
      execFileSync(npm, ['pack', '--json', '--pack-destination', dir], {
        cwd: root,
        encoding: 'utf8',
      }),
    ) as { filename: string; files: { path: string }[] }[];
    const files = (info?.files ?? []).map((f) => f.path);
    expect(files).toContain('dist/cli.js');
    expect(files).toContain('server.json');
    expect(files).toContain('dist/assets/resvg.wasm');
    expect(
      files.some(
        (f) =>
          f.startsWith('test/') ||
          f.startsWith('src/') ||
          f.endsWith('.map') ||
          /pve-[\d.]+\.json$/.test(f),
      ),
    ).toBe(false);
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      engines: unknown;
      bin: unknown;
      dependencies?: unknown;
      mcpName: string;
    };
    expect(pkg.engines).toEqual({ node: '>=20.18.1' });
    // The build bundles what the server runs on: installing it fetches nothing else.
    expect(pkg.dependencies).toBeUndefined();
    expect(pkg.bin).toEqual({ 'proxmox-mcp': 'dist/cli.js' });
    expect(JSON.parse(readFileSync(join(root, 'server.json'), 'utf8')).name).toBe(pkg.mcpName);
    expect(readFileSync(join(root, 'dist/cli.js'), 'utf8').startsWith('#!/usr/bin/env node')).toBe(
      true,
    );

    // Install the tarball into an empty project, then speak MCP to its bin.
    const app = mkdtempSync(join(tmpdir(), 'pmcp-app-'));
    execFileSync(
      npm,
      ['install', '--no-audit', '--no-fund', '--ignore-scripts', join(dir, info?.filename ?? '')],
      { cwd: app, stdio: 'ignore' },
    );
    const transport = new StdioClientTransport({
      command: join(app, 'node_modules', '.bin', 'proxmox-mcp'),
      args: ['--demo'],
      cwd: app,
      stderr: 'pipe',
    });
    const client = new Client({ name: 'pack-test', version: '1' });
    await client.connect(transport);
    try {
      const tools = (await client.listTools()).tools.map((t) => t.name);
      expect(tools).toContain('proxmox_test_connection');
    } finally {
      await client.close();
    }
  }, 180_000);
});
