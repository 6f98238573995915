/**
 * `npm run build`: the package as esbuild bundles it (dependencies included, minified), split so
 * that what a start does not use (the simulator, doctor, HTTP, undici until the first request)
 * loads only when needed; the chart renderer's WebAssembly and font as assets; then the library's
 * type declarations from tsc.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { build } from 'esbuild';

const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
rmSync('dist', { recursive: true, force: true });
await build({
  entryPoints: { cli: 'src/cli.ts', index: 'src/index.ts' },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.18',
  minify: true,
  chunkNames: 'chunks/[name]-[hash]',
  define: { PROXMOX_MCP_VERSION: JSON.stringify(version) },
  // Bundled CommonJS code may require Node's own modules.
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
chmodSync('dist/cli.js', 0o755);
// What charts load beside their code (src/tools/chart.ts): the SVG-to-PNG renderer's WebAssembly
// and the font it draws text with.
mkdirSync('dist/assets', { recursive: true });
cpSync('node_modules/@resvg/resvg-wasm/index_bg.wasm', 'dist/assets/resvg.wasm');
cpSync('node_modules/dejavu-fonts-ttf/ttf/DejaVuSans.ttf', 'dist/assets/DejaVuSans.ttf');
execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], {
  stdio: 'inherit',
});
