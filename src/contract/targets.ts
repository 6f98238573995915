/**
 * What a request touches, read from the request itself: the contract operation and the parameter
 * values actually sent (path and body alike, already decoded). The policy checks these targets,
 * whatever tool, resource or raw call built the request, so a target cannot hide behind another
 * spelling of the path or inside a parameter.
 */
import { listOf } from './formats.js';
import type { ContractOperation } from './types.js';

export { listOf };

import { parseUpid } from './upid.js';

export interface Targets {
  /** Guests named by id: existing ones, or the id a new guest will take. */
  guests: number[];
  nodes: string[];
  storages: string[];
  pools: string[];
  /** Every guest of these nodes (vzdump `all`). */
  nodeGuests: string[];
  /** Every guest of these pools (vzdump `pool`). */
  poolGuests: string[];
  /** Guests whose data this request may overwrite or destroy through a volume it names. */
  volumeOwners: number[];
  /** Guests a node-wide request leaves out (vzdump `exclude`). */
  excluded: number[];
  /** Guests only read by the request (a clone's source): scope applies, protection does not. */
  sources: number[];
  /** What the request names that cannot be tied to a guest (a host path as a disk): fail closed. */
  unresolved: string[];
}

/**
 * The guest a volume belongs to, from PVE's volume names (pve-storage `PVE/Storage/Plugin.pm`
 * parse_name_dir and parse_volname; vzdump's archive names): `vm-102-disk-0`, `base-9000-disk-0`,
 * `subvol-200-disk-1`, `vzdump-qemu-102-2026_01_01-00_00_00.vma.zst`, `images/102/...`.
 */
export function volumeOwner(volid: string): number | undefined {
  const name = volid.slice(volid.indexOf(':') + 1);
  const ids = [
    // A linked clone's disk names its base first: `base-9000-disk-0/vm-150-disk-0` is 150's.
    ...name.matchAll(/(?:^|\/)(?:vm|base|subvol|basevol)-(\d+)-/g),
    ...name.matchAll(/(?:^|\/)vzdump-(?:qemu|lxc|openvz)-(\d+)-/g),
    ...name.matchAll(/(?:^|\/)(?:images|private)\/(\d+)(?:\/|$)/g),
    // Proxmox Backup Server snapshots: `backup/vm/102/2026-11-20T01:00:03Z`, `ct/200/...`.
    ...name.matchAll(/(?:^|\/)(?:ct|vm)\/(\d+)(?:\/|$)/g),
  ];
  const last = ids.at(-1);
  return last ? Number(last[1]) : undefined;
}

/** The guest of an HA resource id: `vm:100`, `ct:200`, or the bare vmid. */
export const sidGuest = (sid: string): number | undefined => {
  const m = /^(?:(?:vm|ct):)?(\d+)$/.exec(sid);
  return m ? Number(m[1]) : undefined;
};

/** The guest a task is about: its id is the vmid, or `vmid@storage` for a volume delete. */
export const taskGuest = (id: string): number | undefined => {
  const m = /^(\d+)(?:@|$)/.exec(id);
  return m ? Number(m[1]) : undefined;
};

/** The storage of a volume id (`local-lvm:vm-100-disk-0` → `local-lvm`), if it names one. */
export function volumeStorage(volid: string): string | undefined {
  const m = /^([a-z][a-z0-9\-_.]*[a-z0-9]):./i.exec(volid);
  return m?.[1];
}

// Parameters whose value is a guest id, a node, a storage or a pool, whatever the operation.
// (`vms`: the guest list of pool updates and of node-wide start, stop and migrate.)
const GUEST_PARAMS = new Set(['vmid', 'newid', 'vms', 'target-vmid']);
// Operations on every guest of a node, unless `vms` names some (pve-manager PVE/API2/Nodes.pm).
const NODE_WIDE = new Set(['vzdump', 'startall', 'stopall', 'suspendall', 'migrateall']);
const NODE_PARAMS = new Set(['node', 'target', 'targetnode']);
const STORAGE_PARAMS = new Set([
  'storage',
  'targetstorage',
  'target-storage',
  'vmstatestorage',
  'statestorage',
]);
const POOL_PARAMS = new Set(['pool', 'poolid']);
const HOST_PARAM = /^(?:args|hookscript|hostpci\d+|usb\d+|script|dumpdir|tmpdir)$/;
// Parameters that hold volume ids, or property strings that start with one (disks, mount points).
const VOLUME_PARAM =
  /^(?:volume|volid|archive|ostemplate|cdrom|vmstate|(?:ide|sata|scsi|virtio|efidisk|tpmstate|unused|mp)\d+|rootfs)$/;

// Operations that reach a node's host as a whole (a shell, a batch of API calls run there), or
// destroy what may hold any guest's data (a disk wiped or given to a new pool or file system, a
// thin pool, volume group, Ceph pool, OSD or CephFS removed).
const HOST_OPS = new Set([
  'POST /nodes/{node}/execute',
  'POST /nodes/{node}/termproxy',
  'POST /nodes/{node}/vncshell',
  'POST /nodes/{node}/spiceshell',
  'PUT /nodes/{node}/disks/wipedisk',
  'POST /nodes/{node}/disks/initgpt',
  ...['directory', 'lvm', 'lvmthin', 'zfs'].flatMap((kind) => [
    `POST /nodes/{node}/disks/${kind}`,
    `DELETE /nodes/{node}/disks/${kind}/{name}`,
  ]),
  'DELETE /nodes/{node}/ceph/pool/{name}',
  'DELETE /nodes/{node}/ceph/osd/{osdid}',
  'DELETE /nodes/{node}/ceph/fs/{name}',
]);
// Cluster-wide guest actions (PVE 9): every guest of the cluster unless `vms` names some.
const CLUSTER_BULK = /^\/cluster\/bulk-action\/guest\//;

/**
 * Volume ids in a disk's property string: the value without a key (wherever it stands), and the
 * keys that name a volume (`file=`, `volume=` for mount points, `import-from=`).
 */
export const volumesIn = (value: string): string[] =>
  value
    .split(',')
    .map((part) =>
      part.includes('=') ? /^(?:file|volume|import-from)=(.*)$/.exec(part)?.[1] : part,
    )
    .filter((v): v is string => Boolean(v));

/** A PVE boolean as sent: true, 1, '1'. */
// PVE's loose booleans (pve-common JSONSchema.pm) count as true wherever a flag decides a target.
// A repeated key (an array) counts when any of its values does: which one PVE takes is its own.
export const truthy = (v: unknown): boolean =>
  Array.isArray(v)
    ? v.some(truthy)
    : v === true ||
      v === 1 ||
      (typeof v === 'string' && ['1', 'true', 'yes', 'on'].includes(v.toLowerCase()));

/** Configuration keys that hold a disk, a CD drive or a mount point. */
export const DISK_KEY = /^(?:ide|sata|scsi|virtio|efidisk|tpmstate|unused|mp)\d+$|^rootfs$/;

/** Targets that touch nothing yet. */
export const noTargets = (): Targets => ({
  guests: [],
  nodes: [],
  storages: [],
  pools: [],
  nodeGuests: [],
  poolGuests: [],
  volumeOwners: [],
  excluded: [],
  sources: [],
  unresolved: [],
});

/** The targets of one request: `params` are the values sent, path parameters included. */
export function resolveTargets(op: ContractOperation, params: Record<string, unknown>): Targets {
  const t = noTargets();
  const add = <T>(into: T[], value: T) => {
    if (!into.includes(value)) into.push(value);
  };
  const backup = op.name === 'vzdump';
  // A clone reads its source: the guest in its path is a source, the new one is `newid`.
  const cloning = op.name === 'clone_vm';
  // Node-wide operations without a guest list act on every guest of the node.
  if (
    NODE_WIDE.has(op.name) &&
    !backup &&
    params.vms === undefined &&
    typeof params.node === 'string'
  )
    add(t.nodeGuests, params.node);
  const opKey = `${op.method} ${op.path}`;
  const node = typeof params.node === 'string' ? params.node : '?';
  if (HOST_OPS.has(opKey))
    add(t.unresolved, `the host of node ${node} (${op.path.split('/').pop()})`);
  if (CLUSTER_BULK.test(op.path) && params.vms === undefined)
    add(t.unresolved, 'every guest of the cluster');
  // A node shut down or rebooted takes its guests with it.
  if (opKey === 'POST /nodes/{node}/status' && typeof params.node === 'string')
    add(t.nodeGuests, params.node);
  // Pruning without a guest named prunes every guest's backups on the storage.
  if (opKey === 'DELETE /nodes/{node}/storage/{storage}/prunebackups' && params.vmid === undefined)
    add(t.unresolved, `the backups of every guest on storage ${String(params.storage)}`);
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null) continue;
    if (GUEST_PARAMS.has(key)) {
      const into = cloning && key === 'vmid' ? t.sources : t.guests;
      for (const id of listOf(value)) add(into, /^\d+$/.test(id) ? Number(id) : Number.NaN);
    } else if (NODE_PARAMS.has(key)) {
      for (const n of listOf(value)) add(t.nodes, n);
    } else if (STORAGE_PARAMS.has(key)) {
      // `targetstorage` may map storages (`a:b,c:d`); each side is a storage.
      for (const s of listOf(value).flatMap((v) => v.split(':')))
        if (s && s !== '1') add(t.storages, s);
    } else if (POOL_PARAMS.has(key)) {
      for (const p of listOf(value)) add(backup && key === 'pool' ? t.poolGuests : t.pools, p);
    } else if (key === 'upid') {
      const upid = parseUpid(String(value));
      if (upid) {
        add(t.nodes, upid.node);
        // A task's id names its guest (`100`, `100@storage` for a volume delete); a backup of
        // several guests names none, so what it touches cannot be told from it.
        const guest = taskGuest(upid.id);
        if (guest !== undefined) add(t.guests, guest);
        else if (upid.type === 'vzdump') add(t.unresolved, `the backup task ${upid.upid}`);
      }
    } else if (key === 'sid' || (key === 'resources' && op.path.startsWith('/cluster/ha/'))) {
      // An HA resource, or the resources an HA rule binds.
      for (const sid of listOf(value)) {
        const guest = sidGuest(sid);
        add(t.guests, guest ?? Number.NaN);
      }
    } else if (key === 'id' && op.path.includes('/replication')) {
      // A replication job is `<vmid>-<n>`.
      const m = /^(\d+)-\d+$/.exec(String(value));
      add(t.guests, m ? Number(m[1]) : Number.NaN);
    } else if (key === 'path' && op.path === '/access/acl') {
      // Permissions granted on a guest, a pool, a storage or a node reach it; on `/` or `/vms`,
      // every guest.
      for (const p of listOf(value)) {
        if (/^\/(?:vms\/?)?$/.test(p)) add(t.unresolved, `every guest (an ACL on ${p})`);
        const [, kind, name] = /^\/(vms|pool|storage|nodes)\/([^/]+)/.exec(p) ?? [];
        if (kind === 'vms') add(t.guests, /^\d+$/.test(name ?? '') ? Number(name) : Number.NaN);
        else if (kind === 'pool') add(t.pools, name as string);
        else if (kind === 'storage') add(t.storages, name as string);
        else if (kind === 'nodes') add(t.nodes, name as string);
      }
    } else if (backup && key === 'all' && truthy(value)) {
      if (typeof params.node === 'string') add(t.nodeGuests, params.node);
    } else if (backup && key === 'exclude') {
      for (const id of listOf(value)) if (/^\d+$/.test(id)) add(t.excluded, Number(id));
    }
    // What reaches the host directly: raw QEMU arguments, device passthrough, hook scripts, and
    // the host paths and script of a backup.
    if (HOST_PARAM.test(key) || (/^dev\d+$/.test(key) && String(value).includes('/')))
      add(t.unresolved, `${key}=${String(value)}`);
    if (VOLUME_PARAM.test(key)) {
      for (const item of Array.isArray(value) ? value : [value])
        for (const volid of volumesIn(String(item))) {
          // A host path or device as a disk belongs to no volume that could be checked.
          if (volid.startsWith('/')) add(t.unresolved, `${key}=${volid}`);
          const owner = volumeOwner(volid);
          if (owner !== undefined) add(t.volumeOwners, owner);
          const storage = volumeStorage(volid);
          if (storage) add(t.storages, storage);
        }
    }
  }
  return t;
}
