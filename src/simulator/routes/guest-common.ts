/**
 * Helpers the guest routes share: parameters, config views, disks, bridges, run state.
 */
import {
  formatPropertyString,
  formatSize,
  parsePropertyString,
} from '../../contract/propstring.js';
import type { Ctx } from '../context.js';
import { bool, num, str } from '../context.js';
import type { GuestType } from '../dataset-types.js';
import { macFor } from '../datasets.js';
import { fail, PveError, TaskError } from '../errors.js';
import {
  type Cluster,
  type Config,
  guestLabel,
  isDiskKey,
  type SimGuest,
  unsupportedContent,
} from '../state.js';

/** Keys a running VM cannot change until its next start (hotplug covers network, disk, usb). */
export const QEMU_COLD_KEYS = new Set([
  'cores',
  'sockets',
  'memory',
  'cpu',
  'machine',
  'bios',
  'agent',
  'vga',
  'scsihw',
  'ostype',
  'numa',
  'hugepages',
  'args',
  'balloon',
  'vcpus',
  'cpulimit',
  'cpuunits',
  'tablet',
  'kvm',
  'acpi',
  'efidisk0',
  'tpmstate0',
]);

/** Parameters of create/update that are not stored in the config. */
export const NOT_CONFIG = new Set([
  'node',
  'vmid',
  'digest',
  'delete',
  'revert',
  'skiplock',
  'background_delay',
  'start',
  'pool',
  'storage',
  'archive',
  'force',
  'unique',
  'bwlimit',
  'live-restore',
  'password',
  'ssh-public-keys',
  'ostemplate',
  'restore',
  'ignore-unpack-errors',
  'ha-managed',
  'import-working-storage',
]);

export const typePrefix = (type: GuestType) => (type === 'qemu' ? 'qm' : 'vz');

export function nodeParam(ctx: Ctx): string {
  const node = str(ctx, 'node') ?? '';
  if (!ctx.cluster.nodes.has(node)) throw fail(`no such cluster node '${node}'`);
  return node;
}

export function guestFor(ctx: Ctx, type: GuestType): SimGuest {
  return ctx.cluster.guestOn(nodeParam(ctx), num(ctx, 'vmid') ?? 0, type);
}

export function skiplock(ctx: Ctx): boolean {
  if (!bool(ctx, 'skiplock')) return false;
  // A parameter exception: 400 with the error on the parameter (qemu-server, pve-container).
  if (ctx.auth.userid !== 'root@pam' || ctx.auth.tokenid)
    throw new PveError(400, 'Parameter verification failed.', {
      skiplock: 'Only root may use this option.',
    });
  return true;
}

/** A vmid in use anywhere in the cluster (pve-cluster PVE/Cluster.pm check_vmid_unused). */
export const vmidTaken = (existing: SimGuest) =>
  `${guestLabel(existing.type)} ${existing.vmid} already exists on node '${existing.node}'`;

/** A pool that does not exist is a 403 (pve-access-control PVE/RPCEnvironment.pm check_pool_exist). */
export function checkPool(ctx: Ctx, pool: string | undefined): void {
  if (pool !== undefined && !ctx.cluster.pools.has(pool))
    throw new PveError(403, `Permission check failed (pool '${pool}' does not exist)`);
}

/** create_vm's own refusal names nothing: raise_perm_exc() without an argument (pve-common). */
export const notAllowed = () => new PveError(403, 'Permission check failed');

/** The config as GET shows it: pending values applied unless `current` is asked for. */
export function viewConfig(guest: SimGuest, current: boolean): Config {
  if (current) return { ...guest.config };
  const view = { ...guest.config, ...guest.pending };
  for (const key of guest.pendingDelete) delete view[key];
  return view;
}

export function applyPending(guest: SimGuest): void {
  Object.assign(guest.config, guest.pending);
  for (const key of guest.pendingDelete) delete guest.config[key];
  guest.pending = {};
  guest.pendingDelete.clear();
}

/** Adds a generated MAC address to a NIC given without one (`virtio,bridge=vmbr0`). */
export function completeNet(
  cluster: Cluster,
  type: GuestType,
  vmid: number,
  key: string,
  value: string,
): string {
  if (type === 'qemu') {
    const opts = parsePropertyString(value, 'model');
    if (opts.model) {
      const { model, macaddr, ...rest } = opts;
      return formatPropertyString({
        [model]: macaddr ?? macFor(cluster.seed + vmid, key),
        ...rest,
      });
    }
    return value;
  }
  const opts = parsePropertyString(value);
  if (!opts.hwaddr) opts.hwaddr = macFor(cluster.seed + vmid, key);
  if (!opts.type) opts.type = 'veth';
  return formatPropertyString(opts);
}

/**
 * Turns create/update parameters into config entries: new disks given as `storage:size` are
 * allocated, NICs get MAC addresses, booleans are stored as 0/1.
 */
export function configEntries(
  ctx: Ctx,
  guest: { type: GuestType; vmid: number; node: string },
  allocated: string[],
  update = false,
) {
  const { cluster } = ctx;
  const out: Config = {};
  for (const [key, raw] of Object.entries(ctx.params)) {
    if (NOT_CONFIG.has(key)) continue;
    let value =
      typeof raw === 'boolean'
        ? raw
          ? '1'
          : '0'
        : Array.isArray(raw)
          ? raw.join(',')
          : String(raw);
    if (isDiskKey(guest.type, key))
      value = allocateFromSpec(cluster, guest, key, value, allocated, update);
    if (/^net\d+$/.test(key)) value = completeNet(cluster, guest.type, guest.vmid, key, value);
    out[key] = value;
  }
  return out;
}

export function allocateFromSpec(
  cluster: Cluster,
  guest: { type: GuestType; vmid: number; node: string },
  key: string,
  value: string,
  allocated: string[],
  update: boolean,
): string {
  const defaultKey = guest.type === 'lxc' && key !== 'rootfs' ? 'volume' : 'file';
  const opts = parsePropertyString(value, defaultKey);
  const spec = opts[defaultKey] ?? '';
  if (opts.media === 'cdrom' || spec === 'none' || spec === 'cdrom') {
    if (spec && spec !== 'none' && spec !== 'cdrom' && !cluster.volume(guest.node, spec)) {
      throw fail(`volume '${spec}' does not exist`);
    }
    return value;
  }
  const m = /^([a-z][a-z0-9\-_.]*[a-z0-9]):(\d+(?:\.\d+)?)$/i.exec(spec);
  if (m) {
    const size = Math.round(Number(m[2]) * 2 ** 30);
    const store = cluster.storages.get(m[1] as string);
    // A container's config update refuses such a storage in its own words, not as a parameter
    // error (pve-container PVE/LXC/Config.pm update_pct_config).
    if (update && guest.type === 'lxc' && store && !store.content.includes('rootdir'))
      throw fail(`storage '${store.storage}' does not allow content type 'rootdir' (Container)`);
    const volid = cluster.allocateDisk(guest.node, m[1] as string, guest.vmid, size, guest.type);
    allocated.push(volid);
    return formatPropertyString(
      { ...opts, [defaultKey]: volid, size: formatSize(size) },
      defaultKey,
    );
  }
  if (spec.includes(':') && !cluster.volume(guest.node, spec))
    throw fail(`volume '${spec}' does not exist`);
  return value;
}

/**
 * qemu-server's check of the storages new disks (`storage:size`) go to, before it creates or
 * changes anything: the storage must exist and hold VM images (PVE/API2/Qemu.pm
 * $check_storage_access). Whether the node has it is found when the disk is allocated.
 */
export function checkNewDiskStorages(ctx: Ctx, type: GuestType): void {
  for (const [key, raw] of Object.entries(ctx.params)) {
    if (!isDiskKey(type, key) || typeof raw !== 'string') continue;
    const opts = parsePropertyString(raw, 'file');
    if (opts.media === 'cdrom') continue;
    const m = /^([a-z][a-z0-9\-_.]*[a-z0-9]):(\d+(?:\.\d+)?)$/i.exec(opts.file ?? '');
    if (!m) continue;
    const storage = ctx.cluster.storages.get(m[1] as string);
    if (!storage) throw fail(`storage '${m[1]}' does not exist`);
    if (!storage.content.includes('images')) throw unsupportedContent(type, storage.storage);
  }
}

/** An allocation refused inside a task: the task fails with the refusal's text. */
export function taskFailure(err: unknown): TaskError {
  const { message, errors } = err as PveError;
  return new TaskError(errors ? (Object.values(errors)[0] ?? message) : message);
}

export function freeVolumes(cluster: Cluster, node: string, volids: string[]) {
  for (const volid of volids) cluster.removeVolume(node, volid);
}

/** All volumes a guest owns on storages it can see, referenced or not. */
export function ownedVolumes(cluster: Cluster, guest: SimGuest) {
  const out = new Set<string>();
  for (const v of cluster.volumes.values()) {
    if (
      v.vmid === guest.vmid &&
      v.content !== 'backup' &&
      v.content !== 'iso' &&
      v.content !== 'vztmpl' &&
      (!v.node || v.node === guest.node)
    ) {
      out.add(v.volid);
    }
  }
  return [...out];
}

export function checkBridges(cluster: Cluster, guest: SimGuest): void {
  const bridges = new Set(
    cluster.nodes
      .get(guest.node)
      ?.networks.filter((n) => n.type === 'bridge' || n.type === 'OVSBridge')
      .map((n) => n.iface),
  );
  for (const [key, value] of Object.entries(guest.config)) {
    if (!/^net\d+$/.test(key)) continue;
    const bridge = parsePropertyString(value, guest.type === 'qemu' ? 'model' : undefined).bridge;
    if (bridge && !bridges.has(bridge)) throw new TaskError(`bridge '${bridge}' does not exist`);
  }
}

export function startGuest(guest: SimGuest, now: number): void {
  applyPending(guest);
  guest.running = true;
  guest.paused = false;
  delete guest.checkpoint;
  guest.startedAt = now;
  guest.agentProcesses.clear();
}

export function stopGuest(guest: SimGuest): void {
  guest.running = false;
  guest.paused = false;
  guest.agentProcesses.clear();
}
