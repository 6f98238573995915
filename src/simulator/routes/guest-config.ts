/**
 * Guest configuration: reading it (pending values, typed as PVE sends them), changing it, and
 * resizing disks.
 */
import {
  formatPropertyString,
  formatSize,
  parsePropertyString,
  parseSize,
} from '../../contract/propstring.js';
import type { Ctx } from '../context.js';
import { bool, num, str } from '../context.js';
import type { GuestType } from '../dataset-types.js';
import { fail, PveError } from '../errors.js';
import {
  type Config,
  guestLabel,
  isDiskKey,
  missingConfig,
  parseDisk,
  type SimGuest,
} from '../state.js';
import {
  checkNewDiskStorages,
  configEntries,
  freeVolumes,
  guestFor,
  nodeParam,
  QEMU_COLD_KEYS,
  skiplock,
  viewConfig,
} from './guest-common.js';

/** Applies a config update (PUT, or the work of POST's qmconfig task). Returns a log summary. */
export function updateConfig(ctx: Ctx, guest: SimGuest): string[] {
  const { cluster } = ctx;
  const digest = str(ctx, 'digest');
  const skip = skiplock(ctx);
  const deletes = (str(ctx, 'delete') ?? '').split(/[,; ]+/).filter(Boolean);
  const reverts = (str(ctx, 'revert') ?? '').split(/[,; ]+/).filter(Boolean);
  // A key both set and deleted; PVE's own quoting, one quote short (qemu-server PVE/API2/Qemu.pm
  // $update_vm_api, pve-container PVE/API2/LXC/Config.pm update_vm).
  const bothSetAndDeleted = () => {
    for (const key of deletes) {
      if (key in ctx.params)
        throw new PveError(400, 'Parameter verification failed.', {
          delete: `you can't use '-${key}' and -delete ${key}' at the same time`,
        });
    }
  };
  if (guest.type === 'qemu') {
    // qemu-server checks the parameters and new disks' storages first, then loads the config:
    // digest, then lock.
    bothSetAndDeleted();
    checkNewDiskStorages(ctx, 'qemu');
    if (digest && digest !== cluster.digest(guest))
      throw fail('checksum mismatch (file change by other user?)');
    if (!skip) cluster.assertUnlocked(guest);
  } else {
    // pve-container: lock, digest (PVE/Tools.pm assert_if_modified), then the parameters.
    if (!skip) cluster.assertUnlocked(guest);
    if (digest && digest !== cluster.digest(guest))
      throw fail('detected modified configuration - file changed by other user? Try again.');
    bothSetAndDeleted();
  }
  const allocated: string[] = [];
  let entries: Config;
  try {
    entries = configEntries(ctx, guest, allocated, true);
  } catch (err) {
    freeVolumes(cluster, guest.node, allocated);
    throw err;
  }
  const cold = guest.type === 'qemu' && guest.running;
  const log: string[] = [];
  for (const key of reverts) {
    delete guest.pending[key];
    guest.pendingDelete.delete(key);
  }
  for (const [key, value] of Object.entries(entries)) {
    log.push(`update ${guestLabel(guest.type)} ${guest.vmid}: -${key} ${value}`);
    if (cold && QEMU_COLD_KEYS.has(key)) {
      guest.pending[key] = value;
      guest.pendingDelete.delete(key);
      continue;
    }
    const old = guest.config[key];
    if (old !== undefined && isDiskKey(guest.type, key)) detachDisk(guest, key, old, value);
    guest.config[key] = value;
  }
  for (const key of deletes) {
    if (cold && QEMU_COLD_KEYS.has(key)) {
      if (key in guest.config) guest.pendingDelete.add(key);
      delete guest.pending[key];
      continue;
    }
    delete guest.pending[key];
    const old = guest.config[key];
    if (old === undefined) continue;
    if (isDiskKey(guest.type, key)) {
      if (key.startsWith('unused')) {
        const disk = parseDisk(guest.type, key, old);
        if (disk) cluster.removeVolume(guest.node, disk.volid);
      } else {
        detachDisk(guest, key, old, undefined);
      }
    }
    delete guest.config[key];
  }
  return log;
}

/** A disk replaced or removed is kept as the next free `unusedN`, as PVE does. */
export function detachDisk(
  guest: SimGuest,
  key: string,
  old: string,
  replacement: string | undefined,
): void {
  const disk = parseDisk(guest.type, key, old);
  if (!disk) return;
  const next = replacement ? parseDisk(guest.type, key, replacement) : undefined;
  if (next?.volid === disk.volid) return;
  let n = 0;
  while (`unused${n}` in guest.config) n++;
  guest.config[`unused${n}`] = disk.volid;
}

export function pending(ctx: Ctx, type: GuestType) {
  const guest = guestFor(ctx, type);
  const keys = new Set([
    ...Object.keys(guest.config),
    ...Object.keys(guest.pending),
    ...guest.pendingDelete,
  ]);
  return [...keys].sort().map((key) => {
    const row: Record<string, unknown> = { key };
    if (key in guest.config) row.value = guest.config[key];
    if (key in guest.pending) row.pending = guest.pending[key];
    if (guest.pendingDelete.has(key)) row.delete = 1;
    return row;
  });
}

/**
 * Config values as PVE's JSON carries them: numbers for integer and boolean keys, strings for the
 * rest, `number`-typed keys such as `cpulimit` included (qemu-server PVE/QemuServer.pm and
 * pve-container PVE/LXC/Config.pm check_type return `int()` for integers, the text for numbers).
 */
export function typedConfig(ctx: Ctx, config: Config): Record<string, string | number> {
  const props = ctx.op.returns.properties ?? {};
  const out: Record<string, string | number> = {};
  for (const [key, value] of Object.entries(config)) {
    const type = (props[key] ?? props[key.replace(/\d+$/, '[n]')])?.type;
    const numeric = (type === 'integer' || type === 'boolean') && /^-?\d+(\.\d+)?$/.test(value);
    out[key] = numeric ? Number(value) : value;
  }
  return out;
}

export function getConfig(ctx: Ctx, type: GuestType) {
  const guest = guestFor(ctx, type);
  const snapname = str(ctx, 'snapshot');
  let config: Config;
  if (snapname) {
    const snap = guest.snapshots.get(snapname);
    if (!snap) throw fail(`snapshot '${snapname}' does not exist`);
    config = snap.config;
  } else {
    config = viewConfig(guest, bool(ctx, 'current'));
  }
  return { ...typedConfig(ctx, config), digest: ctx.cluster.digest(guest) };
}

export function resizeGuest(type: GuestType) {
  return (ctx: Ctx) => {
    const { cluster } = ctx;
    const node = nodeParam(ctx);
    const vmid = num(ctx, 'vmid') ?? 0;
    const diskKey = str(ctx, 'disk') ?? '';
    const sizeText = str(ctx, 'size') ?? '';
    const digest = str(ctx, 'digest');
    /** The disk and its sizes, or the refusal in PVE's words. */
    const measure = (guest: SimGuest) => {
      const value = guest.config[diskKey] ?? '';
      const disk = value ? parseDisk(type, diskKey, value) : undefined;
      const current = parseSize(disk?.opts.size ?? '') ?? 0;
      const m = /^(\+)?(\d+(?:\.\d+)?[KMGT]?)$/.exec(sizeText);
      const amount = m ? (parseSize(m[2] ?? '') ?? 0) : 0;
      const next = Math.floor(m?.[1] ? current + amount : amount);
      return { value, disk, current, next };
    };
    let guest: SimGuest;
    let sizes: ReturnType<typeof measure>;
    if (type === 'qemu') {
      // qemu-server PVE/API2/Qemu.pm resize_vm checks only `skiplock` before forking; the worker
      // loads the config and checks digest, lock, disk and size.
      const skip = skiplock(ctx);
      const found = cluster.findGuest(node, vmid, type);
      const measured = found && measure(found);
      const refusal = !found
        ? missingConfig(node, vmid, type)
        : digest && digest !== cluster.digest(found)
          ? 'checksum mismatch (file change by other user?)'
          : !skip && found.config.lock
            ? `VM is locked (${found.config.lock})`
            : !measured?.value
              ? `disk '${diskKey}' does not exist`
              : !measured.disk && /media=cdrom/.test(measured.value)
                ? "you can't resize a cdrom"
                : measured.next < measured.current
                  ? 'shrinking disks is not supported'
                  : undefined;
      if (refusal || !found || !measured)
        return ctx.startTask({ node, type: 'resize', id: String(vmid), fail: refusal });
      guest = found;
      sizes = measured;
    } else {
      // pve-container PVE/API2/LXC.pm resize_vm runs its checks before forking: config, lock,
      // digest, then the mount point, which parse_volume reads from an empty string for a key
      // the config lacks: pve-common PVE/JSONSchema.pm parse_property_string's `format error`,
      // a plain die (500) with the missing properties.
      guest = guestFor(ctx, type);
      cluster.assertUnlocked(guest);
      if (digest && digest !== cluster.digest(guest))
        throw fail('detected modified configuration - file changed by other user? Try again.');
      sizes = measure(guest);
      if (!sizes.value) {
        const missing = 'property is missing and it is not optional';
        throw new PveError(
          500,
          'format error',
          diskKey === 'rootfs' ? { volume: missing } : { volume: missing, mp: missing },
        );
      }
      if (sizes.next < sizes.current) throw fail('unable to shrink disk size');
      if (sizes.next === sizes.current) throw fail('disk is already at specified size');
    }
    const { value, disk, current, next } = sizes;
    return ctx.startTask({
      node: guest.node,
      type: 'resize',
      id: String(guest.vmid),
      run: () => {
        if (next === current || !disk) return [];
        const defaultKey = type === 'lxc' && diskKey !== 'rootfs' ? 'volume' : 'file';
        const opts = parsePropertyString(value, defaultKey);
        guest.config[diskKey] = formatPropertyString(
          { ...opts, size: formatSize(next) },
          defaultKey,
        );
        const vol = cluster.volume(guest.node, disk.volid);
        if (vol) vol.size = next;
        return [
          `  Size of logical volume ${disk.volid} changed from ${formatSize(current)} to ${formatSize(next)}.`,
        ];
      },
    });
  };
}
