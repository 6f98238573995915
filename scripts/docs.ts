/**
 * Keeps the README's generated sections and the MCP registry entry (server.json) in step with the
 * code. `npm run docs` rewrites them; a test fails when they are stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { configSchema } from '../src/config/schema.js';
import { SETTINGS, sources } from '../src/config/settings.js';
import { allTools } from '../src/tools/registry.js';
import { TOOLSET_TABLE, TOOLSETS } from '../src/tools/toolsets.js';

const ALL_TOOLS = await allTools();

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

export function toolsetTable(): string {
  const lines = [
    '| Toolset | Default | Tools | What for | Privileges it needs |',
    '|---|---|---|---|---|',
  ];
  for (const set of TOOLSETS) {
    const info = TOOLSET_TABLE[set];
    const privileges = (info.privileges as readonly (readonly [string, string])[])
      .map(([priv, path]) => `${priv} on \`${path}\``)
      .join(', ');
    lines.push(
      `| ${set} | ${'default' in info ? 'yes' : ''} | ${ALL_TOOLS.filter((t) => t.toolset === set).length} | ${info.description} | ${privileges || 'those of the operation called'} |`,
    );
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

type Json = {
  type?: string | string[];
  default?: unknown;
  enum?: unknown[];
  properties?: Record<string, Json>;
  items?: Json;
};

/** Every setting of the configuration schema, with its type and default. */
export function settings(): { path: string; type: string; default?: unknown }[] {
  const root = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as Json;
  const out: { path: string; type: string; default?: unknown }[] = [];
  const walk = (schema: Json, prefix: string) => {
    for (const [key, prop] of Object.entries(schema.properties ?? {})) {
      const path = prefix ? `${prefix}.${key}` : key;
      const type = prop.enum
        ? prop.enum.map((e) => `\`${e}\``).join(' \\| ')
        : prop.type === 'array'
          ? `${prop.items?.type === 'object' ? 'list' : `${prop.items?.type ?? 'value'} list`}`
          : String(prop.type ?? 'value');
      out.push({ path, type, default: prop.default });
      if (prop.type === 'object') walk(prop, path);
      if (prop.type === 'array' && prop.items?.type === 'object') walk(prop.items, `${path}[]`);
    }
  };
  walk(root, '');
  return out;
}

export function configTable(): string {
  const lines = ['| Setting | Type | Default | Also from | Meaning |', '|---|---|---|---|---|'];
  for (const s of settings()) {
    const setting = SETTINGS.find((x) => x.path === s.path);
    const where = setting
      ? [...sources(setting, (t) => `\`${t}\``), ...(setting.also ? [setting.also] : [])].join(', ')
      : '';
    const meaning = setting?.doc ?? '';
    const def =
      s.default === undefined || (typeof s.default === 'object' && !Array.isArray(s.default))
        ? ''
        : `\`${JSON.stringify(s.default)}\``;
    lines.push(`| \`${s.path}\` | ${s.type} | ${def} | ${where} | ${meaning} |`);
  }
  return lines.join('\n');
}

export const BENCH = fileURLToPath(new URL('../bench/latest.json', import.meta.url));

/** The latest `npm run bench` figures, as committed in bench/latest.json. */
export function benchTable(): string {
  const latest = JSON.parse(readFileSync(BENCH, 'utf8')) as {
    date: string;
    node: string;
    results: {
      group: string;
      name: string;
      value: number;
      unit: string;
      target?: number;
      higherIsBetter?: boolean;
    }[];
  };
  const lines = [
    `Measured ${latest.date.slice(0, 10)} on Node ${latest.node}, each ratio within one run.`,
    '',
    '| Group | Figure | Value | Target |',
    '|---|---|---|---|',
  ];
  for (const r of latest.results) {
    const target =
      r.target === undefined
        ? ''
        : `${r.higherIsBetter ? '>=' : '<='} ${r.target}${(r.higherIsBetter ? r.value >= r.target : r.value <= r.target) ? '' : ' (missed)'}`;
    lines.push(
      `| ${r.group} | ${r.name.replace(/\|/g, '\\|')} | ${r.value} ${r.unit} | ${target} |`,
    );
  }
  return lines.join('\n');
}

export const SERVER_JSON = fileURLToPath(new URL('../server.json', import.meta.url));
const PACKAGE = JSON.parse(
  readFileSync(fileURLToPath(new URL('../package.json', import.meta.url)), 'utf8'),
) as {
  name: string;
  version: string;
  mcpName: string;
  homepage: string;
  repository: { url: string };
};

/** Variables read outside the settings table (src/config/raw.ts). */
const OTHER_VARIABLES: [name: string, description: string, format?: string][] = [
  ['PROXMOX_CONFIG', 'YAML or JSON configuration file', 'filepath'],
  ['PROXMOX_CLUSTER', 'The cluster of the configuration file the PROXMOX_* settings are for'],
  ['PROXMOX_HOST', 'Proxmox VE host name or address, instead of PROXMOX_URL'],
  ['PROXMOX_PORT', 'Proxmox VE API port with PROXMOX_HOST (default 8006)', 'number'],
];

/** The plain text of a setting's doc, for a registry entry: no Markdown. */
const plain = (doc: string) => doc.replace(/`/g, '');

/**
 * The MCP registry entry (schema 2025-12-11): the npm package and every variable a user may set,
 * from the settings table, the secret ones marked, each secret's `_FILE` form as a file path.
 */
export function serverJson(): unknown {
  const variables: Record<string, unknown>[] = [];
  for (const s of SETTINGS) {
    if (!s.env) continue;
    const format = s.type === 'boolean' ? 'boolean' : s.type === 'port' ? 'number' : 'string';
    variables.push({
      name: s.env,
      description: plain(s.doc),
      isRequired: s.env === 'PROXMOX_URL',
      ...(s.secret ? { isSecret: true } : {}),
      format,
    });
    if (s.secret)
      variables.push({
        name: `${s.env}_FILE`,
        description: `File holding ${s.env}`,
        format: 'filepath',
      });
  }
  for (const [name, description, format] of OTHER_VARIABLES)
    variables.push({ name, description, format: format ?? 'string' });
  return {
    $schema: 'https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json',
    name: PACKAGE.mcpName,
    title: 'Proxmox VE',
    description:
      'Operate Proxmox VE clusters: guests, snapshots, backups, storage, tasks, with safety rails',
    version: PACKAGE.version,
    repository: { url: PACKAGE.repository.url.replace(/^git\+|\.git$/g, ''), source: 'github' },
    websiteUrl: PACKAGE.homepage,
    packages: [
      {
        registryType: 'npm',
        registryBaseUrl: 'https://registry.npmjs.org',
        identifier: PACKAGE.name,
        version: PACKAGE.version,
        runtimeHint: 'npx',
        transport: { type: 'stdio' },
        environmentVariables: variables,
      },
    ],
  };
}

export function renderReadme(text: string): string {
  const sections: [string, string][] = [
    ['toolsets', toolsetTable()],
    ['tools', toolTable()],
    ['config', configTable()],
    ['bench', benchTable()],
  ];
  return sections.reduce((out, [name, body]) => withSection(out, name, body), text);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(README, renderReadme(readFileSync(README, 'utf8')));
  writeFileSync(SERVER_JSON, `${JSON.stringify(serverJson(), null, 2)}\n`);
  console.error('README.md and server.json updated');
}
