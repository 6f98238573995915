/**
 * The JSON dataset format: everything a simulated cluster starts with. `small` and `large` are
 * generated in this form from a seed; `--dataset FILE` reads it from a file. See docs/dataset.md.
 */

export type GuestType = 'qemu' | 'lxc';

export interface DatasetNode {
  name: string;
  /** Default true. An offline node answers proxied calls with 595. */
  online?: boolean;
  cpus?: number;
  cpuModel?: string;
  memoryGiB?: number;
  rootGiB?: number;
  ip?: string;
  /** Subscription level as /nodes reports it (`c`, `b`, `s`, `p`, or empty). */
  level?: string;
  networks?: DatasetNetwork[];
}

export interface DatasetNetwork {
  iface: string;
  type: 'bridge' | 'eth' | 'bond' | 'vlan' | 'OVSBridge';
  active?: boolean;
  autostart?: boolean;
  method?: 'static' | 'manual' | 'dhcp';
  cidr?: string;
  gateway?: string;
  bridge_ports?: string;
  comments?: string;
}

export type StorageType =
  | 'dir'
  | 'lvm'
  | 'lvmthin'
  | 'zfspool'
  | 'nfs'
  | 'cifs'
  | 'rbd'
  | 'cephfs'
  | 'pbs';

export type ContentType = 'images' | 'rootdir' | 'iso' | 'vztmpl' | 'backup' | 'snippets';

export interface DatasetStorage {
  storage: string;
  type: StorageType;
  content: ContentType[];
  /** Shared storages hold one set of volumes for all their nodes. */
  shared?: boolean;
  /** Nodes the storage is available on; all nodes when absent. */
  nodes?: string[];
  sizeGiB: number;
  path?: string;
  disabled?: boolean;
}

export interface DatasetSnapshot {
  name: string;
  description?: string;
  /** Epoch seconds. */
  snaptime?: number;
  vmstate?: boolean;
  /** The snapshot this one was taken after. */
  parent?: string;
}

export interface DatasetGuest {
  vmid: number;
  type: GuestType;
  node: string;
  /** Default `stopped`. `paused` is a paused VM, or a container stopped by a suspend checkpoint. */
  status?: 'running' | 'stopped' | 'paused';
  pool?: string;
  /**
   * The guest's configuration as PVE stores it: `cores`, `memory`, `scsi0`
   * (`local-lvm:vm-100-disk-0,size=32G`), `net0`, `ostype`, `tags`, ... Volumes named by disks are
   * created on their storages.
   */
  config: Record<string, string | number>;
  snapshots?: DatasetSnapshot[];
  /** How the simulated guest behaves. */
  behaviour?: {
    /** The OS ignores ACPI shutdown requests (a shutdown times out unless forced). */
    ignoreShutdown?: boolean;
    /** The guest agent is installed and answers (needs `agent: 1` in the config too). */
    agentRunning?: boolean;
    /** Share of each disk in use, 0 to 1. */
    diskUsage?: number;
  };
}

export interface DatasetVolume {
  storage: string;
  /** For storages that are not shared: the node the volume is on. */
  node?: string;
  /** `local:iso/debian-12.iso`, `backup-nfs:backup/vzdump-qemu-100-....vma.zst`. */
  volid: string;
  content: 'iso' | 'vztmpl' | 'backup' | 'snippets';
  size: number;
  /** Owner guest of a backup. */
  vmid?: number;
  /** Epoch seconds. */
  ctime?: number;
  notes?: string;
  protected?: boolean;
  /** For backups: the guest config it restores (defaults to the owner's current config). */
  config?: Record<string, string | number>;
}

export interface DatasetUser {
  userid: string;
  password?: string;
  enable?: boolean;
  /** Two-factor login is required: a ticket login answers NeedTFA. */
  tfa?: boolean;
  expire?: number;
  email?: string;
  firstname?: string;
  lastname?: string;
  comment?: string;
  groups?: string[];
  tokens?: {
    tokenid: string;
    secret: string;
    privsep?: boolean;
    expire?: number;
    comment?: string;
  }[];
}

export interface DatasetAcl {
  path: string;
  roleid: string;
  /** Exactly one of user, group, token (`user@realm!tokenid`). */
  user?: string;
  group?: string;
  token?: string;
  /** Default true. */
  propagate?: boolean;
}

export interface DatasetHaResource {
  sid: string;
  state?: 'started' | 'stopped' | 'disabled' | 'ignored';
  group?: string;
  max_restart?: number;
  max_relocate?: number;
  comment?: string;
}

export interface DatasetHaGroup {
  group: string;
  /** `node[:priority]` list: `pve1:2,pve2:1`. */
  nodes: string;
  restricted?: boolean;
  nofailback?: boolean;
  comment?: string;
}

export interface DatasetHaRule {
  rule: string;
  type: 'node-affinity' | 'resource-affinity';
  /** HA resource ids: `vm:100,ct:200`. */
  resources: string;
  /** node-affinity: `node[:priority]` list. */
  nodes?: string;
  strict?: boolean;
  /** resource-affinity: keep together (`positive`) or apart (`negative`). */
  affinity?: 'positive' | 'negative';
  disable?: boolean;
  comment?: string;
}

export interface DatasetReplicationJob {
  guest: number;
  /** The job number: the id is `<guest>-<jobnum>`. Default 0. */
  jobnum?: number;
  target: string;
  /** Calendar event; PVE's default is every 15 minutes. */
  schedule?: string;
  /** MB/s. */
  rate?: number;
  comment?: string;
  disable?: boolean;
  /** Minutes before the simulator's start of the last successful sync; never synced if absent. */
  lastSyncMinutesAgo?: number;
}

export interface DatasetBackupJob {
  /** `backup-xxxxxxxx-xxxx` as the web UI names them. */
  id: string;
  schedule: string;
  enabled?: boolean;
  /** One of `vmid` (comma list), `pool`, `all` (with `exclude`). */
  vmid?: string;
  pool?: string;
  all?: boolean;
  exclude?: string;
  node?: string;
  storage: string;
  mode?: 'snapshot' | 'suspend' | 'stop';
  compress?: '0' | '1' | 'gzip' | 'lzo' | 'zstd';
  mailnotification?: 'always' | 'failure';
  mailto?: string;
  'notes-template'?: string;
  /** Retention, e.g. `{ "keep-daily": 7 }`. */
  'prune-backups'?: Record<string, number>;
  'repeat-missed'?: boolean;
  comment?: string;
}

/** Datacenter options, as `/etc/pve/datacenter.cfg` holds them; only those the simulator uses. */
export interface DatasetDatacenter {
  /**
   * How many tasks a node's bulk actions (startall, stopall, suspendall, migrateall) run at once
   * when the call does not say; unset, they use the node's CPU threads less one, 1 to 8, and
   * migrateall refuses to run.
   */
  max_workers?: number;
}

export interface Dataset {
  version: 1;
  seed: number;
  cluster: string;
  nodes: DatasetNode[];
  storages: DatasetStorage[];
  guests: DatasetGuest[];
  content?: DatasetVolume[];
  pools?: { poolid: string; comment?: string; storage?: string[] }[];
  users?: DatasetUser[];
  groups?: { groupid: string; comment?: string }[];
  /** Roles beyond PVE's built-in ones: role id to privileges. */
  roles?: Record<string, string[]>;
  acl?: DatasetAcl[];
  ha?: DatasetHaResource[];
  /** HA groups (`/etc/pve/ha/groups.cfg`); resources name them in `group`. */
  haGroups?: DatasetHaGroup[];
  /** HA rules (`/etc/pve/ha/rules.cfg`, PVE 9): only for a cluster whose groups were migrated. */
  haRules?: DatasetHaRule[];
  /** Storage replication jobs (`/etc/pve/replication.cfg`). */
  replication?: DatasetReplicationJob[];
  /** Scheduled backup jobs (`/etc/pve/jobs.cfg`, type vzdump). */
  backupJobs?: DatasetBackupJob[];
  /** Tasks that ended before the simulator started: the history a cluster in use has. */
  tasks?: DatasetTask[];
  /** Datacenter options (`/etc/pve/datacenter.cfg`). */
  datacenter?: DatasetDatacenter;
  /**
   * The firewall's configuration files as pve-firewall writes them, by their path below /etc/pve:
   * `firewall/cluster.fw`, `nodes/<node>/host.fw`, `firewall/<vmid>.fw`.
   */
  firewall?: Record<string, string>;
}

export interface DatasetTask {
  node: string;
  /** PVE task type: qmstart, vzdump, ... */
  type: string;
  /** The guest's vmid, or what the task is about. */
  id?: string;
  /** `user@realm`; default root@pam. */
  user?: string;
  /** How long before the simulator's start it began, in minutes. */
  minutesAgo: number;
  durationSeconds?: number;
  /** `OK`, `WARNINGS: n` or the error. */
  exitstatus: string;
  log?: string[];
}
