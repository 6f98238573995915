#!/usr/bin/env node
/**
 * The composition root: reads flags and configuration, picks the transport, and wires the demo's
 * built-in simulator. Logs go to stderr; on stdio, stdout carries only the protocol.
 */
import { parseArgs } from 'node:util';
import type { McpServer } from '@modelcontextprotocol/server';
import { flagsOf, OPTIONS } from './config/flags.js';
import { ConfigError, type Gathered, gatherConfig, surfaceKey } from './config/raw.js';
import type { Config } from './config/schema.js';
import type { ServerDeps } from './server/create.js';
import { readSurface, serveStdio } from './transports/stdio.js';
import { VERSION } from './version.js';

const USAGE = `Usage: proxmox-mcp [options]            serve MCP over stdio
       proxmox-mcp --http [options]     serve MCP over Streamable HTTP at /mcp
       proxmox-mcp --demo [options]     ... against a built-in simulated cluster
       proxmox-mcp doctor [options]     check the connection, TLS, credentials and privileges
       proxmox-mcp simulator [options]  serve only the simulated Proxmox VE API

Options:
  --config FILE          YAML or JSON configuration (PROXMOX_CONFIG)
  --url URL              Proxmox VE address, e.g. https://pve.example.com:8006 (PROXMOX_URL)
  --insecure             skip TLS verification (PROXMOX_INSECURE); prefer PROXMOX_TLS_FINGERPRINT
  --toolsets LIST        core (default), provision, backup, metrics, agent, agent_exec, access,
                         cluster, api, or all (PROXMOX_TOOLSETS)
  --tools LIST           add single tools (PROXMOX_TOOLS)
  --exclude-tools LIST   remove single tools (PROXMOX_EXCLUDE_TOOLS)
  --read-only            offer only tools that change nothing (PROXMOX_READ_ONLY)
  --confirm MODE         elicit (default: ask the user through the client), strict (refuse
                         when the client cannot ask) or none (PROXMOX_CONFIRM)
  --audit-log FILE       append a JSON line per attempted change (PROXMOX_AUDIT_LOG);
                         without it, the lines go to stderr
  --http                 serve Streamable HTTP instead of stdio
  --host ADDR            HTTP address (default 127.0.0.1); other than loopback needs a token
  --port N               HTTP port (default 3000; 0 picks a free one)
  --http-token TOKEN     bearer token HTTP clients must send (PROXMOX_MCP_HTTP_TOKEN)
  --http-token-file FILE the same, read from a file
  --log-level LEVEL      debug, info, warn or error (PROXMOX_LOG_LEVEL)
  --demo                 run against the built-in simulator; no Proxmox needed
  -h, --help             show this help
  -v, --version          print the version

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
  let gathered: Gathered;
  try {
    gathered = gatherConfig({ flags: flagsOf(values), fallbackCluster });
  } catch (err) {
    await closeDemo?.();
    throw err;
  }
  // The checked configuration with what it opens (clients, CA files, the audit log), and the
  // server factory: each made once, when first needed.
  let checked: { config: Config; deps: ServerDeps } | undefined;
  const check = async () => {
    if (!checked) {
      const [{ validateConfig }, { buildDeps }] = await Promise.all([
        import('./config/load.js'),
        import('./server/deps.js'),
      ]);
      const config = validateConfig(gathered);
      logLevel = config.logLevel;
      const deps = buildDeps(config, {
        version: VERSION,
        logger: { warn: (m) => log('warn', `warning: ${m}`) },
      });
      checked = { config, deps };
      // A pool of a scope or protection these credentials cannot read is told now, as a warning,
      // not first when a change is refused. Nothing waits for it; a failure here is the calls' to tell.
      for (const [name, guard] of deps.guards)
        if (deps.policies.get(name)?.scope.pools.length)
          void guard.facts(false).catch(() => undefined);
    }
    return checked;
  };
  let prepared: Promise<() => McpServer> | undefined;
  const prepare = () => {
    prepared ??= (async () => {
      const { config, deps } = await check();
      const [{ selectTools }, { createServer }] = await Promise.all([
        import('./tools/registry.js'),
        import('./server/create.js'),
      ]);
      // An unknown tool or toolset stops the start.
      selectTools({
        toolsets: config.toolsets,
        tools: config.tools,
        excludeTools: config.excludeTools,
      });
      return () => createServer(config, deps);
    })();
    return prepared;
  };
  const stop = async () => {
    if (checked) {
      const { closeDeps } = await import('./server/deps.js');
      await closeDeps(checked.deps);
    }
    await closeDemo?.();
  };
  const signalled = new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });

  // Over stdio, a configuration whose surface the build recorded starts without loading the server.
  const raw = gathered.raw;
  const http = raw.http as { enabled?: unknown } | undefined;
  const httpWanted = http?.enabled !== undefined && http.enabled !== false;
  const surface =
    values.demo || httpWanted
      ? undefined
      : readSurface(new URL('./surface.json', import.meta.url), surfaceKey(raw), VERSION);
  if (!surface) {
    // Without a recording, a wrong configuration stops the start, before any client connects.
    try {
      await prepare();
    } catch (err) {
      await stop();
      throw err;
    }
  }
  const config = checked?.config;
  if (config?.http.enabled) {
    const { serveHttp } = await import('./transports/http.js');
    const running = await serveHttp(await prepare(), {
      host: config.http.host,
      port: config.http.port,
      token: config.http.token,
      allowedOrigins: config.http.allowedOrigins,
      version: VERSION,
      log: (m) => log('warn', m),
    });
    if (values.demo) process.stderr.write(`${clientHelp(running.url)}\n`);
    else log('info', `serving MCP at ${running.url}`);
    await signalled;
    await running.close();
    await stop();
    return 0;
  }
  if (values.demo) log('info', 'demo: serving a simulated cluster (3 nodes, 13 guests) over stdio');
  const handle = serveStdio({
    surface,
    check,
    prepare,
    onerror: (err) => log('error', `error: ${err.message}`),
  });
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
