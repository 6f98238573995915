/**
 * The simulator's HTTP(S) front: pveproxy's request pipeline. Route lookup, authentication and
 * CSRF, parameter parsing and validation against the contract, proxying to other nodes, permission
 * checks, then the handler; answers and errors in PVE's envelope.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { contract, matchOperation } from '../contract/index.js';
import type { ContractOperation } from '../contract/types.js';
import { type RawParams, validateParams } from '../contract/validate.js';
import { schemaVersionFor } from '../contract/versions.js';
import { Auth, type AuthContext, authId } from './auth.js';
import { generatePki } from './cert.js';
import { type ClockMode, SimClock } from './clock.js';
import type { Ctx, Routes } from './context.js';
import { WithTotal } from './context.js';
import type { Dataset } from './dataset-types.js';
import { buildDataset, type DatasetName } from './datasets.js';
import { HttpError, PveError, paramError, permissionError } from './errors.js';
import { type FaultRule, Faults } from './faults.js';
import { routes as allRoutes } from './routes/index.js';
import { Cluster } from './state.js';
import { TaskEngine } from './tasks.js';

export interface SimulatorOptions {
  /** `small` (default), `large`, or a dataset object. */
  dataset?: DatasetName | Dataset;
  seed?: number;
  /** `manual` (time moves only when told) or `real` (default). */
  clock?: ClockMode;
  /** Start of simulated time, epoch ms (default now). */
  startTime?: number;
  /** Multiplies task durations; 0 ends tasks at once. Default 1. */
  taskScale?: number;
  faults?: FaultRule[];
  /** Delay before a 401, as PVE waits 3 s; default 0. */
  authFailureDelayMs?: number;
  /** Simulated ms before a new guest's stats appear in /cluster/resources; default 10 s, as pvestatd. */
  statsDelayMs?: number;
  /** The PVE version to be (default 9.1.3); operations its official schema lacks answer 501. */
  pveVersion?: string;
}

export interface ListenOptions {
  host?: string;
  port?: number;
  /** Plain HTTP instead of HTTPS. */
  http?: boolean;
}

export interface RequestRecord {
  method: string;
  path: string;
  template?: string;
  status: number;
  auth?: string;
}

/** pveproxy reads at most this much of a request body ($limit_max_post in AnyEvent.pm). */
const MAX_POST = 512 * 1024;
const REQUEST_LOG_SIZE = 10_000;

/** The simulated PVE API, independent of any socket: `handle` serves one request. */
export class Simulator {
  readonly clock: SimClock;
  readonly cluster: Cluster;
  readonly tasks: TaskEngine;
  readonly access: Auth;
  readonly faults = new Faults();
  /** The last requests served, for tests that check what reached the API. */
  readonly requests: RequestRecord[] = [];
  /** Changes made, by kind (`qemu.start`, `guest.create`, ...). */
  readonly counters = new Map<string, number>();
  /** The API token printed by the standalone command and handed to tests. */
  readonly token: { id: string; secret: string; header: string };
  private readonly authFailureDelayMs: number;
  /** The official schema of the version simulated. */
  private readonly schemaVersion: string;

  constructor(
    opts: SimulatorOptions = {},
    private readonly routes: Routes = allRoutes,
  ) {
    const dataset =
      typeof opts.dataset === 'object'
        ? opts.dataset
        : buildDataset(opts.dataset ?? 'small', opts.seed);
    this.clock = new SimClock(opts.clock ?? 'real', opts.startTime ?? Date.now());
    this.cluster = new Cluster(dataset, this.clock, opts.statsDelayMs);
    if (opts.pveVersion) this.cluster.version = opts.pveVersion;
    this.schemaVersion =
      schemaVersionFor(this.cluster.version, contract.versions) ?? contract.source;
    this.tasks = new TaskEngine(this.clock, opts.taskScale ?? 1, (task) =>
      this.faults.taskFailure(task.type),
    );
    for (const t of dataset.tasks ?? [])
      this.tasks.recordPast({
        node: t.node,
        type: t.type,
        id: t.id,
        user: t.user ?? 'root@pam',
        startedAt: this.clock.now() - t.minutesAgo * 60_000,
        durationMs: (t.durationSeconds ?? 5) * 1000,
        exitstatus: t.exitstatus,
        log: t.log ?? [],
      });
    this.access = new Auth(this.cluster, this.clock);
    for (const rule of opts.faults ?? []) this.faults.add(rule);
    this.authFailureDelayMs = opts.authFailureDelayMs ?? 0;
    this.token = this.createAdminToken();
  }

  private createAdminToken() {
    let root = this.cluster.users.get('root@pam');
    if (!root) {
      root = {
        userid: 'root@pam',
        enable: true,
        tfa: false,
        expire: 0,
        groups: [],
        tokens: new Map(),
      };
      this.cluster.users.set('root@pam', root);
    }
    const secret = randomUUID();
    root.tokens.set('simulator', { tokenid: 'simulator', secret, privsep: false, expire: 0 });
    const id = 'root@pam!simulator';
    return { id, secret, header: `PVEAPIToken=${id}=${secret}` };
  }

  /**
   * Ends every running task, moving the clock to the last one's end: plays every pending event,
   * and those they bring, in time order.
   */
  runTasks(): void {
    for (;;) {
      const last = this.tasks.horizon();
      if (last === undefined) return;
      const now = this.clock.now();
      if (last > now) this.clock.advance(last - now);
      this.tasks.tick();
    }
  }

  /** Moves simulated time forward and ends the tasks that are due. */
  advance(ms: number): void {
    this.clock.advance(ms);
    this.tasks.tick();
  }

  count(event: string): void {
    this.counters.set(event, (this.counters.get(event) ?? 0) + 1);
  }

  async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://simulator');
    const method = (req.method ?? 'GET').toUpperCase();
    const record: RequestRecord = { method, path: url.pathname, status: 0 };
    this.requests.push(record);
    if (this.requests.length > REQUEST_LOG_SIZE) this.requests.shift();
    const send = (status: number, reason: string, body?: unknown) => {
      record.status = status;
      if (res.destroyed) return;
      res.statusCode = status;
      res.statusMessage = reason.replace(/[^\x20-\x7e]/g, ' ').slice(0, 200);
      if (body === undefined) {
        res.setHeader('Content-Length', 0);
        res.end();
        return;
      }
      const text = JSON.stringify(body);
      res.setHeader('Content-Type', 'application/json;charset=UTF-8');
      res.setHeader('Content-Length', Buffer.byteLength(text));
      res.setHeader('Cache-Control', 'max-age=0');
      res.end(text);
    };
    const sendError = (err: PveError) => {
      const message = err.message.endsWith('\n') ? err.message : `${err.message}\n`;
      const reason = message.split('\n')[0] ?? '';
      // Authentication failures carry no body at all.
      if (err.status === 401) return send(401, reason);
      const body: Record<string, unknown> = { data: null, message };
      if (err.errors) body.errors = err.errors;
      send(err.status, reason, body);
    };

    try {
      this.tasks.tick();
      const prefix = '/api2/json';
      if (!url.pathname.startsWith(`${prefix}/`) && url.pathname !== prefix) {
        throw new PveError(501, `Method '${method} ${url.pathname}' not implemented`);
      }
      const path = url.pathname.slice(prefix.length) || '/';
      const match = matchOperation(method, path);
      record.template = match?.template;

      const latency = this.faults.take('latency', method, path, match?.template);
      if (latency) await sleep(latency.ms ?? 1000);
      const resetBefore = this.faults.take('reset', method, path, match?.template);
      if (resetBefore && resetBefore.when !== 'after') {
        record.status = -1;
        req.socket.destroy();
        return;
      }
      const statusFault = this.faults.take('status', method, path, match?.template);
      if (statusFault) {
        const status = statusFault.status ?? 500;
        throw new PveError(status, statusFault.message ?? defaultFaultMessage(status));
      }

      const body = await readBody(req);
      const op = match?.operation;
      // pveproxy authenticates first (every path but a few open ones), then looks at the body,
      // answering in plain text, and only then for the handler (pve-http-server
      // PVE/APIServer/AnyEvent.pm authenticate_and_handle_request, handle_api2_request).
      const auth = await this.authenticate(req, method, op);
      if (auth) record.auth = authId(auth);
      checkBody(req, method, body);
      const parsed = parseBody(req, body);
      // An operation of another PVE version does not exist here.
      if (!match || !op?.versions.includes(this.schemaVersion))
        throw new PveError(501, `Method '${method} ${path}' not implemented`);

      const { params, strictBoolean } = mergeParams(url, parsed, match.params);
      // A token where the handler wants a ticket, named by the request's own path; the message
      // keeps the newline PVE puts before its closing parenthesis (pve-manager PVE/HTTPServer.pm
      // rest_handler, pve-common PVE/Exception.pm raise_perm_exc).
      // An open endpoint does not verify the token, but still refuses one.
      const tokenHeader =
        !cookieTicket(req.headers.cookie) &&
        /(?:^|\s)PVEAPIToken[= ]/.test(req.headers.authorization ?? '');
      if (tokenHeader && !op.allowtoken)
        throw new PveError(
          403,
          `Permission check failed (URI '${decodePath(path)}' not available with API token, need proper ticket.\n)`,
        );
      // PVE checks permissions on the parameters as sent, before the handler validates them
      // (pve-manager PVE/HTTPServer.pm rest_handler calls check_api2_permissions first).
      // `user: 'all'` lets every user through to the handler, which checks for itself, even
      // where the schema also names a check (pve-access-control PVE/RPCEnvironment.pm
      // check_api2_permissions).
      if (auth && op.permissions?.check && op.permissions.user !== 'all') {
        const denied = this.access.check(auth, op.permissions.check, params);
        if (denied) throw permissionError(denied.path, denied.priv);
      }
      const checked = validateParams(op, params, { strictBoolean });
      if (checked.errors) throw paramError(checked.errors);

      this.proxyCheck(op, String(checked.values.node ?? ''));

      if (op.path === '/nodes/{node}/tasks/{upid}/status') {
        // Right after a fork the task may not be visible yet; clients must retry this 400.
        const task = this.tasks.tasks.get(String(checked.values.upid));
        const young = (rule: FaultRule) =>
          task !== undefined && this.clock.now() - task.startedAt < (rule.ms ?? 1000);
        if (this.faults.take('upid-status-400', method, path, op.path, young)) {
          throw paramError({ upid: 'no such task' });
        }
      }

      const handler = this.routes[`${op.method} ${op.path}`];
      if (!handler) throw new PveError(501, `Method '${method} ${path}' not implemented`);
      const ctx: Ctx = {
        cluster: this.cluster,
        clock: this.clock,
        tasks: this.tasks,
        access: this.access,
        auth: auth ?? { userid: 'nobody@pve', method: 'ticket' },
        op,
        params: checked.values,
        startTask: (spec) => {
          const task = this.tasks.start({ ...spec, user: authId(ctx.auth) });
          return task.upid;
        },
        count: (event) => this.count(event),
      };
      const result = await handler(ctx);
      const payload =
        result instanceof WithTotal
          ? // pve-http-server leaves a total of 0 out of the answer.
            { data: result.data, ...(result.total ? { total: result.total } : {}) }
          : { data: result ?? null };
      const resetAfter = resetBefore?.when === 'after';
      if (resetAfter) {
        record.status = -1;
        req.socket.destroy();
        return;
      }
      send(200, 'OK', payload);
    } catch (err) {
      if (err instanceof HttpError) {
        record.status = err.status;
        if (res.destroyed) return;
        res.statusCode = err.status;
        res.statusMessage = (err.message.split('\n')[0] ?? '')
          .replace(/[^\x20-\x7e]/g, ' ')
          .slice(0, 200);
        res.setHeader('Content-Length', Buffer.byteLength(err.message));
        res.end(err.message);
        return;
      }
      if (err instanceof PveError) {
        if (err.status === 401 && this.authFailureDelayMs) await sleep(this.authFailureDelayMs);
        sendError(err);
        return;
      }
      // A bug in the simulator: answer like PVE's catch-all, keep the process alive.
      sendError(new PveError(500, `internal simulator error: ${(err as Error).message}`));
    }
  }

  /** Returns the caller, undefined for operations open to the world; throws 401/403. */
  private async authenticate(
    req: http.IncomingMessage,
    method: string,
    op: ContractOperation | undefined,
  ): Promise<AuthContext | undefined> {
    if (op?.permissions?.user === 'world') return undefined;
    const header = req.headers.authorization ?? '';
    if (header.startsWith('PVEAPIToken')) {
      const auth = this.access.verifyToken(header.replace(/^PVEAPIToken[= ]/, ''));
      if (!auth) throw new PveError(401, 'Authentication failed!');
      return auth;
    }
    const ticket = cookieTicket(req.headers.cookie) ?? header.match(/^PVEAuthCookie=(.+)$/)?.[1];
    if (!ticket) throw new PveError(401, 'No ticket');
    const expiry = this.faults.take('ticket-expiry', method, req.url ?? '');
    if (expiry) this.access.expireAllTickets();
    const userid = this.access.verifyTicket(decodeURIComponent(ticket));
    if (!userid) throw new PveError(401, 'Authentication failed!');
    if (method !== 'GET') {
      const csrf = req.headers.csrfpreventiontoken;
      if (!this.access.verifyCsrf(Array.isArray(csrf) ? csrf[0] : csrf, userid)) {
        throw new PveError(401, 'Permission denied - invalid csrf token');
      }
    }
    return { userid, method: 'ticket' };
  }

  /** pveproxy forwards `proxyto: node` calls; an unknown or offline node cannot be reached. */
  private proxyCheck(op: ContractOperation, node: string): void {
    if (op.proxyto !== 'node' || !node || node === this.cluster.localNode) return;
    const target = this.cluster.nodes.get(node);
    // pveproxy resolves the node's address first (pve-cluster PVE/Cluster.pm, pve-common
    // PVE/Network.pm): an unknown name fails there, as a 500.
    if (!target)
      throw new PveError(
        500,
        `hostname lookup '${node}' failed - failed to get address info for: ${node}: Name or service not known`,
      );
    if (!target.online) throw new PveError(595, `Connection refused`);
  }
}

function defaultFaultMessage(status: number): string {
  if (status === 595) return 'Connection refused';
  if (status === 596) return 'Connection timed out';
  return http.STATUS_CODES[status] ?? 'simulated failure';
}

function cookieTicket(cookie: string | undefined): string | undefined {
  for (const part of (cookie ?? '').split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === 'PVEAuthCookie') return value.join('=');
  }
  return undefined;
}

function sleep(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The body, kept up to one byte past pveproxy's limit (the rest is read and dropped). */
function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      if (size <= MAX_POST) chunks.push(chunk);
      size += chunk.length;
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** The length pveproxy goes by: the Content-Length header, else what came. */
function bodyLength(req: http.IncomingMessage, body: Buffer): number {
  const declared = Number(req.headers['content-length']);
  return Number.isFinite(declared) && req.headers['content-length'] !== undefined
    ? declared
    : body.length;
}

/**
 * pveproxy's own refusals of a body, in plain text (pve-http-server PVE/APIServer/AnyEvent.pm
 * authenticate_and_handle_request): content on a method without one, more than 512 KiB, a content
 * type it does not read.
 */
function checkBody(req: http.IncomingMessage, method: string, body: Buffer): void {
  if (!bodyLength(req, body)) return;
  if (method !== 'PUT' && method !== 'POST')
    throw new HttpError(501, `Unexpected content for method '${method}'`);
  if (bodyLength(req, body) > MAX_POST) throw new HttpError(501, 'for data too large');
  const ctype = req.headers['content-type'];
  const ct = contentType(ctype);
  if (ct && ct !== 'application/x-www-form-urlencoded' && ct !== 'application/json')
    throw new HttpError(506, `upload 'Content-Type '${ctype}' not implemented`);
}

/** The media type as pve-http-server parse_content_type splits it off its parameters. */
function contentType(header: string | undefined): string | undefined {
  return header ? header.split(/\s*[;,]\s*/)[0] : undefined;
}

/**
 * The body's parameters: JSON for `application/json`, a form otherwise. JSON that does not parse
 * is decode_json's error, which pveproxy sends as a plain 500 (AnyEvent.pm extract_params,
 * handle_api2_request); its wording imitates JSON::XS's.
 */
function parseBody(
  req: http.IncomingMessage,
  body: Buffer,
): { params: RawParams; json: boolean } | undefined {
  if (!body.length) return undefined;
  const text = body.toString('utf8');
  if (contentType(req.headers['content-type']) === 'application/json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      const offset = Number(/position (\d+)/.exec((err as Error).message)?.[1] ?? 0);
      const rest = offset < text.length ? text.slice(offset) : '(end of string)';
      throw new HttpError(
        500,
        `malformed JSON string, neither tag, scalar, number, array, object or literal, at character offset ${offset} (before "${rest}") at /usr/share/perl5/PVE/APIServer/AnyEvent.pm line 934.\n`,
      );
    }
    const params: RawParams = {};
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed))
      Object.assign(params, parsed);
    return { params, json: true };
  }
  const params: RawParams = {};
  for (const [k, v] of new URLSearchParams(text)) addParam(params, k, v);
  return { params, json: false };
}

/** The path as pveproxy names it in messages: below /api2/json, URL-decoded (uri_unescape). */
function decodePath(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

function addParam(params: RawParams, key: string, value: string) {
  const prev = params[key];
  if (prev === undefined) params[key] = value;
  else params[key] = Array.isArray(prev) ? [...prev, value] : [prev as string, value];
}

/**
 * Body and query parameters merged, query winning; a path parameter given again with another
 * value is a parameter error on it (pve-manager PVE/HTTPServer.pm rest_handler compares as
 * strings, so a repeated one always conflicts).
 */
function mergeParams(
  url: URL,
  body: { params: RawParams; json: boolean } | undefined,
  pathParams: Record<string, string>,
): { params: RawParams; strictBoolean: boolean } {
  const params: RawParams = { ...body?.params };
  const query: RawParams = {};
  for (const [k, v] of url.searchParams) addParam(query, k, v);
  Object.assign(params, query);
  for (const [name, value] of Object.entries(pathParams)) {
    const given = params[name];
    const text = given === true ? '1' : given === false ? '0' : given;
    if (given !== undefined && (Array.isArray(text) || String(text) !== value))
      throw paramError({
        [name]: 'duplicate parameter (already defined in URI) with conflicting values!',
      });
    params[name] = value;
  }
  return { params, strictBoolean: !body?.json };
}

export interface RunningSimulator {
  sim: Simulator;
  /** Base URL, e.g. `https://127.0.0.1:8006` (the API is below /api2/json). */
  url: string;
  host: string;
  port: number;
  token: Simulator['token'];
  /** PEM of the CA that signed the server certificate (HTTPS only). */
  ca?: string;
  /** SHA-256 fingerprint of the server certificate, `AB:CD:...` (HTTPS only). */
  fingerprint?: string;
  close(): Promise<void>;
}

/** Starts a simulator listening on a socket: port 0 picks a free port. */
export async function startSimulator(
  opts: SimulatorOptions & ListenOptions = {},
): Promise<RunningSimulator> {
  const sim = new Simulator(opts);
  const host = opts.host ?? '127.0.0.1';
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    void sim.handle(req, res);
  };
  let server: http.Server;
  let pki: ReturnType<typeof generatePki> | undefined;
  if (opts.http) {
    server = http.createServer(handler);
  } else {
    pki = generatePki({
      nodeName: sim.cluster.localNode,
      ipAddresses: host === '127.0.0.1' || host === '::1' ? [] : [host],
    });
    server = https.createServer({ cert: pki.certPem, key: pki.keyPem }, handler);
  }
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    sim,
    url: `${opts.http ? 'http' : 'https'}://${urlHost}:${port}`,
    host,
    port,
    token: sim.token,
    ca: pki?.caCertPem,
    fingerprint: pki?.fingerprint256,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
