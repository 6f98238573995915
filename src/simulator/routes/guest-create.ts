/**
 * New guests: created, restored from a backup, or cloned.
 */
import { formatPropertyString, parsePropertyString, parseSize } from '../../contract/propstring.js';
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
  parseDisk,
  unsupportedContent,
} from '../state.js';
import {
  checkNewDiskStorages,
  checkPool,
  configEntries,
  freeVolumes,
  guestFor,
  nodeParam,
  notAllowed,
  ownedVolumes,
  startGuest,
  taskFailure,
  typePrefix,
  vmidTaken,
} from './guest-common.js';

export function createGuest(type: GuestType) {
  return (ctx: Ctx) => {
    const { cluster } = ctx;
    const node = nodeParam(ctx);
    const vmid = num(ctx, 'vmid') ?? 0;
    const label = guestLabel(type);
    const pool = str(ctx, 'pool');
    const archive =
      type === 'qemu'
        ? str(ctx, 'archive')
        : bool(ctx, 'restore')
          ? str(ctx, 'ostemplate')
          : undefined;
    if (archive) return restoreGuest(ctx, type, node, vmid, archive);
    const existing = cluster.guests.get(vmid);
    // pve-container PVE/API2/LXC.pm create_vm checks the vmid first (pve-cluster PVE/Cluster.pm
    // check_vmid_unused); qemu-server PVE/API2/Qemu.pm create_vm only when it creates the config,
    // after the pool, the permission and the new disks' storages.
    if (type === 'lxc' && existing) throw fail(vmidTaken(existing));
    checkPool(ctx, pool);
    if (
      !ctx.access.has(ctx.auth, `/vms/${vmid}`, 'VM.Allocate') &&
      !(pool && ctx.access.has(ctx.auth, `/pool/${pool}`, 'VM.Allocate'))
    ) {
      throw notAllowed();
    }
    if (type === 'qemu') checkNewDiskStorages(ctx, type);
    if (existing) throw fail(`unable to create ${label} ${vmid} - ${vmidTaken(existing)}`);
    let ostype: string | undefined;
    let missingTemplate: string | undefined;
    if (type === 'lxc') {
      const template = str(ctx, 'ostemplate');
      if (!template)
        throw new PveError(400, 'Parameter verification failed.', {
          ostemplate: 'property is missing and it is not optional',
        });
      // pve-storage check_volume_access reads the content type from the name; whether the file is
      // there the worker finds out (pve-container PVE/LXC/Create.pm restore_archive).
      cluster.assertVolumeType(template, 'vztmpl');
      if (cluster.volume(node, template)?.content !== 'vztmpl') missingTemplate = template;
      ostype = /alpine/.test(template)
        ? 'alpine'
        : /ubuntu/.test(template)
          ? 'ubuntu'
          : /centos|rocky|alma/.test(template)
            ? 'centos'
            : 'debian';
      if (!ctx.params.rootfs) {
        const fallback = [...cluster.storages.values()].find(
          (s) => s.content.includes('rootdir') && (!s.nodes || s.nodes.includes(node)),
        );
        ctx.params.rootfs = `${fallback?.storage ?? 'local'}:4`;
      }
    }
    const allocated: string[] = [];
    let config: Config;
    try {
      config = configEntries(ctx, { type, vmid, node }, allocated);
    } catch (err) {
      freeVolumes(cluster, node, allocated);
      throw err;
    }
    if (type === 'qemu') {
      config.smbios1 ??= `uuid=${macFor(cluster.seed, `uuid${vmid}`).toLowerCase()}`;
      config.meta ??= `creation-qemu=9.2.0,ctime=${ctx.clock.seconds()}`;
    } else {
      config.ostype ??= ostype ?? 'debian';
      config.arch ??= 'amd64';
    }
    const guest = cluster.addGuest(
      { vmid, type, node, config: { ...config, lock: 'create' } },
      pool,
    );
    ctx.count('guest.create');
    const start = bool(ctx, 'start');
    return ctx.startTask({
      node,
      type: `${typePrefix(type)}create`,
      id: String(vmid),
      lock: { guest, lock: 'create' },
      log: allocated.map((v) => `  Logical volume "${v.split(':')[1]}" created.`),
      run: () => {
        // The volume's activation fails, first warned about by the OCI format check, then as the
        // extraction's error (pve-container PVE/LXC/Create.pm archive_is_oci_format,
        // restore_archive; pve-storage PVE/Storage/Plugin.pm activate_volume). The new disks and
        // config go.
        if (missingTemplate)
          throw new TaskError(
            `unable to create CT ${vmid} - volume '${missingTemplate}' does not exist`,
            [`volume '${missingTemplate}' does not exist`],
          );
        delete guest.config.lock;
        if (start) startGuest(guest, ctx.clock.now());
        return [];
      },
      abort: () => {
        cluster.guests.delete(vmid);
        cluster.poolRemove(vmid);
        freeVolumes(cluster, node, allocated);
      },
    });
  };
}

/** Restores a backup into a new guest, or over an existing one with `force`. */
export function restoreGuest(
  ctx: Ctx,
  type: GuestType,
  node: string,
  vmid: number,
  archive: string,
): string {
  const { cluster } = ctx;
  const label = guestLabel(type);
  const existing = cluster.guests.get(vmid);
  const force = bool(ctx, 'force');
  const pool = str(ctx, 'pool');
  // Overwriting takes force and the guest's config on this node (`-f` of the local config file).
  const overwrite =
    force && existing?.type === type && existing.node === node ? existing : undefined;
  if (type === 'lxc') {
    // pve-container PVE/API2/LXC.pm create_vm, before anything else: a vmid taken by anything but
    // this node's container being overwritten, or that container running.
    if (existing && !overwrite) throw fail(vmidTaken(existing));
    if (overwrite?.running) throw fail("can't overwrite running container");
    if (overwrite?.config.protection === '1')
      throw fail(`unable to restore CT ${vmid} - protection mode enabled`);
  }
  checkPool(ctx, pool);
  const allowed =
    ctx.access.has(ctx.auth, `/vms/${vmid}`, 'VM.Allocate') ||
    (pool && ctx.access.has(ctx.auth, `/pool/${pool}`, 'VM.Allocate')) ||
    (overwrite && ctx.access.has(ctx.auth, `/vms/${vmid}`, 'VM.Backup'));
  if (!allowed) throw notAllowed();
  // pve-storage PVE/Storage.pm check_volume_access reads the content type from the name.
  // qemu-server then activates the archive before forking ($classify_restore_archive: the plugin's
  // activate_volume finds it missing); pve-container reads it only in its worker.
  cluster.assertVolumeType(archive, 'backup');
  const found = cluster.volume(node, archive);
  const vol = found?.backup ? found : undefined;
  if (type === 'qemu' && !vol) throw fail(`volume '${archive}' does not exist`);
  if (existing) {
    // qemu-server: create_and_lock_config (pve-guest-common PVE/AbstractConfig.pm) refuses a
    // taken vmid without force.
    if (!force) throw fail(`unable to restore ${label} ${vmid} - ${vmidTaken(existing)}`);
    if (existing.node !== node)
      throw fail(
        `unable to restore ${label} ${vmid} - ${label} ${vmid} already exists on node '${existing.node}'`,
      );
    if (existing.type !== type)
      throw fail(`unable to restore ${label} ${vmid} - it is a ${guestLabel(existing.type)}`);
  }
  // A container restore goes to `storage`, by default `local`, which must hold container volumes
  // (pve-container PVE/API2/LXC.pm create_vm); a VM goes back to its original storages.
  const targetStorage = str(ctx, 'storage') ?? (type === 'lxc' ? 'local' : undefined);
  if (
    type === 'lxc' &&
    targetStorage &&
    !cluster.storageOn(node, targetStorage).content.includes('rootdir')
  )
    throw unsupportedContent('lxc', targetStorage);
  if (overwrite) {
    // create_and_lock_config refuses a locked guest, prefixed as create_vm prefixes its errors.
    const lock = overwrite.config.lock;
    if (lock) throw fail(`unable to restore ${label} ${vmid} - ${label} is locked (${lock})`);
  }
  // What the worker finds before it restores anything; the guest is left as it was.
  // qemu-server PVE/API2/Qemu.pm create_vm $restorefn: protection (its prefix ends in ' -', so
  // the dash doubles), running, then the archive itself (PVE/QemuServer.pm restore_file_archive,
  // restore_tar_archive; restore_proxmox_backup_archive). pve-container PVE/API2/LXC.pm create_vm:
  // the archive's config (PVE/LXC/Create.pm recover_config, pve-storage
  // extract_vzdump_config_tar), each error prefixed.
  const pbsFormat = (t: GuestType) => `pbs-${t === 'qemu' ? 'vm' : 'ct'}`;
  const isPbs = cluster.storages.get(archive.split(':')[0] ?? '')?.type === 'pbs';
  const refusal =
    type === 'qemu'
      ? overwrite?.config.protection === '1'
        ? `unable to restore VM ${vmid} - - protection mode enabled`
        : overwrite?.running
          ? `unable to restore VM ${vmid} - vm is running`
          : vol && vol.backup?.type !== 'qemu'
            ? isPbs
              ? `got unexpected backup format '${pbsFormat('lxc')}'`
              : `ERROR: file '${cluster.archivePath(archive)}' does not look like a QemuServer vzdump backup`
            : undefined
      : !vol
        ? `unable to restore CT ${vmid} - volume '${archive}' does not exist`
        : vol.backup?.type !== 'lxc'
          ? isPbs
            ? `unable to restore CT ${vmid} - got unexpected backup format '${pbsFormat('qemu')}'`
            : `unable to restore CT ${vmid} - ERROR: archive contains no configuration file`
          : undefined;
  if (refusal || !vol?.backup)
    return ctx.startTask({
      node,
      type: `${typePrefix(type)}restore`,
      id: String(vmid),
      log: type === 'lxc' ? [`recovering backed-up configuration from '${archive}'`] : [],
      fail: refusal,
    });
  const source = vol.backup.config;
  const previous = existing
    ? { config: { ...existing.config }, volumes: ownedVolumes(cluster, existing) }
    : undefined;
  const guest =
    existing ??
    cluster.addGuest({
      vmid,
      type,
      node,
      config: {},
      agentRunning: Boolean(source.agent?.startsWith('1')),
      diskUsage: 0.3,
    });
  guest.config.lock = 'create';
  if (pool) cluster.poolAdd(pool, vmid);
  ctx.count('guest.create');
  const allocated: string[] = [];
  return ctx.startTask({
    node,
    type: `${typePrefix(type)}restore`,
    id: String(vmid),
    lock: { guest, lock: 'create' },
    log: [`restore vma archive: ${archive}`],
    steps: [
      'progress 25% (read 25% of archive)',
      'progress 50% (read 50% of archive)',
      'progress 75% (read 75% of archive)',
      'progress 100% (read 100% of archive)',
    ],
    run: () => {
      if (previous) freeVolumes(cluster, node, previous.volumes);
      const config: Config = {};
      const lines: string[] = [];
      for (const [key, value] of Object.entries(source)) {
        if (key === 'lock' || key === 'parent') continue;
        if (isDiskKey(type, key) && !key.startsWith('unused')) {
          const disk = parseDisk(type, key, value);
          if (disk) {
            const storage = targetStorage ?? disk.volid.split(':')[0] ?? 'local-lvm';
            const size = parseSize(disk.opts.size ?? '') ?? 8 * 2 ** 30;
            // qemu-server's restore asks this of each target storage in its own words
            // (PVE/QemuServer.pm $parse_backup_hints).
            const store = cluster.storages.get(storage);
            if (type === 'qemu' && store && !store.content.includes('images'))
              throw new TaskError(`Content type 'images' is not available on storage '${storage}'`);
            let volid: string;
            try {
              volid = cluster.allocateDisk(node, storage, vmid, size, type);
            } catch (err) {
              throw taskFailure(err);
            }
            allocated.push(volid);
            const defaultKey = type === 'lxc' && key !== 'rootfs' ? 'volume' : 'file';
            config[key] = formatPropertyString(
              { ...disk.opts, file: undefined, volume: undefined, [defaultKey]: volid },
              defaultKey,
            );
            lines.push(`new volume ID is '${volid}'`);
            continue;
          }
        }
        if (key.startsWith('unused')) continue;
        config[key] =
          /^net\d+$/.test(key) && bool(ctx, 'unique')
            ? regenerateMac(cluster, type, vmid, key, value)
            : value;
      }
      // Options given with the archive win over the backup's (qemu-server
      // restore_merge_config with override_conf; pve-container restore_configuration).
      const given = configEntries(ctx, { type, vmid, node }, allocated);
      if (type === 'lxc' && Object.keys(given).length)
        lines.push('merging backed-up and given configuration..');
      Object.assign(config, given);
      guest.config = config;
      guest.snapshots.clear();
      guest.pending = {};
      guest.pendingDelete.clear();
      if (bool(ctx, 'start')) startGuest(guest, ctx.clock.now());
      return lines;
    },
    abort: () => {
      freeVolumes(cluster, node, allocated);
      if (previous) guest.config = previous.config;
      else {
        cluster.guests.delete(vmid);
        cluster.poolRemove(vmid);
      }
    },
  });
}

export function regenerateMac(
  cluster: Cluster,
  type: GuestType,
  vmid: number,
  key: string,
  value: string,
): string {
  if (type === 'qemu') {
    const opts = parsePropertyString(value);
    const model = Object.keys(opts).find((k) =>
      /^[0-9A-F]{2}(:[0-9A-F]{2}){5}$/i.test(opts[k] ?? ''),
    );
    if (model) opts[model] = macFor(cluster.seed + vmid, key);
    return formatPropertyString(opts);
  }
  const opts = parsePropertyString(value);
  opts.hwaddr = macFor(cluster.seed + vmid, key);
  return formatPropertyString(opts);
}

/**
 * Whether a storage can make a linked clone of this volume (pve-storage volume_has_feature
 * 'clone'): of a base volume, or of a snapshot, as each plugin allows. A directory-like storage
 * clones only to qcow2, which a container cannot use (PVE/Storage/Plugin.pm).
 */
export function linkedCloneSupported(
  cluster: Cluster,
  type: GuestType,
  volid: string,
  snapname: string | undefined,
): boolean {
  const [sid = '', name = ''] = volid.split(':');
  const storage = cluster.storages.get(sid);
  const base = /^base-/.test(name.split('/').pop() ?? '');
  const key = snapname ? 'snap' : base ? 'base' : 'current';
  switch (storage?.type) {
    case 'lvmthin':
    case 'rbd':
      return key !== 'current';
    case 'zfspool':
      return key === 'base';
    case 'dir':
    case 'nfs':
    case 'cifs':
    case 'cephfs':
      return type === 'qemu' && key === 'base';
    default:
      return false;
  }
}

export function cloneGuest(type: GuestType) {
  return (ctx: Ctx) => {
    const { cluster } = ctx;
    const source = guestFor(ctx, type);
    const label = guestLabel(type);
    const newid = num(ctx, 'newid') ?? 0;
    const target = str(ctx, 'target') ?? source.node;
    const isTemplate = cluster.isTemplate(source);
    const full = ctx.params.full === undefined ? !isTemplate : bool(ctx, 'full');
    const storage = str(ctx, 'storage');
    const pool = str(ctx, 'pool');
    const snapname = str(ctx, 'snapname');
    // The order is PVE's (qemu-server PVE/API2/Qemu.pm clone_vm $load_and_check, pve-container
    // PVE/API2/LXC.pm clone_vm), all before any task starts unless said otherwise.
    checkPool(ctx, pool);
    const targetNode = cluster.nodes.get(target);
    if (!targetNode) throw fail(`no such cluster node '${target}'`);
    if (!targetNode.online) throw fail(`target node '${target}' is not online`);
    if (storage) {
      // The storage on this node (qemu-server: holding VM images), on the target node, and shared
      // when that is another node.
      const s = cluster.storageOn(source.node, storage);
      if (type === 'qemu' && !s.content.includes('images'))
        throw unsupportedContent('qemu', storage);
      if (target !== source.node) {
        cluster.storageOn(target, storage);
        if (!s.shared) throw fail(`can't clone to non-shared storage '${storage}'`);
      }
    }
    cluster.assertUnlocked(source);
    const existing = cluster.guests.get(newid);
    // pve-container creates the new config first: any guest with that vmid, the source itself
    // included, is refused as pve-cluster PVE/Cluster.pm check_vmid_unused says.
    if (type === 'lxc' && existing) throw fail(vmidTaken(existing));
    const snapshotCheck = () => {
      if (snapname && !source.snapshots.has(snapname))
        throw fail(`snapshot '${snapname}' does not exist`);
    };
    if (type === 'qemu') snapshotCheck();
    if (storage && !full) throw fail("parameter 'storage' not allowed for linked clones");
    if (type === 'lxc') snapshotCheck();
    const from = snapname
      ? (source.snapshots.get(snapname)?.config ?? source.config)
      : source.config;
    const disks = cluster.disksOf(type, from).filter((d) => !d.key.startsWith('unused'));
    // Each volume in key order, before any task: a linked clone needs the storage's clone feature
    // for it (qemu-server PVE/API2/Qemu.pm clone_vm, pve-container PVE/API2/LXC.pm clone_vm).
    for (const d of [...disks].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))) {
      if (type === 'lxc') {
        if (full && source.running && !snapname)
          throw fail('Full clone of a running container is only possible from a snapshot');
        if (!full && !linkedCloneSupported(cluster, type, d.volid, snapname))
          throw fail(`Linked clone feature for '${d.volid}' is not available`);
        continue;
      }
      // Cloud-init drives and TPM state are always copied.
      if (full || d.key === 'tpmstate0' || /[:/](vm-\d+-)?cloudinit(\.\w+)?$/.test(d.volid))
        continue;
      if (!linkedCloneSupported(cluster, type, d.volid, snapname))
        throw fail(
          `Linked clone feature is not supported for${snapname ? ' a snapshot of' : ''} '${d.volid}' (${d.key})`,
        );
    }
    // To another node, every volume (a local ISO in a CD drive too) and the target storage must
    // be shared, full clones included.
    if (target !== source.node) {
      const volumes = [
        ...disks.map((d) => d.volid),
        ...Object.entries(from)
          .filter(([k, v]) => /^(ide|sata|scsi)\d+$/.test(k) && /media=cdrom/.test(String(v)))
          .map(([, v]) => String(v).split(',')[0] ?? '')
          .filter((v) => v.includes(':')),
      ];
      const local = [...volumes.map((v) => v.split(':')[0] ?? ''), ...(storage ? [storage] : [])];
      if (local.some((id) => !cluster.storages.get(id)?.shared))
        throw fail(`can't clone ${label} to node '${target}' (${label} uses local storage)`);
    }
    if (existing) {
      // qemu-server looks only for a config file of that vmid on this node (the source itself
      // included). Any other guest with that vmid is found when the worker writes the new config:
      // pmxcfs refuses the rename, and the task fails.
      if (existing.type === 'qemu' && existing.node === source.node)
        throw fail(`unable to create VM ${newid}: config file already exists`);
      return ctx.startTask({
        node: source.node,
        type: 'qmclone',
        id: String(source.vmid),
        fail: `close (rename) atomic file '/etc/pve/nodes/${source.node}/qemu-server/${newid}.conf' failed: File exists`,
      });
    }
    for (const d of disks) cluster.storageOn(target, storage ?? d.volid.split(':')[0] ?? '');
    const config: Config = {};
    for (const [key, value] of Object.entries(from)) {
      if (
        ['lock', 'parent', 'template', 'snaptime', 'vmstate', 'description'].includes(key) ||
        key.startsWith('unused')
      )
        continue;
      config[key] = /^net\d+$/.test(key) ? regenerateMac(cluster, type, newid, key, value) : value;
    }
    // A VM clone is named Copy-of-VM-<name>; a container clone keeps its source's hostname.
    const nameKey = type === 'qemu' ? 'name' : 'hostname';
    config[nameKey] =
      str(ctx, nameKey) ??
      (type === 'qemu'
        ? `Copy-of-${label}-${from[nameKey] ?? source.vmid}`
        : (from[nameKey] ?? `CT${newid}`));
    const description = str(ctx, 'description');
    if (description) config.description = description;
    const clone = cluster.addGuest(
      {
        vmid: newid,
        type,
        node: target,
        config: { ...config, lock: 'clone' },
        agentRunning: source.agentRunning,
        diskUsage: source.diskUsage,
      },
      pool,
    );
    ctx.count('guest.create');
    // The firewall config goes with it, before the task (pve-firewall clone_vmfw_conf).
    cluster.firewall.cloneGuest(source.vmid, newid);
    const allocated: string[] = [];
    const kind = full ? 'full' : 'linked';
    const log = disks.map((d) => `create ${kind} clone of drive ${d.key} (${d.volid})`);
    return ctx.startTask({
      node: source.node,
      type: `${typePrefix(type)}clone`,
      id: String(source.vmid),
      lock: { guest: clone, lock: 'clone' },
      log,
      steps: full
        ? ['transferred 25%', 'transferred 50%', 'transferred 75%', 'transferred 100%'].map(
            (p) => `drive mirror: ${p}`,
          )
        : [],
      durationMs: full ? undefined : 1_500,
      run: () => {
        for (const d of disks) {
          const store = storage ?? d.volid.split(':')[0] ?? '';
          let volid: string;
          try {
            volid = cluster.allocateDisk(target, store, newid, d.size, type);
          } catch (err) {
            throw taskFailure(err);
          }
          allocated.push(volid);
          if (!full && /^base-/.test(d.volid.split('/').pop()?.split(':').pop() ?? '')) {
            // A linked clone's volume names its base: base-9000-disk-0/vm-150-disk-0.
            const base = d.volid.split(':')[1] ?? '';
            const linked = `${store}:${base}/${volid.split(':')[1]}`;
            const vol = cluster.volume(target, volid);
            cluster.removeVolume(target, volid);
            if (vol) cluster.addVolume({ ...vol, volid: linked });
            allocated[allocated.length - 1] = linked;
            volid = linked;
          }
          const defaultKey = type === 'lxc' && d.key !== 'rootfs' ? 'volume' : 'file';
          const opts = parsePropertyString(from[d.key] ?? '', defaultKey);
          clone.config[d.key] = formatPropertyString({ ...opts, [defaultKey]: volid }, defaultKey);
        }
        return [];
      },
      abort: () => {
        cluster.guests.delete(newid);
        cluster.poolRemove(newid);
        freeVolumes(cluster, target, allocated);
      },
    });
  };
}
