/**
 * Every setting a user can give, and each way to give it: the one table the flags, the
 * environment reading, the usage text, the configuration errors' hints and the README's reference
 * come from. The schema (schema.ts) says what a valid value is; a test keeps the two in step.
 */
import { describeToolsets } from '../tools/toolsets.js';

export interface Setting {
  /** Its place in the configuration: `readOnly`, `clusters[].url`, `http.token`. */
  path: string;
  /** What it does, for the usage text and the README. */
  doc: string;
  /** The `PROXMOX_*` variable that sets it (for the configured cluster, with `clusters[].`). */
  env?: string;
  /** Also read from the file `<env>_FILE` names. */
  secret?: true;
  /** The flag that sets it, without its dashes. */
  flag?: string;
  /** A flag that names a file to read it from. */
  fileFlag?: string;
  /** How the text of a flag or variable becomes the value (default: the text). */
  type?: 'boolean' | 'list' | 'port';
  /** The flag's argument in the usage text (`LIST`, `FILE`); none for a boolean. */
  arg?: string;
  /** Other ways to give it, for the README. */
  also?: string;
}

export const SETTINGS: Setting[] = [
  {
    path: 'clusters',
    doc: 'The clusters to manage; with more than one, every tool takes a `cluster` argument',
  },
  {
    path: 'clusters[].name',
    doc: 'The name tools use for the cluster',
    also: '`PROXMOX_CLUSTER` picks the one the variables apply to',
  },
  {
    path: 'clusters[].url',
    doc: 'Proxmox VE address, e.g. https://pve.example.com:8006',
    env: 'PROXMOX_URL',
    flag: 'url',
    arg: 'URL',
    also: '`PROXMOX_HOST` and `PROXMOX_PORT`',
  },
  {
    path: 'clusters[].apiToken',
    doc: 'API token, `user@realm!tokenid=secret`',
    env: 'PROXMOX_API_TOKEN',
    secret: true,
  },
  {
    path: 'clusters[].tokenId',
    doc: 'API token id, `user@realm!tokenid`, with `tokenSecret`',
    env: 'PROXMOX_TOKEN_ID',
  },
  {
    path: 'clusters[].tokenSecret',
    doc: 'API token secret',
    env: 'PROXMOX_TOKEN_SECRET',
    secret: true,
  },
  { path: 'clusters[].user', doc: 'User for ticket login, `user@realm`', env: 'PROXMOX_USER' },
  {
    path: 'clusters[].password',
    doc: 'Password for ticket login',
    env: 'PROXMOX_PASSWORD',
    secret: true,
  },
  {
    path: 'clusters[].caFile',
    doc: 'PEM file of the CA to trust instead of the system CAs',
    env: 'PROXMOX_CA_FILE',
  },
  {
    path: 'clusters[].fingerprint',
    doc: 'Pinned SHA-256 fingerprint of the PVE certificate, as `pvenode cert info` prints it',
    env: 'PROXMOX_TLS_FINGERPRINT',
  },
  {
    path: 'clusters[].insecure',
    doc: 'Skip TLS verification (warned about at start); prefer a fingerprint',
    env: 'PROXMOX_INSECURE',
    flag: 'insecure',
    type: 'boolean',
  },
  { path: 'clusters[].readOnly', doc: 'Refuse every change on this cluster' },
  { path: 'clusters[].maxInFlight', doc: 'Requests in flight to this cluster at most' },
  { path: 'clusters[].timeoutMs', doc: 'Request timeout' },
  {
    path: 'clusters[].sourceAddress',
    doc: "The address PVE sees this server connect from, when NAT or a proxy changes it (the firewall's lock-out check uses it; default: the connection's own)",
  },
  { path: 'clusters[].scope', doc: 'What the server may touch on this cluster' },
  { path: 'clusters[].scope.nodes', doc: 'Only these nodes' },
  { path: 'clusters[].scope.pools', doc: 'Only guests in these pools' },
  { path: 'clusters[].scope.vmids', doc: 'Only these IDs and ranges (`100-199`)' },
  { path: 'clusters[].scope.protected', doc: 'Guests that can be read but never changed' },
  { path: 'clusters[].scope.protected.vmids', doc: 'Protected IDs and ranges' },
  { path: 'clusters[].scope.protected.tags', doc: 'Guests with these tags are protected' },
  { path: 'clusters[].scope.protected.pools', doc: 'Guests in these pools are protected' },
  {
    path: 'toolsets',
    doc: `Toolsets to offer: ${describeToolsets()}; or all. Default: core`,
    env: 'PROXMOX_TOOLSETS',
    flag: 'toolsets',
    type: 'list',
    arg: 'LIST',
  },
  {
    path: 'tools',
    doc: 'Single tools to add',
    env: 'PROXMOX_TOOLS',
    flag: 'tools',
    type: 'list',
    arg: 'LIST',
  },
  {
    path: 'excludeTools',
    doc: 'Single tools to remove',
    env: 'PROXMOX_EXCLUDE_TOOLS',
    flag: 'exclude-tools',
    type: 'list',
    arg: 'LIST',
  },
  {
    path: 'readOnly',
    doc: 'Offer only tools that change nothing, on every cluster',
    env: 'PROXMOX_READ_ONLY',
    flag: 'read-only',
    type: 'boolean',
  },
  {
    path: 'confirm',
    doc: 'How changes are confirmed: ask the user through the client (`elicit`, default), refuse when the client cannot ask (`strict`), or not at all (`none`)',
    env: 'PROXMOX_CONFIRM',
    flag: 'confirm',
    arg: 'MODE',
  },
  {
    path: 'auditLog',
    doc: 'File to append a JSON line to for every attempted change (stderr when unset)',
    env: 'PROXMOX_AUDIT_LOG',
    flag: 'audit-log',
    arg: 'FILE',
  },
  {
    path: 'logLevel',
    doc: 'Log level on stderr: debug, info, warn or error',
    env: 'PROXMOX_LOG_LEVEL',
    flag: 'log-level',
    arg: 'LEVEL',
  },
  { path: 'http', doc: 'Streamable HTTP transport' },
  {
    path: 'http.enabled',
    doc: 'Serve MCP over Streamable HTTP at /mcp instead of stdio',
    flag: 'http',
    type: 'boolean',
  },
  {
    path: 'http.host',
    doc: 'HTTP address (default 127.0.0.1); other than loopback needs a token',
    flag: 'host',
    arg: 'ADDR',
  },
  {
    path: 'http.port',
    doc: 'HTTP port (default 3000; 0 picks a free one)',
    flag: 'port',
    type: 'port',
    arg: 'N',
  },
  {
    path: 'http.token',
    doc: 'Bearer token HTTP clients must send',
    env: 'PROXMOX_MCP_HTTP_TOKEN',
    secret: true,
    flag: 'http-token',
    fileFlag: 'http-token-file',
    arg: 'TOKEN',
  },
  {
    path: 'http.tokens',
    doc: 'Bearer tokens each with a label (`{label, token}`): the audit log names who acted by it',
  },
  { path: 'http.tokens[].label', doc: "The token holder's name in the audit log" },
  { path: 'http.tokens[].token', doc: 'The bearer token, at least 16 characters' },
  {
    path: 'http.auth',
    doc: 'How HTTP clients authenticate: bearer tokens (`token`) or OAuth 2.1 access tokens (`oauth`)',
  },
  { path: 'http.oauth', doc: 'The authorization server whose access tokens are accepted' },
  { path: 'http.oauth.issuer', doc: "The authorization server's issuer URL" },
  {
    path: 'http.oauth.resource',
    doc: "This endpoint's public URL (https://mcp.example.com/mcp), the tokens' audience",
  },
  {
    path: 'http.oauth.jwksUrl',
    doc: "The authorization server's key set, when its metadata has none",
  },
  {
    path: 'http.allowedHosts',
    doc: 'Host names clients reach the endpoint by, needed with --host 0.0.0.0 (e.g. mcp.example.com)',
    env: 'PROXMOX_MCP_ALLOWED_HOSTS',
    flag: 'allowed-hosts',
    type: 'list',
    arg: 'LIST',
  },
  {
    path: 'http.allowedOrigins',
    doc: 'Browser origins allowed besides the endpoint itself (https://app.example.com)',
    env: 'PROXMOX_MCP_ALLOWED_ORIGINS',
    flag: 'allowed-origins',
    type: 'list',
    arg: 'LIST',
  },
  { path: 'http.maxConnections', doc: 'Open connections at most' },
  { path: 'http.maxSessions', doc: '2025-era sessions open at most' },
  { path: 'http.sessionIdleSeconds', doc: 'Seconds an unused 2025-era session lasts' },
  {
    path: 'http.requestTimeoutSeconds',
    doc: 'Seconds a client has to send a whole request, headers and body',
  },
  {
    path: 'demo',
    doc: 'Serve the built-in simulated cluster; no Proxmox needed',
    flag: 'demo',
    type: 'boolean',
  },
];

/** Flags that are not settings: where the settings are, and the command's own. */
export const COMMAND_FLAGS = {
  config: { type: 'string', doc: 'YAML or JSON configuration', env: 'PROXMOX_CONFIG', arg: 'FILE' },
  json: { type: 'boolean', doc: 'doctor: print the findings as JSON' },
  help: { type: 'boolean', short: 'h', doc: 'show this help' },
  version: { type: 'boolean', short: 'v', doc: 'print the version' },
} as const;

/** A flag's name as the flags object carries it: `read-only` is `readOnly`. */
export const flagKey = (flag: string) => flag.replace(/-(\w)/g, (_, c: string) => c.toUpperCase());

/** Where else a setting can be given, in words: for configuration errors and the README. */
export function sources(s: Setting, quote = (t: string) => t): string[] {
  return [
    s.env && quote(s.env),
    s.env && s.secret && quote(`${s.env}_FILE`),
    s.flag && quote(`--${s.flag}`),
    s.fileFlag && quote(`--${s.fileFlag}`),
  ].filter((x): x is string => Boolean(x));
}

/** The options part of the usage text. */
export function usageOptions(): string {
  const rows: [string, string][] = [
    [`--config ${COMMAND_FLAGS.config.arg}`, `${COMMAND_FLAGS.config.doc} (PROXMOX_CONFIG)`],
  ];
  for (const s of SETTINGS) {
    if (s.flag)
      rows.push([
        `--${s.flag}${s.arg ? ` ${s.arg}` : ''}`,
        `${s.doc}${s.env ? ` (${s.env})` : ''}`,
      ]);
    if (s.fileFlag) rows.push([`--${s.fileFlag} FILE`, 'the same, read from a file']);
  }
  rows.push(['-h, --help', COMMAND_FLAGS.help.doc], ['-v, --version', COMMAND_FLAGS.version.doc]);
  const indent = ' '.repeat(25);
  const out: string[] = [];
  for (const [flag, doc] of rows) {
    const lines: string[] = [];
    // The README's backticks are not for a terminal.
    for (const word of doc.replace(/`/g, '').split(' ')) {
      const last = lines.at(-1);
      if (last !== undefined && indent.length + last.length + word.length < 100)
        lines[lines.length - 1] = `${last} ${word}`;
      else lines.push(word);
    }
    const head = `  ${flag}`;
    const [first, ...rest] = lines;
    out.push(head.length < 25 ? `${head.padEnd(25)}${first}` : `${head}\n${indent}${first}`);
    for (const line of rest) out.push(`${indent}${line}`);
  }
  return out.join('\n');
}
