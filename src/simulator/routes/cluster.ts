/** /version, /cluster/*, /nodes (the list), /pools: the cluster-wide views. */
import { listOf } from '../../contract/formats.js';
import type { Ctx, Routes } from '../context.js';
import { num, str } from '../context.js';
import { fail, PveError } from '../errors.js';
import { guestSumsByNode, guestUsage, nodeUsage } from '../metrics.js';
import type { Cluster, SimGuest, SimStorage } from '../state.js';
import { taskListItem } from './tasks.js';

const flag = (b: boolean) => (b ? 1 : 0);

/** The resource row of a guest, as /cluster/resources and pool members show it. */
export function guestResource(cluster: Cluster, guest: SimGuest, pool: string | undefined) {
  const ha = cluster.haOf(guest.vmid);
  if (cluster.isStale(guest)) {
    // No stats in pmxcfs: its node has not reported for 5 minutes, or pvestatd has not reported
    // on the new guest yet. The row has what the cluster config knows and nothing measured
    // (pve-manager PVE/API2Tools.pm extract_vm_stats; pool, lock and tags come from the config,
    // PVE/API2/Cluster.pm).
    const stale: Record<string, unknown> = {
      id: `${guest.type}/${guest.vmid}`,
      type: guest.type,
      vmid: guest.vmid,
      node: guest.node,
      status: 'unknown',
    };
    if (guest.config.tags) stale.tags = guest.config.tags;
    if (guest.config.lock) stale.lock = guest.config.lock;
    if (pool) stale.pool = pool;
    if (ha) stale.hastate = ha.state;
    return stale;
  }
  const usage = guestUsage(cluster, guest);
  const row: Record<string, unknown> = {
    id: `${guest.type}/${guest.vmid}`,
    type: guest.type,
    vmid: guest.vmid,
    name:
      guest.config.name ??
      guest.config.hostname ??
      `${guest.type === 'qemu' ? 'VM' : 'CT'} ${guest.vmid}`,
    node: guest.node,
    status: guest.running ? 'running' : 'stopped',
    template: flag(guest.config.template === '1'),
    cpu: usage.cpu,
    maxcpu: usage.cpus,
    mem: usage.mem,
    maxmem: usage.maxmem,
    disk: usage.disk,
    maxdisk: usage.maxdisk,
    netin: usage.netin,
    netout: usage.netout,
    diskread: usage.diskread,
    diskwrite: usage.diskwrite,
    uptime: usage.uptime,
  };
  if (guest.config.tags) row.tags = guest.config.tags;
  if (guest.config.lock) row.lock = guest.config.lock;
  if (pool) row.pool = pool;
  if (ha) row.hastate = ha.state;
  return row;
}

export function storageResource(cluster: Cluster, node: string, s: SimStorage) {
  const online = cluster.nodes.get(node)?.online ?? false;
  return {
    id: `storage/${node}/${s.storage}`,
    type: 'storage',
    storage: s.storage,
    node,
    status: online && !s.disabled ? 'available' : 'unknown',
    plugintype: s.type,
    content: s.content.join(','),
    shared: flag(s.shared),
    disk: cluster.usedBytes(node, s.storage),
    maxdisk: s.size,
  };
}

/** Storages available on a node. */
export function storagesOn(cluster: Cluster, node: string): SimStorage[] {
  return [...cluster.storages.values()].filter((s) => !s.nodes || s.nodes.includes(node));
}

function nodeRows(ctx: Ctx) {
  const { cluster } = ctx;
  const sums = guestSumsByNode(cluster);
  const rows: Record<string, unknown>[] = [];
  for (const node of cluster.nodes.values()) {
    if (!ctx.access.has(ctx.auth, `/nodes/${node.name}`, 'Sys.Audit')) continue;
    const s = sums.get(node.name) ?? { cpu: 0, mem: 0 };
    const u = nodeUsage(cluster, node, s.cpu, s.mem);
    const row: Record<string, unknown> = {
      id: `node/${node.name}`,
      type: 'node',
      node: node.name,
      status: node.online ? 'online' : 'offline',
      level: node.level,
    };
    if (node.online) {
      Object.assign(row, {
        cpu: u.cpu,
        maxcpu: u.maxcpu,
        mem: u.mem,
        maxmem: u.maxmem,
        disk: u.disk,
        maxdisk: u.maxdisk,
        uptime: u.uptime,
        'cgroup-mode': 2,
      });
    }
    rows.push(row);
  }
  return rows;
}

function resources(ctx: Ctx) {
  const { cluster, access, auth } = ctx;
  const type = str(ctx, 'type');
  const out: Record<string, unknown>[] = [];
  if (!type || type === 'node') out.push(...nodeRows(ctx));
  if (!type || type === 'vm') {
    // One pass to map guests to pools, so a large cluster costs one walk. A row names its pool
    // only for callers with Pool.Audit on it (pve-manager PVE/API2/Cluster.pm, resources).
    const poolOf = new Map<number, string>();
    for (const pool of cluster.pools.values()) {
      if (!access.has(auth, `/pool/${pool.poolid}`, 'Pool.Audit')) continue;
      for (const vmid of pool.vms) poolOf.set(vmid, pool.poolid);
    }
    for (const guest of cluster.guests.values()) {
      if (!access.has(auth, `/vms/${guest.vmid}`, 'VM.Audit')) continue;
      out.push(guestResource(cluster, guest, poolOf.get(guest.vmid)));
    }
  }
  if (!type || type === 'storage') {
    for (const node of cluster.nodes.keys()) {
      for (const s of storagesOn(cluster, node)) {
        const privs = access.privileges(auth, `/storage/${s.storage}`);
        if (!privs.has('Datastore.Audit') && !privs.has('Datastore.AllocateSpace')) continue;
        out.push(storageResource(cluster, node, s));
      }
    }
  }
  if (!type) {
    for (const pool of cluster.pools.values()) {
      if (!access.has(auth, `/pool/${pool.poolid}`, 'Pool.Audit')) continue;
      out.push({ id: `/pool/${pool.poolid}`, type: 'pool', pool: pool.poolid });
    }
  }
  return out;
}

function poolMembers(ctx: Ctx, poolid: string) {
  const { cluster } = ctx;
  const pool = cluster.pools.get(poolid);
  if (!pool) throw fail(`pool '${poolid}' does not exist`);
  const members: Record<string, unknown>[] = [];
  for (const vmid of pool.vms) {
    const guest = cluster.guests.get(vmid);
    if (guest) members.push(guestResource(cluster, guest, poolid));
  }
  for (const id of pool.storage) {
    const s = cluster.storages.get(id);
    if (!s) continue;
    for (const node of cluster.nodes.keys()) {
      if (!s.nodes || s.nodes.includes(node)) members.push(storageResource(cluster, node, s));
    }
  }
  return { pool, members };
}

function haStatus(ctx: Ctx) {
  const { cluster, clock } = ctx;
  const master = cluster.localNode;
  const stamp = new Date(clock.now()).toUTCString();
  const now = clock.seconds();
  const out: Record<string, unknown>[] = [
    { id: 'quorum', type: 'quorum', node: master, status: 'OK', quorate: 1 },
    {
      id: 'master',
      type: 'master',
      node: master,
      status: `${master} (active, ${stamp})`,
      timestamp: now,
    },
  ];
  for (const node of cluster.nodes.values()) {
    const state = node.online ? 'active' : 'old timestamp - dead?';
    out.push({
      id: `lrm:${node.name}`,
      type: 'lrm',
      node: node.name,
      status: `${node.name} (${state}, ${stamp})`,
      timestamp: node.online ? now : now - 86_400,
    });
  }
  for (const res of cluster.ha.values()) {
    const vmid = Number(res.sid.split(':')[1]);
    const guest = cluster.guests.get(vmid);
    const state =
      !guest || res.error
        ? 'error'
        : guest.running
          ? res.state === 'stopped'
            ? 'stopping'
            : 'started'
          : res.state === 'started'
            ? 'starting'
            : 'stopped';
    out.push({
      id: `service:${res.sid}`,
      type: 'service',
      sid: res.sid,
      node: guest?.node,
      state,
      crm_state: state,
      request_state: res.state,
      status: `${res.sid} (${guest?.node ?? 'unknown'}, ${state})`,
      max_restart: res.max_restart,
      max_relocate: res.max_relocate,
    });
  }
  return out;
}

/**
 * A service id; a bare vmid names the VM or container that has it (pve-ha-manager
 * PVE/HA/Config.pm parse_sid).
 */
function parseSid(cluster: Cluster, sid: string): string {
  if (!/^\d+$/.test(sid)) return sid;
  const guest = cluster.guests.get(Number(sid));
  if (!guest) throw fail(`unable to detect SID from VMID - VM/CT ${sid} does not exist`);
  return `${guest.type === 'qemu' ? 'vm' : 'ct'}:${sid}`;
}

function haResource(cluster: Cluster, sid: string) {
  const res = cluster.ha.get(sid);
  if (!res) throw fail(`no such resource '${sid}'`);
  const out: Record<string, unknown> = {
    sid: res.sid,
    type: res.type,
    state: res.state,
    max_restart: res.max_restart,
    max_relocate: res.max_relocate,
    digest: 'f3c0c2ad1c0c9f0c8b3e3bd7d0e3a3f1b1b5d8a2',
  };
  if (res.group) out.group = res.group;
  if (res.comment) out.comment = res.comment;
  return out;
}

/**
 * datacenter.cfg as pve-cluster PVE/DataCenterConfig.pm parse_datacenter_config reads it: the
 * options set, `description` from the file's comments (none here), `mac_prefix` defaulted. Without
 * Sys.Audit on `/` only `console` and `tag-style` (pve-manager PVE/API2/Cluster.pm get_options).
 */
function datacenterOptions(ctx: Ctx) {
  const { cluster, access, auth } = ctx;
  const config: Record<string, unknown> = {
    ...cluster.datacenter,
    description: '',
    mac_prefix: 'BC:24:11',
  };
  const audit = access.has(auth, '/', 'Sys.Audit');
  const res = audit
    ? config
    : Object.fromEntries(
        Object.entries(config).filter(([k]) => k === 'console' || k === 'tag-style'),
      );
  // pve-guest-common PVE/GuestHelpers.pm get_allowed_tags with no `user-tag-access` or
  // `registered-tags` set: every tag of the guests the caller may audit, all with Sys.Modify.
  const privileged = access.has(auth, '/', 'Sys.Modify');
  const tags = new Set<string>();
  for (const guest of cluster.guests.values()) {
    if (!privileged && !access.has(auth, `/vms/${guest.vmid}`, 'VM.Audit')) continue;
    for (const tag of listOf(guest.config.tags)) tags.add(tag);
  }
  res['allowed-tags'] = [...tags].sort();
  return res;
}

export const clusterRoutes: Routes = {
  'GET /version': ({ cluster }) => ({
    version: cluster.version,
    release: cluster.version.split('.').slice(0, 2).join('.'),
    repoid: '2ee4e5bd',
    console: 'html5',
  }),

  'GET /cluster/status': (ctx) => {
    const { cluster } = ctx;
    const online = [...cluster.nodes.values()].filter((n) => n.online).length;
    return [
      {
        type: 'cluster',
        id: 'cluster',
        name: cluster.name,
        nodes: cluster.nodes.size,
        quorate: online * 2 > cluster.nodes.size ? 1 : 0,
        version: cluster.nodes.size + 2,
      },
      ...[...cluster.nodes.values()].map((n) => ({
        type: 'node',
        id: `node/${n.name}`,
        name: n.name,
        nodeid: n.nodeid,
        ip: n.ip,
        online: flag(n.online),
        local: flag(n.name === cluster.localNode),
        level: n.level,
      })),
    ];
  },

  'GET /cluster/resources': resources,

  'GET /cluster/options': datacenterOptions,

  'GET /cluster/nextid': (ctx) => {
    const vmid = num(ctx, 'vmid');
    if (vmid === undefined) return String(ctx.cluster.nextId());
    if (ctx.cluster.guests.has(vmid)) {
      throw new PveError(400, 'Parameter verification failed.', {
        vmid: `VM ${vmid} already exists`,
      });
    }
    return String(vmid);
  },

  'GET /cluster/tasks': (ctx) => {
    const visible = [...ctx.tasks.tasks.values()].filter(
      (t) =>
        t.user.split('!')[0] === ctx.auth.userid ||
        ctx.access.has(ctx.auth, `/nodes/${t.node}`, 'Sys.Audit'),
    );
    return visible.sort((a, b) => b.startedAt - a.startedAt).map(taskListItem);
  },

  'GET /cluster/ha/resources': (ctx) => {
    const type = str(ctx, 'type');
    return [...ctx.cluster.ha.values()]
      .filter((r) => !type || r.type === type)
      .map((r) => haResource(ctx.cluster, r.sid));
  },
  'GET /cluster/ha/resources/{sid}': (ctx) =>
    haResource(ctx.cluster, parseSid(ctx.cluster, str(ctx, 'sid') ?? '')),
  'GET /cluster/ha/status/current': haStatus,

  'GET /nodes': nodeRows,

  'GET /pools': (ctx) => {
    const poolid = str(ctx, 'poolid');
    if (poolid) {
      const { pool, members } = poolMembers(ctx, poolid);
      if (!ctx.access.has(ctx.auth, `/pool/${poolid}`, 'Pool.Audit')) return [];
      const type = str(ctx, 'type');
      return [
        {
          poolid,
          comment: pool.comment,
          members: type
            ? members.filter((m) =>
                type === 'qemu' || type === 'lxc' ? m.type === type : m.type === 'storage',
              )
            : members,
        },
      ];
    }
    return [...ctx.cluster.pools.values()]
      .filter((p) => ctx.access.has(ctx.auth, `/pool/${p.poolid}`, 'Pool.Audit'))
      .map((p) => ({ poolid: p.poolid, comment: p.comment }));
  },
  'GET /pools/{poolid}': (ctx) => {
    const { pool, members } = poolMembers(ctx, str(ctx, 'poolid') ?? '');
    return { comment: pool.comment, members };
  },
};
