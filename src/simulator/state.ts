/**
 * The simulated cluster's state, built from a dataset. Guest configurations are kept as PVE keeps
 * them, key/value strings, so what the API returns and accepts stays in PVE's own form.
 */
import { createHash } from 'node:crypto';
import { formatSize, parsePropertyString, parseSize } from '../contract/propstring.js';
import { type AdminState, buildAdminState } from './admin-state.js';
import type { SimClock } from './clock.js';
import type {
  ContentType,
  Dataset,
  DatasetDatacenter,
  DatasetNetwork,
  DatasetStorage,
  GuestType,
  StorageType,
} from './dataset-types.js';
import { fail, PveError } from './errors.js';
import { FirewallState } from './firewall.js';

export type Config = Record<string, string>;

export interface SimNode {
  name: string;
  nodeid: number;
  online: boolean;
  cpus: number;
  cpuModel: string;
  memory: number;
  root: number;
  ip: string;
  level: string;
  networks: DatasetNetwork[];
}

export interface SimSnapshot {
  name: string;
  description: string;
  snaptime: number;
  vmstate: boolean;
  parent?: string;
  config: Config;
  /** `prepare` while its task takes it, `delete` while its task removes it. */
  snapstate?: 'prepare' | 'delete';
}

export interface AgentProcess {
  pid: number;
  startedAt: number;
  exitcode: number;
  out: string;
  err: string;
  /** Simulated ms the command runs. */
  runsFor: number;
}

export interface SimGuest {
  vmid: number;
  type: GuestType;
  node: string;
  config: Config;
  /** Changes waiting for the next start (qemu keys that cannot be hot-plugged). */
  pending: Config;
  pendingDelete: Set<string>;
  running: boolean;
  /** A paused VM (`qmpstatus: paused`). */
  paused: boolean;
  /** A container checkpointed by suspend (CRIU), stopped until resume restores it. */
  checkpoint?: boolean;
  /** Simulated ms when it was last started. */
  startedAt: number;
  snapshots: Map<string, SimSnapshot>;
  ignoreShutdown: boolean;
  agentRunning: boolean;
  diskUsage: number;
  agentProcesses: Map<number, AgentProcess>;
  /**
   * Simulated ms of pvestatd's first report on a new guest: until then its resource row is stale
   * (no name, template flag or metrics).
   */
  reportedFrom?: number;
}

/** A new guest's state: stopped, unsnapshotted, not yet reported on by pvestatd. */
export type NewGuest = Pick<SimGuest, 'vmid' | 'type' | 'node' | 'config'> &
  Partial<Pick<SimGuest, 'agentRunning' | 'diskUsage'>>;

export interface SimStorage {
  storage: string;
  type: StorageType;
  content: ContentType[];
  shared: boolean;
  nodes?: string[];
  size: number;
  path?: string;
  disabled: boolean;
}

export interface SimVolume {
  volid: string;
  storage: string;
  /** Undefined on shared storages. */
  node?: string;
  content: ContentType;
  format: string;
  size: number;
  vmid?: number;
  ctime: number;
  notes?: string;
  protected?: boolean;
  /** Backups: the guest type and configuration they restore. */
  backup?: { type: GuestType; config: Config };
}

export interface SimToken {
  tokenid: string;
  secret: string;
  privsep: boolean;
  expire: number;
  comment?: string;
}

export interface SimUser {
  userid: string;
  password?: string;
  enable: boolean;
  tfa: boolean;
  expire: number;
  email?: string;
  firstname?: string;
  lastname?: string;
  comment?: string;
  groups: string[];
  tokens: Map<string, SimToken>;
}

export interface SimAcl {
  path: string;
  type: 'user' | 'group' | 'token';
  ugid: string;
  roleid: string;
  propagate: boolean;
}

export interface SimPool {
  poolid: string;
  comment?: string;
  vms: Set<number>;
  storage: Set<string>;
}

export interface SimHaResource {
  sid: string;
  type: 'vm' | 'ct';
  state: 'started' | 'stopped' | 'disabled' | 'ignored';
  group?: string;
  max_restart: number;
  max_relocate: number;
  comment?: string;
  /** Why the HA manager's last action failed: the service is in `error` until one succeeds. */
  error?: string;
}

const QEMU_DISK = /^(ide|sata|scsi|virtio)\d+$|^(efidisk0|tpmstate0)$|^unused\d+$/;
const LXC_DISK = /^(rootfs|mp\d+|unused\d+)$/;

/** Whether a config key holds a volume of this guest type. */
export const isDiskKey = (type: GuestType, key: string) =>
  (type === 'qemu' ? QEMU_DISK : LXC_DISK).test(key);

/** The volume id and options of a disk entry, or undefined for CD-ROMs and `none`. */
export function parseDisk(
  type: GuestType,
  key: string,
  value: string,
): { volid: string; opts: Record<string, string> } | undefined {
  const defaultKey =
    type === 'lxc' && key !== 'rootfs' && !key.startsWith('unused') ? 'volume' : 'file';
  const opts = parsePropertyString(value, key.startsWith('unused') ? 'file' : defaultKey);
  const volid = opts.file ?? opts.volume;
  if (!volid || volid === 'none' || opts.media === 'cdrom' || !volid.includes(':'))
    return undefined;
  return { volid, opts };
}

export const guestLabel = (type: GuestType) => (type === 'qemu' ? 'VM' : 'CT');

/**
 * What load_config says of a config file that is not on this node (pve-guest-common
 * PVE/AbstractConfig.pm load_config), before a task or inside one.
 */
export const missingConfig = (node: string, vmid: number, type: GuestType) =>
  `Configuration file 'nodes/${node}/${type === 'qemu' ? 'qemu-server' : 'lxc'}/${vmid}.conf' does not exist`;

/** The PVE version the simulator reports unless told otherwise. */
export const DEFAULT_PVE_VERSION = '9.1.3';

export class Cluster {
  name: string;
  seed: number;
  /** The PVE version reported (`GET /version`); operations its schema lacks answer 501. */
  version = DEFAULT_PVE_VERSION;
  readonly nodes = new Map<string, SimNode>();
  readonly guests = new Map<number, SimGuest>();
  readonly storages = new Map<string, SimStorage>();
  /** Keyed by `node|volid` for local storages, `|volid` for shared ones. */
  readonly volumes = new Map<string, SimVolume>();
  readonly pools = new Map<string, SimPool>();
  readonly users = new Map<string, SimUser>();
  readonly groups = new Map<string, { groupid: string; comment?: string }>();
  readonly roles = new Map<string, Set<string>>();
  acl: SimAcl[] = [];
  readonly ha = new Map<string, SimHaResource>();
  /** HA groups and rules, replication and backup jobs, disks, services, package updates. */
  readonly admin: AdminState;
  /** The firewall's configuration files and each node's firewall log. */
  readonly firewall: FirewallState;
  /** The node whose pveproxy answers the API; calls for other nodes are proxied. */
  localNode: string;
  /** Datacenter options (`/etc/pve/datacenter.cfg`) as set; PVE's defaults are not filled in. */
  readonly datacenter: DatasetDatacenter;

  constructor(
    dataset: Dataset,
    readonly clock: SimClock,
    /** How long a new guest's stats take to appear (pvestatd reports every 10 s). */
    private readonly statsDelayMs = 10_000,
  ) {
    this.name = dataset.cluster;
    this.seed = dataset.seed;
    this.datacenter = { ...dataset.datacenter };
    dataset.nodes.forEach((n, i) => {
      this.nodes.set(n.name, {
        name: n.name,
        nodeid: i + 1,
        online: n.online ?? true,
        cpus: n.cpus ?? 16,
        cpuModel: n.cpuModel ?? 'AMD EPYC 7313P 16-Core Processor',
        memory: (n.memoryGiB ?? 64) * 2 ** 30,
        root: (n.rootGiB ?? 100) * 2 ** 30,
        ip: n.ip ?? `10.0.0.${11 + i}`,
        level: n.level ?? '',
        networks: n.networks ?? defaultNetworks(n.ip ?? `10.0.0.${11 + i}`),
      });
    });
    const first = dataset.nodes.find((n) => n.online !== false) ?? dataset.nodes[0];
    if (!first) throw new Error('a dataset needs at least one node');
    this.localNode = first.name;
    for (const s of dataset.storages) this.storages.set(s.storage, toStorage(s));
    for (const p of dataset.pools ?? []) {
      this.pools.set(p.poolid, {
        poolid: p.poolid,
        comment: p.comment,
        vms: new Set(),
        storage: new Set(p.storage ?? []),
      });
    }
    for (const g of dataset.guests) this.addGuestFromDataset(g, dataset.seed);
    for (const v of dataset.content ?? []) {
      const owner = v.vmid === undefined ? undefined : this.guests.get(v.vmid);
      const type: GuestType = v.volid.includes('vzdump-lxc-') ? 'lxc' : 'qemu';
      this.addVolume({
        volid: v.volid,
        storage: v.storage,
        node: this.storageShared(v.storage) ? undefined : v.node,
        content: v.content,
        format: volumeFormat(v.volid),
        size: v.size,
        vmid: v.vmid,
        ctime: v.ctime ?? 1_763_600_000,
        notes: v.notes,
        protected: v.protected,
        backup:
          v.content === 'backup'
            ? {
                type,
                config: v.config
                  ? stringify(v.config)
                  : { ...(owner?.config ?? { memory: '2048', cores: '2' }) },
              }
            : undefined,
      });
    }
    for (const g of dataset.groups ?? []) this.groups.set(g.groupid, { ...g });
    for (const u of dataset.users ?? []) {
      this.users.set(u.userid, {
        userid: u.userid,
        password: u.password,
        enable: u.enable ?? true,
        tfa: u.tfa ?? false,
        expire: u.expire ?? 0,
        email: u.email,
        firstname: u.firstname,
        lastname: u.lastname,
        comment: u.comment,
        groups: u.groups ?? [],
        tokens: new Map(
          (u.tokens ?? []).map((t) => [
            t.tokenid,
            {
              tokenid: t.tokenid,
              secret: t.secret,
              privsep: t.privsep ?? true,
              expire: t.expire ?? 0,
              comment: t.comment,
            },
          ]),
        ),
      });
    }
    for (const [role, privs] of Object.entries(dataset.roles ?? {})) {
      this.roles.set(role, new Set(privs));
    }
    this.acl = (dataset.acl ?? []).map((a) => {
      const type = a.user ? 'user' : a.group ? 'group' : 'token';
      const ugid = a.user ?? a.group ?? a.token;
      if (!ugid) throw new Error(`ACL entry for ${a.path} names no user, group or token`);
      return { path: a.path, type, ugid, roleid: a.roleid, propagate: a.propagate ?? true };
    });
    for (const h of dataset.ha ?? []) {
      this.ha.set(h.sid, {
        sid: h.sid,
        type: h.sid.startsWith('ct:') ? 'ct' : 'vm',
        state: h.state ?? 'started',
        group: h.group,
        max_restart: h.max_restart ?? 1,
        max_relocate: h.max_relocate ?? 1,
        comment: h.comment,
      });
    }
    this.admin = buildAdminState(dataset, this);
    this.firewall = new FirewallState(dataset, clock);
  }

  private addGuestFromDataset(g: Dataset['guests'][number], seed: number): void {
    if (this.guests.has(g.vmid)) throw new Error(`guest ${g.vmid} is defined twice`);
    if (!this.nodes.has(g.node)) throw new Error(`guest ${g.vmid} is on unknown node ${g.node}`);
    const config = stringify(g.config);
    const guest: SimGuest = {
      vmid: g.vmid,
      type: g.type,
      node: g.node,
      config,
      pending: {},
      pendingDelete: new Set(),
      // A container has no paused state in PVE: `paused` there is a suspend checkpoint.
      running: g.status === 'running' || (g.status === 'paused' && g.type === 'qemu'),
      paused: g.status === 'paused' && g.type === 'qemu',
      ...(g.status === 'paused' && g.type === 'lxc' ? { checkpoint: true } : {}),
      // Guests of a dataset have been up for a while: between one hour and 40 days.
      startedAt: this.clock.now() - (3_600 + ((g.vmid * 7919 + seed) % 3_456_000)) * 1000,
      snapshots: new Map(),
      ignoreShutdown: g.behaviour?.ignoreShutdown ?? false,
      agentRunning: g.behaviour?.agentRunning ?? config.agent?.startsWith('1') ?? false,
      diskUsage: g.behaviour?.diskUsage ?? 0.3 + ((g.vmid * 31) % 50) / 100,
      agentProcesses: new Map(),
    };
    for (const s of g.snapshots ?? []) {
      guest.snapshots.set(s.name, {
        name: s.name,
        description: s.description ?? '',
        snaptime: s.snaptime ?? 1_760_000_000,
        vmstate: s.vmstate ?? false,
        parent: s.parent,
        config: { ...config },
      });
    }
    this.guests.set(g.vmid, guest);
    if (g.pool) this.poolAdd(g.pool, g.vmid);
    // Volumes named by the config exist on their storages.
    for (const [key, value] of Object.entries(config)) {
      if (!isDiskKey(g.type, key)) continue;
      const disk = parseDisk(g.type, key, value);
      if (!disk) continue;
      const [storage = ''] = disk.volid.split(':');
      const size = parseSize(disk.opts.size ?? '') ?? 8 * 2 ** 30;
      const content = g.type === 'lxc' ? 'rootdir' : 'images';
      this.addVolume({
        volid: disk.volid,
        storage,
        node: this.storageShared(storage) ? undefined : g.node,
        content,
        format: volumeFormat(disk.volid),
        size,
        vmid: g.vmid,
        ctime: 1_750_000_000,
      });
    }
  }

  // Guests

  /** Adds a guest being created, restored or cloned, in a pool if one is named. */
  addGuest(g: NewGuest, pool?: string): SimGuest {
    const guest: SimGuest = {
      pending: {},
      pendingDelete: new Set(),
      running: false,
      paused: false,
      startedAt: 0,
      snapshots: new Map(),
      ignoreShutdown: false,
      agentRunning: false,
      diskUsage: 0.05,
      agentProcesses: new Map(),
      // pvestatd (pve-manager PVE/Service/pvestatd.pm, $updatetime = 10) has not reported on it
      // yet, so pmxcfs holds no stats for it (PVE/API2Tools.pm extract_vm_stats).
      reportedFrom: this.clock.now() + this.statsDelayMs,
      ...g,
    };
    this.guests.set(g.vmid, guest);
    if (pool) this.poolAdd(pool, g.vmid);
    return guest;
  }

  /** Whether the guest's row in /cluster/resources carries only what the config knows. */
  isStale(guest: SimGuest): boolean {
    return (
      !this.nodes.get(guest.node)?.online ||
      (guest.reportedFrom !== undefined && this.clock.now() < guest.reportedFrom)
    );
  }

  /** The guest whose config file is on this node, if any. */
  findGuest(node: string, vmid: number, type: GuestType): SimGuest | undefined {
    const guest = this.guests.get(vmid);
    return guest && guest.node === node && guest.type === type ? guest : undefined;
  }

  /** The guest on this node, or PVE's error for a missing config file. */
  guestOn(node: string, vmid: number, type: GuestType): SimGuest {
    const guest = this.findGuest(node, vmid, type);
    if (!guest) throw fail(missingConfig(node, vmid, type));
    return guest;
  }

  /** The config digest (PVE: SHA-1 of the config file), which changes with every edit. */
  digest(guest: SimGuest): string {
    const hash = createHash('sha1');
    for (const key of Object.keys(guest.config).sort()) {
      hash.update(`${key}: ${guest.config[key]}\n`);
    }
    for (const key of Object.keys(guest.pending).sort()) {
      hash.update(`pending ${key}: ${guest.pending[key]}\n`);
    }
    for (const key of [...guest.pendingDelete].sort()) hash.update(`delete ${key}\n`);
    return hash.digest('hex');
  }

  /** Throws `VM is locked (backup)` when the guest holds a lock. */
  assertUnlocked(guest: SimGuest): void {
    const lock = guest.config.lock;
    if (lock) throw fail(`${guestLabel(guest.type)} is locked (${lock})`);
  }

  isTemplate(guest: SimGuest): boolean {
    return guest.config.template === '1';
  }

  /** The lowest free vmid from 100. */
  nextId(): number {
    let id = 100;
    while (this.guests.has(id)) id++;
    return id;
  }

  /** The config keys holding volumes, with their volume ids. */
  disksOf(type: GuestType, config: Config): { key: string; volid: string; size: number }[] {
    const out: { key: string; volid: string; size: number }[] = [];
    for (const [key, value] of Object.entries(config)) {
      if (!isDiskKey(type, key)) continue;
      const disk = parseDisk(type, key, value);
      if (disk) out.push({ key, volid: disk.volid, size: parseSize(disk.opts.size ?? '') ?? 0 });
    }
    return out;
  }

  poolOf(vmid: number): string | undefined {
    for (const pool of this.pools.values()) if (pool.vms.has(vmid)) return pool.poolid;
    return undefined;
  }

  poolAdd(poolid: string, vmid: number): void {
    const pool = this.pools.get(poolid);
    if (!pool) throw fail(`pool '${poolid}' does not exist`);
    pool.vms.add(vmid);
  }

  poolRemove(vmid: number): void {
    for (const pool of this.pools.values()) pool.vms.delete(vmid);
  }

  haOf(vmid: number): SimHaResource | undefined {
    return this.ha.get(`vm:${vmid}`) ?? this.ha.get(`ct:${vmid}`);
  }

  /**
   * Whether HA manages the guest: a resource that is not `ignored` (pve-ha-manager
   * PVE/HA/Config.pm vm_is_ha_managed without a state).
   */
  haManaged(vmid: number): boolean {
    const ha = this.haOf(vmid);
    return ha !== undefined && ha.state !== 'ignored';
  }

  // Storage

  storageShared(storage: string): boolean {
    return this.storages.get(storage)?.shared ?? false;
  }

  /**
   * The storage as available on a node, or PVE's error: unknown, or restricted to other nodes
   * (pve-storage PVE/Storage.pm storage_config, storage_check_node).
   */
  storageOn(node: string, storage: string): SimStorage {
    const s = this.storages.get(storage);
    if (!s) throw fail(`storage '${storage}' does not exist`);
    if (s.nodes && !s.nodes.includes(node)) {
      throw fail(`storage '${storage}' is not available on node '${node}'`);
    }
    return s;
  }

  /**
   * The content type pve-storage reads from a volume's name (PVE/Storage.pm parse_volname, which
   * does not look for the file): `iso/`, `vztmpl/`, `backup/`, `snippets/`, `import/`, disk images
   * otherwise. An unknown storage is storage_config's error.
   */
  volumeType(volid: string): string {
    const [storage = '', ...rest] = volid.split(':');
    if (!this.storages.has(storage)) throw fail(`storage '${storage}' does not exist`);
    const m = /^(iso|vztmpl|backup|snippets|import)\//.exec(rest.join(':'));
    if (m) return m[1] as string;
    for (const v of this.volumes.values()) if (v.volid === volid) return v.content;
    return 'images';
  }

  /**
   * The check before a task that a volume named by the caller holds the content wanted
   * (pve-storage PVE/Storage.pm check_volume_access): by its name, not whether it exists.
   */
  assertVolumeType(volid: string, type: ContentType): void {
    const vtype = this.volumeType(volid);
    if (vtype !== type && !(type === 'rootdir' && vtype === 'images'))
      throw fail(`unable to use volume ${volid} - content type needs to be '${type}'`);
  }

  /** Where a file-based storage keeps a backup archive (pve-storage get_backup_dir). */
  archivePath(volid: string): string {
    const [storage = '', ...rest] = volid.split(':');
    const base = this.storages.get(storage)?.path ?? `/mnt/pve/${storage}`;
    return `${base}/dump/${rest.join(':').replace(/^backup\//, '')}`;
  }

  private volumeKey(node: string | undefined, volid: string): string {
    const [storage = ''] = volid.split(':');
    return `${this.storageShared(storage) ? '' : (node ?? '')}|${volid}`;
  }

  addVolume(volume: SimVolume): void {
    this.volumes.set(this.volumeKey(volume.node, volume.volid), volume);
  }

  volume(node: string, volid: string): SimVolume | undefined {
    return this.volumes.get(this.volumeKey(node, volid));
  }

  removeVolume(node: string, volid: string): boolean {
    return this.volumes.delete(this.volumeKey(node, volid));
  }

  volumesOn(node: string, storage: string): SimVolume[] {
    const shared = this.storageShared(storage);
    const out: SimVolume[] = [];
    for (const v of this.volumes.values()) {
      if (v.storage === storage && (shared || v.node === node)) out.push(v);
    }
    return out;
  }

  usedBytes(node: string, storage: string): number {
    let used = 0;
    for (const v of this.volumesOn(node, storage)) used += v.size;
    return used;
  }

  /**
   * Allocates a new disk volume for a guest, named as PVE names them on that storage type, and
   * returns its volume id.
   */
  allocateDisk(
    node: string,
    storageId: string,
    vmid: number,
    size: number,
    type: GuestType,
  ): string {
    const storage = this.storageOn(node, storageId);
    const content: ContentType = type === 'lxc' ? 'rootdir' : 'images';
    if (!storage.content.includes(content)) throw unsupportedContent(type, storageId);
    const free = storage.size - this.usedBytes(node, storageId);
    if (size > free) {
      throw fail(`not enough free space on storage '${storageId}' (${formatSize(free)} left)`);
    }
    const file = storage.type === 'dir' || storage.type === 'nfs' || storage.type === 'cifs';
    let n = 0;
    let volid: string;
    do {
      const base =
        type === 'lxc' && (storage.type === 'zfspool' || file)
          ? `subvol-${vmid}-disk-${n}`
          : `vm-${vmid}-disk-${n}`;
      volid = file
        ? `${storageId}:${vmid}/${base}${type === 'qemu' ? '.qcow2' : '.raw'}`
        : `${storageId}:${base}`;
      n++;
    } while (this.volume(node, volid));
    this.addVolume({
      volid,
      storage: storageId,
      node: storage.shared ? undefined : node,
      content,
      format: volumeFormat(volid),
      size,
      vmid,
      ctime: this.clock.seconds(),
    });
    return volid;
  }
}

/**
 * A storage that cannot hold the guest's disks, as create and config updates refuse it: a
 * parameter error on `storage` (qemu-server PVE/API2/Qemu.pm $check_storage_access; pve-container
 * PVE/API2/LXC.pm create_vm).
 */
export function unsupportedContent(type: GuestType, storage: string): PveError {
  return new PveError(400, 'Parameter verification failed.', {
    storage:
      type === 'qemu'
        ? `storage '${storage}' does not support vm images`
        : `storage '${storage}' does not support container directories`,
  });
}

function toStorage(s: DatasetStorage): SimStorage {
  return {
    storage: s.storage,
    type: s.type,
    content: [...s.content],
    shared: s.shared ?? false,
    nodes: s.nodes,
    size: s.sizeGiB * 2 ** 30,
    path: s.path,
    disabled: s.disabled ?? false,
  };
}

function stringify(config: Record<string, string | number>): Config {
  return Object.fromEntries(Object.entries(config).map(([k, v]) => [k, String(v)]));
}

/** The file format PVE reports for a volume, from its name. */
export function volumeFormat(volid: string): string {
  // A backup archive's format names its compression too: `vma.zst`, `tar.gz` (pve-storage).
  const archive = /:backup\/vzdump-[^/]*?\.(vma|tar|tgz)(?:\.(\w+))?$/.exec(volid);
  if (archive) return archive[2] ? `${archive[1]}.${archive[2]}` : (archive[1] as string);
  if (volid.endsWith('.iso')) return 'iso';
  if (volid.endsWith('.qcow2')) return 'qcow2';
  if (volid.endsWith('.vmdk')) return 'vmdk';
  if (/\.tar(\.\w+)?$|\.tgz$/.test(volid)) return volid.includes(':backup/') ? 'tar' : 'tgz';
  if (/\.vma(\.\w+)?$/.test(volid)) return 'vma';
  if (volid.includes('subvol-')) return 'subvol';
  return 'raw';
}

function defaultNetworks(ip: string): DatasetNetwork[] {
  return [
    { iface: 'eno1', type: 'eth', active: true, autostart: true, method: 'manual' },
    { iface: 'eno2', type: 'eth', active: false, autostart: false, method: 'manual' },
    {
      iface: 'vmbr0',
      type: 'bridge',
      active: true,
      autostart: true,
      method: 'static',
      cidr: `${ip}/24`,
      gateway: '10.0.0.1',
      bridge_ports: 'eno1',
    },
  ];
}

export { PveError };
