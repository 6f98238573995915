/** An MCP client connected in memory to a server backed by a simulator, as a real client would be. */
import { Client } from '@modelcontextprotocol/client';
import { InMemoryTransport } from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { type Config, configSchema } from '../../src/config/schema.js';
import type { PveApi } from '../../src/pve/index.js';
import { type ServerDeps, serverFactory } from '../../src/server/create.js';
import { buildDeps, closeDeps } from '../../src/server/deps.js';
import {
  type RunningSimulator,
  type SimulatorOptions,
  startSimulator,
} from '../../src/simulator/server.js';
import { loadTools } from '../../src/tools/registry.js';

export interface ToolAnswer {
  isError?: boolean;
  text: string;
  structured?: Record<string, unknown>;
}

export interface McpHarness {
  sim: RunningSimulator;
  client: Client;
  pve: PveApi;
  deps: ServerDeps;
  /** Audit lines written to stderr (when no audit file is configured). */
  auditLines: Record<string, unknown>[];
  call(
    name: string,
    args?: Record<string, unknown>,
    opts?: { onprogress?: (p: { progress: number; total?: number; message?: string }) => void },
  ): Promise<ToolAnswer>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  era?: 'legacy' | 'modern';
  config?: Record<string, unknown>;
  /** Settings of the (single) cluster: scope, readOnly, ... */
  cluster?: Record<string, unknown>;
  sim?: SimulatorOptions;
  /** Another API token of the dataset than the simulator's root token. */
  token?: (sim: RunningSimulator) => { tokenId: string; secret: string };
  /** Declare elicitation and answer it so. */
  elicit?: (message: string) => {
    action: 'accept' | 'decline' | 'cancel';
    content?: Record<string, string | number | boolean>;
  };
}

export async function startHarness(opts: HarnessOptions = {}): Promise<McpHarness> {
  // Real time with tasks sped up a hundredfold: waits end quickly and for real.
  const sim = await startSimulator({ clock: 'manual', taskScale: 0, ...opts.sim });
  const auth = opts.token?.(sim) ?? { tokenId: sim.token.id, secret: sim.token.secret };
  const config: Config = configSchema.parse({
    clusters: [
      {
        url: sim.url,
        apiToken: `${auth.tokenId}=${auth.secret}`,
        fingerprint: sim.fingerprint,
        ...opts.cluster,
      },
    ],
    // Tool tests run without confirmations unless they test them.
    confirm: 'none',
    ...opts.config,
  });
  const auditLines: Record<string, unknown>[] = [];
  const deps = buildDeps(config, {
    version: '0.0.0-test',
    auditStream: {
      write: (text: string) =>
        auditLines.push(JSON.parse(text.replace(/^proxmox-mcp: audit: /, ''))),
    },
  });
  const [serverSide, clientSide] = InMemoryTransport.createLinkedPair();
  const handle = serveStdio(serverFactory(config, deps, await loadTools(config)), {
    transport: serverSide,
  });
  const client = new Client(
    { name: 'test-client', version: '1.0.0' },
    {
      ...(opts.era === 'modern' ? { versionNegotiation: { mode: { pin: '2026-07-28' } } } : {}),
      ...(opts.elicit ? { capabilities: { elicitation: { form: {} } } } : {}),
    },
  );
  if (opts.elicit) {
    const answer = opts.elicit;
    client.setRequestHandler('elicitation/create', async (req) =>
      answer(String((req.params as { message?: string }).message ?? '')),
    );
  }
  await client.connect(clientSide);
  return {
    sim,
    client,
    pve: deps.clusters.get('default') as PveApi,
    deps,
    auditLines,
    async call(name, args = {}, callOpts = {}) {
      const result = await client.callTool(
        { name, arguments: args },
        callOpts.onprogress ? { onprogress: callOpts.onprogress } : undefined,
      );
      const content = (result.content ?? []) as { type: string; text?: string }[];
      return {
        isError: result.isError as boolean | undefined,
        text: content.map((c) => c.text ?? '').join('\n'),
        structured: result.structuredContent as Record<string, unknown> | undefined,
      };
    },
    async close() {
      await client.close();
      await handle.close();
      await closeDeps(deps);
      await sim.close();
    },
  };
}

/**
 * Awaits a call while the harness's manual clock moves on a second at a time (tasks and the HA
 * manager act on simulated time); `fullLength` runs tasks at their real durations meanwhile.
 */
export async function onTheClock<T>(
  h: McpHarness,
  call: Promise<T>,
  opts: { fullLength?: boolean } = {},
): Promise<T> {
  const tasks = h.sim.sim.tasks;
  const scale = tasks.durationScale;
  if (opts.fullLength) tasks.durationScale = 1;
  let settled = false;
  const done = call.finally(() => {
    settled = true;
  });
  try {
    while (!settled) {
      await new Promise((r) => setTimeout(r, 2));
      h.sim.sim.advance(1_000);
    }
    return await done;
  } finally {
    tasks.durationScale = scale;
  }
}
