/**
 * The toolsets: the one table the configuration's checks, the registry, the usage text, the
 * server instructions, doctor and the README read. Each tool names its toolset (define.ts).
 */

export interface ToolsetInfo {
  /** What its tools do, in a few words. */
  description: string;
  /** Offered when no toolset is configured. */
  default?: true;
  /** The privileges its tools need, and where (doctor checks them). */
  privileges: [priv: string, path: string][];
}

export const TOOLSET_TABLE = {
  core: {
    description: 'inventory, power, snapshots, storage, tasks, VM create and delete, bulk power',
    default: true,
    privileges: [
      ['VM.Audit', '/vms'],
      ['VM.PowerMgmt', '/vms'],
      ['VM.Snapshot', '/vms'],
      ['VM.Allocate', '/vms'],
      ['Sys.Audit', '/nodes'],
      ['Datastore.Audit', '/storage'],
    ],
  },
  provision: {
    description: 'containers, clones, templates, configuration, disks, migration',
    privileges: [
      ['VM.Allocate', '/vms'],
      ['VM.Clone', '/vms'],
      ['VM.Config.CPU', '/vms'],
      ['VM.Config.Memory', '/vms'],
      ['VM.Config.Network', '/vms'],
      ['VM.Config.Disk', '/vms'],
      ['VM.Migrate', '/vms'],
      ['Datastore.AllocateSpace', '/storage'],
    ],
  },
  backup: {
    description: 'backups: take, list, restore, delete',
    privileges: [
      ['VM.Backup', '/vms'],
      ['Datastore.AllocateSpace', '/storage'],
    ],
  },
  metrics: {
    description: 'node and guest metrics over time, a cluster dashboard app',
    privileges: [
      ['VM.Audit', '/vms'],
      ['Sys.Audit', '/nodes'],
      // The dashboard's storage fill.
      ['Datastore.Audit', '/storage'],
    ],
  },
  agent: {
    description: 'what the QEMU guest agent reports: OS, addresses',
    privileges: [['VM.GuestAgent.Audit', '/vms']],
  },
  agent_exec: {
    description: 'commands run inside VMs through the guest agent',
    privileges: [['VM.GuestAgent.Unrestricted', '/vms']],
  },
  access: {
    description: 'users, API tokens and effective permissions',
    privileges: [['Sys.Audit', '/access']],
  },
  cluster: {
    description: 'HA, resource pools, node networks',
    privileges: [
      ['Sys.Audit', '/'],
      ['Pool.Audit', '/pool'],
    ],
  },
  firewall: {
    description:
      'firewall options, rules, aliases, IP sets, security groups and logs at datacenter, node and guest level, with lock-out protection',
    privileges: [
      ['Sys.Modify', '/'],
      ['Sys.Modify', '/nodes'],
      ['VM.Config.Network', '/vms'],
    ],
  },
  api: {
    description:
      'any operation of the Proxmox VE API: search it, and call it checked against the API',
    privileges: [],
  },
} as const satisfies Record<string, ToolsetInfo>;

export type Toolset = keyof typeof TOOLSET_TABLE;
export const TOOLSETS = Object.keys(TOOLSET_TABLE) as Toolset[];
export const DEFAULT_TOOLSETS = TOOLSETS.filter((t) => (TOOLSET_TABLE[t] as ToolsetInfo).default);

/** The toolsets in words: `core (…), provision (…), …`. */
export const describeToolsets = () =>
  TOOLSETS.map((t) => `${t} (${TOOLSET_TABLE[t].description})`).join(', ');
