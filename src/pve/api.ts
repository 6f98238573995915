/**
 * The client's typed areas, mirroring the API tree: version, cluster, nodes, qemu and lxc guests,
 * storage, backups, access, tasks. Asynchronous operations answer a TaskRef: its UPID, and
 * `wait()` for the outcome.
 */
import type { ApiOperation, ApiParams, ApiReturns } from '../contract/api-types.js';
import { listOf } from '../contract/formats.js';
import type { HttpMethod } from '../contract/types.js';
import { type CallOptions, PveClient, type PveClientOptions } from './client.js';
import type { WireValue } from './codec.js';
import { PveApiError } from './errors.js';
import {
  isEmptyLog,
  stopTask,
  TaskRef,
  type WaitOptions,
  waitForTask,
  waitForTasks,
} from './tasks.js';

export type GuestType = 'qemu' | 'lxc';
export type Params = Record<string, WireValue>;
export type ClusterResource = ApiReturns['GET /cluster/resources'][number];

/** Where a guest lives, from /cluster/resources. */
export interface GuestRef {
  vmid: number;
  type: GuestType;
  node: string;
  name: string;
  status: string;
  template: boolean;
  lock?: string;
  tags?: string;
  pool?: string;
}

const GUEST_CACHE_MS = 5_000;

/** A guest type's operation at `path` below `/nodes/{node}/{qemu|lxc}`. */
type GuestOp<T extends GuestType, M extends HttpMethod, P extends string> = Extract<
  `${M} /nodes/{node}/${T}${P}`,
  ApiOperation
>;

function guestArea<T extends GuestType>(client: PveClient, type: T) {
  /** A call of this guest type's operation at `path`: typed as the two types' operations are. */
  const call = <M extends HttpMethod, P extends string>(
    method: M,
    path: P,
    params: Params,
    opts?: CallOptions,
  ): Promise<ApiReturns[GuestOp<T, M, P>]> =>
    // The contract validates the parameters at run time; tools pass them loosely typed.
    client.call(
      `${method} /nodes/{node}/${type}${path}` as GuestOp<T, M, P>,
      params as ApiParams[GuestOp<T, M, P>],
      opts,
    );
  const task = async <M extends HttpMethod, P extends string>(method: M, path: P, params: Params) =>
    new TaskRef(client, String(await call(method, path, params)));
  const action =
    (name: string) =>
    (node: string, vmid: number, params: Params = {}) =>
      task('POST', `/{vmid}/status/${name}`, { ...params, node, vmid });
  return {
    list: (node: string, params: Params = {}) => call('GET', '', { ...params, node }),
    status: (node: string, vmid: number) =>
      call('GET', '/{vmid}/status/current', { node, vmid }) as Promise<
        ApiReturns['GET /nodes/{node}/qemu/{vmid}/status/current'] & Record<string, unknown>
      >,
    start: action('start'),
    stop: action('stop'),
    shutdown: action('shutdown'),
    reboot: action('reboot'),
    suspend: action('suspend'),
    resume: action('resume'),
    /** QEMU only. */
    reset: action('reset'),
    config: (node: string, vmid: number, params: { current?: boolean; snapshot?: string } = {}) =>
      call('GET', '/{vmid}/config', { ...params, node, vmid }) as Promise<
        Record<string, string | number>
      >,
    /** Synchronous update (PUT); `digest` guards against concurrent edits, `delete` lists keys to remove. */
    updateConfig: async (node: string, vmid: number, params: Params) => {
      await call('PUT', '/{vmid}/config', { ...params, node, vmid });
    },
    pending: (node: string, vmid: number) => call('GET', '/{vmid}/pending', { node, vmid }),
    create: (node: string, params: Params) => task('POST', '', { ...params, node }),
    destroy: (node: string, vmid: number, params: Params = {}) =>
      task('DELETE', '/{vmid}', { ...params, node, vmid }),
    clone: (node: string, vmid: number, params: Params & { newid: number }) =>
      task('POST', '/{vmid}/clone', { ...params, node, vmid }),
    migrate: (node: string, vmid: number, params: Params & { target: string }) =>
      task('POST', '/{vmid}/migrate', { ...params, node, vmid }),
    /** Converts to a template. LXC starts the task without answering its UPID: null then. */
    template: async (node: string, vmid: number) => {
      const upid = await call('POST', '/{vmid}/template', { node, vmid });
      return typeof upid === 'string' ? new TaskRef(client, upid) : null;
    },
    resize: (node: string, vmid: number, disk: string, size: string, params: Params = {}) =>
      task('PUT', '/{vmid}/resize', { ...params, node, vmid, disk, size }),
    rrddata: (node: string, vmid: number, timeframe: string, cf?: 'AVERAGE' | 'MAX') =>
      call('GET', '/{vmid}/rrddata', { node, vmid, timeframe, cf }) as Promise<
        Record<string, number>[]
      >,
    snapshots: (node: string, vmid: number) => call('GET', '/{vmid}/snapshot', { node, vmid }),
    snapshot: (node: string, vmid: number, snapname: string, params: Params = {}) =>
      task('POST', '/{vmid}/snapshot', { ...params, node, vmid, snapname }),
    snapshotConfig: (node: string, vmid: number, snapname: string) =>
      call('GET', '/{vmid}/snapshot/{snapname}/config', { node, vmid, snapname }) as Promise<
        Record<string, unknown>
      >,
    rollback: (node: string, vmid: number, snapname: string, params: Params = {}) =>
      task('POST', '/{vmid}/snapshot/{snapname}/rollback', { ...params, node, vmid, snapname }),
    deleteSnapshot: (node: string, vmid: number, snapname: string, params: Params = {}) =>
      task('DELETE', '/{vmid}/snapshot/{snapname}', { ...params, node, vmid, snapname }),
  };
}

/** The calls on guests of one type; `GuestArea` alone is either type's. */
export type GuestArea<T extends GuestType = GuestType> = ReturnType<typeof guestArea<T>>;

/**
 * What the caller may see of the cluster. Listings and lookups leave the rest out, as if it were
 * not there.
 */
export interface Visibility {
  node(name: string): boolean;
  guest(row: { vmid: number; node?: string; pool?: string }): boolean;
  /**
   * Pools whose membership decisions depend on. PVE leaves `pool` out of guest rows for
   * credentials without Pool.Audit on the pool, so membership is then read from the pool itself.
   */
  pools?: string[];
}

const everything: Visibility = { node: () => true, guest: () => true };

/** PVE's tag string (`a;b`, also `,` or spaces) as a list; PVE compares tags lower-cased. */
export const splitTags = (tags: string | string[] | undefined): string[] => listOf(tags);

/** A guest's kind in words: `VM` or `container` (`Container` to start a sentence). */
export const kindOf = (type: string | undefined, start = false): string =>
  type === 'qemu'
    ? 'VM'
    : type === 'lxc'
      ? start
        ? 'Container'
        : 'container'
      : start
        ? 'Guest'
        : 'guest';

/** A guest's id with its name, for people: `107 (web-01)`, or `107` where the name is unknown (a stale row). */
export const idAndName = (g: { vmid: number; name?: string }): string =>
  g.name ? `${g.vmid} (${g.name})` : String(g.vmid);

/** Every guest of the cluster, with what decisions about it need. */
export interface GuestFacts {
  all: Map<number, GuestRef>;
  visible: Map<number, GuestRef>;
  /** Configured pools whose members could not be read (no Pool.Audit on them). */
  unknownPools: string[];
  /** Node status by name (`online`, `offline`, `unknown`); empty without Sys.Audit. */
  nodes: Map<string, string>;
  /** Storages by `node/storage`, with the content types they hold. */
  storages: Map<string, { content: string[]; status: string }>;
  /** The pools these credentials may see. */
  pools: Set<string>;
  /** When the facts were read (epoch ms). */
  at: number;
}

/**
 * Completes stale guest rows of /cluster/resources from their nodes' own guest lists. pmxcfs holds
 * no stats for a guest pvestatd has not reported on yet (one just created, restored or cloned), so
 * its row has no name, template flag or metrics (pve-manager PVE/API2Tools.pm extract_vm_stats);
 * the node answers for its guests live. Rows of offline nodes stay as they are: asking them would
 * only wait for a timeout. Costs nothing while no row is stale.
 */
async function completeStaleRows(
  client: PveClient,
  rows: ClusterResource[],
  opts?: CallOptions,
): Promise<ClusterResource[]> {
  const stale = rows.filter(
    (r) => (r.type === 'qemu' || r.type === 'lxc') && r.node && r.name === undefined,
  );
  if (!stale.length) return rows;
  const nodeRows = rows.filter((r) => r.type === 'node');
  const online = new Set(
    nodeRows.length
      ? nodeRows.filter((r) => r.status === 'online').map((r) => r.node)
      : (await client.call('GET /cluster/status', {}, opts).catch(() => []))
          .filter((s) => s.type === 'node' && s.online === 1)
          .map((s) => s.name),
  );
  const lists = new Map<string, Promise<Map<number, Record<string, unknown>>>>();
  for (const r of stale) {
    const key = `${r.node}/${r.type}`;
    if (!online.has(r.node) || lists.has(key)) continue;
    lists.set(
      key,
      client
        .call(`GET /nodes/{node}/${r.type as GuestType}`, { node: r.node as string }, opts)
        .then((list) => new Map(list.map((g) => [g.vmid, g as Record<string, unknown>])))
        .catch(() => new Map()),
    );
  }
  const byKey = new Map(
    await Promise.all([...lists].map(async ([key, list]) => [key, await list] as const)),
  );
  return rows.map((r) => {
    const live = r.vmid === undefined ? undefined : byKey.get(`${r.node}/${r.type}`)?.get(r.vmid);
    if (!live || r.name !== undefined) return r;
    // The resource row keeps what the config gives (tags, lock, pool, HA state); the node adds
    // what pmxcfs lacks.
    const { cpus, pid: _pid, qmpstatus: _qmp, ...measured } = live;
    return {
      ...measured,
      ...r,
      name: live.name as string | undefined,
      status: live.status as string,
      template: live.template as number | undefined,
      maxcpu: cpus as number | undefined,
    };
  });
}

/**
 * The guests of a cluster from one /cluster/resources call, cached briefly for reads; decisions
 * that allow a change ask for a fresh read. It reads through the client it was made with, never
 * through a guarded or recording view, so the policy's own fact reads are not themselves checked.
 */
class GuestIndex {
  private cache?: GuestFacts;
  private loading?: Promise<GuestFacts>;
  /** Counts invalidations: a read begun before one may not become the cache after it. */
  private generation = 0;

  constructor(
    private readonly client: PveClient,
    private readonly visibility: Visibility,
  ) {}

  invalidate(): void {
    this.cache = undefined;
    this.loading = undefined;
    this.generation++;
  }

  async get(opts: CallOptions | undefined, fresh: boolean): Promise<GuestFacts> {
    if (!fresh && this.cache && Date.now() - this.cache.at < GUEST_CACHE_MS) return this.cache;
    // Concurrent readers of the cache share one request, which no single caller may cancel; a
    // fresh read always makes its own.
    if (!fresh && this.loading) return this.loading;
    const generation = this.generation;
    const loading = this.read(fresh ? opts : undefined);
    if (!fresh) this.loading = loading;
    try {
      const facts = await loading;
      if (generation === this.generation) this.cache = facts;
      return facts;
    } finally {
      if (this.loading === loading) this.loading = undefined;
    }
  }

  private async read(opts?: CallOptions): Promise<GuestFacts> {
    const at = Date.now();
    // One call answers guests, nodes, storages and pools alike.
    const rows = await completeStaleRows(
      this.client,
      await this.client.call('GET /cluster/resources', {}, opts),
      opts,
    );
    const all = new Map<number, GuestRef>();
    const nodes = new Map<string, string>();
    const storages = new Map<string, { content: string[]; status: string }>();
    const pools = new Set<string>();
    for (const r of rows) {
      if (r.type === 'node' && r.node) nodes.set(r.node, r.status ?? 'unknown');
      else if (r.type === 'storage' && r.node && r.storage)
        storages.set(`${r.node}/${r.storage}`, {
          content: String(r.content ?? '')
            .split(',')
            .filter(Boolean),
          status: r.status ?? 'unknown',
        });
      else if (r.type === 'pool' && r.pool) pools.add(r.pool);
      if ((r.type !== 'qemu' && r.type !== 'lxc') || r.vmid === undefined || !r.node) continue;
      all.set(r.vmid, {
        vmid: r.vmid,
        type: r.type,
        node: r.node,
        name: r.name ?? '',
        status: r.status ?? 'unknown',
        template: r.template === 1,
        lock: r.lock,
        tags: r.tags,
        pool: r.pool,
      });
    }
    const unknownPools: string[] = [];
    for (const pool of this.visibility.pools ?? []) {
      // A pool row (or a guest row naming the pool) shows the rows carry its membership.
      if (pools.has(pool) || [...all.values()].some((g) => g.pool === pool)) continue;
      const members = await this.members(pool, opts);
      if (members === 'forbidden') unknownPools.push(pool);
      else
        for (const vmid of members) {
          const guest = all.get(vmid);
          if (guest) guest.pool = pool;
        }
    }
    const visible = new Map([...all].filter(([, g]) => this.visibility.guest(g)));
    return { all, visible, unknownPools, nodes, storages, pools, at };
  }

  /** The vmids of a pool: empty when it does not exist, `forbidden` without Pool.Audit on it. */
  async members(pool: string, opts?: CallOptions): Promise<number[] | 'forbidden'> {
    try {
      const answer = await this.client.call('GET /pools/{poolid}', { poolid: pool }, opts);
      return (answer.members as { vmid?: number }[])
        .map((m) => Number(m.vmid))
        .filter((id) => Number.isInteger(id));
    } catch (err) {
      if (err instanceof PveApiError && err.kind === 'permission') return 'forbidden';
      if (err instanceof PveApiError && err.kind === 'not_found') return [];
      throw err;
    }
  }
}

/** The whole API for one cluster. */
export class PveApi {
  readonly client: PveClient;
  readonly qemu: GuestArea<'qemu'>;
  readonly lxc: GuestArea<'lxc'>;
  private readonly index: GuestIndex;

  constructor(
    clientOrOptions: PveClient | PveClientOptions,
    readonly visibility: Visibility = everything,
    index?: GuestIndex,
  ) {
    this.client =
      clientOrOptions instanceof PveClient ? clientOrOptions : new PveClient(clientOrOptions);
    this.qemu = guestArea(this.client, 'qemu');
    this.lxc = guestArea(this.client, 'lxc');
    if (index) this.index = index;
    else {
      this.index = new GuestIndex(this.client, visibility);
      this.client.onWrite(() => this.invalidateGuests());
    }
  }

  /**
   * The same API over a view of its client (one that checks or records requests): the views share
   * the guest index, which keeps reading through the original client.
   */
  withClient(client: PveClient): PveApi {
    return new PveApi(client, this.visibility, this.index);
  }

  guests(type: GuestType): GuestArea {
    return type === 'qemu' ? this.qemu : this.lxc;
  }

  version(opts?: CallOptions) {
    return this.client.call('GET /version', {}, opts);
  }

  readonly cluster = {
    status: () => this.client.call('GET /cluster/status', {}),
    // Rows out of scope are left out by the guard of the client the API is made with.
    resources: async (type?: ApiParams['GET /cluster/resources']['type'], opts?: CallOptions) => {
      const rows = await this.client.call('GET /cluster/resources', type ? { type } : {}, opts);
      return type === 'vm' || !type ? completeStaleRows(this.client, rows, opts) : rows;
    },
    nextid: (vmid?: number) =>
      this.client.call('GET /cluster/nextid', vmid === undefined ? {} : { vmid }),
    tasks: () => this.client.call('GET /cluster/tasks', {}),
    haResources: () => this.client.call('GET /cluster/ha/resources', {}),
    haStatus: () => this.client.call('GET /cluster/ha/status/current', {}),
    pools: (poolid?: string) => this.client.call('GET /pools', poolid ? { poolid } : {}),
    options: () => this.client.call('GET /cluster/options', {}),
  };

  readonly nodes = {
    list: () => this.client.call('GET /nodes', {}),
    status: (node: string) => this.client.call('GET /nodes/{node}/status', { node }),
    rrddata: (
      node: string,
      timeframe: ApiParams['GET /nodes/{node}/rrddata']['timeframe'],
      cf?: 'AVERAGE' | 'MAX',
    ) =>
      this.client.call('GET /nodes/{node}/rrddata', { node, timeframe, cf }) as Promise<
        Record<string, number>[]
      >,
    network: (node: string, type?: ApiParams['GET /nodes/{node}/network']['type']) =>
      this.client.call('GET /nodes/{node}/network', { node, type }),
    tasks: (node: string, filters: Omit<ApiParams['GET /nodes/{node}/tasks'], 'node'> = {}) =>
      this.client.call('GET /nodes/{node}/tasks', { ...filters, node }),
    /** One task on the node that starts, stops, suspends or migrates many of its guests. */
    bulk: async <A extends 'startall' | 'stopall' | 'suspendall' | 'migrateall'>(
      node: string,
      action: A,
      params: Omit<ApiParams[`POST /nodes/{node}/${A}`], 'node'>,
    ) =>
      new TaskRef(
        this.client,
        String(
          await this.client.call(`POST /nodes/{node}/${action}` as 'POST /nodes/{node}/startall', {
            ...(params as object),
            node,
          }),
        ),
      ),
  };

  readonly agent = {
    ping: (node: string, vmid: number) =>
      this.client.call('POST /nodes/{node}/qemu/{vmid}/agent/ping', { node, vmid }),
    info: (node: string, vmid: number) =>
      this.client.call('GET /nodes/{node}/qemu/{vmid}/agent/info', { node, vmid }),
    osinfo: (node: string, vmid: number) =>
      this.client.call('GET /nodes/{node}/qemu/{vmid}/agent/get-osinfo', { node, vmid }),
    interfaces: (node: string, vmid: number) =>
      this.client.call('GET /nodes/{node}/qemu/{vmid}/agent/network-get-interfaces', {
        node,
        vmid,
      }),
    exec: (node: string, vmid: number, command: string[], inputData?: string) =>
      this.client.call('POST /nodes/{node}/qemu/{vmid}/agent/exec', {
        node,
        vmid,
        command,
        'input-data': inputData,
      }),
    execStatus: (node: string, vmid: number, pid: number) =>
      this.client.call('GET /nodes/{node}/qemu/{vmid}/agent/exec-status', { node, vmid, pid }),
    /** Container interfaces (not the agent, but the same question for LXC). */
    lxcInterfaces: (node: string, vmid: number) =>
      this.client.call('GET /nodes/{node}/lxc/{vmid}/interfaces', { node, vmid }),
  };

  readonly storage = {
    list: (node: string, filters: Omit<ApiParams['GET /nodes/{node}/storage'], 'node'> = {}) =>
      this.client.call('GET /nodes/{node}/storage', { ...filters, node }),
    status: (node: string, storage: string) =>
      this.client.call('GET /nodes/{node}/storage/{storage}/status', { node, storage }),
    content: (node: string, storage: string, filters: { content?: string; vmid?: number } = {}) =>
      this.client.call('GET /nodes/{node}/storage/{storage}/content', {
        ...filters,
        node,
        storage,
      }),
    /** Deletes a volume; answers the task, or null when PVE finished within `delay`. */
    deleteVolume: async (node: string, storage: string, volume: string, delay?: number) => {
      const upid = await this.client.call(
        'DELETE /nodes/{node}/storage/{storage}/content/{volume}',
        { node, storage, volume, delay },
      );
      return typeof upid === 'string' ? new TaskRef(this.client, upid) : null;
    },
  };

  readonly backups = {
    /** Backs up now; answers null when PVE had nothing to do on this node (its "OK"). */
    vzdump: async (node: string, params: Omit<ApiParams['POST /nodes/{node}/vzdump'], 'node'>) => {
      const upid = await this.client.call('POST /nodes/{node}/vzdump', { ...params, node });
      return typeof upid === 'string' && upid.startsWith('UPID:')
        ? new TaskRef(this.client, upid)
        : null;
    },
    /** Restores a backup volume into `vmid` (`force` to overwrite an existing guest). */
    restore: (type: GuestType, node: string, vmid: number, archive: string, params: Params = {}) =>
      type === 'qemu'
        ? this.qemu.create(node, { ...params, vmid, archive })
        : this.lxc.create(node, { ...params, vmid, ostemplate: archive, restore: true }),
  };

  readonly access = {
    permissions: (params: { path?: string; userid?: string } = {}) =>
      this.client.call('GET /access/permissions', params),
    users: (full = false) => this.client.call('GET /access/users', { full }),
    user: (userid: string) => this.client.call('GET /access/users/{userid}', { userid }),
    tokens: (userid: string) => this.client.call('GET /access/users/{userid}/token', { userid }),
    token: (userid: string, tokenid: string) =>
      this.client.call('GET /access/users/{userid}/token/{tokenid}', { userid, tokenid }),
  };

  readonly tasks = {
    status: (node: string, upid: string) =>
      this.client.call('GET /nodes/{node}/tasks/{upid}/status', { node, upid }),
    /** Log lines from `start`, and how many the log has in all. */
    log: async (node: string, upid: string, start = 0, limit = 50) => {
      const page = await this.client.page('GET /nodes/{node}/tasks/{upid}/log', {
        node,
        upid,
        start,
        limit,
      });
      if (start === 0 && isEmptyLog(page.data)) return { lines: [], total: 0 };
      return {
        lines: page.data.map((l) => String(l.t)),
        total: page.total ?? start + page.data.length,
      };
    },
    wait: (upid: string, opts?: WaitOptions) => waitForTask(this.client, upid, opts),
    /** Several tasks, watched together: one task list read per node per tick. */
    waitAll: (upids: string[], opts?: Parameters<typeof waitForTasks>[2]) =>
      waitForTasks(this.client, upids, opts),
    stop: (upid: string) => stopTask(this.client, upid),
  };

  invalidateGuests(): void {
    this.index.invalidate();
  }

  /**
   * The guests the caller may see (or, with `all`, every guest), from one /cluster/resources
   * call, cached briefly.
   */
  async guestIndex(
    opts?: CallOptions,
    which: { all?: boolean } = {},
  ): Promise<Map<number, GuestRef>> {
    const facts = await this.index.get(opts, false);
    return which.all ? facts.all : facts.visible;
  }

  /** Every guest with its pool filled in; `fresh` reads them anew (for decisions on changes). */
  guestFacts(fresh: boolean, opts?: CallOptions): Promise<GuestFacts> {
    return this.index.get(opts, fresh);
  }

  /** A pool's vmids, read now; `forbidden` when the credentials lack Pool.Audit on it. */
  poolMembers(pool: string, opts?: CallOptions): Promise<number[] | 'forbidden'> {
    return this.index.members(pool, opts);
  }

  /** Finds a guest's node and type by vmid; a not_found PveApiError when there is none. */
  async findGuest(vmid: number, opts?: CallOptions): Promise<GuestRef> {
    let guest = (await this.guestIndex(opts)).get(vmid);
    if (!guest) {
      // The cache may predate the guest: look once more before giving up.
      this.invalidateGuests();
      guest = (await this.guestIndex(opts)).get(vmid);
    }
    if (!guest) {
      throw new PveApiError({
        status: 404,
        method: 'GET',
        path: '/cluster/resources',
        kind: 'not_found',
        message: `guest ${vmid} does not exist in the cluster`,
      });
    }
    return guest;
  }

  /**
   * Runs `fn` on a guest found by vmid. When the node answers not-found (the guest moved since the
   * lookup), the lookup is refreshed and `fn` runs once more if the guest is elsewhere now.
   */
  async withGuest<T>(
    vmid: number,
    fn: (guest: GuestRef) => Promise<T>,
    opts?: CallOptions,
  ): Promise<T> {
    const guest = await this.findGuest(vmid, opts);
    try {
      return await fn(guest);
    } catch (err) {
      if (!(err instanceof PveApiError && err.kind === 'not_found')) throw err;
      this.invalidateGuests();
      const again = await this.findGuest(vmid, opts);
      if (again.node === guest.node && again.type === guest.type) throw err;
      return fn(again);
    }
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
