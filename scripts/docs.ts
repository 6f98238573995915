/**
 * Keeps the README's generated sections in step with the code: the tool table from the
 * registry. `npm run docs` rewrites them; a test fails when they are stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { configSchema, TOOLSETS } from '../src/config/schema.js';
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

/** What each setting means, and where else it can be given. A test keeps this in step with the schema. */
export const SETTING_DOCS: Record<string, [where: string, meaning: string]> = {
  clusters: [
    'config file',
    'The clusters to manage; with more than one, every tool takes a `cluster` argument',
  ],
  'clusters[].name': [
    'config file; `PROXMOX_CLUSTER` picks the one the variables below apply to',
    'The name tools use for the cluster',
  ],
  'clusters[].url': [
    '`PROXMOX_URL`, or `PROXMOX_HOST` and `PROXMOX_PORT`; `--url`',
    'API address, e.g. `https://pve.example.com:8006`',
  ],
  'clusters[].apiToken': [
    '`PROXMOX_API_TOKEN`, `PROXMOX_API_TOKEN_FILE`',
    'API token, `user@realm!tokenid=secret`',
  ],
  'clusters[].tokenId': [
    '`PROXMOX_TOKEN_ID`',
    'API token id, `user@realm!tokenid`, with `tokenSecret`',
  ],
  'clusters[].tokenSecret': [
    '`PROXMOX_TOKEN_SECRET`, `PROXMOX_TOKEN_SECRET_FILE`',
    'API token secret',
  ],
  'clusters[].user': ['`PROXMOX_USER`', 'User for ticket login, `user@realm`'],
  'clusters[].password': [
    '`PROXMOX_PASSWORD`, `PROXMOX_PASSWORD_FILE`',
    'Password for ticket login',
  ],
  'clusters[].caFile': [
    '`PROXMOX_CA_FILE`',
    'PEM file of the CA to trust instead of the system CAs',
  ],
  'clusters[].fingerprint': [
    '`PROXMOX_TLS_FINGERPRINT`',
    'Pinned SHA-256 fingerprint of the PVE certificate, as `pvenode cert info` prints it',
  ],
  'clusters[].insecure': [
    '`PROXMOX_INSECURE`, `--insecure`',
    'Skip TLS verification (warned about at start)',
  ],
  'clusters[].readOnly': ['config file', 'Refuse every change on this cluster'],
  'clusters[].maxInFlight': ['config file', 'Requests in flight to this cluster at most'],
  'clusters[].timeoutMs': ['config file', 'Request timeout'],
  'clusters[].scope': ['config file', 'What the server may touch on this cluster'],
  'clusters[].scope.nodes': ['config file', 'Only these nodes'],
  'clusters[].scope.pools': ['config file', 'Only guests in these pools'],
  'clusters[].scope.vmids': ['config file', 'Only these IDs and ranges (`100-199`)'],
  'clusters[].scope.protected': ['config file', 'Guests that can be read but never changed'],
  'clusters[].scope.protected.vmids': ['config file', 'Protected IDs and ranges'],
  'clusters[].scope.protected.tags': ['config file', 'Guests with these tags are protected'],
  'clusters[].scope.protected.pools': ['config file', 'Guests in these pools are protected'],
  toolsets: [
    '`PROXMOX_TOOLSETS`, `--toolsets`',
    `Toolsets to offer: ${TOOLSETS.join(', ')}, or all`,
  ],
  tools: ['`PROXMOX_TOOLS`, `--tools`', 'Single tools to add'],
  excludeTools: ['`PROXMOX_EXCLUDE_TOOLS`, `--exclude-tools`', 'Single tools to remove'],
  readOnly: [
    '`PROXMOX_READ_ONLY`, `--read-only`',
    'Offer only tools that change nothing, on every cluster',
  ],
  confirm: [
    '`PROXMOX_CONFIRM`, `--confirm`',
    'How destructive actions are confirmed: ask the user (`elicit`), refuse when the client cannot ask (`strict`), or not at all (`none`)',
  ],
  auditLog: [
    '`PROXMOX_AUDIT_LOG`, `--audit-log`',
    'File to append a JSON line to for every attempted change (stderr when unset)',
  ],
  logLevel: ['`PROXMOX_LOG_LEVEL`, `--log-level`', 'Log level on stderr'],
  http: ['', 'Streamable HTTP transport'],
  'http.enabled': ['`--http`', 'Serve HTTP at `/mcp` instead of stdio'],
  'http.host': ['`--host`', 'Address to bind; other than loopback needs a token'],
  'http.port': ['`--port`', 'Port to listen on'],
  'http.token': [
    '`PROXMOX_MCP_HTTP_TOKEN`, `PROXMOX_MCP_HTTP_TOKEN_FILE`, `--http-token`, `--http-token-file`',
    'Bearer token HTTP clients must send',
  ],
  'http.allowedOrigins': ['config file', 'Browser origins allowed besides localhost'],
  demo: ['`--demo`', 'Serve the built-in simulated cluster instead of the configured ones'],
};

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
    const [where, meaning] = SETTING_DOCS[s.path] ?? ['', ''];
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

export function renderReadme(text: string): string {
  return withSection(
    withSection(withSection(text, 'tools', toolTable()), 'config', configTable()),
    'bench',
    benchTable(),
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(README, renderReadme(readFileSync(README, 'utf8')));
  console.error('README.md updated');
}
