/**
 * Checks server.json as the MCP registry would: against a copy of the registry's schema
 * (2025-12-11), with the package version equal to package.json's. `npm run release:check` runs it;
 * the publish test uses the same check.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';

const root = fileURLToPath(new URL('../', import.meta.url));
const read = (path: string) => JSON.parse(readFileSync(`${root}${path}`, 'utf8'));

/** The registry schema's validator. */
export function registryValidator() {
  const ajv = new Ajv({ strict: false, allErrors: true });
  (addFormats as unknown as (a: Ajv) => void)(ajv);
  return ajv.compile(read('scripts/server.schema.2025-12-11.json'));
}

/** What is wrong with server.json, empty when nothing. */
export function registryProblems(): string[] {
  const entry = read('server.json') as {
    version?: string;
    packages?: { version?: string }[];
  };
  const { version } = read('package.json') as { version: string };
  const validate = registryValidator();
  const problems = validate(entry)
    ? []
    : (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`);
  if (entry.version !== version) problems.push(`version ${entry.version} is not ${version}`);
  for (const p of entry.packages ?? [])
    if (p.version !== version) problems.push(`package version ${p.version} is not ${version}`);
  return problems;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const problems = registryProblems();
  for (const p of problems) console.error(`server.json: ${p}`);
  if (problems.length) process.exit(1);
  console.error('server.json: valid for the MCP registry (schema 2025-12-11)');
}
