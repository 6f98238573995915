import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const src = fileURLToPath(new URL('../src/', import.meta.url));

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Each source file with the src/ folders and packages it imports. */
const graph = files(src).map((file) => {
  const text = readFileSync(file, 'utf8');
  const specs = [
    ...text.matchAll(
      /(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g,
    ),
  ].map((m) => m[1] ?? m[2] ?? '');
  const folders = specs
    .filter((s) => s.startsWith('.'))
    .map((s) => relative(src, join(file, '..', s)).split('/')[0] ?? '')
    .map((f) => f.replace(/\.js$/, ''));
  return {
    file: relative(src, file),
    folder: relative(src, file).split('/')[0] ?? '',
    folders,
    packages: specs.filter((s) => !s.startsWith('.')),
  };
});

describe('dependencies point downward', () => {
  it('simulator/ imports nothing of the product but contract/', () => {
    const bad = graph
      .filter((g) => g.folder === 'simulator')
      .flatMap((g) =>
        g.folders
          .filter((f) => f !== 'simulator' && f !== 'contract')
          .map((f) => `${g.file} -> ${f}`),
      );
    expect(bad).toEqual([]);
  });

  it('pve/ and contract/ import nothing MCP-related', () => {
    const bad = graph
      .filter((g) => g.folder === 'pve' || g.folder === 'contract')
      .flatMap((g) => [
        ...g.folders
          .filter((f) => !['pve', 'contract'].includes(f))
          .map((f) => `${g.file} -> ${f}`),
        ...g.packages
          .filter((p) => p.startsWith('@modelcontextprotocol/'))
          .map((p) => `${g.file} -> ${p}`),
      ]);
    expect(bad).toEqual([]);
  });

  it('product code imports simulator/ only from cli.ts', () => {
    const bad = graph
      .filter(
        (g) => g.folder !== 'simulator' && g.file !== 'cli.ts' && g.folders.includes('simulator'),
      )
      .map((g) => g.file);
    expect(bad).toEqual([]);
  });

  it('policy/, whose pipeline runs every call, imports nothing of the MCP SDK or server/', () => {
    const bad = graph
      .filter((g) => g.folder === 'policy')
      .flatMap((g) => [
        ...g.packages.filter((p) => p.startsWith('@modelcontextprotocol/')),
        ...g.folders.filter((f) => f === 'server' || f === 'transports'),
      ]);
    expect(bad).toEqual([]);
  });

  it('the MCP adapter only translates: of policy/ it imports the pipeline alone', () => {
    const bad = ['server/create.ts', 'server/resources.ts'].flatMap((file) =>
      [...readFileSync(join(src, file), 'utf8').matchAll(/from\s+['"](\.\.\/policy\/[^'"]+)['"]/g)]
        .map((m) => m[1] ?? '')
        .filter((spec) => spec !== '../policy/pipeline.js')
        .map((spec) => `${file} -> ${spec}`),
    );
    expect(bad).toEqual([]);
  });

  it('every tool file is in the registry, and every toolset in the table has tools', async () => {
    const ALL_TOOLS = await (await import('../src/tools/registry.js')).allTools();
    const { TOOLSETS } = await import('../src/tools/toolsets.js');
    const registry = readFileSync(join(src, 'tools/registry.ts'), 'utf8');
    const toolFiles = readdirSync(join(src, 'tools')).filter((f) =>
      /defineTool\(/.test(readFileSync(join(src, 'tools', f), 'utf8')),
    );
    for (const f of toolFiles.filter((f) => f !== 'define.ts'))
      expect(registry, f).toContain(`'./${f.replace(/\.ts$/, '.js')}'`);
    for (const set of TOOLSETS)
      expect(
        ALL_TOOLS.some((t) => t.toolset === set),
        set,
      ).toBe(true);
  });

  it('tools/ never imports the MCP SDK', () => {
    const bad = graph
      .filter(
        (g) =>
          g.folder === 'tools' && g.packages.some((p) => p.startsWith('@modelcontextprotocol/')),
      )
      .map((g) => g.file);
    expect(bad).toEqual([]);
  });

  it('a start loads no simulator, doctor, HTTP transport, undici or optional toolset until it needs them', () => {
    // Follow the value imports cli.ts makes when it starts (not types, not import()).
    const valueImports = (file: string) =>
      [
        ...readFileSync(join(src, file), 'utf8').matchAll(
          /^(?:import|export)\s+(?!type\b)[^'"]*?from\s+['"]([^'"]+)['"]/gm,
        ),
      ].map((m) => m[1] ?? '');
    const loaded = new Set<string>();
    const packages = new Set<string>();
    const visit = (file: string) => {
      if (loaded.has(file)) return;
      loaded.add(file);
      for (const spec of valueImports(file)) {
        if (spec.startsWith('.'))
          visit(relative(src, join(src, file, '..', spec)).replace(/\.js$/, '.ts'));
        else packages.add(spec);
      }
    };
    visit('cli.ts');
    expect(loaded).toContain('server/create.ts');
    expect(
      [...loaded].filter(
        (f) => f.startsWith('simulator/') || f === 'doctor.ts' || f === 'transports/http.ts',
      ),
    ).toEqual([]);
    // The tool files of toolsets not on by default load with their toolsets (tools/registry.ts).
    const optional = ['provision', 'backup', 'metrics', 'agent', 'access', 'cluster', 'api'];
    expect([...loaded].filter((f) => optional.some((t) => f === `tools/${t}.ts`))).toEqual([]);
    expect(
      [...packages].filter((p) => p === 'undici' || p.startsWith('@modelcontextprotocol/node')),
    ).toEqual([]);
  });

  it('the policy and the server decide nothing on a tool name', () => {
    // Rails follow from what a request does and what a tool declares, never from its name.
    const bad = graph
      .filter((g) => g.folder === 'policy' || g.folder === 'server')
      .flatMap((g) =>
        readFileSync(join(src, g.file), 'utf8')
          .split('\n')
          .map((line, i) => ({ line, at: `${g.file}:${i + 1}` }))
          .filter(({ line }) => /tool\.name\s*[!=]==|['"`]proxmox_[a-z_]+['"`]\s*[!=:)]/.test(line))
          .map(({ at, line }) => `${at}: ${line.trim()}`),
      );
    expect(bad).toEqual([]);
  });
});
