/**
 * The policy around every changing tool call: its declared targets admitted, the plan of what it
 * would send, the human's yes when that plan destroys, hard-stops, runs code or touches many
 * guests, and the seal that binds a yes to one call. The rails themselves are enforced on the
 * wire (guard.ts); the operator's settings are upper bounds that nothing in a request relaxes.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import type { ClusterConfig, Config } from '../config/schema.js';
import {
  DISK_KEY,
  listOf,
  noTargets,
  resolveTargets,
  type Targets,
  truthy,
  volumeOwner,
} from '../contract/targets.js';
import type { ContractOperation } from '../contract/types.js';
import { parseUpid } from '../contract/upid.js';
import { type GuestFacts, type GuestRef, idAndName, type PveApi } from '../pve/index.js';
import type { AnyTool } from '../tools/define.js';
import { redactArgs } from './audit.js';
import { changes, kind, type WireGuard } from './guard.js';
import { PolicyRefusal } from './refusal.js';
import { stripInvisible } from './sanitize.js';
import { Scope } from './scope.js';

export { PolicyRefusal };
export type ConfirmMode = Config['confirm'];

/** Facts checked before a change, shown by dry runs. */
export interface Preconditions {
  vmid?: number;
  exists?: boolean;
  inScope: boolean;
  protected: boolean;
  locked?: string;
  status?: string;
  node?: string;
}

export interface ClusterPolicy {
  name: string;
  readOnly: boolean;
  scope: Scope;
  /** The address PVE sees the server connect from, when configured (NAT, proxies). */
  sourceAddress?: string;
}

export function clusterPolicy(config: Config, cluster: ClusterConfig): ClusterPolicy {
  return {
    name: cluster.name,
    readOnly: config.readOnly || cluster.readOnly === true,
    scope: new Scope(cluster.scope),
    sourceAddress: cluster.sourceAddress,
  };
}

const defined = <T>(list: (T | undefined)[] | undefined): T[] =>
  (list ?? []).filter((v): v is T => v !== undefined && v !== '');

/** What a call names, in the contract's terms, and whether it may change anything. */
export async function declaredTargets(
  tool: AnyTool,
  args: Record<string, unknown>,
): Promise<{ targets: Targets; changing: boolean; selected?: boolean; lockout?: boolean }> {
  const decl = tool.targets?.(args) ?? {};
  const empty = noTargets();
  if (decl.request) {
    const { matchOperation } = await import('../contract/index.js');
    const { method, path, params } = decl.request;
    const match = matchOperation(method.toUpperCase(), path);
    // Outside the contract: the client refuses it before anything is sent.
    if (!match?.operation) return { targets: empty, changing: method.toUpperCase() !== 'GET' };
    return {
      targets: resolveTargets(match.operation, { ...params, ...match.params }),
      changing: changes(match.operation),
    };
  }
  const upid = decl.upid ? parseUpid(decl.upid) : undefined;
  const upidGuest = upid && /^\d+$/.test(upid.id) ? [Number(upid.id)] : [];
  return {
    targets: {
      ...empty,
      guests: [...defined(decl.guests), ...upidGuest],
      nodes: [...defined(decl.nodes), ...(upid ? [upid.node] : [])],
      pools: defined(decl.pools),
      sources: defined(decl.sources),
      volumeOwners: defined((decl.volumes ?? []).map(volumeOwner)),
    },
    changing: tool.access !== 'read',
    selected: decl.selected,
    lockout: decl.lockout,
  };
}

/**
 * Checks what a call declares before it reads or plans anything, for a refusal that names the
 * guest; returns the facts a dry run shows. Throws PolicyRefusal.
 */
export async function admit(
  guard: WireGuard,
  tool: AnyTool,
  { targets, changing, selected }: { targets: Targets; changing: boolean; selected?: boolean },
): Promise<Preconditions> {
  const checks: Preconditions = { inScope: true, protected: false };
  const facts = await guard.decide(targets, changing, tool.name, selected);
  const id = targets.guests[0] ?? targets.volumeOwners[0];
  if (id === undefined) return checks;
  const guest = (facts ?? (await guard.facts(changing))).all.get(id);
  Object.assign(checks, { vmid: id, exists: Boolean(guest) });
  if (guest) Object.assign(checks, { node: guest.node, status: guest.status, locked: guest.lock });
  return checks;
}

/** Refuses a change to a protected or out-of-scope guest, for tools that choose guests as they run. */
export function guardGuest(
  policy: ClusterPolicy,
  guest: { vmid: number; node?: string; pool?: string; tags?: string | string[] },
): void {
  if (!policy.scope.allowsGuest(guest))
    throw new PolicyRefusal(`outside scope (${policy.scope.describe()})`);
  const why = policy.scope.protection(guest);
  if (why) throw new PolicyRefusal(`protected: ${why}`);
}

/** A changing request of a plan: what the call would send. */
export interface PlannedCall {
  op: ContractOperation;
  params: Record<string, unknown>;
  /** The path sent, below /api2/json. */
  path: string;
}

/** What a request does that a human must agree to, in words; undefined when it needs no yes. */
function effectOf(call: PlannedCall, subject: GuestRef | undefined): string | undefined {
  const { op, params } = call;
  switch (op.name) {
    case 'destroy_vm':
      return 'Destroy, with its disks and snapshots';
    case 'delsnapshot':
      return `Delete snapshot '${params.snapname}'`;
    case 'rollback':
      // SDN has a rollback too (of pending configuration): it falls to the general rule below.
      if (op.path.endsWith('/rollback') && params.snapname !== undefined)
        return `Roll back to snapshot '${params.snapname}' (every change since is lost)`;
      break;
    case 'vm_stop':
      return 'Stop hard, like pulling the power (unsaved data is lost)';
    case 'vm_reset':
      return 'Reset, like a reset button (unsaved data is lost)';
    case 'vm_shutdown':
      return truthy(params.forceStop)
        ? `Shut down, and stop hard if not down after ${params.timeout === undefined ? "PVE's default timeout" : `${params.timeout} s`}`
        : undefined;
    // The node bulk operations (pve-manager PVE/API2/Nodes.pm): stopall's force-stop is on by
    // default, and each guest's startup `down` delay stands before its own timeout.
    case 'stopall':
      if (params['force-stop'] !== undefined && !truthy(params['force-stop'])) return undefined;
      return Number(params.timeout) === 0
        ? 'Stop hard, like pulling the power (unsaved data is lost; a guest with a startup down delay gets that long to shut down first)'
        : `Shut down, and stop hard if not down after ${params.timeout ?? 180} s (or the guest's startup down delay)`;
    case 'migrateall':
      return `Migrate from ${params.node} to ${params.target}: running VMs online, running containers by restart${truthy(params['with-local-disks']) ? ', local disks along' : ''}`;
    case 'exec': {
      // What runs is the command and what it reads: both are shown, the input cut when long.
      const input = params['input-data'] === undefined ? '' : String(params['input-data']);
      const shown =
        input.length > 1_000 ? `${input.slice(0, 1_000)}… (${input.length} characters)` : input;
      return `Run the command ${JSON.stringify(params.command ?? [])}${input ? ` with standard input ${JSON.stringify(shown)}` : ''}`;
    }
    case 'create_vm':
      return subject
        ? 'Restore a backup over it (its disks and configuration are replaced)'
        : undefined;
    case 'update_vm':
    case 'update_vm_async': {
      const disks = listOf(params.delete).filter((k) => DISK_KEY.test(k));
      return disks.length
        ? `Remove ${disks.join(', ')} from its configuration (a disk removed stays as an unused disk; an unused disk removed is destroyed)`
        : undefined;
    }
    case 'vzdump': {
      const many =
        truthy(params.all) || params.pool !== undefined || listOf(params.vmid).length > 1;
      return many ? 'Back up several guests at once' : undefined;
    }
    case 'template':
      return 'Convert to a template (cannot be undone: it can no longer run, and its disks become base images)';
    case 'stop_task':
      return `Stop the task ${params.upid}`;
    case 'delete':
      if (params.volume !== undefined) return `Delete the volume ${params.volume}`;
      break;
  }
  if (op.method === 'PUT' && op.path.endsWith('/firewall/options')) {
    // Turning a firewall on can cut connections; turning IP filtering off lets a guest take
    // addresses it was not given.
    const where = call.path.replace(/\/options$/, '');
    const effects = [
      truthy(params.enable) && `Turn on the firewall at ${where}`,
      ((params.ipfilter !== undefined && !truthy(params.ipfilter)) ||
        listOf(params.delete).includes('ipfilter')) &&
        `Turn off IP filtering (ipfilter) of the firewall at ${where}`,
    ].filter(Boolean);
    if (effects.length) return effects.join('; ');
  }
  // Whatever else deletes something needs a yes too.
  return op.method === 'DELETE' ? `Delete ${call.path}` : undefined;
}

const MAX_LISTED = 20;

/** Guests in words, all of them or the first 20 and a count. */
function guestList(guests: GuestRef[]): string {
  const listed = guests
    .slice(0, MAX_LISTED)
    .map((g) => `${kind(g)} ${idAndName(g)} on ${g.node}, now ${g.status}`);
  const more = guests.length > MAX_LISTED ? `; and ${guests.length - MAX_LISTED} more` : '';
  return `${listed.join('; ')}${more}`;
}

/**
 * What the human is asked to agree to, from the plan: each guest by id, name and node with what
 * happens to it, the disks and snapshots lost, the command run, every guest of a wide change (the
 * first 20 and a count), and for raw calls the method, path, parameters and targets. Undefined
 * when the plan needs no yes.
 */
export async function impactOf(
  tool: AnyTool,
  calls: PlannedCall[],
  pve: PveApi,
  facts: GuestFacts,
  cluster: string,
): Promise<string | undefined> {
  const touched = new Map<number, GuestRef>();
  const groups = new Map<string, GuestRef[]>();
  const lines: string[] = [];
  const losing: GuestRef[] = [];
  for (const call of calls) {
    const t = resolveTargets(call.op, call.params);
    // Every guest the request reaches: named, owning a volume it names, or selected as a group.
    const grouped = [...facts.all.values()].filter(
      (g) =>
        !t.excluded.includes(g.vmid) &&
        (t.nodeGuests.includes(g.node) || (g.pool !== undefined && t.poolGuests.includes(g.pool))),
    );
    const named = [
      ...[...t.guests, ...t.volumeOwners]
        .map((id) => facts.all.get(id))
        .filter((g): g is GuestRef => g !== undefined),
      ...grouped,
    ];
    for (const g of named) touched.set(g.vmid, g);
    const effect = effectOf(call, facts.all.get(Number(call.params.vmid)));
    if (tool.raw) {
      const body = Object.fromEntries(
        Object.entries(call.params).filter(([k]) => !call.op.path.includes(`{${k}}`)),
      );
      lines.push(
        `${call.op.method} ${call.path} with ${JSON.stringify(redactArgs(body))}${named.length ? `, acting on ${guestList(named)}` : ''}${effect ? `: ${effect}` : ''}.`,
      );
      continue;
    }
    if (!effect) continue;
    const group = groups.get(effect) ?? [];
    for (const g of named) if (!group.includes(g)) group.push(g);
    groups.set(effect, group);
    const subject = named[0];
    if (subject && (call.op.name === 'destroy_vm' || call.op.name === 'create_vm'))
      losing.push(subject);
  }
  for (const [effect, guests] of groups) {
    lines.push(
      guests.length === 0
        ? `${effect}.`
        : guests.length === 1
          ? `${effect}: ${guestList(guests)}.`
          : `${effect}, for ${guests.length} guests: ${guestList(guests)}.`,
    );
  }
  for (const g of losing.slice(0, MAX_LISTED)) lines.push(await losses(pve, g));
  // A wide change with no effect named above still needs a yes, naming every guest.
  const covered = new Set([...groups.values()].flat().map((g) => g.vmid));
  const rest = [...touched.values()].filter((g) => !covered.has(g.vmid));
  const many = touched.size > 1;
  if (many && rest.length) lines.push(`Acts on ${rest.length} guests at once: ${guestList(rest)}.`);
  if (!lines.length) return undefined;
  lines.unshift(`On cluster '${cluster}':`);
  return stripInvisible(lines.join('\n'));
}

/** The disks and snapshots a guest loses, from its configuration. */
async function losses(pve: PveApi, guest: GuestRef): Promise<string> {
  const area = pve.guests(guest.type);
  try {
    const [config, snapshots] = await Promise.all([
      area.config(guest.node, guest.vmid, { current: true }),
      area.snapshots(guest.node, guest.vmid),
    ]);
    const disks = Object.entries(config)
      .filter(([k, v]) => DISK_KEY.test(k) && !String(v).includes('media=cdrom'))
      .map(([k, v]) => {
        const volume = String(v).split(',')[0];
        const size = /size=(\w+)/.exec(String(v))?.[1];
        return `${k} ${volume}${size ? ` (${size})` : ''}`;
      });
    const count = snapshots.filter((s) => s.name !== 'current').length;
    return [
      `  ${kind(guest)} ${guest.vmid} loses ${disks.length ? `its disks ${disks.join(', ')}` : 'no disk'}.`,
      count ? `  ${count} snapshot(s) lost.` : '',
    ]
      .filter(Boolean)
      .join('\n');
  } catch {
    // The human is asked all the same; the call itself meets the same failure.
    return `  The disks and snapshots of ${kind(guest)} ${guest.vmid} could not be listed.`;
  }
}

/** How long an answered confirmation stays good for its retry (2026-07-28 era). */
const SEAL_TTL_MS = 10 * 60_000;

/**
 * Binds a confirmation to one exact call and what it was shown: a retry must carry the same tool,
 * arguments and impact, within ten minutes, once.
 */
export class ConfirmationSeal {
  private readonly key = randomBytes(32);
  /** Nonces already used, with their expiry. */
  private readonly used = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  private digest(tool: string, args: Record<string, unknown>, impact: string): string {
    const { confirm: _c, dryRun: _d, ...rest } = args;
    const canonical = JSON.stringify(
      Object.keys(rest)
        .sort()
        .map((k) => [k, rest[k]]),
    );
    return createHash('sha256').update(`${tool}\n${canonical}\n${impact}`).digest('base64url');
  }

  private mac(text: string): string {
    return createHmac('sha256', this.key).update(text).digest('base64url');
  }

  seal(tool: string, args: Record<string, unknown>, impact: string): string {
    const body = `${this.digest(tool, args, impact)}.${randomBytes(12).toString('base64url')}.${this.now() + SEAL_TTL_MS}`;
    return `${body}.${this.mac(body)}`;
  }

  /**
   * Whether `state` is a seal this server made, unexpired and unspent, whatever call it is for:
   * checked when a request arrives, before any call is matched against it (verify does that).
   */
  authentic(state: unknown): boolean {
    if (typeof state !== 'string') return false;
    const [digest, nonce, expires, mac] = state.split('.');
    if (!digest || !nonce || !expires || !mac) return false;
    return (
      mac === this.mac(`${digest}.${nonce}.${expires}`) &&
      Number(expires) >= this.now() &&
      !this.used.has(nonce)
    );
  }

  /** Whether `state` seals this call; a good seal is spent by checking it. */
  verify(state: unknown, tool: string, args: Record<string, unknown>, impact: string): boolean {
    if (typeof state !== 'string') return false;
    const [digest, nonce, expires, mac] = state.split('.');
    if (!digest || !nonce || !expires || !mac) return false;
    const body = `${digest}.${nonce}.${expires}`;
    if (mac !== this.mac(body) || digest !== this.digest(tool, args, impact)) return false;
    const now = this.now();
    for (const [n, until] of this.used) if (until < now) this.used.delete(n);
    if (Number(expires) < now || this.used.has(nonce)) return false;
    this.used.set(nonce, Number(expires));
    return true;
  }
}
