/**
 * Configuration layering: a config file (YAML or JSON), then `PROXMOX_*` environment variables,
 * then command-line flags, read as the settings table says (settings.ts) and merged into one raw
 * object, checked against the schema in load.ts.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { flagKey, SETTINGS, type Setting } from './settings.js';

export class ConfigError extends Error {}

/** Flag values by their key (`readOnly` for `--read-only`); undefined means not given. */
export type ConfigFlags = Record<string, string | boolean | undefined>;

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

/** The top-level settings that are not a cluster's. */
const GLOBAL_KEYS = new Set(
  SETTINGS.filter((s) => !s.path.startsWith('clusters')).map((s) => s.path.split('.')[0]),
);

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

const CLUSTER = 'clusters[].';

/** A setting's value from the text a variable or flag gave it (`name` says which, for errors). */
function parse(s: Setting, name: string, given: string | boolean): unknown {
  if (typeof given === 'boolean') return given;
  if (s.type === 'boolean') return parseBool(name, given);
  if (s.type === 'list') return list(given);
  if (s.type === 'port') {
    const port = Number(given);
    if (!given.trim() || !Number.isInteger(port))
      throw new ConfigError(`${name} '${given}' is not a port number`);
    return port;
  }
  // An address may be given with PVE's API path, which the client adds itself.
  if (s.path === `${CLUSTER}url`) return given.replace(/\/+$/, '').replace(/\/api2\/json$/, '');
  return given;
}

/** What one source gives, by the table: `read` answers a setting's text and its name there. */
function layer(read: (s: Setting) => [name: string, given: string | boolean] | undefined): {
  globals: Raw;
  cluster: Raw;
} {
  const globals: Raw = {};
  const cluster: Raw = {};
  for (const s of SETTINGS) {
    const found = read(s);
    if (!found) continue;
    const inCluster = s.path.startsWith(CLUSTER);
    const keys = (inCluster ? s.path.slice(CLUSTER.length) : s.path).split('.');
    let at = inCluster ? cluster : globals;
    for (const key of keys.slice(0, -1)) {
      at[key] ??= {};
      at = at[key] as Raw;
    }
    at[keys.at(-1) as string] = parse(s, found[0], found[1]);
  }
  return { globals, cluster };
}

function fromEnv(env: NodeJS.ProcessEnv) {
  const given = layer((s) => {
    if (!s.env) return undefined;
    const value = s.secret ? envSecret(env, s.env) : env[s.env];
    // A boolean may be set empty (false); other settings count only when not empty.
    if (value === undefined || (value === '' && s.type !== 'boolean')) return undefined;
    return [s.env, value];
  });
  const host = env.PROXMOX_HOST;
  if (given.cluster.url === undefined && host)
    given.cluster.url = `https://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${env.PROXMOX_PORT ?? '8006'}`;
  return given;
}

function fromFlags(flags: ConfigFlags) {
  return layer((s) => {
    const value = s.flag === undefined ? undefined : flags[flagKey(s.flag)];
    if (value !== undefined) return [`--${s.flag}`, value];
    const file = s.fileFlag === undefined ? undefined : flags[flagKey(s.fileFlag)];
    if (typeof file === 'string')
      return [`--${s.fileFlag}`, readSecretFile(`--${s.fileFlag}`, file)];
    return undefined;
  });
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
  const file = (flags.config as string | undefined) ?? env.PROXMOX_CONFIG;
  const fromFile = file ? readConfigFile(file) : {};
  let raw = merge({}, fromFile);
  const clusters = Array.isArray(raw.clusters) ? [...(raw.clusters as Raw[])] : [];

  const envLayer = fromEnv(env);
  const flagLayer = fromFlags(flags);
  const envCluster = merge(envLayer.cluster, flagLayer.cluster);
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
  const demo = (flagLayer.globals.demo ?? raw.demo ?? false) === true;
  if (demo && opts.fallbackCluster) {
    // The demo serves the built-in simulator, whatever else is configured.
    clusters.splice(0, clusters.length, opts.fallbackCluster);
  }
  raw = merge(merge(raw, envLayer.globals), flagLayer.globals);
  raw.clusters = clusters;
  return { raw, fromFile: Boolean(file) };
}
