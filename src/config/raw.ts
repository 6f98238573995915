/**
 * Configuration layering without the schema: a config file (YAML or JSON), then `PROXMOX_*`
 * environment variables, then command-line flags, merged into one raw object. It loads no schema
 * library, so the stdio start can read it before anything heavy (see load.ts for the checks).
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';

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

export type Raw = Record<string, unknown>;

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

/** The settings that are not a cluster's. */
const GLOBAL_KEYS = new Set([
  'toolsets',
  'tools',
  'excludeTools',
  'readOnly',
  'confirm',
  'auditLog',
  'logLevel',
  'http',
  'demo',
]);

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
    data = parseYaml(text);
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
    const entries = Object.entries(raw);
    return {
      ...Object.fromEntries(entries.filter(([k]) => GLOBAL_KEYS.has(k))),
      clusters: [Object.fromEntries(entries.filter(([k]) => !GLOBAL_KEYS.has(k)))],
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

export interface LoadOptions {
  flags?: ConfigFlags;
  env?: NodeJS.ProcessEnv;
  /** A cluster to use when none is configured (the built-in simulator for --demo). */
  fallbackCluster?: Raw;
}

export interface Gathered {
  raw: Raw;
  /** Whether a config file was read, for the wording of errors. */
  fromFile: boolean;
}

/** The settings as given, layered but not yet checked: cheap, and free of the schema library. */
export function gatherConfig(opts: LoadOptions = {}): Gathered {
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
  return { raw, fromFile: Boolean(file) };
}
