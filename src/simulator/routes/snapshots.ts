/** Snapshot trees of VMs and containers: list, create, config, rollback, delete. */
import type { Ctx, Routes } from '../context.js';
import { bool, num, str } from '../context.js';
import type { GuestType } from '../dataset-types.js';
import { fail } from '../errors.js';
import {
  type Config,
  guestLabel,
  missingConfig,
  type SimGuest,
  type SimSnapshot,
} from '../state.js';
import { guestFor, nodeParam } from './guest-common.js';

const prefix = (type: GuestType) => (type === 'qemu' ? 'qm' : 'vz');

function snapshotOf(guest: SimGuest, name: string) {
  const snap = guest.snapshots.get(name);
  if (!snap) throw fail(`snapshot '${name}' does not exist`);
  return snap;
}

/** The config a snapshot keeps: everything but the keys that describe the live guest. */
function frozenConfig(config: Config): Config {
  const { lock: _lock, parent: _parent, ...rest } = config;
  return rest;
}

export function snapshotRoutes(type: GuestType): Routes {
  const base = `/nodes/{node}/${type}/{vmid}/snapshot`;
  const label = guestLabel(type);
  return {
    [`GET ${base}`]: (ctx: Ctx) => {
      const guest = guestFor(ctx, type);
      const list: Record<string, unknown>[] = [...guest.snapshots.values()].map((s) => {
        const row: Record<string, unknown> = {
          name: s.name,
          description: s.description,
          snaptime: s.snaptime,
        };
        if (s.parent) row.parent = s.parent;
        if (type === 'qemu') row.vmstate = s.vmstate ? 1 : 0;
        if (s.snapstate) row.snapstate = s.snapstate;
        return row;
      });
      const current: Record<string, unknown> = {
        name: 'current',
        description: 'You are here!',
        running: guest.running ? 1 : 0,
      };
      if (guest.config.parent) current.parent = guest.config.parent;
      // Both lists carry the config digest in their `current` entry (qemu-server PVE/API2/Qemu.pm,
      // pve-container PVE/API2/LXC/Snapshot.pm snapshot_list).
      current.digest = ctx.cluster.digest(guest);
      list.push(current);
      return list;
    },

    [`POST ${base}`]: (ctx: Ctx) => {
      const { cluster } = ctx;
      const node = nodeParam(ctx);
      const vmid = num(ctx, 'vmid') ?? 0;
      const name = str(ctx, 'snapname') ?? '';
      // Refused before the config is read: qemu-server PVE/API2/Qemu.pm snapshot reserves
      // 'current' and, in any case, 'pending'; pve-container PVE/API2/LXC/Snapshot.pm 'current'
      // and 'vzdump'.
      const reserved =
        name === 'current'
          ? 'current'
          : type === 'qemu' && name.toLowerCase() === 'pending'
            ? 'pending'
            : type === 'lxc' && name === 'vzdump'
              ? 'vzdump'
              : undefined;
      if (reserved) throw fail(`unable to use snapshot name '${reserved}' (reserved name)`);
      // qemu-server loads the config before forking (check_non_migratable_resources); pve-container
      // only in the worker.
      const guest = type === 'qemu' ? guestFor(ctx, type) : cluster.findGuest(node, vmid, type);
      const task = { node, type: `${prefix(type)}snapshot`, id: String(vmid) };
      // The worker's checks, in pve-guest-common PVE/AbstractConfig.pm __snapshot_prepare's
      // order: config, template, lock, name.
      const refusal = !guest
        ? missingConfig(node, vmid, type)
        : cluster.isTemplate(guest)
          ? "you can't take a snapshot if it's a template"
          : guest.config.lock
            ? `${label} is locked (${guest.config.lock})`
            : guest.snapshots.has(name)
              ? `snapshot name '${name}' already used`
              : undefined;
      ctx.count(`${type}.snapshot`);
      if (refusal || !guest) return ctx.startTask({ ...task, fail: refusal });
      const vmstate = type === 'qemu' && bool(ctx, 'vmstate') && guest.running;
      // The worker first writes the snapshot with `snapstate: prepare`, and clears it when done
      // (pve-guest-common PVE/AbstractConfig.pm snapshot_prepare, snapshot_commit).
      const snap: SimSnapshot = {
        name,
        description: str(ctx, 'description') ?? '',
        snaptime: ctx.clock.seconds(),
        vmstate,
        parent: guest.config.parent,
        config: frozenConfig(guest.config),
        snapstate: 'prepare',
      };
      guest.snapshots.set(name, snap);
      return ctx.startTask({
        ...task,
        lock: { guest, lock: 'snapshot' },
        durationMs: vmstate ? 5_000 : undefined,
        log: vmstate ? ["saving VM state and RAM using storage 'local-lvm'"] : [],
        steps: vmstate
          ? ['1.51 GiB in 2s', 'completed saving the VM state in 4s, saved 3.02 GiB']
          : [],
        run: () => {
          delete snap.snapstate;
          guest.config.parent = name;
          return [];
        },
        abort: () => {
          guest.snapshots.delete(name);
        },
      });
    },

    [`GET ${base}/{snapname}/config`]: (ctx: Ctx) => {
      const guest = guestFor(ctx, type);
      const snap = snapshotOf(guest, str(ctx, 'snapname') ?? '');
      const out: Record<string, unknown> = {
        ...snap.config,
        snaptime: snap.snaptime,
        description: snap.description,
      };
      if (snap.parent) out.parent = snap.parent;
      if (snap.vmstate) out.vmstate = 1;
      return out;
    },

    [`PUT ${base}/{snapname}/config`]: (ctx: Ctx) => {
      // Without a description there is nothing to do, not even a config to read; then config,
      // lock, snapshot (qemu-server PVE/API2/Qemu.pm, pve-container PVE/API2/LXC/Snapshot.pm
      // update_snapshot_config).
      const description = str(ctx, 'description');
      if (description === undefined) return null;
      const guest = guestFor(ctx, type);
      ctx.cluster.assertUnlocked(guest);
      const snap = snapshotOf(guest, str(ctx, 'snapname') ?? '');
      snap.description = description;
      return null;
    },

    [`POST ${base}/{snapname}/rollback`]: (ctx: Ctx) => {
      const { cluster } = ctx;
      const node = nodeParam(ctx);
      const vmid = num(ctx, 'vmid') ?? 0;
      const name = str(ctx, 'snapname') ?? '';
      const guest = cluster.findGuest(node, vmid, type);
      const snap = guest?.snapshots.get(name);
      const start = bool(ctx, 'start');
      ctx.count(`${type}.rollback`);
      const task = { node, type: `${prefix(type)}rollback`, id: String(vmid) };
      // Everything is checked in the worker (pve-guest-common PVE/AbstractConfig.pm
      // snapshot_rollback): config, snapshot, its state, then the lock.
      const refusal = !guest
        ? missingConfig(node, vmid, type)
        : !snap
          ? `snapshot '${name}' does not exist`
          : snap.snapstate
            ? `unable to rollback to incomplete snapshot (snapstate = ${snap.snapstate})`
            : guest.config.lock
              ? `${label} is locked (${guest.config.lock})`
              : undefined;
      if (refusal || !guest || !snap) return ctx.startTask({ ...task, fail: refusal });
      return ctx.startTask({
        ...task,
        lock: { guest, lock: 'rollback' },
        log: guest.running ? [`stopping ${label} ${guest.vmid} before rollback`] : [],
        run: () => {
          guest.config = { ...snap.config, parent: snap.name };
          guest.pending = {};
          guest.pendingDelete.clear();
          // A snapshot with RAM resumes the guest as it was; one without leaves it stopped.
          if (snap.vmstate) {
            guest.running = true;
            guest.paused = false;
            guest.startedAt = ctx.clock.now();
          } else {
            guest.running = false;
            guest.paused = false;
          }
          if (start && !guest.running) {
            guest.running = true;
            guest.startedAt = ctx.clock.now();
          }
          return [];
        },
      });
    },

    [`DELETE ${base}/{snapname}`]: (ctx: Ctx) => {
      const { cluster } = ctx;
      const node = nodeParam(ctx);
      const vmid = num(ctx, 'vmid') ?? 0;
      const name = str(ctx, 'snapname') ?? '';
      const guest = cluster.findGuest(node, vmid, type);
      const snap = guest?.snapshots.get(name);
      ctx.count(`${type}.delsnapshot`);
      const task = { node, type: `${prefix(type)}delsnapshot`, id: String(vmid) };
      // In the worker (pve-guest-common PVE/AbstractConfig.pm snapshot_delete): config, snapshot,
      // then set_lock, which refuses a locked guest whether or not `force` is given.
      const refusal = !guest
        ? missingConfig(node, vmid, type)
        : !snap
          ? `snapshot '${name}' does not exist`
          : guest.config.lock
            ? `${label} is locked (${guest.config.lock})`
            : undefined;
      if (refusal || !guest || !snap) return ctx.startTask({ ...task, fail: refusal });
      snap.snapstate = 'delete';
      return ctx.startTask({
        ...task,
        lock: { guest, lock: 'snapshot-delete' },
        abort: () => {
          delete snap.snapstate;
        },
        run: () => {
          for (const other of guest.snapshots.values()) {
            if (other.parent === name) other.parent = snap.parent;
          }
          if (guest.config.parent === name) {
            if (snap.parent) guest.config.parent = snap.parent;
            else delete guest.config.parent;
          }
          guest.snapshots.delete(name);
          return [];
        },
      });
    },
  };
}
