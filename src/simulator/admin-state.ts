/**
 * The cluster's administrative state beside its guests: HA groups and rules, replication and
 * backup jobs (from the dataset), and each node's disks, services and pending package updates
 * (generated from the seed). Built with the cluster; the routes in routes/admin.ts and
 * routes/jobs.ts read it.
 */
import type { Dataset, DatasetBackupJob, DatasetHaGroup, DatasetHaRule } from './dataset-types.js';
import { hash32, unit } from './random.js';
import type { Cluster } from './state.js';

export type SimHaGroup = DatasetHaGroup;
export type SimHaRule = DatasetHaRule;
export type SimBackupJob = DatasetBackupJob;

export interface SimReplicationJob {
  id: string;
  guest: number;
  jobnum: number;
  target: string;
  /** Set by PVE to the guest's node the first time the job is looked at. */
  source?: string;
  schedule?: string;
  rate?: number;
  comment?: string;
  disable?: boolean;
  /** Epoch seconds of the last successful sync; 0 for never. */
  lastSync: number;
}

export interface SimDisk {
  dev: string;
  devpath: string;
  type: 'nvme' | 'ssd' | 'hdd';
  size: number;
  model: string;
  vendor: string;
  serial: string;
  wwn: string;
  rpm: number;
  gpt: boolean;
  wearout?: number;
  /** Each partition's size and what uses it (`LVM`, `ZFS`, `EFI`, ...). */
  partitions: { size: number; used: string }[];
}

/** systemd's view of a unit (`systemctl show`): SubState, UnitFileState, ActiveState. */
export interface ServiceState {
  state: string;
  unitState: string;
  activeState: string;
}

/** A message in the cluster log that is not a task's start or end (logins). */
export interface ClusterLogEvent {
  time: number;
  node: string;
  pri: number;
  tag: string;
  pid: number;
  user: string;
  msg: string;
}

export interface AdminState {
  /** Simulated ms at the start: a node's journal keeps its boot and what came from a day before. */
  startedAt: number;
  haGroups: Map<string, SimHaGroup>;
  haRules: Map<string, SimHaRule>;
  replication: Map<string, SimReplicationJob>;
  backupJobs: Map<string, SimBackupJob>;
  disks: Map<string, SimDisk[]>;
  services: Map<string, Map<string, ServiceState>>;
  /** Per node, the packages of UPDATE_CATALOG with an update waiting. */
  updates: Map<string, string[]>;
  events: ClusterLogEvent[];
}

/**
 * PVE's service list (pve-manager PVE/API2/Services.pm $service_name_list) with each unit's
 * description. `since9` ones are not in PVE 8's list; the last two are not installed on PVE 8 or
 * 9 (chrony replaces timesyncd, the journal replaces rsyslog), so systemctl finds no unit.
 */
export const SERVICES: { name: string; desc: string; since9?: boolean; missing?: boolean }[] = [
  { name: 'chrony', desc: 'chrony, an NTP client/server' },
  { name: 'corosync', desc: 'Corosync Cluster Engine' },
  { name: 'cron', desc: 'Regular background program processing daemon' },
  { name: 'ksmtuned', desc: 'Kernel Samepage Merging (KSM) Tuning Daemon' },
  { name: 'lxcfs', desc: 'FUSE filesystem for LXC', since9: true },
  { name: 'postfix', desc: 'Postfix Mail Transport Agent' },
  { name: 'proxmox-firewall', desc: 'Proxmox nftables firewall', since9: true },
  { name: 'pve-cluster', desc: 'The Proxmox VE cluster filesystem' },
  { name: 'pve-firewall', desc: 'Proxmox VE firewall' },
  { name: 'pve-ha-crm', desc: 'PVE Cluster HA Resource Manager Daemon' },
  { name: 'pve-ha-lrm', desc: 'PVE Local HA Resource Manager Daemon' },
  { name: 'pve-lxc-syscalld', desc: 'Proxmox VE LXC Syscall Daemon', since9: true },
  { name: 'pvedaemon', desc: 'PVE API Daemon' },
  { name: 'pvefw-logger', desc: 'Proxmox VE firewall logger' },
  { name: 'pveproxy', desc: 'PVE API Proxy Server' },
  { name: 'pvescheduler', desc: 'Proxmox VE scheduler' },
  { name: 'pvestatd', desc: 'PVE Status Daemon' },
  { name: 'qmeventd', desc: 'PVE Qemu Event Daemon', since9: true },
  { name: 'spiceproxy', desc: 'PVE SPICE Proxy Server' },
  { name: 'sshd', desc: 'OpenBSD Secure Shell server' },
  { name: 'syslog', desc: 'syslog.service', missing: true },
  { name: 'systemd-journald', desc: 'Journal Service' },
  { name: 'systemd-timesyncd', desc: 'systemd-timesyncd.service', missing: true },
];

/** A package an update may be waiting for: versions per PVE major release, old then new. */
export interface CatalogPackage {
  Package: string;
  Title: string;
  Description: string;
  Section: string;
  Priority: string;
  Origin: 'Proxmox' | 'Debian';
  Arch: 'amd64' | 'all';
  /**
   * Old and new version by PVE major version; no old version for a new dependency. pve-manager
   * has none: its versions follow the simulated version.
   */
  versions?: Record<'8' | '9', [string | undefined, string]>;
  /** Proxmox packages come from the same repository on every node. */
  everyNode?: boolean;
}

/**
 * What `apt update` may offer (pve-manager PVE/API2/APT.pm list_updates); pve-manager's own
 * versions follow the simulated version.
 */
export const UPDATE_CATALOG: CatalogPackage[] = [
  {
    Package: 'pve-manager',
    Title: 'Proxmox Virtual Environment Management Tools',
    Description: 'This package contains the PVE management tools.',
    Section: 'admin',
    Priority: 'optional',
    Origin: 'Proxmox',
    Arch: 'amd64',
    everyNode: true,
  },
  {
    Package: 'qemu-server',
    Title: 'Qemu Server Tools',
    Description: 'This package contains the Qemu Server tools used by Proxmox VE',
    Section: 'admin',
    Priority: 'optional',
    Origin: 'Proxmox',
    Arch: 'amd64',
    versions: { '8': ['8.3.12', '8.3.14'], '9': ['9.0.23', '9.0.25'] },
    everyNode: true,
  },
  {
    Package: 'libpve-storage-perl',
    Title: 'Proxmox VE storage management library',
    Description: 'This package contains the storage management library used by Proxmox VE.',
    Section: 'perl',
    Priority: 'optional',
    Origin: 'Proxmox',
    Arch: 'all',
    versions: { '8': ['8.3.6', '8.3.7'], '9': ['9.0.18', '9.0.19'] },
    everyNode: true,
  },
  {
    Package: 'proxmox-kernel-6.14',
    Title: 'Latest Proxmox Kernel Image',
    Description: 'This is a metapackage which will install the latest available Proxmox kernel.',
    Section: 'admin',
    Priority: 'optional',
    Origin: 'Proxmox',
    Arch: 'all',
    versions: { '8': ['6.14.11-4', '6.14.11-5'], '9': ['6.14.11-4', '6.14.11-5'] },
    everyNode: true,
  },
  {
    Package: 'proxmox-kernel-6.14.11-5-pve-signed',
    Title: 'Proxmox Kernel Image (signed)',
    Description:
      'This package contains the Linux kernel (signed), modules and corresponding other files.',
    Section: 'kernel',
    Priority: 'optional',
    Origin: 'Proxmox',
    Arch: 'amd64',
    versions: { '8': [undefined, '6.14.11-5'], '9': [undefined, '6.14.11-5'] },
    everyNode: true,
  },
  {
    Package: 'openssl',
    Title: 'Secure Sockets Layer toolkit - cryptographic utility',
    Description:
      'This package is part of the OpenSSL project implementation of the SSL and TLS cryptographic protocols.',
    Section: 'utils',
    Priority: 'optional',
    Origin: 'Debian',
    Arch: 'amd64',
    versions: {
      '8': ['3.0.16-1~deb12u1', '3.0.17-1~deb12u2'],
      '9': ['3.5.1-1', '3.5.4-1~deb13u1'],
    },
  },
  {
    Package: 'tzdata',
    Title: 'time zone and daylight-saving time data',
    Description:
      'This package contains data required for the implementation of standard local time for many representative locations around the globe.',
    Section: 'localization',
    Priority: 'required',
    Origin: 'Debian',
    Arch: 'all',
    versions: { '8': ['2025b-0+deb12u1', '2025b-0+deb12u2'], '9': ['2025b-4', '2025b-4+deb13u1'] },
  },
  {
    Package: 'libxml2',
    Title: 'GNOME XML library',
    Description: 'XML is a metalanguage to let you design your own markup language.',
    Section: 'libs',
    Priority: 'optional',
    Origin: 'Debian',
    Arch: 'amd64',
    versions: {
      '8': ['2.9.14+dfsg-1.3~deb12u1', '2.9.14+dfsg-1.3~deb12u2'],
      '9': ['2.12.7+dfsg+really2.9.14-2.1', '2.12.7+dfsg+really2.9.14-2.1+deb13u1'],
    },
  },
];

const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');

/** The disks a node has: the system NVMe, two SSDs per ZFS pool on it, sometimes a spare HDD. */
function nodeDisks(seed: number, node: string, zfsPools: number): SimDisk[] {
  const serial = (prefix: string, dev: string) =>
    `${prefix}${hex(hash32(seed, node, dev, 'serial'), 8).toUpperCase()}`;
  const wear = (dev: string) => 95 + (hash32(seed, node, dev, 'wear') % 5);
  const disks: SimDisk[] = [
    {
      dev: 'nvme0n1',
      devpath: '/dev/nvme0n1',
      type: 'nvme',
      size: 1_024_209_543_168,
      model: 'SAMSUNG MZVL21T0HCLR-00B00',
      vendor: 'unknown',
      serial: serial('S676NF0W', 'nvme0n1'),
      wwn: `eui.002538${hex(hash32(seed, node, 'eui'), 8)}`,
      rpm: 0,
      gpt: true,
      wearout: wear('nvme0n1'),
      // A PVE install on LVM: BIOS boot, EFI system partition, the `pve` volume group.
      partitions: [
        { size: 1_031_168, used: 'BIOS boot' },
        { size: 1_073_741_824, used: 'EFI' },
        { size: 1_023_134_466_048, used: 'LVM' },
      ],
    },
  ];
  const letters = 'abcdefgh';
  let n = 0;
  for (let i = 0; i < zfsPools * 2; i++) {
    const dev = `sd${letters[n++]}`;
    disks.push({
      dev,
      devpath: `/dev/${dev}`,
      type: 'ssd',
      size: 3_840_755_982_336,
      model: 'SAMSUNG MZ7L33T8HBLT-00A07',
      vendor: 'ATA',
      serial: serial('S6KMNG0W', dev),
      wwn: `0x5002538f${hex(hash32(seed, node, dev, 'wwn'), 8)}`,
      rpm: 0,
      gpt: true,
      wearout: wear(dev),
      // zpool create partitions a whole disk: the data and an 8 MiB reserve.
      partitions: [
        { size: 3_840_745_496_576, used: 'ZFS' },
        { size: 8_388_608, used: 'ZFS reserved' },
      ],
    });
  }
  if (unit(seed, node, 'spare-disk') < 0.5) {
    const dev = `sd${letters[n]}`;
    disks.push({
      dev,
      devpath: `/dev/${dev}`,
      type: 'hdd',
      size: 4_000_787_030_016,
      model: 'ST4000NM000A-2HZ100',
      vendor: 'ATA',
      serial: serial('WS2', dev),
      wwn: `0x5000c500${hex(hash32(seed, node, dev, 'wwn'), 8)}`,
      rpm: 7200,
      gpt: false,
      partitions: [],
    });
  }
  return disks;
}

function defaultServices(): Map<string, ServiceState> {
  const out = new Map<string, ServiceState>();
  for (const s of SERVICES) {
    out.set(
      s.name,
      s.missing
        ? { state: 'dead', unitState: 'not-found', activeState: 'inactive' }
        : {
            state: 'running',
            unitState: s.name === 'systemd-journald' ? 'static' : 'enabled',
            activeState: 'active',
          },
    );
  }
  return out;
}

export function buildAdminState(dataset: Dataset, cluster: Cluster): AdminState {
  const seed = dataset.seed;
  const now = cluster.clock.now();
  const state: AdminState = {
    startedAt: now,
    haGroups: new Map((dataset.haGroups ?? []).map((g) => [g.group, { ...g }])),
    haRules: new Map((dataset.haRules ?? []).map((r) => [r.rule, { ...r }])),
    replication: new Map(),
    backupJobs: new Map((dataset.backupJobs ?? []).map((j) => [j.id, { enabled: true, ...j }])),
    disks: new Map(),
    services: new Map(),
    updates: new Map(),
    events: [],
  };
  for (const j of dataset.replication ?? []) {
    const jobnum = j.jobnum ?? 0;
    const id = `${j.guest}-${jobnum}`;
    state.replication.set(id, {
      id,
      guest: j.guest,
      jobnum,
      target: j.target,
      source: cluster.guests.get(j.guest)?.node,
      schedule: j.schedule,
      rate: j.rate,
      comment: j.comment,
      disable: j.disable,
      lastSync:
        j.lastSyncMinutesAgo === undefined ? 0 : Math.floor(now / 1000) - j.lastSyncMinutesAgo * 60,
    });
  }
  for (const node of cluster.nodes.keys()) {
    const pools = [...cluster.storages.values()].filter(
      (s) => s.type === 'zfspool' && (!s.nodes || s.nodes.includes(node)),
    ).length;
    state.disks.set(node, nodeDisks(seed, node, pools));
    // PVE 9's list of services; PVE 8's is a subset.
    state.services.set(node, defaultServices());
    state.updates.set(
      node,
      UPDATE_CATALOG.filter((p) => p.everyNode || unit(seed, node, p.Package) < 0.6).map(
        (p) => p.Package,
      ),
    );
  }
  return state;
}
