/**
 * The surface: what a client discovers when it connects (initialize and the tool, prompt and
 * resource lists), recorded from the real server over an in-process stdio pair. The build keeps
 * the recordings for common configurations in dist/surface.json, so the stdio start can answer
 * discovery before it loads the SDK (see transports/stdio.ts).
 */
import { PassThrough } from 'node:stream';
import { type McpServer, SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/server';
import { StdioServerTransport, serveStdio } from '@modelcontextprotocol/server/stdio';

/** The requests answered from a recording, in the order a client usually sends them. */
export const DISCOVERY_METHODS = [
  'ping',
  'tools/list',
  'prompts/list',
  'resources/list',
  'resources/templates/list',
] as const;

/** Results by protocol version, then by method (`initialize` among them). */
export type SurfaceAnswers = Record<string, Record<string, unknown>>;

/**
 * The file the build writes: the package version, and for each recorded configuration (by surface
 * key, config/raw.ts) its answers by protocol version and method, as indexes into `results`,
 * which holds each distinct result once.
 */
export interface SurfaceFile {
  version: string;
  surfaces: Record<string, Record<string, Record<string, number>>>;
  results: unknown[];
}

/** Adds the answers of one configuration to a surface file, sharing equal results. */
export function addSurface(file: SurfaceFile, key: string, answers: SurfaceAnswers): void {
  const seen = new Map(file.results.map((r, i) => [JSON.stringify(r), i]));
  const index = (result: unknown) => {
    const text = JSON.stringify(result);
    let i = seen.get(text);
    if (i === undefined) {
      i = file.results.push(result) - 1;
      seen.set(text, i);
    }
    return i;
  };
  file.surfaces[key] = Object.fromEntries(
    Object.entries(answers).map(([version, byMethod]) => [
      version,
      Object.fromEntries(Object.entries(byMethod).map(([m, r]) => [m, index(r)])),
    ]),
  );
}

/** Asks a fresh server each discovery request, once per 2025-era protocol version. */
export async function recordSurface(factory: () => McpServer): Promise<SurfaceAnswers> {
  const answers: SurfaceAnswers = {};
  for (const protocolVersion of SUPPORTED_PROTOCOL_VERSIONS) {
    const input = new PassThrough();
    const output = new PassThrough();
    const handle = serveStdio(factory, { transport: new StdioServerTransport(input, output) });
    const requests = [
      {
        method: 'initialize',
        params: {
          protocolVersion,
          capabilities: {},
          clientInfo: { name: 'surface', version: '1' },
        },
      },
      ...DISCOVERY_METHODS.map((method) => ({ method })),
    ];
    const results = new Map<number, unknown>();
    const done = new Promise<void>((resolve, reject) => {
      let text = '';
      output.on('data', (chunk: Buffer) => {
        text += chunk.toString('utf8');
        for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n')) {
          const message = JSON.parse(text.slice(0, nl)) as {
            id: number;
            result?: unknown;
            error?: unknown;
          };
          text = text.slice(nl + 1);
          if (message.error) reject(new Error(`${JSON.stringify(message.error)}`));
          results.set(message.id, message.result);
          if (results.size === requests.length) resolve();
        }
      });
    });
    requests.forEach((request, id) => {
      input.write(`${JSON.stringify({ jsonrpc: '2.0', id, ...request })}\n`);
      if (id === 0)
        input.write(`${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })}\n`);
    });
    await done;
    await handle.close();
    answers[protocolVersion] = Object.fromEntries(
      requests.map((request, id) => [request.method, results.get(id)]),
    );
  }
  return answers;
}
