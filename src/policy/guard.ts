/**
 * The one enforcement point of the rails: every request a cluster's client sends, from a tool, a
 * resource, a prompt or the raw API tool, is resolved through the contract to what it touches and
 * checked against read-only mode, scope and protection before it leaves (or before a dry run
 * records it). Tools keep their own friendly checks; this is the guarantee behind them.
 */
import {
  DISK_KEY,
  resolveTargets,
  sidGuest,
  type Targets,
  taskGuest,
  truthy,
  volumeOwner,
  volumeStorage,
} from '../contract/targets.js';
import type { ContractOperation } from '../contract/types.js';
import { parseUpid } from '../contract/upid.js';
import {
  type GuestFacts,
  type GuestRef,
  idAndName,
  kindOf,
  type PveApi,
  type RequestGuard,
} from '../pve/index.js';
import { afterRequest, concernsManagement, lockoutOf, readFirewall } from './lockout.js';
import type { ClusterPolicy } from './policy.js';
import { PolicyRefusal } from './refusal.js';
import { inPools } from './scope.js';

/** A guest's kind in words, to start a sentence. */
export const kind = (g: { type?: string }) => kindOf(g.type, true);

/** Whether a request may change something: every method but GET. */
export const changes = (op: Pick<ContractOperation, 'method'>) => op.method !== 'GET';

/** The path a request is sent to, from its template and values (for plans and messages). */
export const requestPath = (op: ContractOperation, params: Record<string, unknown>) =>
  op.path.replace(/\{([^}/]+)\}/g, (_, name: string) => String(params[name]));

/** A request as a plan holds it: method, path and every parameter sent. */
export const requestKey = (op: ContractOperation, params: Record<string, unknown>) =>
  `${op.method} ${requestPath(op, params)} ${JSON.stringify(
    Object.keys(params)
      .filter((k) => params[k] !== undefined && params[k] !== null)
      .sort()
      .map((k) => [k, params[k]]),
  )}`;

const privilegeHint = (pool: string) =>
  `the credentials may not read pool '${pool}' (grant Pool.Audit on /pool/${pool}), so its members are not known`;

export interface GuardOptions {
  /**
   * Planning: the requests are recorded, not sent (a dry run, or the plan made before asking
   * anyone), so what PVE would refuse is checked here too, to fail before anyone is asked.
   */
  planning?: boolean;
  /**
   * The changing requests a plan made (see `requestKey`): the run that follows may make no other,
   * so it does no more than what was checked and confirmed.
   */
  planned?: Set<string>;
  /** The caller overrides the lock-out check (a human must confirm what it would cut). */
  lockout?: boolean;
}

export class WireGuard implements RequestGuard {
  private fresh?: Promise<GuestFacts>;

  /**
   * `api` reads the facts through the cluster's own client, not through this guard. A session's
   * changing requests share one fresh read (see `session`).
   */
  constructor(
    private readonly policy: ClusterPolicy,
    private readonly api: PveApi,
    private readonly options?: GuardOptions,
    /** Told once per pool whose members cannot be read, so the operator hears of it up front. */
    private readonly notice: { warn?: (message: string) => void; told: Set<string> } = {
      told: new Set(),
    },
  ) {}

  /** A guard for one call (or its plan): its changing requests are decided on one read made for it. */
  session(options: GuardOptions = {}): WireGuard {
    return new WireGuard(this.policy, this.api, options, this.notice);
  }

  /** Decides on the facts another session read (a run right after its plan, with no one asked). */
  reuseFacts(other: WireGuard): void {
    this.fresh = other.fresh;
  }

  /** Facts for a decision: a read of its own for a change, a few seconds old at most for a read. */
  async facts(changing: boolean): Promise<GuestFacts> {
    let facts: Promise<GuestFacts>;
    if (!changing) facts = this.api.guestFacts(false);
    else if (!this.options) facts = this.api.guestFacts(true);
    else facts = this.fresh ??= this.api.guestFacts(true);
    const read = await facts;
    for (const pool of read.unknownPools) {
      if (this.notice.told.has(pool)) continue;
      this.notice.told.add(pool);
      this.notice.warn?.(
        `cluster '${this.policy.name}': ${privilegeHint(pool)}; changes to guests are refused while pool '${pool}' is in the scope or protection`,
      );
    }
    return read;
  }

  async check(op: ContractOperation, params: Record<string, unknown>): Promise<void> {
    const changing = changes(op);
    const what = `${op.method} ${op.path}`;
    const planned = this.options?.planned;
    if (changing && planned && !planned.has(requestKey(op, params)))
      throw new PolicyRefusal(
        `The call now makes a change its plan did not hold (${what} on ${requestPath(op, params)}): the cluster changed in between. Nothing more was done; call again.`,
      );
    const t = resolveTargets(op, params);
    const facts = await this.decide(t, changing, what);
    if (this.options?.planning && changing)
      await this.preconditions(op, params, t, facts ?? (await this.facts(true)));
    if (concernsManagement(op)) await this.lockout(op, params);
  }

  /** What a lock-out override let through in this session, for the human to confirm. */
  readonly lockouts: string[] = [];

  /** Refuses a firewall change that would cut the management path (see lockout.ts). */
  private async lockout(op: ContractOperation, params: Record<string, unknown>): Promise<void> {
    const read = async (path: string) => (await this.api.client.request('GET', path)).data;
    const node = op.path.startsWith('/nodes/') ? String(params.node) : undefined;
    const before = await readFirewall(read, node);
    const address = this.policy.sourceAddress ?? this.api.client.sourceAddress;
    const lost = address && lockoutOf(before, afterRequest(before, op, params), address);
    if (!lost) return;
    if (this.options?.lockout) {
      if (!this.lockouts.includes(lost)) this.lockouts.push(lost);
      return;
    }
    throw new PolicyRefusal(
      `${lost} Nothing was changed. To go ahead anyway, the firewall tools take allowLockout: true, which a human must confirm.`,
    );
  }

  /**
   * Checks targets against read-only mode, scope and protection; throws PolicyRefusal. Returns the
   * facts it read, if it needed any.
   */
  async decide(
    t: Targets,
    changing: boolean,
    what: string,
    /** The guests are chosen as the call runs, each then checked on the wire. */
    selected = false,
  ): Promise<GuestFacts | undefined> {
    const { policy } = this;
    const { scope } = policy;
    if (changing && policy.readOnly)
      throw new PolicyRefusal(
        `Cluster '${policy.name}' is read-only for this server: ${what} changes things and is refused.`,
      );
    // Protection is about changes: a read is checked only against a limited scope.
    if (!changing && !scope.restricted) return undefined;
    for (const node of t.nodes) if (!scope.allowsNode(node)) throw this.outside(`Node ${node}`);
    const scopePools = scope.scopePools;
    if (scopePools)
      for (const pool of t.pools)
        if (!inPools(pool, scopePools)) throw this.outside(`Pool ${pool}`);
    if (t.unresolved.length && scope.guarded)
      throw new PolicyRefusal(
        `${what} names ${t.unresolved.join(', ')}, which cannot be tied to one guest to check its scope and protection, so it is refused.`,
      );
    const ids = [...new Set([...t.guests, ...t.volumeOwners])];
    if (!ids.length && !t.sources.length && !t.nodeGuests.length && !t.poolGuests.length) {
      const bounded = selected || t.nodes.length || t.pools.length || t.storages.length;
      if (changing && !bounded && scope.restricted)
        throw new PolicyRefusal(
          `${what} changes the cluster as a whole, which is outside what this server may manage in cluster '${policy.name}' (${scope.describe()}).`,
        );
      return undefined;
    }
    const facts = await this.facts(changing);
    // A source is only read: it must be in scope, and may be protected.
    for (const id of t.sources) {
      const source = facts.all.get(id);
      if (source) this.admitGuest(source, facts, false);
    }
    for (const id of ids) {
      if (!Number.isInteger(id))
        throw new PolicyRefusal(`${what}: a guest ID it names cannot be read, so it is refused.`);
      const guest = facts.all.get(id);
      if (guest) this.admitGuest(guest, facts, changing);
      else this.admitNewId(id, t, changing);
    }
    const wide = await this.selected(t, facts, what);
    // Guests out of scope are counted, not named: the server does not show what it may not see.
    const protectedOnes: string[] = [];
    let outside = 0;
    for (const g of wide) {
      try {
        this.admitGuest(g, facts, changing);
      } catch (err) {
        if (!(err instanceof PolicyRefusal)) throw err;
        if (this.policy.scope.allowsGuest(g)) protectedOnes.push(`${idAndName(g)}`);
        else outside++;
      }
    }
    if (protectedOnes.length || outside)
      throw new PolicyRefusal(
        `${what} would act on every guest it selects, and some may not be touched through this server: ${[
          protectedOnes.length && `protected ${protectedOnes.join(', ')}`,
          outside && `${outside} outside its scope`,
        ]
          .filter(Boolean)
          .join('; ')}. Name the guests one by one instead.`,
      );
    return facts;
  }

  /** The guests a request selects as a group: all of a node's, all of a pool's. */
  async selected(t: Targets, facts: GuestFacts, what: string): Promise<GuestRef[]> {
    const wide: GuestRef[] = [];
    for (const node of t.nodeGuests)
      for (const g of facts.all.values())
        if (g.node === node && !t.excluded.includes(g.vmid)) wide.push(g);
    for (const pool of t.poolGuests) {
      const members = await this.api.poolMembers(pool);
      if (members === 'forbidden')
        throw new PolicyRefusal(
          `${what} acts on the guests of pool '${pool}', but ${privilegeHint(pool)}.`,
        );
      for (const id of members) {
        const g = facts.all.get(id);
        if (g) wide.push(g);
      }
    }
    return wide;
  }

  /**
   * What PVE would refuse, checked before anyone is asked: nodes that are not there or offline,
   * locked guests, destroying or restoring over a running guest, running code without the agent,
   * pools and storages that do not exist or do not hold that content.
   */
  private async preconditions(
    op: ContractOperation,
    params: Record<string, unknown>,
    t: Targets,
    facts: GuestFacts,
  ): Promise<void> {
    const fail = (message: string) => new PolicyRefusal(message);
    // Without Sys.Audit the rows show no node: nothing to tell then.
    if (facts.nodes.size)
      for (const node of t.nodes) {
        const status = facts.nodes.get(node);
        if (!status)
          throw fail(
            `There is no node named '${node}' in cluster '${this.policy.name}'. List the nodes with proxmox_list_nodes.`,
          );
        if (status !== 'online')
          throw fail(
            `Node ${node} is ${status}: nothing can be done on it until it is back online.`,
          );
      }
    const node = typeof params.node === 'string' ? params.node : undefined;
    const vmid = Number(params.vmid);
    const guest = Number.isInteger(vmid) ? facts.all.get(vmid) : undefined;
    if (guest) {
      const label = `${kind(guest)} ${idAndName(guest)}`;
      const deletes = String(params.delete ?? '').split(/[,;\s]+/);
      // The guest's firewall and consoles do not take its configuration lock (pve-firewall has
      // no lock_config; the console proxies only read the config).
      const unlocking =
        deletes.includes('lock') ||
        truthy(params.skiplock) ||
        /\/(?:firewall\/|vncproxy$|termproxy$|spiceproxy$)/.test(op.path);
      const resuming =
        guest.lock === 'suspended' && ['vm_start', 'vm_resume', 'vm_stop'].includes(op.name);
      if (guest.lock && !unlocking && !resuming)
        throw fail(
          `${label} is locked (${guest.lock}): a task holds it. Wait for it to end (proxmox_list_tasks), then call again.`,
        );
      const running = guest.status === 'running';
      if (op.name === 'destroy_vm' && running && !truthy(params.force))
        throw fail(
          `${label} is running: stop or shut it down first; PVE does not destroy a running guest.`,
        );
      if (op.name === 'create_vm' && !truthy(params.force))
        throw fail(
          `ID ${guest.vmid} is already taken by ${label}: choose another, or restore over it with force.`,
        );
      if (op.name === 'create_vm' && running)
        throw fail(`${label} is running: PVE restores only over a stopped guest. Stop it first.`);
      if (op.name === 'exec') {
        if (!running)
          throw fail(`${label} is not running, so its guest agent cannot run anything.`);
        const config = await this.api.qemu.config(guest.node, guest.vmid);
        if (!/^(1|enabled=1)/.test(String(config.agent ?? '')))
          throw fail(
            `${label} has no QEMU guest agent enabled in its configuration (agent: 1), so nothing can be run in it.`,
          );
      }
    }
    if (facts.pools.size)
      for (const pool of t.pools)
        if (!facts.pools.has(pool))
          throw fail(
            `Pool '${pool}' does not exist in cluster '${this.policy.name}' (or these credentials may not see it). List pools with proxmox_list_pools.`,
          );
    // A clone's storage is on the node it goes to.
    const storageNode =
      op.name === 'clone_vm' && typeof params.target === 'string' ? params.target : node;
    if (storageNode && facts.storages.size)
      await this.storagePreconditions(op, params, storageNode, facts);
  }

  /** Storages named must be on the node and hold what the request puts there; ISOs must exist. */
  private async storagePreconditions(
    op: ContractOperation,
    params: Record<string, unknown>,
    node: string,
    facts: GuestFacts,
  ): Promise<void> {
    const where = (storage: string) => {
      const s = facts.storages.get(`${node}/${storage}`);
      if (!s)
        throw new PolicyRefusal(
          `Storage '${storage}' is not available on node ${node}. List storages with proxmox_list_storage.`,
        );
      return s;
    };
    const needs = (storage: string, content: string, what: string) => {
      if (!where(storage).content.includes(content))
        throw new PolicyRefusal(
          `Storage '${storage}' on ${node} does not hold ${what} (its content types: ${where(storage).content.join(', ') || 'none'}). proxmox_list_storage shows what each storage holds.`,
        );
    };
    // A volume the request reads must be there: told now, before a task allocates disks and fails.
    const present = async (volume: string, content: string, what: string, list: string) => {
      const storage = volumeStorage(volume);
      if (!storage) return;
      needs(storage, content, what);
      const volumes = await this.api.storage.content(node, storage, { content });
      if (!volumes.some((v) => v.volid === volume))
        throw new PolicyRefusal(
          `The ${what.replace(/s$/, '')} ${volume} does not exist on node ${node}. ${list}`,
        );
    };
    const guestDisks = op.path.includes('/lxc') ? 'rootdir' : 'images';
    const diskWhat = guestDisks === 'rootdir' ? 'container volumes' : 'disk images';
    if (op.name === 'vzdump' && typeof params.storage === 'string')
      needs(params.storage, 'backup', 'backups');
    else if (['create_vm', 'clone_vm'].includes(op.name) && typeof params.storage === 'string')
      needs(params.storage, guestDisks, diskWhat);
    // A container restore without a storage goes to `local` (pve-container PVE/API2/LXC.pm).
    else if (op.name === 'create_vm' && guestDisks === 'rootdir' && truthy(params.restore))
      needs('local', guestDisks, diskWhat);
    if (op.name === 'create_vm') {
      // A container is made from a template, or restored from `ostemplate`; a VM from `archive`.
      const from = params.ostemplate ?? params.archive;
      const restore = params.archive !== undefined || truthy(params.restore);
      if (typeof from === 'string' && restore)
        await present(from, 'backup', 'backups', 'proxmox_list_backups lists them.');
      else if (typeof from === 'string')
        await present(
          from,
          'vztmpl',
          'container templates',
          'proxmox_list_storage_content lists the templates of a storage.',
        );
    }
    for (const [key, value] of Object.entries(params)) {
      if (!DISK_KEY.test(key) || typeof value !== 'string') continue;
      const volume = value.split(',')[0] ?? '';
      const storage = volumeStorage(volume);
      if (!storage) continue;
      if (/media=cdrom/.test(value) || /:iso\//.test(volume)) {
        await present(
          volume,
          'iso',
          'ISO images',
          'proxmox_list_storage_content lists the ISOs of a storage.',
        );
      } else if (/^[^:]+:\d+(\.\d+)?$/.test(volume)) {
        // `storage:size` allocates a new volume there.
        needs(storage, guestDisks, diskWhat);
      }
    }
  }

  /**
   * Drops rows that name a node or guest out of scope, from a listing and from the lists an
   * answer holds (a pool's `members`).
   */
  async filter(op: ContractOperation, data: unknown): Promise<unknown> {
    const { scope } = this.policy;
    if (op.method !== 'GET' || !scope.restricted || !data || typeof data !== 'object') return data;
    // A guest's node and pool come from the facts: a backup row names neither.
    const facts = await this.facts(false);
    const visible = (row: unknown) => {
      if (!row || typeof row !== 'object') return true;
      const r = row as Record<string, unknown>;
      if (typeof r.node === 'string' && !scope.allowsNode(r.node)) return false;
      // `/cluster/status` names a node row by `name`.
      if (r.type === 'node' && typeof r.name === 'string' && !scope.allowsNode(r.name))
        return false;
      const id = rowGuest(r);
      // A backup task of several guests names none of them: it cannot be shown to a limited scope.
      if (id === undefined)
        return !(typeof r.upid === 'string' && parseUpid(r.upid)?.type === 'vzdump');
      return scope.allowsGuest(
        facts.all.get(id) ?? { vmid: id, node: typeof r.node === 'string' ? r.node : undefined },
      );
    };
    const inner = (value: unknown): unknown => {
      if (!value || typeof value !== 'object' || Array.isArray(value)) return value;
      return Object.fromEntries(
        Object.entries(value).map(([k, v]) => [k, Array.isArray(v) ? v.filter(visible) : v]),
      );
    };
    return Array.isArray(data) ? data.filter(visible).map(inner) : inner(data);
  }

  private outside(what: string): PolicyRefusal {
    const { scope } = this.policy;
    // Said of every refusal alike, so that it tells nothing of whether a hidden guest exists.
    const pools = scope.scopePools ? ' A new guest must be given one of those pools.' : '';
    return new PolicyRefusal(
      `${what} is outside what this server may manage in cluster '${this.policy.name}' (${scope.describe()}).${pools}`,
    );
  }

  private admitGuest(g: GuestRef, facts: GuestFacts, changing: boolean): void {
    const { scope } = this.policy;
    const unknown = (pools: string[] | undefined) =>
      g.pool === undefined ? pools?.find((p) => facts.unknownPools.includes(p)) : undefined;
    // The same words whether or not the guest exists: a refusal tells nothing of what is hidden.
    if (!scope.allowsGuest({ vmid: g.vmid, node: g.node })) throw this.outside(`ID ${g.vmid}`);
    const blind = unknown(scope.scopePools);
    if (blind)
      throw new PolicyRefusal(
        `ID ${g.vmid} cannot be checked against the scope: ${privilegeHint(blind)}.`,
      );
    if (!scope.allowsGuest(g)) throw this.outside(`ID ${g.vmid}`);
    if (!changing) return;
    const unsure = unknown(scope.protectedPools);
    if (unsure)
      throw new PolicyRefusal(
        `${kind(g)} ${idAndName(g)} may be protected: ${privilegeHint(unsure)}. Nothing was changed.`,
      );
    const why = scope.protection(g);
    if (why)
      throw new PolicyRefusal(
        `${kind(g)} ${idAndName(g)} is protected: ${why}. It can be read but not changed, stopped or deleted through this server.`,
      );
  }

  /** An ID no guest has (yet): a new guest takes it, in a pool the request names. */
  private admitNewId(id: number, t: Targets, changing: boolean): void {
    const { scope } = this.policy;
    const pool = t.pools[0];
    if (!scope.allowsGuest({ vmid: id, pool, node: t.nodes[0] })) throw this.outside(`ID ${id}`);
    const why = changing ? scope.protection({ vmid: id }) : undefined;
    if (why) throw new PolicyRefusal(`ID ${id} is protected: ${why}. Nothing was changed.`);
  }
}

/** The guest a listed row is about: its vmid, its volume's owner, its HA sid or its task's guest. */
function rowGuest(r: Record<string, unknown>): number | undefined {
  if (typeof r.vmid === 'number') return r.vmid;
  if (typeof r.vmid === 'string' && /^\d+$/.test(r.vmid)) return Number(r.vmid);
  if (typeof r.volid === 'string') return volumeOwner(r.volid);
  if (typeof r.sid === 'string') return sidGuest(r.sid);
  if (typeof r.upid === 'string') {
    const id = parseUpid(r.upid)?.id;
    return id === undefined ? undefined : taskGuest(id);
  }
  return undefined;
}
