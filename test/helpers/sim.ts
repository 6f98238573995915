/** Starts a simulator for a test and talks to it the way any PVE client would, over HTTP(S). */
import { Agent, fetch } from 'undici';
import {
  type ListenOptions,
  type RunningSimulator,
  type SimulatorOptions,
  startSimulator,
} from '../../src/simulator/server.js';

export interface ApiAnswer {
  status: number;
  reason: string;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON body, or undefined for an empty one. */
  body:
    | { data?: unknown; message?: string; errors?: Record<string, string>; total?: number }
    | undefined;
  text: string;
}

export interface CallOptions {
  /** `token` (default, the simulator's root token), `none`, a full `PVEAPIToken=...` value, or a ticket. */
  auth?: 'token' | 'none' | string | { ticket: string; csrf?: string };
  /** Send parameters as JSON instead of a form. */
  json?: boolean;
  query?: Record<string, string>;
  headers?: Record<string, string>;
}

export type Params = Record<string, string | number | boolean | string[] | undefined>;

export interface TestSim extends RunningSimulator {
  call(method: string, path: string, params?: Params, opts?: CallOptions): Promise<ApiAnswer>;
  /** `data` of a call that must succeed. */
  data<T = unknown>(method: string, path: string, params?: Params, opts?: CallOptions): Promise<T>;
  /** Starts a task-returning call, ends its task, and returns the task's final status. */
  task(
    method: string,
    path: string,
    params?: Params,
    opts?: CallOptions,
  ): Promise<{ upid: string; exitstatus: string; log: string[] }>;
}

export function formBody(params: Params): string {
  const form = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const item of v) form.append(k, item);
    else form.append(k, typeof v === 'boolean' ? (v ? '1' : '0') : String(v));
  }
  return form.toString();
}

export async function startTestSim(opts: SimulatorOptions & ListenOptions = {}): Promise<TestSim> {
  const running = await startSimulator({ clock: 'manual', http: true, ...opts });
  const dispatcher = new Agent({ connect: running.ca ? { ca: running.ca } : {} });
  const call = async (
    method: string,
    path: string,
    params: Params = {},
    opts: CallOptions = {},
  ): Promise<ApiAnswer> => {
    const headers: Record<string, string> = { ...opts.headers };
    const auth = opts.auth ?? 'token';
    if (auth === 'token') headers.authorization = running.token.header;
    else if (typeof auth === 'object') {
      headers.cookie = `PVEAuthCookie=${encodeURIComponent(auth.ticket)}`;
      if (auth.csrf) headers.csrfpreventiontoken = auth.csrf;
    } else if (auth !== 'none') headers.authorization = auth;
    let url = `${running.url}/api2/json${path}`;
    let body: string | undefined;
    const hasParams = Object.values(params).some((v) => v !== undefined);
    if (method === 'GET' || method === 'DELETE') {
      const qs = formBody(params);
      if (qs) url += `?${qs}`;
    } else if (hasParams) {
      if (opts.json) {
        headers['content-type'] = 'application/json';
        body = JSON.stringify(params);
      } else {
        headers['content-type'] = 'application/x-www-form-urlencoded';
        body = formBody(params);
      }
    }
    if (opts.query) url += `${url.includes('?') ? '&' : '?'}${new URLSearchParams(opts.query)}`;
    const res = await fetch(url, { method, headers, body, dispatcher });
    const text = await res.text();
    return {
      status: res.status,
      reason: res.statusText,
      headers: Object.fromEntries(res.headers),
      body: text ? JSON.parse(text) : undefined,
      text,
    };
  };
  const data = async <T>(method: string, path: string, params?: Params, opts?: CallOptions) => {
    const res = await call(method, path, params, opts);
    if (res.status !== 200) throw new Error(`${method} ${path}: ${res.status} ${res.text}`);
    return res.body?.data as T;
  };
  const task = async (method: string, path: string, params?: Params, opts?: CallOptions) => {
    const upid = await data<string>(method, path, params, opts);
    if (typeof upid !== 'string' || !upid.startsWith('UPID:'))
      throw new Error(`${method} ${path} returned ${JSON.stringify(upid)}`);
    running.sim.runTasks();
    const node = upid.split(':')[1];
    const status = await data<{ exitstatus: string }>(
      'GET',
      `/nodes/${node}/tasks/${encodeURIComponent(upid)}/status`,
    );
    const log = await data<{ t: string }[]>(
      'GET',
      `/nodes/${node}/tasks/${encodeURIComponent(upid)}/log`,
      { limit: 1000 },
    );
    return { upid, exitstatus: status.exitstatus, log: log.map((l) => l.t) };
  };
  return {
    ...running,
    call,
    data,
    task,
    close: async () => {
      await running.close();
      await dispatcher.close();
    },
  };
}
