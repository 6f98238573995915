/**
 * The PVE API client for one cluster. Every call goes through `send`: contract validation, path
 * escaping, the in-flight limit, authentication, timeouts, retries by named policy, and one error
 * type with credentials redacted.
 */
import { setMaxListeners } from 'node:events';
import { readFileSync } from 'node:fs';
import type { Agent } from 'node:http';
import type { ApiOperation, ApiParams, ApiReturns } from '../contract/api-types.js';
import type { ContractOperation, HttpMethod } from '../contract/types.js';
import { schemaVersionFor } from '../contract/versions.js';
import { type AuthStrategy, type TicketAnswer, TicketAuth, TokenAuth } from './auth.js';
import { encodeForm, normalize, type WireValue } from './codec.js';
import { PveApiError } from './errors.js';
import { Limiter } from './limiter.js';
import { Redactor } from './redact.js';
import { sleep } from './sleep.js';
import {
  type AgentOptions,
  CONNECT_TIMEOUT,
  clusterAgent,
  type TlsOptions,
  TlsPinError,
} from './tls.js';

export interface Logger {
  warn(message: string): void;
  debug?(message: string): void;
}

export const stderrLogger: Logger = {
  warn: (m) => process.stderr.write(`proxmox-mcp: warning: ${m}\n`),
};

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

/** Reads are retried on transient failures; writes only when nothing can have reached the server. */
export const RETRY_POLICIES = {
  read: { attempts: 4, baseDelayMs: 200, maxDelayMs: 2_000 },
  write: { attempts: 3, baseDelayMs: 200, maxDelayMs: 2_000 },
} satisfies Record<string, RetryPolicy>;

export type ClientAuth =
  | { tokenId: string; secret: string }
  | { username: string; password: string }
  | AuthStrategy;

export interface PveClientOptions {
  /** `https://pve.example.com:8006`; `/api2/json` is added. */
  url: string;
  auth: ClientAuth;
  tls?: TlsOptions;
  maxInFlight?: number;
  connectTimeoutMs?: number;
  requestTimeoutMs?: number;
  retry?: Partial<Record<keyof typeof RETRY_POLICIES, Partial<RetryPolicy>>>;
  logger?: Logger;
  /** Wall clock, replaceable in tests of ticket renewal. */
  now?: () => number;
  /** Called for each new TCP connection (keep-alive checks, benchmarks). */
  onConnect?: () => void;
}

/** Answers a request instead of the server, or returns undefined to let it through. */
export type Interceptor = (
  op: ContractOperation,
  params: Record<string, WireValue>,
  path: string,
) => { data: unknown; total?: number } | undefined;

/**
 * Decides on every request before it is sent (or recorded by an interceptor): `check` throws to
 * refuse one; `filter` may drop rows of an answer the caller must not see.
 */
export interface RequestGuard {
  check(op: ContractOperation, params: Record<string, WireValue>): Promise<void>;
  filter?(op: ContractOperation, data: unknown): Promise<unknown>;
}

export interface CallOptions {
  signal?: AbortSignal;
  /** Overrides the client's request timeout for this call. */
  timeoutMs?: number;
}

interface RawAnswer {
  status: number;
  statusText: string;
  body: string;
}

// The contract loads with the first request (a server that has only listed its tools has not
// needed it), and the whole API only with the first request built at run time.
let contractReady:
  | Promise<typeof import('../contract/core.js') & typeof import('../contract/validate.js')>
  | undefined;
const contract = () => {
  contractReady ??= Promise.all([
    import('../contract/core.js'),
    import('../contract/validate.js'),
  ]).then(([core, validate]) => ({ ...core, ...validate }));
  return contractReady;
};

const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  CONNECT_TIMEOUT,
]);

function errorCode(err: unknown): string | undefined {
  const e = err as { code?: string; cause?: { code?: string } };
  return e?.code ?? e?.cause?.code;
}

export class PveClient {
  readonly baseUrl: string;
  private readonly origin: string;
  private readonly endpoint: { protocol: string; hostname: string; port: string };
  private readonly apiPrefix: string;
  private readonly agentOptions: AgentOptions;
  private agentReady?: ReturnType<typeof clusterAgent>;
  /** What the client learns of the cluster once, shared with its views. */
  private readonly learned: { version?: Promise<string | undefined>; sourceAddress?: string } = {};
  private readonly limiter: Limiter;
  readonly auth: AuthStrategy;
  private readonly redactor = new Redactor();
  private readonly requestTimeoutMs: number;
  private readonly policies: Record<keyof typeof RETRY_POLICIES, RetryPolicy>;
  /** Called after every request that may have changed something. */
  private readonly writeListeners: (() => void)[] = [];
  /** Offered each validated request first; an answer it gives is not sent (see `intercepted`). */
  private interceptor?: Interceptor;
  /** Checks each validated request before anything else (see `guarded`). */
  private guard?: RequestGuard;
  /** Cancels every request of this view (see `signalled`). */
  private signal?: AbortSignal;

  constructor(opts: PveClientOptions) {
    const url = new URL(opts.url.replace(/\/+$/, '').replace(/\/api2\/json$/, ''));
    if (url.protocol !== 'https:' && url.protocol !== 'http:')
      throw new Error(`unsupported URL scheme ${url.protocol}`);
    this.origin = url.origin;
    // node:http takes an IPv6 host without its brackets.
    this.endpoint = {
      protocol: url.protocol,
      hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: url.port,
    };
    this.apiPrefix = `${url.pathname.replace(/\/+$/, '')}/api2/json`;
    this.baseUrl = `${this.origin}${this.apiPrefix}`;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 30_000;
    this.limiter = new Limiter(opts.maxInFlight ?? 8);
    this.policies = {
      read: { ...RETRY_POLICIES.read, ...opts.retry?.read },
      write: { ...RETRY_POLICIES.write, ...opts.retry?.write },
    };
    const logger = opts.logger ?? stderrLogger;
    const tls = opts.tls ?? {};
    if (tls.insecure && url.protocol === 'https:') {
      logger.warn(
        `TLS verification is OFF for ${url.host} (insecure): anyone on the path can read the credentials; pin the certificate fingerprint instead`,
      );
    }
    // Read a CA file now, so that a wrong path shows at start, not at the first call.
    const ca = tls.ca ?? (tls.caFile ? readFileSync(tls.caFile, 'utf8') : undefined);
    // The agent is made on the first request: listing tools needs no connection.
    this.agentOptions = {
      tls: { ...tls, ca, caFile: undefined },
      connectTimeoutMs: opts.connectTimeoutMs ?? 10_000,
      onConnect: opts.onConnect,
      connections: opts.maxInFlight ?? 8,
    };
    const auth = opts.auth;
    if ('headers' in auth) this.auth = auth;
    else if ('tokenId' in auth) this.auth = new TokenAuth(auth.tokenId, auth.secret);
    else {
      this.auth = new TicketAuth(
        auth.username,
        auth.password,
        (username, password) => this.login(username, password),
        opts.now,
      );
    }
  }

  /** Calls a contract operation by its key, `'GET /nodes/{node}/status'`, with typed params and answer. */
  async call<K extends ApiOperation>(
    key: K,
    params: ApiParams[K],
    opts: CallOptions = {},
  ): Promise<ApiReturns[K]> {
    const space = key.indexOf(' ');
    const { getCoreOperation } = await contract();
    const op = getCoreOperation(key.slice(0, space) as HttpMethod, key.slice(space + 1));
    if (!op) throw new Error(`${key} is not in the API contract`);
    return (await this.send(op, params as Record<string, WireValue>, opts)).data as ApiReturns[K];
  }

  /** Like `call`, with PVE's `total` (task lists and logs carry it beside `data`). */
  async page<K extends ApiOperation>(
    key: K,
    params: ApiParams[K],
    opts: CallOptions = {},
  ): Promise<{ data: ApiReturns[K]; total?: number }> {
    const space = key.indexOf(' ');
    const { getCoreOperation } = await contract();
    const op = getCoreOperation(key.slice(0, space) as HttpMethod, key.slice(space + 1));
    if (!op) throw new Error(`${key} is not in the API contract`);
    const answer = await this.send(op, params as Record<string, WireValue>, opts);
    return { data: answer.data as ApiReturns[K], total: answer.total };
  }

  /**
   * Calls any operation of the Proxmox VE API by method and concrete path
   * (`/nodes/pve1/qemu/100/config`), for callers that build requests at run time. What the API
   * does not have, or the cluster's version lacks, is refused before anything is sent.
   */
  async request(
    method: string,
    path: string,
    params: Record<string, WireValue> = {},
    opts: CallOptions = {},
  ): Promise<{ data: unknown; total?: number }> {
    const verb = method.toUpperCase();
    const { matchOperation, contract: api } = await import('../contract/index.js');
    const match = matchOperation(verb, path);
    const refuse = (message: string) =>
      new PveApiError({
        status: 501,
        method: verb,
        path,
        kind: 'bad_request',
        notSent: true,
        message,
      });
    if (!match?.operation) {
      const methods = match && api.operations.filter((op) => op.path === match.template);
      throw refuse(
        methods?.length
          ? `${verb} ${path} is not an operation of the Proxmox VE API: ${match?.template} has only ${methods.map((op) => op.method).join(', ')}`
          : `${verb} ${path} is not an operation of the Proxmox VE API`,
      );
    }
    const op = match.operation;
    const version = await this.clusterVersion();
    const schema = version && schemaVersionFor(version, api.versions);
    if (schema && !op.versions.includes(schema))
      throw refuse(
        `${verb} ${op.path} is not in the API of Proxmox VE ${version}, which this cluster runs; it is in the API of Proxmox VE ${op.versions.join(' and ')}`,
      );
    return this.send(op, { ...params, ...match.params }, opts);
  }

  /** The local address of the last connection to the cluster: where its requests come from. */
  get sourceAddress(): string | undefined {
    return this.learned.sourceAddress;
  }

  /** The cluster's PVE version, read once (undefined when it cannot be read). */
  clusterVersion(): Promise<string | undefined> {
    this.learned.version ??= this.call('GET /version', {}).then(
      (v) => v.version,
      () => {
        // Asked again next time: a failure may be passing.
        this.learned.version = undefined;
        return undefined;
      },
    );
    return this.learned.version;
  }

  /**
   * A view of this client that offers each request to `interceptor` before sending it. The view
   * shares connections, credentials and limits; it is how a dry run records what it would send.
   */
  intercepted(interceptor: Interceptor): PveClient {
    const view = Object.create(this) as PveClient;
    view.interceptor = interceptor;
    return view;
  }

  /**
   * A view of this client whose every request passes `guard` first, whoever builds it. The view
   * shares connections, credentials and limits; views made from it (a dry run's) keep the guard.
   */
  guarded(guard: RequestGuard): PveClient {
    const view = Object.create(this) as PveClient;
    view.guard = guard;
    return view;
  }

  /**
   * A view of this client whose every request is cancelled with `signal` (a tool call's): no
   * request made on the caller's behalf outlives the call. Views made from it keep the signal.
   */
  signalled(signal: AbortSignal): PveClient {
    const view = Object.create(this) as PveClient;
    view.signal = signal;
    // Every request of the call listens to it, queued ones too: a listing that completes many
    // stale rows holds more than Node's default of 10, which is no leak.
    setMaxListeners(1_000, signal);
    return view;
  }

  /** Registers a callback run after each request that may have changed cluster state. */
  onWrite(listener: () => void): void {
    this.writeListeners.push(listener);
  }

  /** Tells the write listeners that cluster state changed (a request, or a task that ended). */
  changed(): void {
    for (const listener of this.writeListeners) listener();
  }

  /** Masks every credential this client knows of. */
  redact(text: string): string {
    this.redactor.add(...this.auth.secrets());
    return this.redactor.redact(text);
  }

  get inFlight(): number {
    return this.limiter.inFlight;
  }

  /** The most requests this client has in flight at once. */
  get maxInFlight(): number {
    return this.limiter.limit;
  }

  async close(): Promise<void> {
    if (this.agentReady) (await this.agentReady).agent.destroy();
  }

  private agent(): Promise<{ agent: Agent; request: typeof import('node:http').request }> {
    this.agentReady ??= clusterAgent(this.origin.startsWith('https:'), this.agentOptions);
    return this.agentReady;
  }

  private async send(
    op: ContractOperation,
    params: Record<string, WireValue>,
    callOpts: CallOptions,
  ): Promise<{ data: unknown; total?: number }> {
    // The view's signal (the caller's) and the request's own both cancel it.
    const signals = [...new Set([callOpts.signal, this.signal])].filter((s): s is AbortSignal =>
      Boolean(s),
    );
    const opts: CallOptions = {
      ...callOpts,
      signal: signals.length > 1 ? AbortSignal.any(signals) : signals[0],
    };
    const given = Object.fromEntries(
      Object.entries(params).filter(([, v]) => v !== undefined && v !== null),
    );
    const { validateParams, closestParam } = await contract();
    const checked = validateParams(op, given, { strictBoolean: false });
    const displayPath = op.path.replace(/\{([^}/]+)\}/g, (_, name: string) =>
      String(given[name] ?? `{${name}}`),
    );
    if (checked.errors) {
      throw new PveApiError({
        status: 400,
        method: op.method,
        path: this.redact(displayPath),
        kind: 'bad_request',
        notSent: true,
        message: 'Parameter verification failed.',
        errors: Object.fromEntries(
          Object.entries(checked.errors).map(([k, v]) => {
            // A mistyped name: say which one was meant.
            const meant = v.startsWith('property is not defined') && closestParam(op, k);
            return [k, this.redact(meant ? `${v}; did you mean '${meant}'?` : v)];
          }),
        ),
      });
    }
    const pathParams = new Set<string>();
    const path = op.path.replace(/\{([^}/]+)\}/g, (_, name: string) => {
      pathParams.add(name);
      return encodeURIComponent(String(given[name]));
    });
    const rest: Record<string, WireValue> = {};
    for (const [k, v] of Object.entries(given)) if (!pathParams.has(k)) rest[k] = v;
    const form = encodeForm(rest);
    const hasBody = op.method === 'POST' || op.method === 'PUT';
    const target = `${this.apiPrefix}${path}${!hasBody && form ? `?${form}` : ''}`;
    await this.guard?.check(op, given);
    const intercepted = this.interceptor?.(op, given, path);
    if (intercepted) return intercepted;
    const answer = await this.exchange(
      op.method,
      target,
      displayPath,
      hasBody ? form : undefined,
      opts,
    );
    if (op.method !== 'GET') this.changed();
    const data = normalize(op.returns, answer.data);
    if (!this.guard?.filter) return { data, total: answer.total };
    const shown = await this.guard.filter(op, data);
    // A total counts what the guard left out too: it goes down by as many rows.
    const hidden = Array.isArray(data) && Array.isArray(shown) ? data.length - shown.length : 0;
    return {
      data: shown,
      total: answer.total === undefined ? undefined : Math.max(0, answer.total - hidden),
    };
  }

  /** Sends with retries and one re-login on a 401; returns `data` or throws PveApiError. */
  private async exchange(
    method: string,
    target: string,
    displayPath: string,
    body: string | undefined,
    opts: CallOptions,
  ): Promise<{ data: unknown; total?: number }> {
    const policy = method === 'GET' ? this.policies.read : this.policies.write;
    let reauthenticated = false;
    for (let attempt = 1; ; attempt++) {
      let error: PveApiError;
      try {
        // Credentials first: a login takes a slot of its own, so it must not wait inside one.
        const headers = await this.auth.headers(method);
        const raw = await this.limiter.run(
          () => this.rawExchange(method, target, headers, body, opts),
          opts.signal,
        );
        if (raw.status === 200) return JSON.parse(raw.body) as { data: unknown; total?: number };
        error = this.httpError(method, displayPath, raw);
        if (raw.status === 401 && !reauthenticated && (await this.auth.refresh())) {
          reauthenticated = true;
          attempt--;
          continue;
        }
      } catch (err) {
        if (opts.signal?.aborted) throw opts.signal.reason;
        if (err instanceof PveApiError) throw err;
        error = this.networkError(method, displayPath, err);
      }
      const retriable =
        error.notSent ||
        (method === 'GET' && (error.kind === 'transient' || error.kind === 'timeout'));
      if (!retriable || attempt >= policy.attempts) throw error;
      const delay = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
      await sleep(delay * (0.75 + Math.random() * 0.5), opts.signal);
    }
  }

  /** One HTTP exchange, keeping the reason phrase PVE puts messages in. */
  private async rawExchange(
    method: string,
    path: string,
    extraHeaders: Record<string, string>,
    body: string | undefined,
    opts: CallOptions,
  ): Promise<RawAnswer> {
    const { agent, request } = this.agentReady ? await this.agentReady : await this.agent();
    const timeout = opts.timeoutMs ?? this.requestTimeoutMs;
    const headers: Record<string, string> = { accept: 'application/json', ...extraHeaders };
    if (body !== undefined) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    return new Promise<RawAnswer>((resolve, reject) => {
      const req = request({ ...this.endpoint, path, method, headers, agent, signal: opts.signal });
      req.setTimeout(timeout, () =>
        req.destroy(
          Object.assign(new Error(`no answer within ${timeout} ms`), { code: 'ETIMEDOUT' }),
        ),
      );
      req.once('error', reject);
      req.once('response', (res) => {
        const local = res.socket?.localAddress;
        if (local) this.learned.sourceAddress = local.replace(/^::ffff:(?=\d+\.)/, '');
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.once('error', reject);
        res.once('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            statusText: res.statusMessage ?? '',
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      });
      req.end(body);
    });
  }

  private httpError(method: string, path: string, raw: RawAnswer): PveApiError {
    let message = '';
    let errors: Record<string, string> | undefined;
    if (raw.body) {
      try {
        const parsed = JSON.parse(raw.body) as {
          message?: string;
          errors?: Record<string, string>;
        };
        message = parsed.message?.trim() ?? '';
        errors = parsed.errors ?? undefined;
      } catch {
        // Not JSON: fall back to the reason phrase.
      }
    }
    // Older PVE versions carry the message only in the reason phrase.
    message ||= raw.statusText || `HTTP ${raw.status}`;
    return new PveApiError({
      status: raw.status,
      method,
      path: this.redact(path),
      message: this.redact(message),
      errors:
        errors &&
        Object.fromEntries(Object.entries(errors).map(([k, v]) => [k, this.redact(String(v))])),
    });
  }

  private networkError(method: string, path: string, err: unknown): PveApiError {
    const code = errorCode(err);
    const text = this.redact(err instanceof Error ? err.message : String(err));
    if (err instanceof TlsPinError) {
      return new PveApiError({
        status: 0,
        method,
        path,
        kind: 'tls',
        notSent: true,
        message: `TLS: ${text}`,
      });
    }
    if (/certificate|self[- ]signed|SSL|TLS|CERT_/i.test(`${code ?? ''} ${text}`)) {
      return new PveApiError({
        status: 0,
        method,
        path,
        kind: 'tls',
        notSent: true,
        message: `TLS: the server's certificate is not trusted (${code ?? text}): pin its SHA-256 fingerprint or give the CA file`,
      });
    }
    const timeout = code === 'ETIMEDOUT' || code === CONNECT_TIMEOUT;
    return new PveApiError({
      status: 0,
      method,
      path,
      kind: timeout ? 'timeout' : 'transient',
      notSent: code !== undefined && NOT_SENT_CODES.has(code),
      message: `${timeout ? 'timed out' : 'connection failed'}${code ? ` (${code})` : ''}: ${text}`,
    });
  }

  /** POST /access/ticket, which needs no authentication (used by ticket auth). */
  private async login(username: string, password: string): Promise<TicketAnswer> {
    this.redactor.add(password);
    const op = (await contract()).getCoreOperation('POST', '/access/ticket') as ContractOperation;
    const body = encodeForm({ username, password });
    const raw = await this.limiter
      .run(() => this.rawExchange('POST', `${this.apiPrefix}${op.path}`, {}, body, {}))
      .catch((err: unknown) => {
        throw err instanceof PveApiError ? err : this.networkError('POST', op.path, err);
      });
    if (raw.status !== 200) {
      const error = this.httpError('POST', op.path, raw);
      throw new PveApiError({
        status: error.status,
        method: 'POST',
        path: op.path,
        kind: error.kind,
        message:
          raw.status === 401
            ? `login as ${username} failed: wrong user name or password`
            : error.message,
      });
    }
    const answer = (JSON.parse(raw.body) as { data: TicketAnswer }).data;
    this.redactor.add(answer.ticket, answer.CSRFPreventionToken);
    return answer;
  }
}
