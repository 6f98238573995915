/**
 * Configuration: the layered settings (raw.ts) checked against the schema, whose defaults come
 * first. Errors name the setting and how to fix it.
 */
import type { z } from 'zod';
import { ConfigError, type Gathered, gatherConfig, type LoadOptions } from './raw.js';
import { type Config, configSchema } from './schema.js';
import { SETTINGS, sources } from './settings.js';

export { ConfigError, type ConfigFlags, type LoadOptions } from './raw.js';

/** Host names that reach only this machine: an HTTP endpoint there needs no token. */
export const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);
/** Addresses that listen on every interface. */
const WILDCARD = new Set(['0.0.0.0', '::', '[::]']);

/** Where else a setting can be given, for error messages: `PROXMOX_READ_ONLY or --read-only`. */
function hint(path: string): string {
  const setting = SETTINGS.find((s) => s.path === path);
  return setting ? sources(setting).join(' or ') : '';
}

/** Edit distance, for the nearest valid name of a misspelled key. */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++)
      next[j] = Math.min(
        (row[j] ?? 0) + 1,
        (next[j - 1] ?? 0) + 1,
        (row[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    row = next;
  }
  return row[b.length] ?? 0;
}

/** The keys the schema allows at a path of the configuration. */
function keysAt(path: readonly PropertyKey[]): string[] {
  let schema: unknown = configSchema;
  const unwrap = () => {
    for (;;) {
      const s = schema as { unwrap?: () => unknown; element?: unknown };
      if (s.element !== undefined) schema = s.element;
      else if (typeof s.unwrap === 'function') schema = s.unwrap();
      else return;
    }
  };
  for (const step of path) {
    unwrap();
    if (typeof step === 'number') continue;
    schema = (schema as { shape?: Record<string, unknown> }).shape?.[String(step)];
  }
  unwrap();
  return Object.keys((schema as { shape?: Record<string, unknown> })?.shape ?? {});
}

/** An unknown key with the nearest valid name, so a misspelling never goes unnoticed. */
function describeUnknownKeys(issue: z.core.$ZodIssue & { keys: string[] }): string {
  const valid = keysAt(issue.path);
  const where = issue.path.length
    ? ` in ${issue.path
        .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
        .join('')
        .slice(1)}`
    : '';
  return issue.keys
    .map((key) => {
      const norm = (k: string) => k.toLowerCase().replace(/[-_]/g, '');
      const nearest = valid
        .map((v) => ({ v, d: distance(norm(key), norm(v)) }))
        .sort((a, b) => a.d - b.d)[0];
      const hint =
        nearest && nearest.d <= Math.max(2, key.length / 3) ? `: did you mean '${nearest.v}'?` : '';
      return `unknown setting '${key}'${where}${hint} (valid: ${valid.join(', ')})`;
    })
    .join('\n  - ');
}

/** Says which setting an issue is about, in the words the user configured it with. */
function describeIssue(issue: z.core.$ZodIssue, fromFile: boolean, clusterCount: number): string {
  if (issue.code === 'unrecognized_keys') return describeUnknownKeys(issue);
  const [first, index, key] = issue.path;
  if (first === 'clusters' && typeof key === 'string') {
    const where = fromFile ? `clusters[${String(index)}].${key} in the config file` : '';
    const other = clusterCount <= 1 ? hint(`clusters[].${key}`) : '';
    return `${[where, other].filter(Boolean).join(' / ') || key}: ${issue.message}`;
  }
  const other = typeof first === 'string' ? hint(first) : '';
  if (other) return `${String(first)} (${other}): ${issue.message}`;
  return `${issue.path.join('.') || 'configuration'}: ${issue.message}`;
}

export function loadConfig(opts: LoadOptions = {}): Config {
  return validateConfig(gatherConfig(opts));
}

/** Checks gathered settings against the schema and fills in its defaults. */
export function validateConfig({ raw, fromFile }: Gathered): Config {
  const clusters = raw.clusters as unknown[];
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map(
      (i) => `  - ${describeIssue(i, fromFile, clusters.length)}`,
    );
    throw new ConfigError(`configuration error:\n${lines.join('\n')}`);
  }
  const config = parsed.data;
  const loopback = LOOPBACK.has(config.http.host);
  if (config.http.auth === 'oauth' && !config.http.oauth) {
    throw new ConfigError(
      'http.auth is oauth, but http.oauth names no authorization server: set http.oauth.issuer and http.oauth.resource',
    );
  }
  const authenticated =
    config.http.auth === 'oauth' || Boolean(config.http.token) || config.http.tokens.length > 0;
  if (config.http.enabled && !loopback && !authenticated) {
    throw new ConfigError(
      `--host ${config.http.host} is not a loopback address, so the HTTP endpoint needs a bearer token: set PROXMOX_MCP_HTTP_TOKEN, --http-token-file or --http-token`,
    );
  }
  if (config.http.enabled && WILDCARD.has(config.http.host) && !config.http.allowedHosts.length) {
    throw new ConfigError(
      `--host ${config.http.host} listens on every address, so no Host header names it: set the host names clients use (http.allowedHosts, --allowed-hosts, PROXMOX_MCP_ALLOWED_HOSTS)`,
    );
  }
  return config;
}
