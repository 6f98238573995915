/**
 * What a publisher ships besides the npm package: the MCP registry entry (server.json, checked
 * against a copy of the registry's schema) and the .mcpb bundle (packed by the official CLI, then
 * run as a desktop client would run it).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { describe, expect, it } from 'vitest';
import { bundle } from '../../scripts/bundle.js';
import { serverJson } from '../../scripts/docs.js';
import { registryProblems, registryValidator } from '../../scripts/registry.js';
import { SETTINGS } from '../../src/config/settings.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string) => JSON.parse(readFileSync(join(root, path), 'utf8'));
const pkg = read('package.json') as { version: string; mcpName: string };

type Variable = { name: string; isSecret?: boolean; format?: string };
type Entry = {
  $schema: string;
  name: string;
  version: string;
  description: string;
  packages: { version: string; identifier: string; environmentVariables: Variable[] }[];
};

describe('the MCP registry entry', () => {
  const entry = read('server.json') as Entry;

  it("is valid against the registry's current schema, and the schema refuses what it should", () => {
    expect(registryProblems()).toEqual([]);
    const validate = registryValidator();
    expect(validate(entry)).toBe(true);
    expect(entry.$schema).toBe(
      'https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json',
    );
    // The mistakes the registry rejects: a long description, a version that is not one.
    expect(validate({ ...entry, description: 'x'.repeat(101) })).toBe(false);
    const latest = { ...entry.packages[0], version: 'latest' };
    expect(validate({ ...entry, packages: [latest] })).toBe(false);
  });

  it('names the npm package at the version of package.json, and is what npm run docs writes', () => {
    expect(entry.name).toBe(pkg.mcpName);
    expect(entry.version).toBe(pkg.version);
    expect(entry.packages.map((p) => [p.identifier, p.version])).toEqual([
      ['proxmox-mcp', pkg.version],
    ]);
    expect(entry).toEqual(serverJson());
  });

  it('lists every variable a user may set, the secret ones marked', () => {
    const vars = entry.packages[0]?.environmentVariables ?? [];
    const names = vars.map((v) => v.name);
    for (const s of SETTINGS.filter((x) => x.env)) {
      expect(names).toContain(s.env);
      expect(vars.find((v) => v.name === s.env)?.isSecret ?? false, s.env).toBe(Boolean(s.secret));
      if (s.secret) expect(names).toContain(`${s.env}_FILE`);
    }
    for (const other of ['PROXMOX_CONFIG', 'PROXMOX_CLUSTER', 'PROXMOX_HOST', 'PROXMOX_PORT'])
      expect(names).toContain(other);
    expect(new Set(names).size).toBe(names.length);
  });
});

describe('the .mcpb bundle', () => {
  it('packs with the official CLI, holds no dependencies, and its server entry serves the tools', async () => {
    const manifest = read('bundle/manifest.json') as {
      version: string;
      server: { entry_point: string };
      user_config: Record<string, { sensitive?: boolean }>;
    };
    expect(manifest.version).toBe(pkg.version);
    expect(manifest.user_config.api_token?.sensitive).toBe(true);
    const file = bundle();
    const size = statSync(file).size;
    // Production code only: one entry and its chunks, every dependency inside them, and the
    // chart renderer's WebAssembly and font (most of the size).
    expect(size).toBeLessThan(3 * 1024 * 1024);
    const dir = mkdtempSync(join(tmpdir(), 'pmcp-mcpb-'));
    execFileSync(
      process.execPath,
      [join(root, 'node_modules/@anthropic-ai/mcpb/dist/cli/cli.js'), 'unpack', file, dir],
      { stdio: 'ignore' },
    );
    expect(existsSync(join(dir, 'node_modules'))).toBe(false);
    expect(readdirSync(dir).sort()).toEqual(['LICENSE', 'README.md', 'manifest.json', 'server']);
    // As a desktop client runs it: node on the entry point, the settings in the environment.
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [join(dir, manifest.server.entry_point), '--demo'],
      env: { PATH: process.env.PATH ?? '', PROXMOX_TOOLSETS: 'core,backup,metrics' },
      cwd: dir,
      stderr: 'ignore',
    });
    const client = new Client({ name: 'mcpb-test', version: '1' });
    await client.connect(transport);
    try {
      const tools = (await client.listTools()).tools.map((t) => t.name);
      expect(tools).toContain('proxmox_list_vms');
      expect(tools).toContain('proxmox_backup_guest');
      const r = await client.callTool({ name: 'proxmox_test_connection', arguments: {} });
      expect(JSON.stringify(r.content)).toMatch(/Connected to cluster/);
      // A chart finds the renderer and the font where the bundle puts them.
      const chart = await client.callTool({
        name: 'proxmox_get_node_metrics',
        arguments: { node: 'pve1', chart: true },
      });
      expect((chart.content as { type: string }[]).map((c) => c.type)).toEqual(['text', 'image']);
    } finally {
      await client.close();
    }
  }, 120_000);
});
