/**
 * Power actions of VMs and containers, with PVE's pre-fork checks and in-task outcomes, and the
 * HA stack's requests.
 */
import type { Ctx } from '../context.js';
import { bool, num, str } from '../context.js';
import type { GuestType } from '../dataset-types.js';
import { fail, PveError, TaskError } from '../errors.js';
import { guestUsage } from '../metrics.js';
import { guestLabel, missingConfig, type SimGuest, type SimHaResource } from '../state.js';
import { DURATIONS, type TaskSpec } from '../tasks.js';
import {
  checkBridges,
  nodeParam,
  skiplock,
  startGuest,
  stopGuest,
  typePrefix,
} from './guest-common.js';

/**
 * For a guest under HA, start, stop, shutdown and migrate only ask the HA stack: a short task
 * (`hastart`, `hastop`, `hamigrate`) records the request and ends OK at once; the HA manager then
 * acts in a task of its own, as root@pam, or leaves the service in `error` when that fails
 * (qemu-server PVE/API2/Qemu.pm, pve-container PVE/LXC/Status.pm; pve-ha-manager).
 */
export function haRequest(
  ctx: Ctx,
  guest: SimGuest,
  ha: SimHaResource,
  request: {
    type: 'hastart' | 'hastop' | 'hamigrate';
    state?: 'started' | 'stopped';
    log: string;
    /** The service is already where it was asked to be: the manager has nothing to do. */
    done: () => boolean;
  },
  /** What the manager does; a function is asked when the manager acts. */
  act: Omit<TaskSpec, 'user' | 'id'> | (() => Omit<TaskSpec, 'user' | 'id'>),
): string {
  return ctx.startTask({
    node: guest.node,
    type: request.type,
    id: String(guest.vmid),
    durationMs: 100,
    log: [request.log],
    run: () => {
      if (request.state) ha.state = request.state;
      // A service in error stays so until an administrator disables it (`ha-manager set --state
      // disabled`); the manager acts on nothing else meanwhile.
      if (ha.error || request.done()) return [];
      const spec = typeof act === 'function' ? act() : act;
      ctx.tasks.start({
        ...spec,
        id: String(guest.vmid),
        user: 'root@pam',
        run: () => {
          try {
            return spec.run?.() ?? [];
          } catch (err) {
            if (err instanceof TaskError) ha.error = err.message;
            throw err;
          }
        },
      });
      return [];
    },
  });
}

/**
 * A power action on a guest whose config is not on this node, as each handler meets it: qemu-server
 * vm_start loads the config in its worker, vm_stop finds it missing there (QemuServer.pm
 * _do_vm_stop, check_running), and reset, reboot, suspend and resume ask check_running before
 * forking (PVE/QemuConfig.pm assert_config_exists_on_node); pve-container's start loads it in its
 * worker, and the others only see a container that is not running (pve-container
 * PVE/API2/LXC/Status.pm, which words reboot's refusal as "VM").
 */
export function missingGuestAction(
  ctx: Ctx,
  type: GuestType,
  action: string,
  node: string,
  vmid: number,
): string {
  const task = (fail: string) =>
    ctx.startTask({ node, type: `${typePrefix(type)}${action}`, id: String(vmid), fail });
  if (type === 'qemu') {
    if (action === 'start') return task(missingConfig(node, vmid, type));
    const unknown = `unable to find configuration file for VM ${vmid} on node '${node}'`;
    if (action === 'stop' || action === 'shutdown') return task(unknown);
    throw fail(unknown);
  }
  if (action === 'start') return task(missingConfig(node, vmid, type));
  if (action === 'reboot') throw fail(`VM ${vmid} not running`);
  if (action === 'resume')
    return task(
      `command 'lxc-checkpoint -n ${vmid} -r --foreground -D /var/lib/vz/dump' failed: exit code 1`,
    );
  throw fail(`CT ${vmid} not running`);
}

/** The power actions, with PVE's pre-fork checks and in-task outcomes. */
export function powerAction(type: GuestType, action: string) {
  return (ctx: Ctx) => {
    const { cluster, clock } = ctx;
    const vmid = num(ctx, 'vmid') ?? 0;
    const requested = nodeParam(ctx);
    // `skiplock` by anyone but root is refused before the config is looked at.
    const skip = skiplock(ctx);
    const found = cluster.findGuest(requested, vmid, type);
    if (!found) return missingGuestAction(ctx, type, action, requested, vmid);
    const guest = found;
    const label = guestLabel(type);
    const id = String(guest.vmid);
    const ha = cluster.haOf(guest.vmid);
    const lockCheck = () => {
      const lock = guest.config.lock;
      if (
        lock &&
        !skip &&
        !(action === 'start' && lock === 'suspended') &&
        !(action === 'resume' && lock === 'suspended') &&
        // pve-container's start and stop pass a container that is only `mounted`
        // (PVE/API2/LXC/Status.pm vm_start, vm_stop).
        !(type === 'lxc' && lock === 'mounted' && (action === 'start' || action === 'stop'))
      ) {
        throw new TaskError(`${label} is locked (${lock})`);
      }
    };
    ctx.count(`${type}.${action}`);
    const node = guest.node;
    /** Start or stop asked of the HA stack, with `act` as what its manager then does. */
    const viaHa = (ha: SimHaResource, kind: 'start' | 'stop', act: Omit<TaskSpec, 'user' | 'id'>) =>
      haRequest(
        ctx,
        guest,
        ha,
        {
          type: kind === 'start' ? 'hastart' : 'hastop',
          state: kind === 'start' ? 'started' : 'stopped',
          log: `Requesting HA ${kind} for ${label} ${id}`,
          done: () => guest.running === (kind === 'start'),
        },
        act,
      );
    switch (action) {
      case 'start': {
        if (type === 'lxc' && guest.running) throw fail(`CT ${id} already running`);
        const start = {
          node,
          type: `${typePrefix(type)}start`,
          run: () => {
            // qemu-server PVE/QemuServer.pm vm_start; pve-container PVE/API2/LXC/Status.pm vm_start.
            if (cluster.isTemplate(guest))
              throw new TaskError(
                type === 'qemu'
                  ? "you can't start a vm if it's a template"
                  : "you can't start a CT if it's a template",
              );
            lockCheck();
            if (guest.running) throw new TaskError(`${label} ${id} already running`);
            checkBridges(cluster, guest);
            const resumed = guest.config.lock === 'suspended';
            if (resumed) delete guest.config.lock;
            startGuest(guest, clock.now());
            return resumed ? ['resuming VM from saved state'] : [];
          },
        };
        if (ha && !str(ctx, 'stateuri')) return viaHa(ha, 'start', start);
        return ctx.startTask({ ...start, id });
      }
      case 'stop': {
        if (type === 'lxc' && !guest.running) throw fail(`CT ${id} not running`);
        // qemu-server PVE/API2/Qemu.pm vm_stop (not for a migration's stop), pve-container
        // PVE/API2/LXC/Status.pm vm_stop: a parameter error.
        if (ha && !(type === 'qemu' && str(ctx, 'migratedfrom')) && bool(ctx, 'overrule-shutdown'))
          throw new PveError(400, 'Parameter verification failed.', {
            'overrule-shutdown': 'Not applicable for HA resources.',
          });
        const stop = {
          node,
          type: `${typePrefix(type)}stop`,
          run: () => {
            // qemu-server PVE/QemuServer.pm _do_vm_stop returns before it loads the config when
            // the VM is not running: no lock check then.
            if (!guest.running) return [];
            lockCheck();
            stopGuest(guest);
            return [];
          },
        };
        if (ha && !str(ctx, 'migratedfrom')) return viaHa(ha, 'stop', stop);
        return ctx.startTask({ ...stop, id });
      }
      case 'shutdown': {
        if (!guest.running) {
          if (type === 'lxc') throw fail(`CT ${id} not running`);
        }
        const force = bool(ctx, 'forceStop');
        if (type === 'qemu' && guest.paused && !force) throw fail('VM is paused - cannot shutdown');
        const timeout = num(ctx, 'timeout') ?? (type === 'lxc' ? 60 : 180);
        // The guest is still up when the timeout runs out if it ignores ACPI or powers down more
        // slowly (its task's usual time) than the timeout lets it: then it is stopped hard or the
        // shutdown fails (qemu-server PVE/QemuServer.pm _do_vm_stop waits `timeout` seconds;
        // pve-container PVE/LXC.pm vm_stop runs lxc-stop with --timeout).
        const stuck =
          guest.running &&
          (guest.ignoreShutdown ||
            timeout * 1000 < (DURATIONS[`${typePrefix(type)}shutdown`] ?? 0));
        const shutdown = {
          node,
          type: `${typePrefix(type)}shutdown`,
          durationMs: stuck ? timeout * 1000 : undefined,
          run: () => {
            // A stopped VM: _do_vm_stop returns first, without a lock check (qemu-server).
            if (!guest.running) return [];
            lockCheck();
            if (stuck || (guest.paused && force)) {
              if (!force) {
                throw new TaskError(
                  type === 'qemu'
                    ? 'VM quit/powerdown failed - got timeout'
                    : `container did not stop`,
                );
              }
              stopGuest(guest);
              // qemu-server's vm_stop says so; lxc-stop kills after its timeout without a word
              // (pve-container PVE/LXC.pm vm_stop).
              return type === 'qemu' ? ['VM still running - terminating now with SIGTERM'] : [];
            }
            stopGuest(guest);
            return [];
          },
        };
        if (ha) return viaHa(ha, 'stop', shutdown);
        return ctx.startTask({ ...shutdown, id });
      }
      case 'reboot': {
        // Both kinds say "VM" here, and a paused VM fails as its shutdown would.
        if (!guest.running) throw fail(`VM ${id} not running`);
        if (type === 'qemu' && guest.paused) throw fail('VM is paused - cannot shutdown');
        if (type === 'lxc') {
          // pve-container PVE/LXC.pm vm_reboot checks no lock and stops with kill-after-timeout
          // (`lxc-stop` without --nokill), so a container ignoring the shutdown is killed when the
          // timeout (lxc-stop's 60 s by default) runs out. Its start then goes through the prestart
          // hook, which refuses a locked container (src/lxc-pve-prestart-hook): stopped, failed.
          return ctx.startTask({
            node,
            type: 'vzreboot',
            id,
            durationMs: guest.ignoreShutdown ? (num(ctx, 'timeout') ?? 60) * 1000 : undefined,
            run: () => {
              if (!guest.running) return [];
              const lock = guest.config.lock;
              if (lock && lock !== 'mounted') {
                stopGuest(guest);
                throw new TaskError(
                  `command 'systemctl start pve-container@${id}' failed: exit code 1`,
                );
              }
              startGuest(guest, clock.now());
              return [];
            },
          });
        }
        return ctx.startTask({
          node,
          type: `${typePrefix(type)}reboot`,
          id,
          durationMs: guest.ignoreShutdown ? (num(ctx, 'timeout') ?? 180) * 1000 : undefined,
          run: () => {
            lockCheck();
            if (guest.ignoreShutdown) throw new TaskError('VM quit/powerdown failed - got timeout');
            startGuest(guest, clock.now());
            return [];
          },
        });
      }
      case 'reset': {
        if (!guest.running) throw fail(`VM ${id} not running`);
        return ctx.startTask({
          node,
          type: 'qmreset',
          id,
          run: () => {
            lockCheck();
            guest.startedAt = clock.now();
            guest.paused = false;
            return [];
          },
        });
      }
      case 'suspend': {
        if (!guest.running) throw fail(`${label} ${id} not running`);
        const todisk = type === 'qemu' && bool(ctx, 'todisk');
        if (todisk && ha) throw fail('Cannot suspend HA managed VM to disk');
        if (todisk) {
          return ctx.startTask({
            node,
            type: 'qmsuspend',
            id,
            lock: { guest, lock: 'suspending' },
            run: () => {
              stopGuest(guest);
              guest.config.lock = 'suspended';
              const storage = str(ctx, 'statestorage') ?? 'local-lvm';
              const volid = cluster.allocateDisk(
                node,
                storage,
                guest.vmid,
                guestUsage(cluster, guest).maxmem * 2,
                'qemu',
              );
              guest.config.vmstate = volid;
              return [`suspend vm to disk`, `saving VM state and RAM using storage '${storage}'`];
            },
            abort: () => undefined,
          });
        }
        if (type === 'lxc')
          // A container's suspend is a CRIU checkpoint (`lxc-checkpoint -s`), experimental in PVE:
          // the container stops, its state saved for resume (pve-container PVE/LXC/Status.pm).
          return ctx.startTask({
            node,
            type: 'vzsuspend',
            id,
            run: () => {
              lockCheck();
              stopGuest(guest);
              guest.checkpoint = true;
              return [];
            },
          });
        return ctx.startTask({
          node,
          type: 'qmpause',
          id,
          run: () => {
            lockCheck();
            guest.paused = true;
            return [];
          },
        });
      }
      case 'resume': {
        if (type === 'lxc') {
          // `lxc-checkpoint -r` restores a checkpoint; a running container is refused before the
          // task, a container without a checkpoint fails in it (pve-container PVE/LXC/Status.pm).
          if (guest.running) throw fail(`CT ${id} already running`);
          return ctx.startTask({
            node,
            type: 'vzresume',
            id,
            // No lock check: the worker only runs lxc-checkpoint (pve-container
            // PVE/API2/LXC/Status.pm vm_resume).
            run: () => {
              if (!guest.checkpoint)
                throw new TaskError(
                  `command 'lxc-checkpoint -n ${id} -r --foreground -D /var/lib/vz/dump' failed: exit code 1`,
                );
              startGuest(guest, clock.now());
              return [];
            },
          });
        }
        const suspendedToDisk = guest.config.lock === 'suspended';
        if (!guest.running && !suspendedToDisk) throw fail(`${label} ${id} not running`);
        return ctx.startTask({
          node,
          type: `${typePrefix(type)}resume`,
          id,
          run: () => {
            if (suspendedToDisk) {
              delete guest.config.lock;
              const state = guest.config.vmstate;
              if (state) cluster.removeVolume(node, state);
              delete guest.config.vmstate;
              startGuest(guest, clock.now());
              return ['resuming VM from saved state'];
            }
            lockCheck();
            guest.paused = false;
            return [];
          },
        });
      }
      default:
        throw new PveError(501, `Method 'POST ${action}' not implemented`);
    }
  };
}
