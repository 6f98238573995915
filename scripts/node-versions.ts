/**
 * Runs the test suite again on Node 22 and 24 (the suite's own run covers the Node it started
 * on). Those Nodes come from the npm registry as plain packages (scripts/node-binary.ts).
 * NODE_VERSIONS_RUN tells the tests of these runs that they repeat a run already
 * made: tests that check external tools rather than the Node they run on skip it.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeBinary, nodeBinarySupported, nodeVersion } from './node-binary.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const VERSIONS = ['22', '24'];
const current = process.versions.node.split('.')[0];

if (!nodeBinarySupported) {
  console.error(
    `node-versions: Node ${VERSIONS.join(' and ')} are fetched as linux-x64 packages; skipped on ${process.platform}-${process.arch}`,
  );
  process.exit(0);
}

let failed = false;
for (const major of VERSIONS.filter((v) => v !== current)) {
  const node = nodeBinary(major);
  const version = nodeVersion(node);
  console.error(`node-versions: running the tests on Node ${version}`);
  const run = spawnSync(
    node,
    [join(root, 'node_modules/vitest/vitest.mjs'), 'run', '--reporter=dot'],
    {
      cwd: root,
      stdio: 'inherit',
      env: {
        ...process.env,
        PATH: `${dirname(node)}:${process.env.PATH}`,
        NODE_VERSIONS_RUN: version,
      },
    },
  );
  if (run.status !== 0) {
    console.error(`node-versions: the tests failed on Node ${version}`);
    failed = true;
  }
}
process.exit(failed ? 1 : 0);
