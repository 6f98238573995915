/**
 * Streamable HTTP at /mcp, through the SDK's Node adapter: both protocol eras (2026-07-28 requests
 * statelessly, 2025-era clients in sessions, see sessions.ts), Host and Origin checks against DNS
 * rebinding, a body limit, an optional bearer token, a health endpoint, and a graceful shutdown
 * that lets running calls finish.
 */
import { timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostHeaderValidation, originValidation, toNodeHandler } from '@modelcontextprotocol/node';
import {
  type AuthInfo,
  createMcpHandler,
  isLegacyRequest,
  type McpServer,
} from '@modelcontextprotocol/server';
import { LOOPBACK } from '../config/load.js';
import type { Config } from '../config/schema.js';
import {
  metadataUrl,
  type OAuthOptions,
  oauthVerifier,
  protectedResourceMetadata,
} from './oauth.js';
import { Sessions } from './sessions.js';

export interface HttpOptions {
  host: string;
  port: number;
  /** Required as `Authorization: Bearer <token>` when set. */
  token?: string;
  /** More bearer tokens, each with the label calls made with it are audited under. */
  tokens?: { label: string; token: string }[];
  /** OAuth 2.1 access tokens from this authorization server instead of bearer tokens. */
  oauth?: OAuthOptions;
  /** Host names clients reach the endpoint by, besides `host`. */
  allowedHosts?: string[];
  /** Extra origins (`https://app.example.com`) browsers may call from. */
  allowedOrigins?: string[];
  maxConnections?: number;
  /** Time a client has to send a whole request. */
  requestTimeoutMs?: number;
  maxBodyBytes?: number;
  /** 2025-era sessions open at most (default 100), and how long an idle one lasts (30 min). */
  maxSessions?: number;
  sessionIdleMs?: number;
  log: (message: string) => void;
}

export interface RunningHttp {
  url: string;
  port: number;
  /** Stops accepting requests and waits (up to `graceMs`) for running ones. */
  close(graceMs?: number): Promise<void>;
}

/** Answers a request the endpoint will not serve, as a JSON-RPC error. */
function refuse(
  res: http.ServerResponse,
  status: number,
  headers: Record<string, string>,
  message: string,
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32001, message }, id: null }));
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The HTTP settings of a configuration as serveHttp takes them. */
export function httpOptions(http: Config['http'], log: (message: string) => void): HttpOptions {
  return {
    host: http.host,
    port: http.port,
    token: http.token,
    tokens: http.tokens,
    oauth: http.auth === 'oauth' ? http.oauth : undefined,
    allowedHosts: http.allowedHosts,
    allowedOrigins: http.allowedOrigins,
    maxConnections: http.maxConnections,
    maxSessions: http.maxSessions,
    sessionIdleMs: http.sessionIdleSeconds * 1_000,
    requestTimeoutMs: http.requestTimeoutSeconds * 1_000,
    log,
  };
}

export async function serveHttp(factory: () => McpServer, opts: HttpOptions): Promise<RunningHttp> {
  const loopback = LOOPBACK.has(opts.host);
  // Names a browser may legitimately use to reach us; anything else is a rebinding attempt.
  const hostnames = [
    ...(loopback ? ['localhost', '127.0.0.1', '[::1]', '::1'] : [opts.host]),
    ...(opts.allowedHosts ?? []),
  ];
  const checkHost = hostHeaderValidation(hostnames);
  const checkOrigin = originValidation([
    ...hostnames,
    ...(opts.allowedOrigins ?? []).map((o) => new URL(o).hostname),
  ]);
  const onerror = (err: Error) => opts.log(`error: ${err.message}`);
  const modern = createMcpHandler(factory, { legacy: 'reject', onerror });
  const sessions = new Sessions(factory, {
    max: opts.maxSessions ?? 100,
    idleMs: opts.sessionIdleMs ?? 30 * 60_000,
    onerror,
  });
  const mcp = toNodeHandler(
    {
      // The SDK's own classification: 2025-era traffic goes to a session, the rest is modern.
      fetch: async (request, options) =>
        (await isLegacyRequest(request))
          ? sessions.fetch(request, options)
          : modern.fetch(request, options),
    },
    { maxRequestBodySize: opts.maxBodyBytes ?? 1 << 20, onerror },
  );
  let active = 0;
  let idle: (() => void) | undefined;

  const oauth = opts.oauth;
  const verify = oauth ? await oauthVerifier(oauth) : undefined;
  const requestTimeout = opts.requestTimeoutMs ?? 30_000;
  const server = http.createServer(
    {
      // A request trickled in byte by byte is cut off (408); a response (a stream) may last.
      requestTimeout,
      headersTimeout: Math.min(requestTimeout, 30_000),
      // Node checks those timeouts this often.
      connectionsCheckingInterval: Math.min(1_000, requestTimeout),
    },
    async (req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (
        oauth &&
        req.method === 'GET' &&
        path.startsWith('/.well-known/oauth-protected-resource')
      ) {
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify(protectedResourceMetadata(oauth)));
        return;
      }
      if (path === '/health' && req.method === 'GET') {
        res
          .writeHead(200, { 'content-type': 'application/json' })
          // No version: a probe needs to know the endpoint is up, not what it runs.
          .end(JSON.stringify({ status: 'ok' }));
        return;
      }
      if (path !== '/mcp') {
        res
          .writeHead(404, { 'content-type': 'text/plain' })
          .end('Not found: the MCP endpoint is /mcp\n');
        return;
      }
      if (!checkHost(req, res) || (req.headers.origin && !checkOrigin(req, res))) return;
      const given = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '';
      if (verify && oauth) {
        let unreachable = false;
        const auth = given
          ? await verify(given).catch((err: unknown) => {
              // jose's own errors judge the token; anything else is the authorization server.
              const code = (err as { code?: string }).code ?? '';
              unreachable = !code.startsWith('ERR_J') || code === 'ERR_JWKS_TIMEOUT';
              if (unreachable) opts.log(`authorization server: ${(err as Error).message}`);
              return undefined;
            })
          : undefined;
        if (unreachable) {
          refuse(
            res,
            503,
            { 'retry-after': '30' },
            'the authorization server cannot be reached to check the token: try later',
          );
          return;
        }
        if (!auth) {
          // RFC 9728: the challenge says where the metadata is, and so which server to ask.
          const challenge = `Bearer resource_metadata="${metadataUrl(oauth.resource).href}"${given ? ', error="invalid_token"' : ''}`;
          refuse(
            res,
            401,
            { 'www-authenticate': challenge },
            given ? 'invalid access token' : 'access token needed',
          );
          return;
        }
        (req as { auth?: AuthInfo }).auth = auth;
      }
      const tokens = [
        ...(opts.token ? [{ label: 'token', token: opts.token }] : []),
        ...(opts.tokens ?? []),
      ];
      if (!oauth && tokens.length) {
        // Every token is compared, so the time taken tells nothing of which one matched.
        const holder = tokens.filter((t) => sameSecret(given, t.token))[0];
        // Who asked, as the SDK hands it on to the call (never the token itself).
        if (holder)
          (req as { auth?: AuthInfo }).auth = { token: '', clientId: holder.label, scopes: [] };
        else {
          refuse(
            res,
            401,
            { 'www-authenticate': 'Bearer realm="proxmox-mcp"' },
            'missing or wrong bearer token',
          );
          return;
        }
      }
      // A session's GET stream only listens: a shutdown waits for calls, not for it.
      if (req.method !== 'GET') {
        active++;
        res.once('close', () => {
          active--;
          if (active === 0) idle?.();
        });
      }
      void mcp(req, res).catch((err: unknown) => {
        opts.log(`error: ${(err as Error).message}`);
        if (!res.headersSent) res.writeHead(500).end();
      });
    },
  );
  server.maxConnections = opts.maxConnections ?? 1_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const urlHost = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    url: `http://${urlHost}:${port}/mcp`,
    port,
    close: (graceMs = 30_000) =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        const done = () => {
          // Sessions end once their running calls have (or the grace time is over).
          void sessions.close();
          server.closeAllConnections();
          resolve();
        };
        if (active === 0) return done();
        idle = done;
        setTimeout(done, graceMs).unref();
      }),
  };
}
