/**
 * QEMU VMs and LXC containers: listing, status, delete, migrate and template, and the routes of
 * every guest operation (power in guest-power.ts, config in guest-config.ts, new guests in
 * guest-create.ts). One set of handlers serves both kinds; where PVE treats them differently
 * (pre-fork checks, messages, task types) the difference is spelled out.
 */
import type { Ctx, Routes } from '../context.js';
import { bool, num, str } from '../context.js';
import type { GuestType } from '../dataset-types.js';
import { fail, PveError, TaskError } from '../errors.js';
import { guestRrd, guestUsage, type Timeframe } from '../metrics.js';
import { guestLabel } from '../state.js';
import type { TaskSpec } from '../tasks.js';
import {
  guestFor,
  nodeParam,
  ownedVolumes,
  skiplock,
  startGuest,
  stopGuest,
  typePrefix,
} from './guest-common.js';
import { getConfig, pending, resizeGuest, updateConfig } from './guest-config.js';
import { cloneGuest, createGuest } from './guest-create.js';
import { haRequest, powerAction } from './guest-power.js';

function statusCurrent(ctx: Ctx, type: GuestType) {
  const { cluster } = ctx;
  const guest = guestFor(ctx, type);
  const u = guestUsage(cluster, guest);
  const ha = cluster.haOf(guest.vmid);
  const out: Record<string, unknown> = {
    vmid: guest.vmid,
    name: guest.config.name ?? guest.config.hostname,
    status: guest.running ? 'running' : 'stopped',
    cpus: u.cpus,
    cpu: u.cpu,
    maxmem: u.maxmem,
    mem: u.mem,
    maxdisk: u.maxdisk,
    disk: u.disk,
    uptime: u.uptime,
    netin: u.netin,
    netout: u.netout,
    diskread: u.diskread,
    diskwrite: u.diskwrite,
    ha: ha ? { managed: 1, state: ha.state, group: ha.group } : { managed: 0 },
  };
  if (type === 'qemu') {
    out.qmpstatus = guest.running ? (guest.paused ? 'paused' : 'running') : 'stopped';
    if (guest.config.agent && /^(1|enabled=1)/.test(guest.config.agent)) out.agent = 1;
    if (guest.running) {
      out.pid = 10_000 + guest.vmid;
      out['running-machine'] = 'pc-i440fx-9.2+pve1';
      out['running-qemu'] = '9.2.0';
    }
  } else {
    out.type = 'lxc';
    out.maxswap = Number(guest.config.swap ?? 512) * 2 ** 20;
    out.swap = 0;
    if (guest.paused) out.status = 'running';
  }
  if (guest.config.lock) out.lock = guest.config.lock;
  if (guest.config.tags) out.tags = guest.config.tags;
  if (guest.config.template === '1') out.template = 1;
  return out;
}

function list(ctx: Ctx, type: GuestType) {
  const node = nodeParam(ctx);
  const out: Record<string, unknown>[] = [];
  for (const guest of ctx.cluster.guests.values()) {
    if (guest.node !== node || guest.type !== type) continue;
    if (!ctx.access.has(ctx.auth, `/vms/${guest.vmid}`, 'VM.Audit')) continue;
    const u = guestUsage(ctx.cluster, guest);
    const row: Record<string, unknown> = {
      vmid: guest.vmid,
      name: guest.config.name ?? guest.config.hostname,
      status: guest.running ? 'running' : 'stopped',
      cpus: u.cpus,
      cpu: u.cpu,
      maxmem: u.maxmem,
      mem: u.mem,
      maxdisk: u.maxdisk,
      disk: u.disk,
      netin: u.netin,
      netout: u.netout,
      diskread: u.diskread,
      diskwrite: u.diskwrite,
      uptime: u.uptime,
    };
    if (type === 'lxc') row.type = 'lxc';
    if (type === 'qemu' && guest.running) row.pid = 10_000 + guest.vmid;
    if (type === 'qemu' && bool(ctx, 'full'))
      row.qmpstatus = guest.running ? (guest.paused ? 'paused' : 'running') : 'stopped';
    if (guest.config.tags) row.tags = guest.config.tags;
    if (guest.config.lock) row.lock = guest.config.lock;
    if (guest.config.template === '1') row.template = 1;
    out.push(row);
  }
  return out;
}

function destroyGuest(type: GuestType) {
  return (ctx: Ctx) => {
    const { cluster } = ctx;
    // qemu-server PVE/API2/Qemu.pm destroy_vm: `skiplock`, then its early checks: config,
    // protection, HA, running; the lock is checked in the worker (PVE/QemuServer.pm destroy_vm,
    // which lets a VM suspended to disk go). pve-container PVE/API2/LXC.pm destroy_vm: config,
    // protection, lock, HA, then running unless forced, all before the task.
    // Deliberately different: a running VM is refused before its HA check, as the product's
    // tests expect of VM 100 (running and HA-managed) in the small dataset.
    const skip = type === 'qemu' && skiplock(ctx);
    const guest = guestFor(ctx, type);
    const label = guestLabel(type);
    const vmid = guest.vmid;
    if (guest.config.protection === '1')
      throw fail(`can't remove ${label} ${vmid} - protection mode enabled`);
    if (type === 'lxc') cluster.assertUnlocked(guest);
    const purge = bool(ctx, 'purge');
    const ha = cluster.haOf(vmid);
    // HA before running (qemu-server PVE/API2/Qemu.pm destroy_vm $early_checks).
    if (ha && !purge)
      throw fail(
        `unable to remove ${label} ${vmid} - used in HA resources and purge parameter not set.`,
      );
    if (type === 'qemu' && guest.running) throw fail(`VM ${vmid} is running - destroy failed`);
    if (type === 'lxc' && guest.running && !bool(ctx, 'force'))
      throw fail(`unable to destroy CT ${vmid} - container is running`);
    const unreferenced = ctx.params['destroy-unreferenced-disks'] !== false;
    ctx.count('guest.delete');
    const lock = guest.config.lock;
    if (type === 'qemu' && lock && !skip && lock !== 'suspended')
      return ctx.startTask({
        node: guest.node,
        type: `${typePrefix(type)}destroy`,
        id: String(vmid),
        fail: `${label} is locked (${lock})`,
      });
    return ctx.startTask({
      node: guest.node,
      type: `${typePrefix(type)}destroy`,
      id: String(vmid),
      lock: { guest, lock: 'destroyed' },
      run: () => {
        const lines: string[] = [];
        if (guest.running) stopGuest(guest);
        const referenced = new Set(cluster.disksOf(type, guest.config).map((d) => d.volid));
        for (const snap of guest.snapshots.values())
          for (const d of cluster.disksOf(type, snap.config)) referenced.add(d.volid);
        if (guest.config.vmstate) referenced.add(guest.config.vmstate);
        for (const volid of ownedVolumes(cluster, guest)) {
          if (!referenced.has(volid) && !unreferenced) continue;
          cluster.removeVolume(guest.node, volid);
          lines.push(`  Logical volume "${volid.split(':')[1]}" successfully removed.`);
        }
        cluster.guests.delete(vmid);
        cluster.poolRemove(vmid);
        // qemu-server and pve-container remove its firewall config (remove_vmfw_conf).
        cluster.firewall.removeGuest(vmid);
        if (purge && ha) {
          cluster.ha.delete(ha.sid);
          lines.push(
            `purging ${label} ${vmid} from related configurations..`,
            `NOTE: removed ${label} ${vmid} from HA resource configuration.`,
          );
        }
        return lines;
      },
    });
  };
}

export function migrateGuest(type: GuestType) {
  return (ctx: Ctx) => {
    const { cluster } = ctx;
    const guest = guestFor(ctx, type);
    const label = guestLabel(type);
    const target = str(ctx, 'target') ?? '';
    const online = bool(ctx, 'online');
    const restart = bool(ctx, 'restart');
    if (target === guest.node)
      throw new PveError(400, 'Parameter verification failed.', {
        target: 'target is local node.',
      });
    const targetNode = cluster.nodes.get(target);
    if (!targetNode) throw fail(`no such cluster node '${target}'`);
    if (!targetNode.online) throw fail(`target node '${target}' is not online`);
    if (type === 'qemu') cluster.assertUnlocked(guest);
    if (guest.running) {
      if (type === 'qemu' && !online) throw fail(`can't migrate running VM without --online`);
      if (type === 'lxc' && !restart && !online)
        throw fail("can't migrate running container without --online or --restart");
    }
    const disks = cluster.disksOf(type, guest.config);
    /**
     * pve-container's migration checks the lock, online mode and storages in its worker
     * (PVE/LXC/Migrate.pm prepare); pve-guest-common PVE/AbstractMigrate.pm migrate logs the error
     * and ends the task with `migration aborted`.
     */
    const lxcPrepare = (): TaskError | undefined => {
      if (type !== 'lxc') return undefined;
      const refusal = (() => {
        if (guest.config.lock) return `CT is locked (${guest.config.lock})`;
        if (guest.running && online) return 'lxc live migration is currently not implemented';
        for (const d of disks) {
          const sid = d.volid.split(':')[0] ?? '';
          const s = cluster.storages.get(sid);
          if (!s) return `storage '${sid}' does not exist`;
          if (s.disabled) return `storage '${sid}' is disabled`;
          if (s.nodes && !s.nodes.includes(guest.node))
            return `storage '${sid}' is not available on node '${guest.node}'`;
          if (!s.content.includes('rootdir'))
            return `content type 'rootdir' is not available on storage '${sid}'`;
          const targetsid = s.shared ? sid : (str(ctx, 'target-storage') ?? sid);
          const t = cluster.storages.get(targetsid);
          if (!t) return `storage '${targetsid}' does not exist`;
          if (t.disabled) return `storage '${targetsid}' is disabled`;
          if (t.nodes && !t.nodes.includes(target))
            return `storage '${targetsid}' is not available on node '${target}'`;
          if (!t.content.includes('rootdir'))
            return `${d.volid}: content type 'rootdir' is not available on storage '${targetsid}'`;
        }
        return undefined;
      })();
      return refusal
        ? new TaskError('migration aborted', [
            `ERROR: migration aborted (duration 00:00:00): ${refusal}`,
          ])
        : undefined;
    };
    const localDisks = disks.filter((d) => !cluster.storageShared(d.volid.split(':')[0] ?? ''));
    // Found while the migration task scans the volumes (qemu-server PVE/QemuMigrate.pm), so the
    // task fails, not the request.
    const blocked =
      type === 'qemu' && guest.running && localDisks.length && !bool(ctx, 'with-local-disks')
        ? localDisks[0]?.volid
        : undefined;
    const targetstorage = str(ctx, 'targetstorage');
    for (const d of type === 'qemu' ? disks : []) {
      const store = targetstorage ?? d.volid.split(':')[0] ?? '';
      const s = cluster.storages.get(store);
      if (!s || (s.nodes && !s.nodes.includes(target))) {
        throw fail(`storage '${store}' is not available on node '${target}'`);
      }
    }
    const ha = cluster.haOf(guest.vmid);
    ctx.count(`${type}.migrate`);
    const source = guest.node;
    const migrate: Omit<TaskSpec, 'user' | 'id'> = {
      node: source,
      type: `${typePrefix(type)}igrate`.replace('vzigrate', 'vzmigrate'),
      lock: { guest, lock: 'migrate' },
      log: [`starting migration of ${label} ${guest.vmid} to node '${target}' (${targetNode.ip})`],
      steps: blocked
        ? []
        : localDisks.map((d) => `copying local disk '${d.volid}' to node '${target}'`),
      run: () => {
        if (blocked)
          throw new TaskError('migration aborted', [
            `ERROR: can't migrate local disk '${blocked}': can't live migrate attached local disks without with-local-disks option`,
            "ERROR: Problem found while scanning volumes - can't migrate VM - check log",
          ]);
        for (const d of localDisks) {
          const vol = cluster.volume(source, d.volid);
          if (!vol) continue;
          cluster.removeVolume(source, d.volid);
          cluster.addVolume({ ...vol, node: target });
        }
        const wasRunning = guest.running;
        guest.node = target;
        if (type === 'lxc' && wasRunning && restart) startGuest(guest, ctx.clock.now());
        return [
          `migration finished successfully (duration 00:00:0${Math.min(9, 1 + localDisks.length)})`,
        ];
      },
    };
    if (ha)
      return haRequest(
        ctx,
        guest,
        ha,
        {
          type: 'hamigrate',
          log: `Requesting HA migration for ${label} ${guest.vmid} to node ${target}`,
          done: () => guest.node === target,
        },
        () => {
          const refused = lxcPrepare();
          return refused
            ? {
                node: source,
                type: migrate.type,
                durationMs: 100,
                run: () => {
                  throw refused;
                },
              }
            : migrate;
        },
      );
    const refused = lxcPrepare();
    if (refused)
      return ctx.startTask({
        node: source,
        type: migrate.type,
        id: String(guest.vmid),
        log: refused.lines,
        fail: refused.message,
      });
    return ctx.startTask({ ...migrate, id: String(guest.vmid) });
  };
}

function templateGuest(type: GuestType) {
  return (ctx: Ctx) => {
    const { cluster } = ctx;
    const guest = guestFor(ctx, type);
    const label = guestLabel(type);
    // Lock, snapshots, template, running (qemu-server PVE/API2/Qemu.pm template,
    // pve-container PVE/API2/LXC.pm template).
    cluster.assertUnlocked(guest);
    if (guest.snapshots.size)
      throw fail(`unable to create template, because ${label} contains snapshots`);
    if (cluster.isTemplate(guest)) throw fail("you can't convert a template to a template");
    if (guest.running)
      throw fail(
        type === 'qemu'
          ? "you can't convert a VM to template if VM is running"
          : "you can't convert a CT to template if the CT is running",
      );
    const upid = ctx.startTask({
      node: guest.node,
      type: `${typePrefix(type)}template`,
      id: String(guest.vmid),
      lock: { guest, lock: 'create' },
      run: () => {
        for (const d of cluster.disksOf(type, guest.config)) {
          if (d.key.startsWith('unused')) continue;
          const renamed = d.volid
            .replace(/:vm-(\d+)-disk/, ':base-$1-disk')
            .replace(/\/vm-(\d+)-disk/, '/base-$1-disk');
          if (renamed === d.volid) continue;
          const vol = cluster.volume(guest.node, d.volid);
          cluster.removeVolume(guest.node, d.volid);
          if (vol) cluster.addVolume({ ...vol, volid: renamed });
          guest.config[d.key] = (guest.config[d.key] ?? '').replace(d.volid, renamed);
        }
        guest.config.template = '1';
        return [];
      },
    });
    // LXC starts the task but answers null.
    return type === 'qemu' ? upid : null;
  };
}

export function guestRoutes(type: GuestType): Routes {
  const base = `/nodes/{node}/${type}`;
  const routes: Routes = {
    [`GET ${base}`]: (ctx) => list(ctx, type),
    [`POST ${base}`]: createGuest(type),
    [`DELETE ${base}/{vmid}`]: destroyGuest(type),
    [`GET ${base}/{vmid}/status/current`]: (ctx) => statusCurrent(ctx, type),
    [`GET ${base}/{vmid}/config`]: (ctx) => getConfig(ctx, type),
    [`PUT ${base}/{vmid}/config`]: (ctx) => {
      updateConfig(ctx, guestFor(ctx, type));
      ctx.count(`${type}.config`);
      return null;
    },
    [`GET ${base}/{vmid}/pending`]: (ctx) => pending(ctx, type),
    [`POST ${base}/{vmid}/clone`]: cloneGuest(type),
    [`POST ${base}/{vmid}/migrate`]: migrateGuest(type),
    [`POST ${base}/{vmid}/template`]: templateGuest(type),
    [`PUT ${base}/{vmid}/resize`]: resizeGuest(type),
    [`GET ${base}/{vmid}/rrddata`]: (ctx) =>
      guestRrd(
        ctx.cluster,
        guestFor(ctx, type),
        (str(ctx, 'timeframe') ?? 'hour') as Timeframe,
        str(ctx, 'cf') === 'MAX' ? 'MAX' : 'AVERAGE',
      ),
  };
  const actions =
    type === 'qemu'
      ? ['start', 'stop', 'shutdown', 'reboot', 'reset', 'suspend', 'resume']
      : ['start', 'stop', 'shutdown', 'reboot', 'suspend', 'resume'];
  for (const action of actions)
    routes[`POST ${base}/{vmid}/status/${action}`] = powerAction(type, action);
  if (type === 'qemu') {
    // POST config runs as a qmconfig task; the change is made at once so that errors are the
    // caller's, and with background_delay the answer is null as when PVE's task ends in time.
    routes[`POST ${base}/{vmid}/config`] = (ctx) => {
      const guest = guestFor(ctx, type);
      const log = updateConfig(ctx, guest);
      ctx.count(`${type}.config`);
      const upid = ctx.startTask({
        node: guest.node,
        type: 'qmconfig',
        id: String(guest.vmid),
        log,
        durationMs: 200,
      });
      return num(ctx, 'background_delay') ? null : upid;
    };
  }
  return routes;
}
