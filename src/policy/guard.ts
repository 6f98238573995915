/**
 * The one enforcement point of the rails: every request a cluster's client sends, from a tool, a
 * resource, a prompt or the raw API tool, is resolved through the contract to what it touches and
 * checked against read-only mode, scope and protection before it leaves (or before a dry run
 * records it). Tools keep their own friendly checks; this is the guarantee behind them.
 */
import { resolveTargets, type Targets, volumeOwner } from '../contract/targets.js';
import type { ContractOperation } from '../contract/types.js';
import { parseUpid } from '../contract/upid.js';
import type { GuestFacts, GuestRef, PveApi, RequestGuard } from '../pve/index.js';
import type { ClusterPolicy } from './policy.js';
import { PolicyRefusal } from './refusal.js';

const kind = (g: { type?: string }) =>
  g.type === 'qemu' ? 'VM' : g.type === 'lxc' ? 'Container' : 'Guest';

/** Whether a request may change something: every method but GET. */
export const changes = (op: Pick<ContractOperation, 'method'>) => op.method !== 'GET';

const privilegeHint = (pool: string) =>
  `the credentials may not read pool '${pool}' (grant Pool.Audit on /pool/${pool}), so its members are not known`;

export class WireGuard implements RequestGuard {
  private fresh?: Promise<GuestFacts>;

  /**
   * `api` reads the facts through the cluster's own client, not through this guard. With `memo`,
   * the changing requests of one call share one fresh read (see `session`).
   */
  constructor(
    private readonly policy: ClusterPolicy,
    private readonly api: PveApi,
    private readonly memo = false,
  ) {}

  /** A guard for one tool call: its changing requests are decided on one read made for it. */
  session(): WireGuard {
    return new WireGuard(this.policy, this.api, true);
  }

  /** Facts for a decision: a read of its own for a change, a few seconds old at most for a read. */
  private facts(changing: boolean): Promise<GuestFacts> {
    if (!changing) return this.api.guestFacts(false);
    if (!this.memo) return this.api.guestFacts(true);
    this.fresh ??= this.api.guestFacts(true);
    return this.fresh;
  }

  async check(op: ContractOperation, params: Record<string, unknown>): Promise<void> {
    const { policy } = this;
    const { scope } = policy;
    const changing = changes(op);
    const what = `${op.method} ${op.path}`;
    if (changing && policy.readOnly)
      throw new PolicyRefusal(
        `Cluster '${policy.name}' is read-only for this server: ${what} changes things and is refused.`,
      );
    // Protection is about changes: a read is checked only against a limited scope.
    if (!changing && !scope.restricted) return;
    const t = resolveTargets(op, params);
    for (const node of t.nodes) if (!scope.allowsNode(node)) throw this.outside(`Node ${node}`);
    const scopePools = scope.scopePools;
    if (scopePools)
      for (const pool of t.pools)
        if (!scopePools.includes(pool)) throw this.outside(`Pool ${pool}`);
    const ids = [...new Set([...t.guests, ...t.volumeOwners])];
    if (!ids.length && !t.nodeGuests.length && !t.poolGuests.length) {
      const bounded = t.nodes.length || t.pools.length || t.storages.length;
      if (changing && !bounded && scope.restricted)
        throw new PolicyRefusal(
          `${what} changes the cluster as a whole, which is outside what this server may manage in cluster '${policy.name}' (${scope.describe()}).`,
        );
      return;
    }
    const facts = await this.facts(changing);
    for (const id of ids) {
      if (!Number.isInteger(id))
        throw new PolicyRefusal(`${what}: a guest ID it names cannot be read, so it is refused.`);
      const guest = facts.all.get(id);
      if (guest) this.admitGuest(guest, facts, changing);
      else this.admitNewId(id, t, changing);
    }
    const wide: GuestRef[] = [];
    for (const node of t.nodeGuests)
      for (const g of facts.all.values()) if (g.node === node) wide.push(g);
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
    const refused: string[] = [];
    for (const g of wide) {
      try {
        this.admitGuest(g, facts, changing);
      } catch (err) {
        if (!(err instanceof PolicyRefusal)) throw err;
        refused.push(`${g.vmid} (${g.name})`);
      }
    }
    if (refused.length)
      throw new PolicyRefusal(
        `${what} would act on every guest it selects, and these may not be touched through this server (protected or out of scope): ${refused.join(', ')}. Name the guests one by one instead.`,
      );
  }

  /** Drops rows of a listing that name a node or guest out of scope. */
  async filter(op: ContractOperation, data: unknown): Promise<unknown> {
    const { scope } = this.policy;
    if (op.method !== 'GET' || !scope.restricted || !Array.isArray(data)) return data;
    const facts = scope.scopePools ? await this.facts(false) : undefined;
    return data.filter((row) => {
      if (!row || typeof row !== 'object') return true;
      const r = row as Record<string, unknown>;
      if (typeof r.node === 'string' && !scope.allowsNode(r.node)) return false;
      const id = rowGuest(r);
      if (id === undefined) return true;
      const guest = facts?.all.get(id) ?? {
        vmid: id,
        node: typeof r.node === 'string' ? r.node : undefined,
      };
      return scope.allowsGuest(guest);
    });
  }

  private outside(what: string): PolicyRefusal {
    return new PolicyRefusal(
      `${what} is outside what this server may manage in cluster '${this.policy.name}' (${this.policy.scope.describe()}).`,
    );
  }

  private admitGuest(g: GuestRef, facts: GuestFacts, changing: boolean): void {
    const { scope } = this.policy;
    const unknown = (pools: string[] | undefined) =>
      g.pool === undefined ? pools?.find((p) => facts.unknownPools.includes(p)) : undefined;
    const blind = unknown(scope.scopePools);
    if (blind)
      throw new PolicyRefusal(
        `${kind(g)} ${g.vmid} cannot be checked against the scope: ${privilegeHint(blind)}.`,
      );
    if (!scope.allowsGuest(g)) throw this.outside(`${kind(g)} ${g.vmid}`);
    if (!changing) return;
    const unsure = unknown(scope.protectedPools);
    if (unsure)
      throw new PolicyRefusal(
        `${kind(g)} ${g.vmid} (${g.name}) may be protected: ${privilegeHint(unsure)}. Nothing was changed.`,
      );
    const why = scope.protection(g);
    if (why)
      throw new PolicyRefusal(
        `${kind(g)} ${g.vmid} (${g.name}) is protected: ${why}. It can be read but not changed, stopped or deleted through this server.`,
      );
  }

  /** An ID no guest has (yet): a new guest takes it, in a pool the request names. */
  private admitNewId(id: number, t: Targets, changing: boolean): void {
    const { scope } = this.policy;
    const pool = t.pools[0];
    if (!scope.allowsGuest({ vmid: id, pool, node: t.nodes[0] })) {
      if (scope.scopePools && !pool && changing)
        throw new PolicyRefusal(
          `This server may only manage ${scope.describe()} in cluster '${this.policy.name}': give the new guest's pool explicitly.`,
        );
      throw this.outside(`ID ${id}`);
    }
    const why = changing ? scope.protection({ vmid: id }) : undefined;
    if (why) throw new PolicyRefusal(`ID ${id} is protected: ${why}. Nothing was changed.`);
  }
}

/** The guest a listed row is about: its vmid, its volume's owner, its HA sid or its task's guest. */
function rowGuest(r: Record<string, unknown>): number | undefined {
  if (typeof r.vmid === 'number') return r.vmid;
  if (typeof r.vmid === 'string' && /^\d+$/.test(r.vmid)) return Number(r.vmid);
  if (typeof r.volid === 'string') return volumeOwner(r.volid);
  if (typeof r.sid === 'string') {
    const m = /^(?:vm|ct):(\d+)$/.exec(r.sid);
    if (m) return Number(m[1]);
  }
  if (typeof r.upid === 'string') {
    const id = parseUpid(r.upid)?.id;
    if (id && /^\d+$/.test(id)) return Number(id);
  }
  return undefined;
}
