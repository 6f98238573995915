#!/usr/bin/env node
/**
 * The composition root: reads flags and configuration, picks the transport, and wires the demo's
 * built-in simulator. Logs go to stderr; on stdio, stdout carries only the protocol.
 */
import { parseArgs } from 'node:util';
import { ConfigError, type ConfigFlags, loadConfig } from './config/load.js';
import { createServer } from './server/create.js';
import { buildDeps, closeDeps } from './server/deps.js';
import { SelectionError, selectTools } from './tools/registry.js';
import { VERSION } from './version.js';

const USAGE = `Usage: proxmox-mcp [options]            serve MCP over stdio
       proxmox-mcp --demo [options]     ... against a built-in simulated cluster
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
  --log-level LEVEL      debug, info, warn or error (PROXMOX_LOG_LEVEL)
  --demo                 run against the built-in simulator; no Proxmox needed
  -h, --help             show this help
  -v, --version          print the version

Credentials come from the environment: PROXMOX_API_TOKEN=user@realm!tokenid=secret (or
PROXMOX_TOKEN_ID and PROXMOX_TOKEN_SECRET), or PROXMOX_USER and PROXMOX_PASSWORD; *_FILE
variants read them from files.
`;

const log = (message: string) => process.stderr.write(`proxmox-mcp: ${message}\n`);

async function serve(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      url: { type: 'string' },
      insecure: { type: 'boolean' },
      toolsets: { type: 'string' },
      tools: { type: 'string' },
      'exclude-tools': { type: 'string' },
      'read-only': { type: 'boolean' },
      confirm: { type: 'string' },
      'audit-log': { type: 'string' },
      'log-level': { type: 'string' },
      demo: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (values.version) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const flags: ConfigFlags = {
    config: values.config,
    url: values.url,
    insecure: values.insecure,
    toolsets: values.toolsets,
    tools: values.tools,
    excludeTools: values['exclude-tools'],
    readOnly: values['read-only'],
    confirm: values.confirm,
    auditLog: values['audit-log'],
    logLevel: values['log-level'],
    demo: values.demo,
  };
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
    log(`demo: serving a simulated cluster at ${sim.url} (3 nodes, 13 guests)`);
  }
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig({ flags, fallbackCluster });
    // An unknown tool or toolset stops the start, before any client connects.
    selectTools({
      toolsets: config.toolsets,
      tools: config.tools,
      excludeTools: config.excludeTools,
    });
  } catch (err) {
    await closeDemo?.();
    throw err;
  }
  const deps = buildDeps(config, {
    version: VERSION,
    logger: { warn: (m) => log(`warning: ${m}`) },
  });
  const { serveStdio } = await import('@modelcontextprotocol/server/stdio');
  const handle = serveStdio(() => createServer(config, deps), {
    onerror: (err) => log(`error: ${err.message}`),
  });
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.stdin.once('end', stop);
    process.stdin.once('close', stop);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await handle.close();
  await closeDeps(deps);
  await closeDemo?.();
  return 0;
}

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'simulator') {
    const { runSimulatorCommand } = await import('./simulator/standalone.js');
    return runSimulatorCommand(argv.slice(1));
  }
  return serve(argv);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof ConfigError || err instanceof SelectionError) log(err.message);
    else log(err instanceof Error ? err.message : String(err));
    process.exitCode = err instanceof ConfigError || err instanceof SelectionError ? 2 : 1;
  },
);
