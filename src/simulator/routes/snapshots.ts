/** Snapshot trees of VMs and containers: list, create, config, rollback, delete. */
import type { Ctx, Routes } from '../context.js';
import { bool, str } from '../context.js';
import type { GuestType } from '../dataset-types.js';
import { fail } from '../errors.js';
import { type Config, guestLabel, type SimGuest, type SimSnapshot } from '../state.js';
import { guestFor, nodeParam } from './guests.js';

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
      // QEMU's list carries the config digest in its `current` entry (qemu-server snapshot_list).
      if (type === 'qemu') current.digest = ctx.cluster.digest(guest);
      list.push(current);
      return list;
    },

    [`POST ${base}`]: (ctx: Ctx) => {
      const { cluster } = ctx;
      nodeParam(ctx);
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
      const guest = guestFor(ctx, type);
      if (guest.snapshots.has(name)) throw fail(`snapshot name '${name}' already used`);
      cluster.assertUnlocked(guest);
      const vmstate = type === 'qemu' && bool(ctx, 'vmstate') && guest.running;
      ctx.count(`${type}.snapshot`);
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
        node: guest.node,
        type: `${prefix(type)}snapshot`,
        id: String(guest.vmid),
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
      const guest = guestFor(ctx, type);
      const snap = snapshotOf(guest, str(ctx, 'snapname') ?? '');
      const description = str(ctx, 'description');
      if (description !== undefined) snap.description = description;
      return null;
    },

    [`POST ${base}/{snapname}/rollback`]: (ctx: Ctx) => {
      const guest = guestFor(ctx, type);
      const snap = snapshotOf(guest, str(ctx, 'snapname') ?? '');
      const start = bool(ctx, 'start');
      ctx.count(`${type}.rollback`);
      // The worker checks the lock (PVE/AbstractConfig.pm snapshot_rollback): the task fails.
      if (guest.config.lock)
        return ctx.startTask({
          node: guest.node,
          type: `${prefix(type)}rollback`,
          id: String(guest.vmid),
          fail: `${guestLabel(type)} is locked (${guest.config.lock})`,
        });
      return ctx.startTask({
        node: guest.node,
        type: `${prefix(type)}rollback`,
        id: String(guest.vmid),
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
      const guest = guestFor(ctx, type);
      const name = str(ctx, 'snapname') ?? '';
      const snap = snapshotOf(guest, name);
      const force = bool(ctx, 'force');
      if (!force) cluster.assertUnlocked(guest);
      ctx.count(`${type}.delsnapshot`);
      snap.snapstate = 'delete';
      return ctx.startTask({
        node: guest.node,
        type: `${prefix(type)}delsnapshot`,
        id: String(guest.vmid),
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
