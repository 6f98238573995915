/**
 * Records the surface (server/surface.ts) of the configurations most starts use into
 * dist/surface.json, which the stdio start answers discovery from. Run by `npm run build`.
 */
import { writeFileSync } from 'node:fs';
import { validateConfig } from '../src/config/load.js';
import { type Raw, surfaceKey } from '../src/config/raw.js';
import { createServer } from '../src/server/create.js';
import { buildDeps, closeDeps } from '../src/server/deps.js';
import { addSurface, recordSurface, type SurfaceFile } from '../src/server/surface.js';
import { VERSION } from '../src/version.js';

/** The default, read-only and every toolset: the settings besides connection ones most often given. */
const VARIANTS: Raw[] = [{}, { readOnly: true }, { toolsets: ['all'] }];
const CLUSTER = {
  url: 'https://pve.invalid:8006',
  apiToken: 'surface@pve!build=00000000-0000-0000-0000-000000000000',
};

const file: SurfaceFile = { version: VERSION, surfaces: {}, results: [] };
for (const variant of VARIANTS) {
  const raw = { ...variant, clusters: [CLUSTER] };
  const config = validateConfig({ raw, fromFile: false });
  const deps = buildDeps(config, { version: VERSION });
  addSurface(file, surfaceKey(raw), await recordSurface(() => createServer(config, deps)));
  await closeDeps(deps);
}
const out = new URL('../dist/surface.json', import.meta.url);
writeFileSync(out, JSON.stringify(file));
