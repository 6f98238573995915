/**
 * 2025-era MCP sessions over HTTP: the `initialize` handshake opens a session (`Mcp-Session-Id`)
 * with a server of its own, built once, which keeps what the client declared (elicitation among
 * it) and can ask the client on the session's stream. A client that lost a stream resumes it
 * with `Last-Event-ID` from the session's recent events (the last 200). Sessions end on DELETE,
 * after an idle time, or when the endpoint closes; their number is capped. 2026-era requests
 * carry everything with each request and need none of this.
 */
import { randomUUID } from 'node:crypto';
import {
  type AuthInfo,
  type EventStore,
  type JSONRPCMessage,
  type McpServer,
  WebStandardStreamableHTTPServerTransport,
} from '@modelcontextprotocol/server';

export interface SessionOptions {
  /** Open sessions at most; a new one beyond is answered 503. */
  max: number;
  /** A session unused this long is closed. */
  idleMs: number;
  onerror: (err: Error) => void;
}

/**
 * A session's recent events, for a client that reconnects with `Last-Event-ID`: the last `limit`
 * messages of its streams, oldest dropped first. Ids are `<stream>_<sequence>`.
 */
export class RecentEvents implements EventStore {
  private readonly events: { id: string; stream: string; message: JSONRPCMessage }[] = [];
  private sequence = 0;

  constructor(private readonly limit = 200) {}

  async storeEvent(stream: string, message: JSONRPCMessage): Promise<string> {
    const id = `${stream}_${++this.sequence}`;
    this.events.push({ id, stream, message });
    if (this.events.length > this.limit) this.events.shift();
    return id;
  }

  async getStreamIdForEventId(id: string): Promise<string | undefined> {
    return this.events.find((e) => e.id === id)?.stream;
  }

  async replayEventsAfter(
    lastId: string,
    { send }: { send: (id: string, message: JSONRPCMessage) => Promise<void> },
  ): Promise<string> {
    const at = this.events.findIndex((e) => e.id === lastId);
    // An event no longer kept cannot be resumed from: the stream starts afresh.
    if (at === -1) return '';
    const { stream } = this.events[at] as { stream: string };
    for (const e of this.events.slice(at + 1)) if (e.stream === stream) await send(e.id, e.message);
    return stream;
  }
}

interface Session {
  transport: WebStandardStreamableHTTPServerTransport;
  server: McpServer;
  seen: number;
}

const answer = (status: number, code: number, message: string) =>
  new Response(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }), {
    status,
    headers: { 'content-type': 'application/json' },
  });

export class Sessions {
  private readonly open = new Map<string, Session>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly factory: () => McpServer,
    private readonly opts: SessionOptions,
  ) {
    this.sweeper = setInterval(() => this.sweep(), Math.max(1_000, opts.idleMs / 4));
    this.sweeper.unref();
  }

  get size(): number {
    return this.open.size;
  }

  /** Serves one request; `options` carries who sent it (its auth info) on to the calls. */
  async fetch(request: Request, options?: { authInfo?: AuthInfo }): Promise<Response> {
    const id = request.headers.get('mcp-session-id');
    if (id) {
      const session = this.open.get(id);
      // The spec's answer to an unknown or ended session: the client starts a new one.
      if (!session) return answer(404, -32001, 'Session not found: initialize a new one');
      session.seen = Date.now();
      return session.transport.handleRequest(request, options);
    }
    if (request.method !== 'POST')
      return answer(400, -32000, 'Bad Request: no Mcp-Session-Id header');
    if (this.open.size >= this.opts.max)
      return answer(503, -32000, 'Too many open sessions: try again later');
    const server = this.factory();
    const session: Session = {
      server,
      seen: Date.now(),
      transport: new WebStandardStreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        eventStore: new RecentEvents(),
        // A client whose stream closed comes back for the events it missed after this long.
        retryInterval: 1_000,
        onsessioninitialized: (sid) => {
          this.open.set(sid, session);
        },
        onsessionclosed: (sid) => {
          this.open.delete(sid);
          void server.close().catch(this.opts.onerror);
        },
      }),
    };
    session.transport.onerror = this.opts.onerror;
    await server.connect(session.transport);
    const response = await session.transport.handleRequest(request, options);
    // Anything but a valid initialize opened no session: its server goes.
    if (!session.transport.sessionId) void server.close().catch(this.opts.onerror);
    return response;
  }

  /** Closes the sessions idle longer than allowed. */
  sweep(now = Date.now()): void {
    for (const [id, session] of this.open)
      if (now - session.seen > this.opts.idleMs) this.end(id, session);
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    await Promise.all([...this.open].map(([id, session]) => this.end(id, session)));
  }

  private async end(id: string, session: Session): Promise<void> {
    this.open.delete(id);
    await session.server.close().catch(this.opts.onerror);
  }
}
