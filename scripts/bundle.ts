/**
 * `npm run bundle`: the .mcpb bundle for one-click install in desktop clients, packed by the
 * official `@anthropic-ai/mcpb` CLI from bundle/manifest.json. The built server is one entry and
 * its chunks with every dependency inside, so the bundle holds no node_modules. Writes
 * build/proxmox-mcp-<version>.mcpb and prints its size.
 */
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const mcpb = join(root, 'node_modules/@anthropic-ai/mcpb/dist/cli/cli.js');

export function bundle(): string {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  const manifest = JSON.parse(readFileSync(join(root, 'bundle/manifest.json'), 'utf8')) as {
    version: string;
  };
  if (manifest.version !== pkg.version)
    throw new Error(
      `bundle/manifest.json has version ${manifest.version}, package.json ${pkg.version}`,
    );
  const stage = join(root, 'build/mcpb');
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(join(stage, 'server'), { recursive: true });
  // The CLI entry and the chunks it loads; not the library entry, types or maps.
  cpSync(join(root, 'dist/cli.js'), join(stage, 'server/cli.js'));
  cpSync(join(root, 'dist/chunks'), join(stage, 'server/chunks'), {
    recursive: true,
    filter: (src) => statSync(src).isDirectory() || src.endsWith('.js'),
  });
  // The chart renderer's WebAssembly and font, which the chart chunk reads from ../assets.
  cpSync(join(root, 'dist/assets'), join(stage, 'server/assets'), { recursive: true });
  writeFileSync(join(stage, 'server/package.json'), '{ "type": "module" }\n');
  for (const f of ['LICENSE', 'README.md']) cpSync(join(root, f), join(stage, f));
  cpSync(join(root, 'bundle/manifest.json'), join(stage, 'manifest.json'));
  execFileSync(process.execPath, [mcpb, 'validate', join(stage, 'manifest.json')], {
    stdio: 'inherit',
  });
  const out = join(root, `build/proxmox-mcp-${pkg.version}.mcpb`);
  execFileSync(process.execPath, [mcpb, 'pack', stage, out], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const out = bundle();
  const files = readdirSync(join(root, 'build/mcpb/server/chunks')).length + 1;
  console.error(
    `bundle: ${out} (${(statSync(out).size / 1024).toFixed(0)} KiB, ${files} server files)`,
  );
}
