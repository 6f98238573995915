/** An MCP client connected in memory to a server backed by a simulator, as a real client would be. */
import { Client } from '@modelcontextprotocol/client';
import { InMemoryTransport } from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { type Config, configSchema } from '../../src/config/schema.js';
import { PveApi } from '../../src/pve/index.js';
import { createServer } from '../../src/server/create.js';
import {
  type RunningSimulator,
  type SimulatorOptions,
  startSimulator,
} from '../../src/simulator/server.js';

export interface ToolAnswer {
  isError?: boolean;
  text: string;
  structured?: Record<string, unknown>;
}

export interface McpHarness {
  sim: RunningSimulator;
  client: Client;
  pve: PveApi;
  call(
    name: string,
    args?: Record<string, unknown>,
    opts?: { onprogress?: (p: { progress: number; message?: string }) => void },
  ): Promise<ToolAnswer>;
  close(): Promise<void>;
}

export async function startHarness(
  opts: {
    era?: 'legacy' | 'modern';
    config?: Partial<Config>;
    sim?: SimulatorOptions;
    /** Another API token of the dataset than the simulator's root token. */
    token?: (sim: RunningSimulator) => { tokenId: string; secret: string };
  } = {},
): Promise<McpHarness> {
  // Real time with tasks sped up a hundredfold: waits end quickly and for real.
  const sim = await startSimulator({ clock: 'real', taskScale: 0.01, ...opts.sim });
  const auth = opts.token?.(sim) ?? { tokenId: sim.token.id, secret: sim.token.secret };
  const pve = new PveApi({ url: sim.url, auth, tls: { fingerprint: sim.fingerprint } });
  const config = configSchema.parse({
    clusters: [{ url: sim.url, apiToken: `${sim.token.id}=${sim.token.secret}` }],
    ...opts.config,
  });
  const [serverSide, clientSide] = InMemoryTransport.createLinkedPair();
  const handle = serveStdio(
    () => createServer(config, { clusters: new Map([['default', pve]]), version: '0.0.0-test' }),
    { transport: serverSide },
  );
  const client = new Client(
    { name: 'test-client', version: '1.0.0' },
    opts.era === 'modern' ? { versionNegotiation: { mode: { pin: '2026-07-28' } } } : {},
  );
  await client.connect(clientSide);
  return {
    sim,
    client,
    pve,
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
      await pve.close();
      await sim.close();
    },
  };
}
