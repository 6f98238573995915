#!/usr/bin/env node
/**
 * The composition root: reads the command line and starts what it names.
 */
import { readFileSync } from 'node:fs';

const USAGE = `Usage: proxmox-mcp <command> [options]

Commands:
  simulator   serve a simulated Proxmox VE cluster (see: proxmox-mcp simulator --help)

Options:
  -h, --help     show this help
  -v, --version  print the version
`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'simulator': {
      const { runSimulatorCommand } = await import('./simulator/standalone.js');
      return runSimulatorCommand(rest);
    }
    case '-v':
    case '--version':
      process.stdout.write(`${version()}\n`);
      return 0;
    case '-h':
    case '--help':
    case undefined:
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`proxmox-mcp: unknown command '${command}'\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`proxmox-mcp: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
