/**
 * Keeps the README's generated sections in step with the code: the tool table from the
 * registry. `npm run docs` rewrites them; a test fails when they are stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TOOLSETS } from '../src/config/schema.js';
import { ALL_TOOLS } from '../src/tools/registry.js';

export const README = fileURLToPath(new URL('../README.md', import.meta.url));

const ACCESS = { read: 'read', write: 'changes', destructive: 'destructive' } as const;

export function toolTable(): string {
  const lines = ['| Tool | Toolset | Effect | What it does |', '|---|---|---|---|'];
  for (const set of TOOLSETS) {
    for (const t of ALL_TOOLS.filter((x) => x.toolset === set)) {
      lines.push(
        `| \`${t.name}\` | ${t.toolset} | ${ACCESS[t.access]} | ${t.description.replace(/\|/g, '\\|')} |`,
      );
    }
  }
  return lines.join('\n');
}

/** Replaces the text between `<!-- name:start -->` and `<!-- name:end -->`. */
export function withSection(text: string, name: string, body: string): string {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  if (i === -1 || j === -1) throw new Error(`README lacks the ${start} ... ${end} markers`);
  return `${text.slice(0, i + start.length)}\n${body}\n${text.slice(j)}`;
}

export function renderReadme(text: string): string {
  return withSection(text, 'tools', toolTable());
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(README, renderReadme(readFileSync(README, 'utf8')));
  console.error('README.md updated');
}
