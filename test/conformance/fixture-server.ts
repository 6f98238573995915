/**
 * proxmox-mcp's Streamable HTTP endpoint with the conformance suite's fixtures added, for tests
 * only: the demo's wiring as src/cli.ts does it (a simulated cluster, the default configuration,
 * serverFactory, serveHttp), each server the factory makes given the fixtures (fixtures.ts).
 * Nothing of this is in the package: the build bundles src/cli.ts and src/index.ts only, and no
 * flag, setting or environment variable of the product reaches it.
 *
 *   npx tsx test/conformance/fixture-server.ts     # prints the URL on stderr, Ctrl+C stops
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { McpServer } from '@modelcontextprotocol/server';
import { flagsOf } from '../../src/config/flags.js';
import { validateConfig } from '../../src/config/load.js';
import { gatherConfig } from '../../src/config/raw.js';
import { serverFactory } from '../../src/server/create.js';
import { buildDeps, closeDeps } from '../../src/server/deps.js';
import { Offer } from '../../src/server/offered.js';
import { startSimulator } from '../../src/simulator/server.js';
import { loadTools } from '../../src/tools/registry.js';
import { httpOptions, serveHttp } from '../../src/transports/http.js';
import { FIXTURE_TOOLS, registerFixtures, unseal } from './fixtures.js';

/**
 * The product answers a call of a tool it does not offer with the reason (server/offered.ts), ahead
 * of the SDK's own tools/call handler: the fixture tools count as offered, so their calls take the
 * product's path (its wrapper, then the SDK's handler) like any product tool's.
 */
const offered = Offer.prototype.has;
Offer.prototype.has = function (this: Offer, name: string) {
  return FIXTURE_TOOLS.has(name) || offered.call(this, name);
};

export interface FixtureServer {
  url: string;
  close(): Promise<void>;
}

/** `log` gets what the endpoint logs (the default: stderr). */
export async function startFixtureServer(
  log: (message: string) => void = (m) => process.stderr.write(`fixture-server: ${m}\n`),
): Promise<FixtureServer> {
  const sim = await startSimulator({ port: 0, taskScale: 0.5 });
  // As `--http --demo --port 0` with no environment and no config file: the run does not depend
  // on the machine's settings.
  const config = validateConfig(
    gatherConfig({
      env: {},
      flags: flagsOf({ http: true, demo: true, port: '0' }),
      fallbackCluster: {
        name: 'demo',
        url: sim.url,
        apiToken: `${sim.token.id}=${sim.token.secret}`,
        fingerprint: sim.fingerprint,
      },
    }),
  );
  const deps = buildDeps(config, { version: '0.0.0-conformance' });
  // The server refuses a requestState it did not seal (create.ts); the fixtures seal their own.
  const authentic = deps.seal.authentic.bind(deps.seal);
  deps.seal.authentic = (state) => authentic(state) || unseal(state) !== undefined;
  const product = serverFactory(config, deps, await loadTools(config));
  const factory = (): McpServer => {
    const server = product();
    registerFixtures(server);
    return server;
  };
  const running = await serveHttp(factory, httpOptions(config.http, log));
  return {
    url: running.url,
    async close() {
      await running.close(1_000);
      await closeDeps(deps);
      await sim.close();
    },
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const server = await startFixtureServer();
  process.stderr.write(`conformance fixtures served at ${server.url}\n`);
  await new Promise((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await server.close();
}
