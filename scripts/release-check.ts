/**
 * `npm run release:check`: what a publisher runs before a release, in order, stopping at the
 * first failure: the build, the whole test suite, the npm tarball, the .mcpb bundle, the MCP
 * registry entry, and a changelog section for the version.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const { version } = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { version: string };

const steps: [string, () => void][] = [
  ['build', () => execFileSync(npm, ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' })],
  ['tests', () => execFileSync(npm, ['test'], { cwd: root, stdio: 'inherit' })],
  ['npm pack', () => execFileSync(npm, ['pack', '--dry-run'], { cwd: root, stdio: 'inherit' })],
  [
    'bundle',
    () =>
      execFileSync(process.execPath, ['--import', 'tsx', 'scripts/bundle.ts'], {
        cwd: root,
        stdio: 'inherit',
      }),
  ],
  [
    'registry entry',
    () =>
      execFileSync(process.execPath, ['--import', 'tsx', 'scripts/registry.ts'], {
        cwd: root,
        stdio: 'inherit',
      }),
  ],
  [
    'changelog',
    () => {
      const log = readFileSync(`${root}CHANGELOG.md`, 'utf8');
      if (!new RegExp(`^## ${version.replace(/\./g, '\\.')}\\b`, 'm').test(log))
        throw new Error(`CHANGELOG.md has no section for ${version}`);
    },
  ],
];

for (const [name, run] of steps) {
  console.error(`release:check: ${name}`);
  try {
    run();
  } catch (err) {
    console.error(`release:check: ${name} failed${err instanceof Error ? `: ${err.message}` : ''}`);
    process.exit(1);
  }
}
console.error(`release:check: ${version} is ready to publish`);
