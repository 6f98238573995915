/**
 * The policy every tool call passes through: read-only mode, scope and protected guests,
 * confirmation of destructive actions, dry runs, and the audit record. The operator's settings
 * are upper bounds: nothing in a request relaxes them.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import type { ClusterConfig, Config } from '../config/schema.js';
import { type GuestRef, type PveApi, parseUpid } from '../pve/index.js';
import type { AnyTool } from '../tools/define.js';
import { PolicyRefusal } from './refusal.js';
import { type GuestFacts, Scope } from './scope.js';

export type ConfirmMode = Config['confirm'];

/** A tool call as the policy sees it. */
export interface PolicyCall {
  tool: AnyTool;
  args: Record<string, unknown>;
  cluster: string;
  pve: PveApi;
}

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

export { PolicyRefusal };

const kind = (g: { type: string }) => (g.type === 'qemu' ? 'VM' : 'Container');

/** Whether a call may change the cluster. */
export function changes(tool: AnyTool, args: Record<string, unknown>): boolean {
  if (tool.name === 'proxmox_api_request') return args.method !== 'GET';
  return tool.access !== 'read';
}

/** Whether a call needs a human's confirmation (if the mode asks for any). */
export function destructive(tool: AnyTool, args: Record<string, unknown>): boolean {
  if (!changes(tool, args)) return false;
  return tool.destructiveIf
    ? tool.destructiveIf(args)
    : tool.access === 'destructive' || tool.name === 'proxmox_api_request';
}

/** The guest and nodes a call names in its arguments (or, for the API tool, in its path). */
function targets(
  tool: AnyTool,
  args: Record<string, unknown>,
): { vmids: number[]; nodes: string[]; newVmids: number[] } {
  const num = (v: unknown) => (typeof v === 'number' ? [v] : []);
  const str = (v: unknown) => (typeof v === 'string' ? [v] : []);
  if (tool.name === 'proxmox_api_request') {
    const path = String(args.path ?? '');
    const node = /^\/nodes\/([^/]+)/.exec(path)?.[1];
    const vmid = /^\/nodes\/[^/]+\/(?:qemu|lxc)\/(\d+)/.exec(path)?.[1];
    return {
      vmids: vmid ? [Number(vmid)] : [],
      nodes: node ? [decodeURIComponent(node)] : [],
      newVmids: [],
    };
  }
  const upid = typeof args.upid === 'string' ? parseUpid(args.upid) : undefined;
  const upidVmid = upid && /^\d+$/.test(upid.id) ? [Number(upid.id)] : [];
  // Creating tools name a new vmid; restoring over one (force) targets the existing guest.
  const creates =
    tool.createsGuest === true && !(tool.name === 'proxmox_restore_backup' && args.force === true);
  return {
    vmids: creates ? [] : [...num(args.vmid), ...upidVmid],
    newVmids: [...(creates ? num(args.vmid) : []), ...num(args.newid)],
    nodes: [...str(args.node), ...str(args.target), ...(upid ? [upid.node] : [])],
  };
}

export interface ClusterPolicy {
  name: string;
  readOnly: boolean;
  scope: Scope;
}

export function clusterPolicy(config: Config, cluster: ClusterConfig): ClusterPolicy {
  return {
    name: cluster.name,
    readOnly: config.readOnly || cluster.readOnly === true,
    scope: new Scope(cluster.scope),
  };
}

/**
 * Checks a call against read-only mode, scope and protection. Returns the preconditions of its
 * target guest; throws PolicyRefusal when the call may not go ahead.
 */
export async function admit(policy: ClusterPolicy, call: PolicyCall): Promise<Preconditions> {
  const { tool, args, pve } = call;
  const changing = changes(tool, args);
  if (changing && policy.readOnly) {
    throw new PolicyRefusal(
      tool.name === 'proxmox_api_request'
        ? `Cluster '${policy.name}' is read-only for this server: only GET requests are allowed.`
        : `Cluster '${policy.name}' is read-only for this server: ${tool.name} changes things and is refused.`,
    );
  }
  const { vmids, nodes, newVmids } = targets(tool, args);
  const scope = policy.scope;
  for (const node of nodes) {
    if (!scope.allowsNode(node))
      throw new PolicyRefusal(
        `Node ${node} is outside what this server may manage in cluster '${policy.name}' (${scope.describe()}).`,
      );
  }
  for (const id of newVmids) {
    if (!scope.allowsGuest({ vmid: id }))
      throw new PolicyRefusal(
        `ID ${id} is outside what this server may manage (${scope.describe()}).`,
      );
  }
  if (scope.restricted && changing && tool.createsGuest && !newVmids.length && !vmids.length) {
    throw new PolicyRefusal(
      `This server may only manage ${scope.describe()}: give the new guest's ID (and pool) explicitly.`,
    );
  }
  const checks: Preconditions = { inScope: true, protected: false };
  const id = vmids[0];
  if (id === undefined) return checks;
  const all = await pve.guestIndex({}, { all: true });
  const guest = all.get(id);
  checks.vmid = id;
  checks.exists = Boolean(guest);
  if (!guest) return checks;
  Object.assign(checks, { node: guest.node, status: guest.status, locked: guest.lock });
  if (!scope.allowsGuest(guest)) {
    checks.inScope = false;
    throw new PolicyRefusal(
      `${kind(guest)} ${id} is outside what this server may manage in cluster '${policy.name}' (${scope.describe()}).`,
    );
  }
  const why = scope.protection(guest);
  checks.protected = Boolean(why);
  if (why && changing) {
    throw new PolicyRefusal(
      `${kind(guest)} ${id} (${guest.name}) is protected: ${why}. It can be read but not changed, stopped or deleted through this server.`,
    );
  }
  return checks;
}

/** Refuses a change to a protected or out-of-scope guest (for tools acting on many guests). */
export function guardGuest(
  policy: ClusterPolicy,
  guest: GuestFacts & { name?: string; type?: string },
): void {
  if (!policy.scope.allowsGuest(guest))
    throw new PolicyRefusal(`outside scope (${policy.scope.describe()})`);
  const why = policy.scope.protection(guest);
  if (why) throw new PolicyRefusal(`protected: ${why}`);
}

/** What a destructive call will do, in words a human confirms. */
export async function describeImpact(call: PolicyCall, checks: Preconditions): Promise<string> {
  const { tool, args, pve } = call;
  if (tool.name === 'proxmox_api_request')
    return `${tool.title}: ${args.method} ${args.path} with ${JSON.stringify(args.params ?? {})} on cluster '${call.cluster}'.`;
  if (tool.name === 'proxmox_bulk_guests')
    return `${args.action} many guests at once (selected by ${Object.entries(args)
      .filter(
        ([k, v]) =>
          ['vmids', 'node', 'tag', 'pool', 'name', 'type', 'all'].includes(k) &&
          v !== undefined &&
          v !== false,
      )
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join(', ')}) on cluster '${call.cluster}'.`;
  if (tool.name === 'proxmox_delete_backup')
    return `Delete the backup ${args.volid} on cluster '${call.cluster}'. It cannot be recovered.`;
  const guest: GuestRef | undefined =
    checks.vmid === undefined
      ? undefined
      : (await pve.guestIndex({}, { all: true })).get(checks.vmid);
  if (!guest) return `${tool.title} on cluster '${call.cluster}' with ${JSON.stringify(args)}.`;
  const lines = [
    `${tool.title}: ${kind(guest)} ${guest.vmid} (${guest.name}) on ${guest.node}, now ${guest.status}, cluster '${call.cluster}'.`,
  ];
  if (/delete_vm|delete_container|restore_backup/.test(tool.name)) {
    const area = pve.guests(guest.type);
    let config: Record<string, string | number>;
    let snapshots: { name: string }[];
    try {
      [config, snapshots] = await Promise.all([
        area.config(guest.node, guest.vmid, { current: true }),
        area.snapshots(guest.node, guest.vmid),
      ]);
    } catch {
      // The human is asked all the same; the call itself will meet the same failure.
      lines.push('Its disks and snapshots could not be listed (node unreachable?).');
      return lines.join(' ');
    }
    const disks = Object.entries(config)
      .filter(
        ([k, v]) =>
          /^(ide|sata|scsi|virtio|efidisk|tpmstate|unused|mp)\d+$|^rootfs$/.test(k) &&
          !String(v).includes('media=cdrom'),
      )
      .map(
        ([k, v]) =>
          `${k} ${
            String(v)
              .split(',')
              .find((p) => p.includes(':')) ?? v
          }${/size=(\w+)/.exec(String(v))?.[1] ? ` (${/size=(\w+)/.exec(String(v))?.[1]})` : ''}`,
      );
    if (disks.length) lines.push(`Disks destroyed: ${disks.join(', ')}.`);
    const count = snapshots.filter((s) => s.name !== 'current').length;
    if (count) lines.push(`${count} snapshot(s) lost.`);
  }
  if (tool.name === 'proxmox_rollback_snapshot')
    lines.push(`Every change since snapshot '${args.snapname}' is lost.`);
  if (/stop|reset/.test(tool.name)) lines.push('Unsaved data in the guest is lost.');
  return lines.join(' ');
}

/** Binds a confirmation to one exact call: a retry must carry the same tool and arguments. */
export class ConfirmationSeal {
  private readonly key = randomBytes(32);

  private digest(tool: string, args: Record<string, unknown>): string {
    const { confirm: _c, dryRun: _d, ...rest } = args;
    const canonical = JSON.stringify(
      Object.keys(rest)
        .sort()
        .map((k) => [k, rest[k]]),
    );
    return createHash('sha256').update(`${tool}\n${canonical}`).digest('base64url');
  }

  seal(tool: string, args: Record<string, unknown>): string {
    const body = this.digest(tool, args);
    return `${body}.${createHmac('sha256', this.key).update(body).digest('base64url')}`;
  }

  verify(state: unknown, tool: string, args: Record<string, unknown>): boolean {
    return typeof state === 'string' && state === this.seal(tool, args);
  }
}
