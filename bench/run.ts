/**
 * `npm run bench`: measures, prints a table, writes bench/latest.json. Each ratio compares two
 * measurements taken in this same run, so figures do not depend on the machine's speed.
 * `npm run bench -- server` runs the named suites only, and then writes nothing.
 */
import { writeFileSync } from 'node:fs';
import { benchBulk } from './bulk.js';
import { benchClient } from './client.js';
import { benchLoad, benchServer } from './server.js';
import { benchSimulator } from './simulator.js';
import type { BenchResult } from './types.js';

const suites: [string, () => Promise<BenchResult[]>][] = [
  ['simulator', benchSimulator],
  ['client', benchClient],
  ['server', benchServer],
  ['load', benchLoad],
  ['bulk', benchBulk],
];

const only = process.argv.slice(2);
const results: BenchResult[] = [];
for (const [name, run] of suites) {
  if (only.length && !only.includes(name)) continue;
  process.stderr.write(`bench: ${name}...\n`);
  results.push(...(await run()));
}

const rows = results.map((r) => {
  const ok =
    r.target === undefined
      ? ''
      : (r.higherIsBetter ? r.value >= r.target : r.value <= r.target)
        ? 'ok'
        : 'MISSED';
  const target = r.target === undefined ? '' : `${r.higherIsBetter ? '>=' : '<='} ${r.target}`;
  return [r.group, r.name, `${r.value} ${r.unit}`, target, ok];
});
const header = ['group', 'figure', 'value', 'target', ''];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
const line = (cells: string[]) =>
  cells
    .map((c, i) => c.padEnd(widths[i] ?? 0))
    .join('  ')
    .trimEnd();
process.stdout.write(
  `${[line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n')}\n`,
);

// Committed, so that the README's figures come from a real run (npm run docs renders them).
if (!only.length)
  writeFileSync(
    'bench/latest.json',
    `${JSON.stringify({ date: new Date().toISOString(), node: process.version, results }, null, 2)}\n`,
  );
