/**
 * The built-in datasets, generated from a seed: `small` (the demo and the tests) and `large`
 * (benchmarks). Both come out in the JSON dataset format a file may also provide.
 */
import { readFileSync } from 'node:fs';
import type { Dataset, DatasetGuest, DatasetVolume } from './dataset-types.js';
import { hash32, Rng } from './random.js';

export type DatasetName = 'small' | 'large';
export const DEFAULT_SEED = 20_261_124;

export function buildDataset(name: DatasetName, seed = DEFAULT_SEED): Dataset {
  if (name === 'small') return smallDataset(seed);
  if (name === 'large') return largeDataset(seed);
  throw new Error(`unknown dataset '${name}': use small, large or a JSON file`);
}

/** Reads a dataset file, checking the little a loader cannot do without. */
export function readDatasetFile(path: string): Dataset {
  const data = JSON.parse(readFileSync(path, 'utf8')) as Dataset;
  if (data.version !== 1) throw new Error(`${path}: dataset version must be 1`);
  for (const key of ['cluster', 'nodes', 'storages', 'guests'] as const) {
    if (!data[key]) throw new Error(`${path}: dataset needs '${key}'`);
  }
  data.seed ??= DEFAULT_SEED;
  return data;
}

/** A MAC address in Proxmox's BC:24:11 range, derived from the seed and a key. */
export function macFor(seed: number, key: string | number): string {
  const h = hash32(seed, 'mac', key);
  const bytes = [(h >>> 16) & 0xff, (h >>> 8) & 0xff, h & 0xff];
  return [
    'BC',
    '24',
    '11',
    ...bytes.map((b) => b.toString(16).toUpperCase().padStart(2, '0')),
  ].join(':');
}

/** A UUID-shaped secret derived from the seed, so dataset tokens are reproducible. */
function secretFor(seed: number, key: string): string {
  const hex = Array.from({ length: 4 }, (_, i) =>
    hash32(seed, key, i).toString(16).padStart(8, '0'),
  ).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

const ISOS = [
  ['debian-12.8.0-amd64-netinst.iso', 663_748_608],
  ['ubuntu-24.04.1-live-server-amd64.iso', 2_773_874_688],
  ['Win11_24H2_English_x64.iso', 5_819_484_160],
  ['virtio-win-0.1.266.iso', 737_335_296],
] as const;
const TEMPLATES = [
  ['debian-12-standard_12.7-1_amd64.tar.zst', 126_429_116],
  ['ubuntu-24.04-standard_24.04-2_amd64.tar.zst', 141_826_468],
  ['alpine-3.20-default_20240908_amd64.tar.xz', 3_166_004],
] as const;

function qemu(
  seed: number,
  vmid: number,
  name: string,
  o: {
    cores?: number;
    memory?: number;
    disk?: number;
    storage?: string;
    ostype?: string;
    tags?: string;
    agent?: boolean;
    extraDisk?: number;
    description?: string;
    onboot?: boolean;
    template?: boolean;
    iso?: string;
    cloudinit?: boolean;
  } = {},
): Record<string, string | number> {
  const storage = o.storage ?? 'local-lvm';
  const config: Record<string, string | number> = {
    name,
    cores: o.cores ?? 2,
    sockets: 1,
    memory: o.memory ?? 2048,
    ostype: o.ostype ?? 'l26',
    scsihw: 'virtio-scsi-single',
    scsi0: `${storage}:${o.template ? 'base' : 'vm'}-${vmid}-disk-0,iothread=1,size=${o.disk ?? 32}G`,
    net0: `virtio=${macFor(seed, vmid)},bridge=vmbr0,firewall=1`,
    boot: 'order=scsi0;ide2;net0',
    ide2: o.iso ? `local:iso/${o.iso},media=cdrom` : 'none,media=cdrom',
    smbios1: `uuid=${secretFor(seed, `smbios-${vmid}`)}`,
    vmgenid: secretFor(seed, `vmgenid-${vmid}`),
    cpu: 'x86-64-v2-AES',
    meta: 'creation-qemu=9.2.0,ctime=1735689600',
  };
  if (o.extraDisk) config.scsi1 = `${storage}:vm-${vmid}-disk-1,iothread=1,size=${o.extraDisk}G`;
  if (o.agent) config.agent = '1';
  if (o.tags) config.tags = o.tags;
  if (o.description) config.description = o.description;
  if (o.onboot) config.onboot = 1;
  if (o.template) config.template = 1;
  if (o.cloudinit) {
    config.ide0 = `${storage}:vm-${vmid}-cloudinit,media=cdrom`;
    config.ciuser = 'debian';
    config.ipconfig0 = 'ip=dhcp';
  }
  return config;
}

function lxc(
  seed: number,
  vmid: number,
  hostname: string,
  o: {
    cores?: number;
    memory?: number;
    disk?: number;
    tags?: string;
    ostype?: string;
    ip?: string;
    onboot?: boolean;
    description?: string;
  } = {},
): Record<string, string | number> {
  const config: Record<string, string | number> = {
    hostname,
    arch: 'amd64',
    cores: o.cores ?? 1,
    memory: o.memory ?? 512,
    swap: 512,
    ostype: o.ostype ?? 'debian',
    rootfs: `local-lvm:vm-${vmid}-disk-0,size=${o.disk ?? 8}G`,
    net0: `name=eth0,bridge=vmbr0,hwaddr=${macFor(seed, vmid)},ip=${o.ip ?? 'dhcp'},type=veth`,
    unprivileged: 1,
    features: 'nesting=1',
  };
  if (o.tags) config.tags = o.tags;
  if (o.onboot) config.onboot = 1;
  if (o.description) config.description = o.description;
  return config;
}

function commonContent(nodes: string[]): DatasetVolume[] {
  const out: DatasetVolume[] = [];
  for (const node of nodes) {
    for (const [file, size] of ISOS)
      out.push({
        storage: 'local',
        node,
        volid: `local:iso/${file}`,
        content: 'iso',
        size,
        ctime: 1_731_000_000,
      });
    for (const [file, size] of TEMPLATES)
      out.push({
        storage: 'local',
        node,
        volid: `local:vztmpl/${file}`,
        content: 'vztmpl',
        size,
        ctime: 1_731_000_000,
      });
  }
  return out;
}

function smallDataset(seed: number): Dataset {
  const nodes = ['pve1', 'pve2', 'pve3'];
  const guests: DatasetGuest[] = [
    {
      vmid: 100,
      type: 'qemu',
      node: 'pve1',
      status: 'running',
      pool: 'production',
      config: qemu(seed, 100, 'web-01', {
        cores: 2,
        memory: 4096,
        disk: 32,
        tags: 'prod;web',
        agent: true,
        onboot: true,
        description: 'Public web server (nginx)',
      }),
      behaviour: { agentRunning: true },
    },
    {
      vmid: 101,
      type: 'qemu',
      node: 'pve1',
      status: 'running',
      pool: 'production',
      config: qemu(seed, 101, 'web-02', {
        cores: 2,
        memory: 4096,
        disk: 32,
        tags: 'prod;web',
        agent: true,
        onboot: true,
      }),
      behaviour: { agentRunning: true },
    },
    {
      vmid: 102,
      type: 'qemu',
      node: 'pve1',
      status: 'running',
      pool: 'production',
      config: qemu(seed, 102, 'db-01', {
        cores: 4,
        memory: 16384,
        disk: 64,
        extraDisk: 200,
        // The demo shows protection at work: the database refuses changes through the server.
        tags: 'db;prod;protected',
        agent: true,
        onboot: true,
        description: 'PostgreSQL 16 primary',
      }),
      snapshots: [
        {
          name: 'before-upgrade',
          description: 'Before PostgreSQL 16 upgrade',
          snaptime: 1_761_000_000,
        },
        {
          name: 'after-upgrade',
          description: 'PostgreSQL 16 running',
          snaptime: 1_762_000_000,
          parent: 'before-upgrade',
        },
      ],
      behaviour: { agentRunning: true },
    },
    {
      vmid: 103,
      type: 'qemu',
      node: 'pve1',
      status: 'stopped',
      config: qemu(seed, 103, 'win-app', {
        cores: 4,
        memory: 8192,
        disk: 80,
        ostype: 'win11',
        tags: 'windows',
        iso: 'virtio-win-0.1.266.iso',
      }),
    },
    {
      vmid: 104,
      type: 'qemu',
      node: 'pve2',
      status: 'paused',
      pool: 'development',
      config: qemu(seed, 104, 'dev-box', {
        cores: 2,
        memory: 4096,
        disk: 40,
        tags: 'dev',
        agent: true,
      }),
      snapshots: [
        { name: 'clean-install', description: 'Fresh Debian install', snaptime: 1_760_500_000 },
      ],
      behaviour: { agentRunning: true },
    },
    {
      vmid: 105,
      type: 'qemu',
      node: 'pve2',
      status: 'running',
      pool: 'development',
      config: qemu(seed, 105, 'ci-runner', {
        cores: 8,
        memory: 16384,
        disk: 100,
        tags: 'ci;dev',
        cloudinit: true,
      }),
    },
    {
      vmid: 106,
      type: 'qemu',
      node: 'pve2',
      status: 'running',
      config: {
        ...qemu(seed, 106, 'legacy-app', {
          cores: 1,
          memory: 1024,
          disk: 16,
          ostype: 'other',
          tags: 'legacy',
          description: 'Old appliance; ignores ACPI shutdown',
        }),
        cpulimit: '0.5',
      },
      behaviour: { ignoreShutdown: true },
    },
    {
      vmid: 107,
      type: 'qemu',
      node: 'pve3',
      status: 'stopped',
      config: qemu(seed, 107, 'backup-test', { cores: 2, memory: 2048, disk: 32 }),
    },
    {
      vmid: 200,
      type: 'lxc',
      node: 'pve1',
      status: 'running',
      pool: 'infra',
      config: lxc(seed, 200, 'ct-dns', {
        memory: 512,
        tags: 'infra;dns',
        ip: '10.0.0.53/24,gw=10.0.0.1',
        onboot: true,
      }),
    },
    {
      vmid: 201,
      type: 'lxc',
      node: 'pve1',
      status: 'stopped',
      pool: 'infra',
      config: lxc(seed, 201, 'ct-proxy', { memory: 1024, tags: 'infra' }),
    },
    {
      vmid: 202,
      type: 'lxc',
      node: 'pve2',
      status: 'running',
      pool: 'infra',
      config: lxc(seed, 202, 'ct-monitor', {
        cores: 2,
        memory: 2048,
        disk: 16,
        tags: 'infra;monitoring',
      }),
      snapshots: [
        { name: 'pre-grafana-11', description: 'Before Grafana 11', snaptime: 1_761_500_000 },
      ],
    },
    {
      vmid: 203,
      type: 'lxc',
      node: 'pve3',
      status: 'stopped',
      config: lxc(seed, 203, 'ct-old', { memory: 256, ostype: 'alpine' }),
    },
    {
      vmid: 9000,
      type: 'qemu',
      node: 'pve2',
      status: 'stopped',
      config: qemu(seed, 9000, 'debian-12-template', {
        cores: 2,
        memory: 2048,
        disk: 16,
        template: true,
        cloudinit: true,
        agent: true,
        tags: 'template',
      }),
    },
  ];
  const content = commonContent(nodes);
  const backups: [number, 'qemu' | 'lxc', string, number][] = [
    [100, 'qemu', '2026_11_20-01_00_03', 2_318_565_376],
    [102, 'qemu', '2026_11_20-01_04_41', 9_521_104_896],
    [200, 'lxc', '2026_11_20-01_12_09', 412_883_968],
    [100, 'qemu', '2026_11_21-01_00_02', 2_330_017_792],
  ];
  for (const [vmid, type, stamp, size] of backups) {
    const ext = type === 'qemu' ? 'vma.zst' : 'tar.zst';
    content.push({
      storage: 'backup-nfs',
      volid: `backup-nfs:backup/vzdump-${type}-${vmid}-${stamp}.${ext}`,
      content: 'backup',
      size,
      vmid,
      ctime: Math.floor(
        Date.UTC(
          Number(stamp.slice(0, 4)),
          Number(stamp.slice(5, 7)) - 1,
          Number(stamp.slice(8, 10)),
          1,
        ) / 1000,
      ),
      notes: `nightly ${type === 'qemu' ? 'VM' : 'CT'} ${vmid}`,
    });
  }
  return {
    version: 1,
    seed,
    cluster: 'demo',
    nodes: [
      { name: 'pve1', cpus: 16, memoryGiB: 128, rootGiB: 100, ip: '10.0.0.11', level: 'c' },
      { name: 'pve2', cpus: 16, memoryGiB: 96, rootGiB: 100, ip: '10.0.0.12', level: 'c' },
      {
        name: 'pve3',
        cpus: 8,
        memoryGiB: 64,
        rootGiB: 100,
        ip: '10.0.0.13',
        level: 'c',
        online: false,
      },
    ],
    storages: [
      {
        storage: 'local',
        type: 'dir',
        content: ['iso', 'vztmpl', 'backup'],
        path: '/var/lib/vz',
        sizeGiB: 94,
      },
      { storage: 'local-lvm', type: 'lvmthin', content: ['images', 'rootdir'], sizeGiB: 1_800 },
      {
        storage: 'backup-nfs',
        type: 'nfs',
        content: ['backup', 'iso'],
        shared: true,
        path: '/mnt/pve/backup-nfs',
        sizeGiB: 8_000,
      },
      {
        storage: 'tank',
        type: 'zfspool',
        content: ['images', 'rootdir'],
        nodes: ['pve2'],
        sizeGiB: 3_600,
      },
    ],
    guests,
    content,
    pools: [
      { poolid: 'production', comment: 'Customer-facing services' },
      { poolid: 'development', comment: 'Developer machines and CI' },
      { poolid: 'infra', comment: 'Infrastructure containers', storage: ['backup-nfs'] },
    ],
    groups: [{ groupid: 'operators', comment: 'On-call operators' }],
    users: [
      {
        userid: 'root@pam',
        password: 'simulator',
        email: 'root@example.invalid',
        firstname: 'Root',
      },
      {
        userid: 'alice@pve',
        password: 'alice-password',
        firstname: 'Alice',
        comment: 'Developer',
        tokens: [
          {
            tokenid: 'automation',
            secret: secretFor(seed, 'alice-automation'),
            privsep: true,
            comment: 'read-only automation',
          },
        ],
      },
      {
        userid: 'ops@pve',
        password: 'ops-password',
        firstname: 'Ops',
        groups: ['operators'],
        tokens: [{ tokenid: 'ci', secret: secretFor(seed, 'ops-ci'), privsep: false }],
      },
      { userid: 'auditor@pve', password: 'auditor-password', comment: 'Read-only access' },
      { userid: 'bob@pve', password: 'bob-password', tfa: true, comment: 'Has TOTP enabled' },
    ],
    acl: [
      { path: '/pool/development', user: 'alice@pve', roleid: 'PVEVMUser' },
      { path: '/vms', token: 'alice@pve!automation', roleid: 'PVEAuditor' },
      { path: '/', group: 'operators', roleid: 'PVEAuditor' },
      { path: '/vms', group: 'operators', roleid: 'PVEVMAdmin' },
      { path: '/storage', group: 'operators', roleid: 'PVEDatastoreUser' },
      { path: '/', user: 'auditor@pve', roleid: 'PVEAuditor' },
      { path: '/', user: 'bob@pve', roleid: 'PVEAuditor' },
    ],
    ha: [
      {
        sid: 'vm:100',
        state: 'started',
        group: 'prefer-pve1',
        max_restart: 2,
        max_relocate: 1,
        comment: 'web frontend',
      },
      { sid: 'vm:101', state: 'started', group: 'prefer-pve1' },
    ],
    // pve3 is down, so the HA manager of PVE 9 has not migrated the group to a rule yet.
    haGroups: [
      {
        group: 'prefer-pve1',
        nodes: 'pve1:2,pve2:1',
        comment: 'Web front ends run on pve1 while it is up',
      },
    ],
    // The database's disks were moved off ZFS: its replication fails since (only ZFS replicates).
    replication: [
      {
        guest: 102,
        target: 'pve2',
        schedule: '*/15',
        comment: 'PostgreSQL standby copy',
        lastSyncMinutesAgo: 2_880,
      },
      {
        guest: 202,
        target: 'pve1',
        schedule: '*/30',
        rate: 50,
        disable: true,
        comment: 'Waits for ct-monitor to move to ZFS',
      },
    ],
    backupJobs: [
      {
        id: 'backup-5f2a9c1e-8d3b',
        schedule: '01:00',
        vmid: '100,102,200',
        storage: 'backup-nfs',
        mode: 'snapshot',
        compress: 'zstd',
        mailnotification: 'failure',
        'notes-template': 'nightly {{guestname}}',
        'prune-backups': { 'keep-daily': 7, 'keep-weekly': 4 },
        comment: 'Nightly production backup',
      },
      {
        id: 'backup-0c7e4d2a-61f9',
        schedule: 'sat 03:00',
        pool: 'development',
        storage: 'backup-nfs',
        mode: 'snapshot',
        compress: 'zstd',
        'repeat-missed': true,
        'prune-backups': { 'keep-last': 3 },
        comment: 'Weekly development backup',
      },
    ],
    // A cluster in use has a history, failures included.
    tasks: [
      {
        node: 'pve3',
        type: 'qmshutdown',
        id: '107',
        minutesAgo: 1_500,
        durationSeconds: 180,
        exitstatus: 'VM quit/powerdown failed - got timeout',
      },
      {
        node: 'pve1',
        type: 'vzdump',
        minutesAgo: 600,
        durationSeconds: 742,
        exitstatus: 'OK',
        log: [
          'INFO: starting new backup job: vzdump 100 102 200 --mode snapshot --storage backup-nfs --compress zstd',
          'INFO: Backup job finished successfully',
        ],
      },
      {
        node: 'pve2',
        type: 'vzdump',
        id: '105',
        minutesAgo: 590,
        durationSeconds: 95,
        exitstatus: 'job errors',
        log: [
          'INFO: starting new backup job: vzdump 105 --mode snapshot --storage backup-nfs',
          "ERROR: Backup of VM 105 failed - unable to create temporary directory '/mnt/pve/backup-nfs/dump/vzdump-qemu-105-2026_11_30-01_10_00.tmp' at /usr/share/perl5/PVE/VZDump.pm line 1055.",
          'INFO: Failed at 2026-11-30 01:11:35',
        ],
      },
      {
        node: 'pve1',
        type: 'qmstart',
        id: '103',
        minutesAgo: 180,
        durationSeconds: 2,
        exitstatus: 'start failed: QEMU exited with code 1',
        log: ['kvm: -drive file=/dev/pve/vm-103-disk-0: Could not open: No such file or directory'],
      },
      {
        node: 'pve2',
        type: 'qmigrate',
        id: '106',
        minutesAgo: 120,
        durationSeconds: 41,
        exitstatus: 'OK',
      },
      { node: 'pve1', type: 'aptupdate', minutesAgo: 60, durationSeconds: 12, exitstatus: 'OK' },
    ],
    firewall: smallFirewall(),
  };
}

/**
 * The small cluster's firewall, as pve-firewall writes its files: off at the datacenter (the
 * default), ready to be turned on. No `management` ipset, so the nodes' local network
 * (10.0.0.0/24) is what reaches their API and SSH; the office and the blacklist show aliases and
 * ipsets at work. The web VMs use the `webserver` security group. CT 200's rules are written but
 * its NIC has no `firewall=1`, so they filter nothing until it has.
 */
function smallFirewall(): Record<string, string> {
  return {
    'firewall/cluster.fw': `[OPTIONS]

policy_in: DROP

[ALIASES]

gateway 10.0.0.1 # Default gateway
monitoring 10.0.1.204 # ct-monitor (Prometheus)
office 198.51.100.0/24 # Office network

[IPSET blacklist] # Dropped before any rule

100.64.7.0/24 # Scanner network
192.0.2.66 # Brute-force source

[RULES]

IN SSH(ACCEPT) -source office -log info # Admins from the office
IN ACCEPT -source office -p tcp -dport 8006 # Web interface from the office
|IN Ping(ACCEPT) -source gateway

[group webserver] # Web servers: HTTP and HTTPS

IN HTTP(ACCEPT)
IN HTTPS(ACCEPT)

`,
    'nodes/pve1/host.fw': `[OPTIONS]

log_level_in: info

[RULES]

IN ACCEPT -source monitoring -p tcp -dport 9100 # Prometheus node exporter

`,
    'nodes/pve2/host.fw': `[OPTIONS]

tcpflags: 1

`,
    'firewall/100.fw': `[OPTIONS]

enable: 1
ipfilter: 1
log_level_in: info

[ALIASES]

proxy 10.0.1.203 # ct-proxy, the reverse proxy

[IPSET ipfilter-net0] # Addresses web-01 may send from

10.0.1.102

[RULES]

GROUP webserver -i net0
IN SSH(ACCEPT) -source office -log info

`,
    'firewall/101.fw': `[OPTIONS]

enable: 1

[RULES]

GROUP webserver

`,
    'firewall/200.fw': `[OPTIONS]

enable: 1

[ALIASES]

lan 10.0.0.0/16 # Clients of the resolver

[IPSET ipfilter-net0]

10.0.0.53

[RULES]

IN DNS(ACCEPT) -source lan
IN SSH(ACCEPT) -source dc/office

`,
  };
}

function largeDataset(seed: number): Dataset {
  const rng = new Rng(seed);
  const nodes = Array.from({ length: 16 }, (_, i) => `pve${String(i + 1).padStart(2, '0')}`);
  const guests: DatasetGuest[] = [];
  const roles = ['web', 'db', 'app', 'cache', 'queue', 'batch', 'ci', 'lb'];
  const envs = ['prod', 'staging', 'dev'];
  const zfsGuests: { vmid: number; node: number; running: boolean }[] = [];
  // The last node is down.
  const online = (i: number) => i !== nodes.length - 1;
  for (let i = 0; i < 2_000; i++) {
    const vmid = 1_000 + i;
    const node = nodes[i % nodes.length] as string;
    const role = rng.pick(roles);
    const env = rng.pick(envs);
    const name = `${env}-${role}-${String(i).padStart(4, '0')}`;
    const isCt = i % 7 === 3;
    const status = rng.chance(0.72) ? 'running' : 'stopped';
    const tags = `${env};${role}`;
    const pool = env === 'prod' ? 'production' : env === 'staging' ? 'staging' : 'development';
    if (isCt) {
      guests.push({
        vmid,
        type: 'lxc',
        node,
        status,
        pool,
        config: lxc(seed, vmid, name, {
          cores: rng.int(1, 4),
          memory: rng.pick([512, 1024, 2048, 4096]),
          disk: rng.pick([8, 16, 32]),
          tags,
        }),
      });
    } else {
      const template = i % 250 === 0;
      // Production databases live on ZFS and replicate to the next node that is up.
      const zfs = env === 'prod' && role === 'db' && !template;
      if (zfs) zfsGuests.push({ vmid, node: i % nodes.length, running: status === 'running' });
      guests.push({
        vmid,
        type: 'qemu',
        node,
        status: template ? 'stopped' : status,
        pool,
        config: qemu(seed, vmid, name, {
          cores: rng.pick([1, 2, 4, 8]),
          memory: rng.pick([1024, 2048, 4096, 8192, 16384]),
          disk: rng.pick([16, 32, 64, 128]),
          tags,
          agent: rng.chance(0.6),
          template,
          storage: zfs ? 'local-zfs' : undefined,
        }),
        behaviour: { agentRunning: true },
      });
    }
  }
  return {
    version: 1,
    seed,
    cluster: 'large',
    nodes: nodes.map((name, i) => ({
      name,
      cpus: 64,
      memoryGiB: 512,
      rootGiB: 200,
      ip: `10.1.0.${11 + i}`,
      online: online(i),
    })),
    storages: [
      {
        storage: 'local',
        type: 'dir',
        content: ['iso', 'vztmpl', 'backup'],
        path: '/var/lib/vz',
        sizeGiB: 190,
      },
      { storage: 'local-lvm', type: 'lvmthin', content: ['images', 'rootdir'], sizeGiB: 20_000 },
      {
        storage: 'ceph-vm',
        type: 'rbd',
        content: ['images', 'rootdir'],
        shared: true,
        sizeGiB: 200_000,
      },
      { storage: 'backup-pbs', type: 'pbs', content: ['backup'], shared: true, sizeGiB: 400_000 },
      { storage: 'local-zfs', type: 'zfspool', content: ['images', 'rootdir'], sizeGiB: 3_500 },
    ],
    guests,
    content: commonContent(nodes.slice(0, 2)),
    pools: [{ poolid: 'production' }, { poolid: 'staging' }, { poolid: 'development' }],
    users: [{ userid: 'root@pam', password: 'simulator' }],
    replication: zfsGuests.map((g) => {
      let target = (g.node + 1) % nodes.length;
      if (!online(target)) target = (target + 1) % nodes.length;
      return { guest: g.vmid, target: nodes[target] as string, schedule: '*/15' };
    }),
    // The running databases of the first four nodes are under HA.
    ha: zfsGuests
      .filter((g) => g.running && g.node < 4)
      .slice(0, 6)
      .map((g) => ({ sid: `vm:${g.vmid}`, state: 'started' as const, group: 'databases' })),
    haGroups: [{ group: 'databases', nodes: 'pve01:2,pve02:2,pve03:1,pve04:1' }],
    backupJobs: [
      {
        id: 'backup-7c41e2b0-19d5',
        schedule: '21:00',
        all: true,
        exclude: guests
          .filter((g) => g.config.template === 1)
          .map((g) => g.vmid)
          .join(','),
        storage: 'backup-pbs',
        mode: 'snapshot',
        'prune-backups': { 'keep-daily': 7, 'keep-weekly': 4, 'keep-monthly': 3 },
        comment: 'Every guest but the templates',
      },
    ],
    firewall: largeFirewall(guests),
  };
}

/**
 * The large cluster's firewall: off at the datacenter, a `management` ipset for the admin
 * network and jump host, and security groups on the first production web and database VMs.
 */
function largeFirewall(guests: DatasetGuest[]): Record<string, string> {
  const files: Record<string, string> = {
    'firewall/cluster.fw': `[OPTIONS]

policy_in: DROP

[ALIASES]

backup_server 10.1.0.200 # Proxmox Backup Server
jumphost 10.1.0.5 # Admin jump host

[IPSET management] # Admin access to the nodes

10.1.0.0/24
jumphost

[RULES]

IN Ping(ACCEPT) -source +management

[group database] # Databases, from the cluster network

IN PostgreSQL(ACCEPT) -source 10.1.0.0/16
IN MySQL(ACCEPT) -source 10.1.0.0/16

[group webserver] # Web servers: HTTP and HTTPS

IN HTTP(ACCEPT)
IN HTTPS(ACCEPT)

`,
  };
  for (const role of ['web', 'db'] as const) {
    const group = role === 'web' ? 'webserver' : 'database';
    guests
      .filter((g) => g.type === 'qemu' && String(g.config.name).startsWith(`prod-${role}-`))
      .filter((g) => g.config.template === undefined)
      .slice(0, 5)
      .forEach((g) => {
        files[`firewall/${g.vmid}.fw`] =
          `[OPTIONS]\n\nenable: 1\n\n[RULES]\n\nGROUP ${group}\nIN SSH(ACCEPT) -source +dc/management\n\n`;
      });
  }
  return files;
}
