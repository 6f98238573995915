/**
 * Configuration layering: schema defaults, then a config file (YAML or JSON), then `PROXMOX_*`
 * environment variables, then command-line flags. Errors name the setting and how to fix it.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { z } from 'zod';
import { type Config, configSchema } from './schema.js';

export class ConfigError extends Error {}

/** Settings that flags may give; undefined means not given. */
export interface ConfigFlags {
  config?: string;
  url?: string;
  readOnly?: boolean;
  toolsets?: string;
  tools?: string;
  excludeTools?: string;
  confirm?: string;
  auditLog?: string;
  logLevel?: string;
  http?: boolean;
  host?: string;
  port?: string;
  httpToken?: string;
  httpTokenFile?: string;
  demo?: boolean;
  insecure?: boolean;
}

type Raw = Record<string, unknown>;

/** Where each cluster setting comes from in the environment, for error messages. */
const CLUSTER_ENV: Record<string, string> = {
  url: 'PROXMOX_URL (or PROXMOX_HOST and PROXMOX_PORT)',
  apiToken: 'PROXMOX_API_TOKEN',
  tokenId: 'PROXMOX_TOKEN_ID',
  tokenSecret: 'PROXMOX_TOKEN_SECRET',
  user: 'PROXMOX_USER',
  password: 'PROXMOX_PASSWORD',
  caFile: 'PROXMOX_CA_FILE',
  fingerprint: 'PROXMOX_TLS_FINGERPRINT',
  insecure: 'PROXMOX_INSECURE',
};
const GLOBAL_ENV: Record<string, string> = {
  readOnly: 'PROXMOX_READ_ONLY or --read-only',
  toolsets: 'PROXMOX_TOOLSETS or --toolsets',
  tools: 'PROXMOX_TOOLS or --tools',
  excludeTools: 'PROXMOX_EXCLUDE_TOOLS or --exclude-tools',
  confirm: 'PROXMOX_CONFIRM or --confirm',
  auditLog: 'PROXMOX_AUDIT_LOG or --audit-log',
  logLevel: 'PROXMOX_LOG_LEVEL or --log-level',
  http: '--http, --host, --port, --http-token',
};

function parseBool(name: string, value: string): boolean {
  const v = value.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(v)) return false;
  throw new ConfigError(`${name}='${value}' is not a boolean: use true or false`);
}

const list = (value: string) =>
  value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

function readSecretFile(name: string, path: string): string {
  try {
    return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    throw new ConfigError(
      `${name}: cannot read '${path}' (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
}

/** A value from `NAME`, or from the file `NAME_FILE` names. */
function envSecret(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const file = env[`${name}_FILE`];
  if (file) return readSecretFile(`${name}_FILE`, file);
  return env[name] || undefined;
}

function readConfigFile(path: string): Raw {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(
      `config file '${path}' cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
  let data: unknown;
  try {
    // yaml is loaded only when there is a file to read.
    const { parse } = createRequire(import.meta.url)('yaml') as typeof import('yaml');
    data = parse(text);
  } catch (err) {
    throw new ConfigError(
      `config file '${path}' is not valid YAML or JSON: ${(err as Error).message.split('\n')[0]}`,
    );
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data))
    throw new ConfigError(`config file '${path}' must hold a mapping of settings`);
  const raw = data as Raw;
  // A file with one cluster may write it at the top level.
  if (raw.url !== undefined && raw.clusters === undefined) {
    const {
      clusters: _c,
      toolsets,
      tools,
      excludeTools,
      readOnly,
      confirm,
      auditLog,
      logLevel,
      http,
      demo,
      ...cluster
    } = raw;
    return {
      toolsets,
      tools,
      excludeTools,
      readOnly,
      confirm,
      auditLog,
      logLevel,
      http,
      demo,
      clusters: [cluster],
    };
  }
  return raw;
}

function clusterFromEnv(env: NodeJS.ProcessEnv): Raw {
  const out: Raw = {};
  const host = env.PROXMOX_HOST;
  if (env.PROXMOX_URL) out.url = env.PROXMOX_URL.replace(/\/+$/, '').replace(/\/api2\/json$/, '');
  else if (host)
    out.url = `https://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${env.PROXMOX_PORT ?? '8006'}`;
  const apiToken = envSecret(env, 'PROXMOX_API_TOKEN');
  if (apiToken) out.apiToken = apiToken;
  if (env.PROXMOX_TOKEN_ID) out.tokenId = env.PROXMOX_TOKEN_ID;
  const tokenSecret = envSecret(env, 'PROXMOX_TOKEN_SECRET');
  if (tokenSecret) out.tokenSecret = tokenSecret;
  if (env.PROXMOX_USER) out.user = env.PROXMOX_USER;
  const password = envSecret(env, 'PROXMOX_PASSWORD');
  if (password) out.password = password;
  if (env.PROXMOX_CA_FILE) out.caFile = env.PROXMOX_CA_FILE;
  if (env.PROXMOX_TLS_FINGERPRINT) out.fingerprint = env.PROXMOX_TLS_FINGERPRINT;
  if (env.PROXMOX_INSECURE !== undefined)
    out.insecure = parseBool('PROXMOX_INSECURE', env.PROXMOX_INSECURE);
  return out;
}

function globalsFromEnv(env: NodeJS.ProcessEnv): Raw {
  const out: Raw = {};
  if (env.PROXMOX_READ_ONLY !== undefined)
    out.readOnly = parseBool('PROXMOX_READ_ONLY', env.PROXMOX_READ_ONLY);
  if (env.PROXMOX_TOOLSETS) out.toolsets = list(env.PROXMOX_TOOLSETS);
  if (env.PROXMOX_TOOLS) out.tools = list(env.PROXMOX_TOOLS);
  if (env.PROXMOX_EXCLUDE_TOOLS) out.excludeTools = list(env.PROXMOX_EXCLUDE_TOOLS);
  if (env.PROXMOX_CONFIRM) out.confirm = env.PROXMOX_CONFIRM;
  if (env.PROXMOX_AUDIT_LOG) out.auditLog = env.PROXMOX_AUDIT_LOG;
  if (env.PROXMOX_LOG_LEVEL) out.logLevel = env.PROXMOX_LOG_LEVEL;
  const httpToken = envSecret(env, 'PROXMOX_MCP_HTTP_TOKEN');
  if (httpToken) out.http = { token: httpToken };
  return out;
}

function globalsFromFlags(flags: ConfigFlags): Raw {
  const out: Raw = {};
  if (flags.readOnly !== undefined) out.readOnly = flags.readOnly;
  if (flags.toolsets !== undefined) out.toolsets = list(flags.toolsets);
  if (flags.tools !== undefined) out.tools = list(flags.tools);
  if (flags.excludeTools !== undefined) out.excludeTools = list(flags.excludeTools);
  if (flags.confirm !== undefined) out.confirm = flags.confirm;
  if (flags.auditLog !== undefined) out.auditLog = flags.auditLog;
  if (flags.logLevel !== undefined) out.logLevel = flags.logLevel;
  if (flags.demo !== undefined) out.demo = flags.demo;
  const http: Raw = {};
  if (flags.http !== undefined) http.enabled = flags.http;
  if (flags.host !== undefined) http.host = flags.host;
  if (flags.port !== undefined) {
    const port = Number(flags.port);
    if (!Number.isInteger(port))
      throw new ConfigError(`--port '${flags.port}' is not a port number`);
    http.port = port;
  }
  if (flags.httpTokenFile !== undefined)
    http.token = readSecretFile('--http-token-file', flags.httpTokenFile);
  if (flags.httpToken !== undefined) http.token = flags.httpToken;
  if (Object.keys(http).length) out.http = http;
  return out;
}

function merge(base: Raw, over: Raw): Raw {
  const out: Raw = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value === undefined) continue;
    const prev = out[key];
    out[key] =
      prev &&
      typeof prev === 'object' &&
      !Array.isArray(prev) &&
      value &&
      typeof value === 'object' &&
      !Array.isArray(value)
        ? merge(prev as Raw, value as Raw)
        : value;
  }
  return out;
}

/** Says which setting an issue is about, in the words the user configured it with. */
function describeIssue(issue: z.core.$ZodIssue, fromFile: boolean, clusterCount: number): string {
  const [first, index, key] = issue.path;
  if (first === 'clusters' && typeof key === 'string') {
    const env = CLUSTER_ENV[key];
    const where = fromFile ? `clusters[${String(index)}].${key} in the config file` : '';
    const hint = clusterCount <= 1 && env ? env : '';
    return `${[where, hint].filter(Boolean).join(' / ') || key}: ${issue.message}`;
  }
  if (typeof first === 'string' && GLOBAL_ENV[first])
    return `${first} (${GLOBAL_ENV[first]}): ${issue.message}`;
  return `${issue.path.join('.') || 'configuration'}: ${issue.message}`;
}

export interface LoadOptions {
  flags?: ConfigFlags;
  env?: NodeJS.ProcessEnv;
  /** A cluster to use when none is configured (the built-in simulator for --demo). */
  fallbackCluster?: Raw;
}

export function loadConfig(opts: LoadOptions = {}): Config {
  const env = opts.env ?? process.env;
  const flags = opts.flags ?? {};
  const file = flags.config ?? env.PROXMOX_CONFIG;
  const fromFile = file ? readConfigFile(file) : {};
  let raw = merge({}, fromFile);
  const clusters = Array.isArray(raw.clusters) ? [...(raw.clusters as Raw[])] : [];

  const envCluster = clusterFromEnv(env);
  if (flags.url) envCluster.url = flags.url.replace(/\/+$/, '');
  if (flags.insecure !== undefined) envCluster.insecure = flags.insecure;
  if (Object.keys(envCluster).length) {
    const target = env.PROXMOX_CLUSTER;
    const index = target
      ? clusters.findIndex((c) => c.name === target)
      : clusters.length <= 1
        ? 0
        : -1;
    if (target && index === -1 && clusters.length) {
      throw new ConfigError(
        `PROXMOX_CLUSTER='${target}' names no cluster of the config file (${clusters.map((c) => c.name).join(', ')})`,
      );
    }
    if (index === -1 && clusters.length > 1) {
      throw new ConfigError(
        `PROXMOX_* cluster settings are set, but the config file defines ${clusters.length} clusters: set PROXMOX_CLUSTER to the one they are for`,
      );
    }
    clusters[index === -1 ? 0 : index] = merge(
      clusters[index === -1 ? 0 : index] ?? (target ? { name: target } : {}),
      envCluster,
    );
  }
  const demo = flags.demo ?? (raw.demo as boolean | undefined) ?? false;
  if (demo && opts.fallbackCluster) {
    // The demo serves the built-in simulator, whatever else is configured.
    clusters.splice(0, clusters.length, opts.fallbackCluster);
  }
  raw = merge(merge(raw, globalsFromEnv(env)), globalsFromFlags(flags));
  raw.clusters = clusters;

  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map(
      (i) => `  - ${describeIssue(i, Boolean(file), clusters.length)}`,
    );
    throw new ConfigError(`configuration error:\n${lines.join('\n')}`);
  }
  const config = parsed.data;
  const loopback = ['127.0.0.1', '::1', 'localhost'].includes(config.http.host);
  if (config.http.enabled && !loopback && !config.http.token) {
    throw new ConfigError(
      `--host ${config.http.host} is not a loopback address, so the HTTP endpoint needs a bearer token: set PROXMOX_MCP_HTTP_TOKEN, --http-token-file or --http-token`,
    );
  }
  return config;
}
