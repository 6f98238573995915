/**
 * MCP over stdio, started in two steps. When the build recorded the surface of this configuration
 * (server/surface.ts), the first step answers a client's discovery (initialize, ping and the lists)
 * from the recording, with no SDK, zod or tools loaded: a fast start, and a small process while
 * nothing is asked of the cluster. The first request that needs the server loads it and replays
 * what the client sent, in order, so the server's own state (the negotiated version, the client's
 * capabilities) is what it would have been: all but the lists and pings answered here, which change
 * nothing; its second answer to initialize is dropped. The configuration is checked in full once
 * the tools are listed (or shortly after the start, whichever comes first).
 */
import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type { JSONRPCMessage, McpServer } from '@modelcontextprotocol/server';
import type { SurfaceFile } from '../server/surface.js';

/** A recorded surface: results by protocol version, then by method. */
export type RecordedSurface = Record<string, Record<string, unknown>>;

/** The recording for a surface key, when the build made one for this version of the package. */
export function readSurface(file: URL, key: string, version: string): RecordedSurface | undefined {
  let data: SurfaceFile;
  try {
    data = JSON.parse(readFileSync(file, 'utf8')) as SurfaceFile;
  } catch {
    return undefined;
  }
  const surface = data.version === version ? data.surfaces[key] : undefined;
  if (!surface) return undefined;
  return Object.fromEntries(
    Object.entries(surface).map(([protocol, byMethod]) => [
      protocol,
      Object.fromEntries(Object.entries(byMethod).map(([m, i]) => [m, data.results[i]])),
    ]),
  );
}

export interface StdioOptions {
  /** Discovery answers recorded for this configuration; without them the server loads at once. */
  surface?: RecordedSurface;
  /** Checks the configuration in full, opening the files it names. */
  check: () => Promise<unknown>;
  /** Loads the server: checks the configuration and builds the factory. */
  prepare: () => Promise<() => McpServer>;
  onerror: (error: Error) => void;
}

export interface StdioHandle {
  /** Settles when stdin ends; rejects when the configuration is wrong. */
  done: Promise<void>;
  close(): Promise<void>;
}

type Id = string | number;
interface Message {
  jsonrpc?: unknown;
  id?: unknown;
  method?: unknown;
  params?: unknown;
}

/** Beyond this much unanswered input the server is loaded rather than the input kept. */
const MAX_KEPT_BYTES = 4 * 1024 * 1024;
/** The configuration is checked this long after the start at the latest, tools listed or not. */
const CHECK_AFTER_MS = 500;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isId = (v: unknown): v is Id =>
  typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));

export function serveStdio(opts: StdioOptions): StdioHandle {
  const { stdin, stdout } = process;
  const decoder = new StringDecoder('utf8');
  // Input lines to replay to the server once it runs, and the requests not yet answered.
  const kept: string[] = [];
  let keptBytes = 0;
  let partial = '';
  const unanswered = new Set<Id>();
  // Requests answered here and replayed, whose second answer from the server is dropped.
  const answered = new Set<Id>();
  let answers: Record<string, unknown> | undefined;
  let input: PassThrough | undefined;
  let handle: { close(): Promise<void> } | undefined;
  let loading = false;
  let ended = false;
  let failed = false;
  let checking: Promise<unknown> | undefined;
  let settle!: { resolve: () => void; reject: (err: unknown) => void };
  const done = new Promise<void>((resolve, reject) => {
    settle = { resolve, reject };
  });

  const send = (message: Record<string, unknown>) =>
    stdout.write(`${JSON.stringify({ jsonrpc: '2.0', ...message })}\n`);

  const fail = (err: unknown) => {
    if (failed) return;
    failed = true;
    clearTimeout(timer);
    const message = `proxmox-mcp cannot start: ${err instanceof Error ? err.message : String(err)}`;
    for (const id of unanswered) send({ id, error: { code: -32603, message } });
    stdin.destroy();
    settle.reject(err);
  };

  const check = () => {
    if (!checking) {
      checking = opts.check();
      checking.catch(fail);
    }
    return checking;
  };
  const timer = opts.surface ? setTimeout(check, CHECK_AFTER_MS) : undefined;

  const load = () => {
    if (loading) return;
    loading = true;
    clearTimeout(timer);
    Promise.all([import('@modelcontextprotocol/server/stdio'), opts.prepare()]).then(
      ([{ serveStdio: serve, StdioServerTransport }, factory]) => {
        if (failed) return;
        class Replayed extends StdioServerTransport {
          override send(message: JSONRPCMessage) {
            // A response to a request answered from the recording: the client has it already.
            if ('id' in message && !('method' in message) && answered.delete(message.id as Id))
              return Promise.resolve();
            return super.send(message);
          }
        }
        const pipe = new PassThrough();
        handle = serve(factory, { transport: new Replayed(pipe, stdout), onerror: opts.onerror });
        for (const line of kept) pipe.write(`${line}\n`);
        pipe.write(partial);
        kept.length = 0;
        unanswered.clear();
        input = pipe;
        if (ended) {
          pipe.end();
          settle.resolve();
        }
      },
      fail,
    );
  };

  /** The recorded result for a request, when the recording can answer it exactly. */
  const recorded = (msg: Message): unknown => {
    if (!opts.surface || msg.jsonrpc !== '2.0' || typeof msg.method !== 'string') return undefined;
    const params = msg.params ?? {};
    if (!isObject(params)) return undefined;
    // A request in the 2026-07-28 envelope goes to the server, which owns the era decision.
    if (isObject(params._meta) && 'io.modelcontextprotocol/protocolVersion' in params._meta)
      return undefined;
    if (msg.method === 'initialize') {
      const { protocolVersion, capabilities, clientInfo } = params;
      const byVersion = typeof protocolVersion === 'string' && opts.surface[protocolVersion];
      const valid =
        isObject(capabilities) &&
        isObject(clientInfo) &&
        typeof clientInfo.name === 'string' &&
        typeof clientInfo.version === 'string';
      if (answers || !byVersion || !valid) return undefined;
      answers = byVersion;
      return byVersion.initialize;
    }
    // Lists with a cursor, or anything else, need the server.
    if (!answers || Object.keys(params).some((k) => k !== '_meta')) return undefined;
    return answers[msg.method];
  };

  const keep = (line: string) => {
    kept.push(line);
    keptBytes += line.length;
  };

  const onLine = (line: string) => {
    if (!line.trim()) return;
    let msg: Message | undefined;
    try {
      msg = JSON.parse(line) as Message;
    } catch {
      msg = undefined;
    }
    if (!isObject(msg)) {
      // The server reports malformed input as it always does.
      keep(line);
      return load();
    }
    const id = msg.id;
    const isRequest = isId(id) && typeof msg.method === 'string';
    if (isRequest && !loading) {
      const result = recorded(msg);
      if (result !== undefined) {
        send({ id, result });
        if (msg.method === 'initialize') {
          keep(line);
          answered.add(id);
        }
        if (msg.method === 'tools/list') setImmediate(check);
        return;
      }
    }
    keep(line);
    if (isRequest) unanswered.add(id);
    // Notifications wait for the server; requests and anything malformed need it.
    if (id !== undefined || typeof msg.method !== 'string') load();
  };

  stdin.on('data', (chunk: Buffer) => {
    if (input) {
      input.write(decoder.write(chunk));
      return;
    }
    partial += decoder.write(chunk);
    let nl = partial.indexOf('\n');
    while (nl >= 0) {
      onLine(partial.slice(0, nl));
      partial = partial.slice(nl + 1);
      nl = partial.indexOf('\n');
    }
    if (keptBytes + partial.length > MAX_KEPT_BYTES) load();
  });
  const onEnd = () => {
    if (ended) return;
    ended = true;
    clearTimeout(timer);
    if (input) {
      input.end();
      settle.resolve();
    } else if (!loading) {
      check().then(() => settle.resolve(), fail);
    }
  };
  stdin.once('end', onEnd);
  stdin.once('close', onEnd);
  if (!opts.surface) load();

  return {
    done,
    async close() {
      clearTimeout(timer);
      await handle?.close();
      // Reading stdin would keep the process alive.
      stdin.destroy();
    },
  };
}
