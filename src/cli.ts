#!/usr/bin/env node
/**
 * The composition root: reads flags and configuration, picks the transport, and wires the demo's
 * built-in simulator. Logs go to stderr; on stdio, stdout carries only the protocol.
 */
import { parseArgs } from 'node:util';
import { flagsOf, OPTIONS } from './config/flags.js';
import { validateConfig } from './config/load.js';
import { ConfigError, gatherConfig } from './config/raw.js';
import type { Config } from './config/schema.js';
import { usageOptions } from './config/settings.js';
import { type ServerDeps, serverFactory } from './server/create.js';
import { buildDeps, closeDeps } from './server/deps.js';
import type { AnyTool } from './tools/define.js';
import { loadTools } from './tools/registry.js';
import { serveStdio } from './transports/stdio.js';
import { VERSION } from './version.js';

const USAGE = `Usage: proxmox-mcp [options]            serve MCP over stdio
       proxmox-mcp --http [options]     serve MCP over Streamable HTTP at /mcp
       proxmox-mcp --demo [options]     ... against a built-in simulated cluster
       proxmox-mcp doctor [options]     check the connection, TLS, credentials and privileges
       proxmox-mcp simulator [options]  serve only the simulated Proxmox VE API

Options:
${usageOptions()}

Credentials come from the environment: PROXMOX_API_TOKEN=user@realm!tokenid=secret (or
PROXMOX_TOKEN_ID and PROXMOX_TOKEN_SECRET), or PROXMOX_USER and PROXMOX_PASSWORD; *_FILE
variants read them from files.
`;

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;
let logLevel: (typeof LEVELS)[number] = 'info';
const log = (level: (typeof LEVELS)[number], message: string) => {
  if (LEVELS.indexOf(level) >= LEVELS.indexOf(logLevel))
    process.stderr.write(`proxmox-mcp: ${message}\n`);
};

/** How to reach the demo from the usual clients, printed by `npm start`. */
function clientHelp(url: string): string {
  return [
    `proxmox-mcp ${VERSION}: demo cluster served over MCP at ${url}`,
    '',
    'Claude Code:',
    `  claude mcp add --transport http proxmox ${url}`,
    'VS Code (.vscode/mcp.json):',
    `  { "servers": { "proxmox": { "type": "http", "url": "${url}" } } }`,
    'Cursor (~/.cursor/mcp.json):',
    `  { "mcpServers": { "proxmox": { "url": "${url}" } } }`,
    'Claude Desktop (claude_desktop_config.json; runs its own demo over stdio):',
    '  { "mcpServers": { "proxmox": { "command": "npx", "args": ["-y", "proxmox-mcp", "--demo"] } } }',
    'MCP Inspector:',
    `  npx @modelcontextprotocol/inspector --cli ${url} --transport http --method tools/list`,
    '',
    'Press Ctrl+C to stop.',
  ].join('\n');
}

async function serve(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: OPTIONS, strict: true });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (values.version) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  let closeDemo: (() => Promise<void>) | undefined;
  let fallbackCluster: Record<string, unknown> | undefined;
  if (values.demo) {
    // The simulator is loaded only for the demo: product code never depends on it.
    const { startSimulator } = await import('./simulator/server.js');
    const sim = await startSimulator({ port: 0, taskScale: 0.5 });
    closeDemo = sim.close;
    fallbackCluster = {
      name: 'demo',
      url: sim.url,
      apiToken: `${sim.token.id}=${sim.token.secret}`,
      fingerprint: sim.fingerprint,
    };
  }
  // The whole configuration is checked, and what it opens opened, before a client is answered:
  // a wrong setting stops the start with the setting named.
  let config: Config;
  let deps: ServerDeps;
  try {
    config = validateConfig(gatherConfig({ flags: flagsOf(values), fallbackCluster }));
    logLevel = config.logLevel;
    deps = buildDeps(config, {
      version: VERSION,
      logger: { warn: (m) => log('warn', `warning: ${m}`) },
    });
  } catch (err) {
    await closeDemo?.();
    throw err;
  }
  const stop = async () => {
    await closeDeps(deps);
    await closeDemo?.();
  };
  let catalogue: AnyTool[];
  try {
    // Only the selected toolsets' tools are loaded; an unknown tool or toolset stops the start.
    catalogue = await loadTools(config);
  } catch (err) {
    await stop();
    throw err;
  }
  // A pool of a scope or protection these credentials cannot read is told now, as a warning, not
  // first when a change is refused. Nothing waits for it; a failure here is the calls' to tell.
  for (const [name, guard] of deps.guards)
    if (deps.policies.get(name)?.scope.pools.length) void guard.facts(false).catch(() => undefined);
  const factory = serverFactory(config, deps, catalogue);
  const signalled = new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });

  if (config.http.enabled) {
    const { httpOptions, serveHttp } = await import('./transports/http.js');
    const running = await serveHttp(
      factory,
      httpOptions(config.http, (m) => log('warn', m)),
    );
    if (values.demo) process.stderr.write(`${clientHelp(running.url)}\n`);
    else log('info', `serving MCP at ${running.url}`);
    await signalled;
    await running.close();
    await stop();
    return 0;
  }
  if (values.demo) log('info', 'demo: serving a simulated cluster (3 nodes, 13 guests) over stdio');
  const handle = serveStdio(factory, (err) => log('error', `error: ${err.message}`));
  try {
    await Promise.race([handle.done, signalled]);
  } finally {
    await handle.close();
    await stop();
  }
  return 0;
}

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'simulator') {
    const { runSimulatorCommand } = await import('./simulator/standalone.js');
    return runSimulatorCommand(argv.slice(1));
  }
  if (argv[0] === 'doctor') {
    const { runDoctor } = await import('./doctor.js');
    return runDoctor(argv.slice(1));
  }
  return serve(argv);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    // A wrong setting, or an unknown tool or toolset (a SelectionError is a ConfigError).
    const known = err instanceof ConfigError;
    log('error', err instanceof Error ? err.message : String(err));
    process.exitCode = known ? 2 : 1;
  },
);
