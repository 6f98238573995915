/**
 * What a cluster's configuration lets the server touch: allowed nodes, pools and vmid ranges
 * (everything else is invisible), and protected guests (visible, never changed).
 */
import type { ScopeConfig } from '../config/schema.js';
import { splitTags } from '../pve/index.js';

export interface ScopeGuest {
  vmid: number;
  node?: string;
  pool?: string;
  /** PVE's tag string (`a;b`) or a list. */
  tags?: string | string[];
}

type Range = [number, number];

const ranges = (specs: string[] | undefined): Range[] | undefined =>
  specs?.map((s) => {
    const [a, b] = s.split('-').map(Number);
    return [a ?? 0, b ?? a ?? 0];
  });

const inRanges = (vmid: number, list: Range[]) => list.some(([a, b]) => vmid >= a && vmid <= b);
/** Whether `pool` is one of `pools` or nested below one (`production/db`, PVE 8's sub-pools). */
export const inPools = (pool: string | undefined, pools: string[]) =>
  pool !== undefined && pools.some((p) => pool === p || pool.startsWith(`${p}/`));

export class Scope {
  private readonly vmids?: Range[];
  private readonly protectedVmids: Range[];
  // PVE stores tags lower-cased (pve-guest-common GuestHelpers.pm get_unique_tags).
  private readonly protectedTags: string[];

  constructor(private readonly config: ScopeConfig) {
    this.vmids = ranges(config.vmids);
    this.protectedVmids = ranges(config.protected.vmids) ?? [];
    this.protectedTags = config.protected.tags.map((t) => t.toLowerCase());
  }

  /** True when scope or protection is configured: a request whose targets are unknown is refused. */
  get guarded(): boolean {
    const p = this.config.protected;
    return this.restricted || p.vmids.length > 0 || p.tags.length > 0 || p.pools.length > 0;
  }

  /** Pools that scope or protection name: their membership decides. */
  get pools(): string[] {
    return [...new Set([...(this.config.pools ?? []), ...this.config.protected.pools])];
  }

  get protectedPools(): string[] {
    return this.config.protected.pools;
  }

  /** Pools the scope is limited to, if any. */
  get scopePools(): string[] | undefined {
    return this.config.pools;
  }

  /** True when some guests or nodes are out of scope. */
  get restricted(): boolean {
    return Boolean(this.config.nodes || this.config.pools || this.vmids);
  }

  allowsNode(node: string): boolean {
    return !this.config.nodes || this.config.nodes.includes(node);
  }

  allowsGuest(g: ScopeGuest): boolean {
    if (g.node && !this.allowsNode(g.node)) return false;
    if (this.config.pools && !inPools(g.pool, this.config.pools)) return false;
    if (this.vmids && !inRanges(g.vmid, this.vmids)) return false;
    return true;
  }

  /** Why a guest is protected, or undefined when it is not. */
  protection(g: ScopeGuest): string | undefined {
    if (inRanges(g.vmid, this.protectedVmids)) return `its ID is listed as protected`;
    const tag = splitTags(g.tags).find((t) => this.protectedTags.includes(t.toLowerCase()));
    if (tag) return `it carries the tag '${tag}'`;
    if (inPools(g.pool, this.config.protected.pools))
      return `it is in the protected pool '${g.pool}'`;
    return undefined;
  }

  /** The scope in words, for refusals. */
  describe(): string {
    const parts = [
      this.config.nodes && `nodes ${this.config.nodes.join(', ')}`,
      this.config.pools && `pools ${this.config.pools.join(', ')}`,
      this.config.vmids && `IDs ${this.config.vmids.join(', ')}`,
    ].filter(Boolean);
    return parts.join('; ') || 'everything';
  }
}
