/**
 * QEMU VMs and LXC containers: listing, status, power actions, config, create, delete, clone,
 * migrate, template and resize. One set of handlers serves both kinds; where PVE treats them
 * differently (pre-fork checks, messages, task types) the difference is spelled out.
 */
import {
  formatPropertyString,
  formatSize,
  parsePropertyString,
  parseSize,
} from '../../contract/propstring.js';
import type { Ctx, Routes } from '../context.js';
import { bool, num, str } from '../context.js';
import type { GuestType } from '../dataset-types.js';
import { macFor } from '../datasets.js';
import { fail, PveError, TaskError } from '../errors.js';
import { guestRrd, guestUsage, type Timeframe } from '../metrics.js';
import {
  type Cluster,
  type Config,
  guestLabel,
  isDiskKey,
  missingConfig,
  parseDisk,
  type SimGuest,
  type SimHaResource,
  unsupportedContent,
} from '../state.js';
import type { TaskSpec } from '../tasks.js';

/** Keys a running VM cannot change until its next start (hotplug covers network, disk, usb). */
const QEMU_COLD_KEYS = new Set([
  'cores',
  'sockets',
  'memory',
  'cpu',
  'machine',
  'bios',
  'agent',
  'vga',
  'scsihw',
  'ostype',
  'numa',
  'hugepages',
  'args',
  'balloon',
  'vcpus',
  'cpulimit',
  'cpuunits',
  'tablet',
  'kvm',
  'acpi',
  'efidisk0',
  'tpmstate0',
]);

/** Parameters of create/update that are not stored in the config. */
const NOT_CONFIG = new Set([
  'node',
  'vmid',
  'digest',
  'delete',
  'revert',
  'skiplock',
  'background_delay',
  'start',
  'pool',
  'storage',
  'archive',
  'force',
  'unique',
  'bwlimit',
  'live-restore',
  'password',
  'ssh-public-keys',
  'ostemplate',
  'restore',
  'ignore-unpack-errors',
  'ha-managed',
  'import-working-storage',
]);

const typePrefix = (type: GuestType) => (type === 'qemu' ? 'qm' : 'vz');

export function nodeParam(ctx: Ctx): string {
  const node = str(ctx, 'node') ?? '';
  if (!ctx.cluster.nodes.has(node)) throw fail(`no such cluster node '${node}'`);
  return node;
}

export function guestFor(ctx: Ctx, type: GuestType): SimGuest {
  return ctx.cluster.guestOn(nodeParam(ctx), num(ctx, 'vmid') ?? 0, type);
}

function skiplock(ctx: Ctx): boolean {
  if (!bool(ctx, 'skiplock')) return false;
  // A parameter exception: 400 with the error on the parameter (qemu-server, pve-container).
  if (ctx.auth.userid !== 'root@pam' || ctx.auth.tokenid)
    throw new PveError(400, 'Parameter verification failed.', {
      skiplock: 'Only root may use this option.',
    });
  return true;
}

/** A vmid in use anywhere in the cluster (pve-cluster PVE/Cluster.pm check_vmid_unused). */
const vmidTaken = (existing: SimGuest) =>
  `${guestLabel(existing.type)} ${existing.vmid} already exists on node '${existing.node}'`;

/** A pool that does not exist is a 403 (pve-access-control PVE/RPCEnvironment.pm check_pool_exist). */
function checkPool(ctx: Ctx, pool: string | undefined): void {
  if (pool !== undefined && !ctx.cluster.pools.has(pool))
    throw new PveError(403, `Permission check failed (pool '${pool}' does not exist)`);
}

/** create_vm's own refusal names nothing: raise_perm_exc() without an argument (pve-common). */
const notAllowed = () => new PveError(403, 'Permission check failed');

/** The config as GET shows it: pending values applied unless `current` is asked for. */
function viewConfig(guest: SimGuest, current: boolean): Config {
  if (current) return { ...guest.config };
  const view = { ...guest.config, ...guest.pending };
  for (const key of guest.pendingDelete) delete view[key];
  return view;
}

function applyPending(guest: SimGuest): void {
  Object.assign(guest.config, guest.pending);
  for (const key of guest.pendingDelete) delete guest.config[key];
  guest.pending = {};
  guest.pendingDelete.clear();
}

/** Adds a generated MAC address to a NIC given without one (`virtio,bridge=vmbr0`). */
function completeNet(
  cluster: Cluster,
  type: GuestType,
  vmid: number,
  key: string,
  value: string,
): string {
  if (type === 'qemu') {
    const opts = parsePropertyString(value, 'model');
    if (opts.model) {
      const { model, macaddr, ...rest } = opts;
      return formatPropertyString({
        [model]: macaddr ?? macFor(cluster.seed + vmid, key),
        ...rest,
      });
    }
    return value;
  }
  const opts = parsePropertyString(value);
  if (!opts.hwaddr) opts.hwaddr = macFor(cluster.seed + vmid, key);
  if (!opts.type) opts.type = 'veth';
  return formatPropertyString(opts);
}

/**
 * Turns create/update parameters into config entries: new disks given as `storage:size` are
 * allocated, NICs get MAC addresses, booleans are stored as 0/1.
 */
function configEntries(
  ctx: Ctx,
  guest: { type: GuestType; vmid: number; node: string },
  allocated: string[],
  update = false,
) {
  const { cluster } = ctx;
  const out: Config = {};
  for (const [key, raw] of Object.entries(ctx.params)) {
    if (NOT_CONFIG.has(key)) continue;
    let value =
      typeof raw === 'boolean'
        ? raw
          ? '1'
          : '0'
        : Array.isArray(raw)
          ? raw.join(',')
          : String(raw);
    if (isDiskKey(guest.type, key))
      value = allocateFromSpec(cluster, guest, key, value, allocated, update);
    if (/^net\d+$/.test(key)) value = completeNet(cluster, guest.type, guest.vmid, key, value);
    out[key] = value;
  }
  return out;
}

function allocateFromSpec(
  cluster: Cluster,
  guest: { type: GuestType; vmid: number; node: string },
  key: string,
  value: string,
  allocated: string[],
  update: boolean,
): string {
  const defaultKey = guest.type === 'lxc' && key !== 'rootfs' ? 'volume' : 'file';
  const opts = parsePropertyString(value, defaultKey);
  const spec = opts[defaultKey] ?? '';
  if (opts.media === 'cdrom' || spec === 'none' || spec === 'cdrom') {
    if (spec && spec !== 'none' && spec !== 'cdrom' && !cluster.volume(guest.node, spec)) {
      throw fail(`volume '${spec}' does not exist`);
    }
    return value;
  }
  const m = /^([a-z][a-z0-9\-_.]*[a-z0-9]):(\d+(?:\.\d+)?)$/i.exec(spec);
  if (m) {
    const size = Math.round(Number(m[2]) * 2 ** 30);
    const store = cluster.storages.get(m[1] as string);
    // A container's config update refuses such a storage in its own words, not as a parameter
    // error (pve-container PVE/LXC/Config.pm update_pct_config).
    if (update && guest.type === 'lxc' && store && !store.content.includes('rootdir'))
      throw fail(`storage '${store.storage}' does not allow content type 'rootdir' (Container)`);
    const volid = cluster.allocateDisk(guest.node, m[1] as string, guest.vmid, size, guest.type);
    allocated.push(volid);
    return formatPropertyString(
      { ...opts, [defaultKey]: volid, size: formatSize(size) },
      defaultKey,
    );
  }
  if (spec.includes(':') && !cluster.volume(guest.node, spec))
    throw fail(`volume '${spec}' does not exist`);
  return value;
}

/**
 * qemu-server's check of the storages new disks (`storage:size`) go to, before it creates or
 * changes anything: the storage must exist and hold VM images (PVE/API2/Qemu.pm
 * $check_storage_access). Whether the node has it is found when the disk is allocated.
 */
function checkNewDiskStorages(ctx: Ctx, type: GuestType): void {
  for (const [key, raw] of Object.entries(ctx.params)) {
    if (!isDiskKey(type, key) || typeof raw !== 'string') continue;
    const opts = parsePropertyString(raw, 'file');
    if (opts.media === 'cdrom') continue;
    const m = /^([a-z][a-z0-9\-_.]*[a-z0-9]):(\d+(?:\.\d+)?)$/i.exec(opts.file ?? '');
    if (!m) continue;
    const storage = ctx.cluster.storages.get(m[1] as string);
    if (!storage) throw fail(`storage '${m[1]}' does not exist`);
    if (!storage.content.includes('images')) throw unsupportedContent(type, storage.storage);
  }
}

/** An allocation refused inside a task: the task fails with the refusal's text. */
function taskFailure(err: unknown): TaskError {
  const { message, errors } = err as PveError;
  return new TaskError(errors ? (Object.values(errors)[0] ?? message) : message);
}

function freeVolumes(cluster: Cluster, node: string, volids: string[]) {
  for (const volid of volids) cluster.removeVolume(node, volid);
}

/** All volumes a guest owns on storages it can see, referenced or not. */
function ownedVolumes(cluster: Cluster, guest: SimGuest) {
  const out = new Set<string>();
  for (const v of cluster.volumes.values()) {
    if (
      v.vmid === guest.vmid &&
      v.content !== 'backup' &&
      v.content !== 'iso' &&
      v.content !== 'vztmpl' &&
      (!v.node || v.node === guest.node)
    ) {
      out.add(v.volid);
    }
  }
  return [...out];
}

function checkBridges(cluster: Cluster, guest: SimGuest): void {
  const bridges = new Set(
    cluster.nodes
      .get(guest.node)
      ?.networks.filter((n) => n.type === 'bridge' || n.type === 'OVSBridge')
      .map((n) => n.iface),
  );
  for (const [key, value] of Object.entries(guest.config)) {
    if (!/^net\d+$/.test(key)) continue;
    const bridge = parsePropertyString(value, guest.type === 'qemu' ? 'model' : undefined).bridge;
    if (bridge && !bridges.has(bridge)) throw new TaskError(`bridge '${bridge}' does not exist`);
  }
}

function startGuest(guest: SimGuest, now: number): void {
  applyPending(guest);
  guest.running = true;
  guest.paused = false;
  delete guest.checkpoint;
  guest.startedAt = now;
  guest.agentProcesses.clear();
}

function stopGuest(guest: SimGuest): void {
  guest.running = false;
  guest.paused = false;
  guest.agentProcesses.clear();
}

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

/**
 * For a guest under HA, start, stop, shutdown and migrate only ask the HA stack: a short task
 * (`hastart`, `hastop`, `hamigrate`) records the request and ends OK at once; the HA manager then
 * acts in a task of its own, as root@pam, or leaves the service in `error` when that fails
 * (qemu-server PVE/API2/Qemu.pm, pve-container PVE/LXC/Status.pm; pve-ha-manager).
 */
function haRequest(
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
function missingGuestAction(
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
function powerAction(type: GuestType, action: string) {
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
        const stuck = guest.ignoreShutdown && guest.running;
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
              return ['VM still running - terminating now with SIGTERM'];
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

/** Applies a config update (PUT, or the work of POST's qmconfig task). Returns a log summary. */
function updateConfig(ctx: Ctx, guest: SimGuest): string[] {
  const { cluster } = ctx;
  const digest = str(ctx, 'digest');
  const skip = skiplock(ctx);
  const deletes = (str(ctx, 'delete') ?? '').split(/[,; ]+/).filter(Boolean);
  const reverts = (str(ctx, 'revert') ?? '').split(/[,; ]+/).filter(Boolean);
  // A key both set and deleted; PVE's own quoting, one quote short (qemu-server PVE/API2/Qemu.pm
  // $update_vm_api, pve-container PVE/API2/LXC/Config.pm update_vm).
  const bothSetAndDeleted = () => {
    for (const key of deletes) {
      if (key in ctx.params)
        throw new PveError(400, 'Parameter verification failed.', {
          delete: `you can't use '-${key}' and -delete ${key}' at the same time`,
        });
    }
  };
  if (guest.type === 'qemu') {
    // qemu-server checks the parameters and new disks' storages first, then loads the config:
    // digest, then lock.
    bothSetAndDeleted();
    checkNewDiskStorages(ctx, 'qemu');
    if (digest && digest !== cluster.digest(guest))
      throw fail('checksum mismatch (file change by other user?)');
    if (!skip) cluster.assertUnlocked(guest);
  } else {
    // pve-container: lock, digest (PVE/Tools.pm assert_if_modified), then the parameters.
    if (!skip) cluster.assertUnlocked(guest);
    if (digest && digest !== cluster.digest(guest))
      throw fail('detected modified configuration - file changed by other user? Try again.');
    bothSetAndDeleted();
  }
  const allocated: string[] = [];
  let entries: Config;
  try {
    entries = configEntries(ctx, guest, allocated, true);
  } catch (err) {
    freeVolumes(cluster, guest.node, allocated);
    throw err;
  }
  const cold = guest.type === 'qemu' && guest.running;
  const log: string[] = [];
  for (const key of reverts) {
    delete guest.pending[key];
    guest.pendingDelete.delete(key);
  }
  for (const [key, value] of Object.entries(entries)) {
    log.push(`update ${guestLabel(guest.type)} ${guest.vmid}: -${key} ${value}`);
    if (cold && QEMU_COLD_KEYS.has(key)) {
      guest.pending[key] = value;
      guest.pendingDelete.delete(key);
      continue;
    }
    const old = guest.config[key];
    if (old !== undefined && isDiskKey(guest.type, key)) detachDisk(guest, key, old, value);
    guest.config[key] = value;
  }
  for (const key of deletes) {
    if (cold && QEMU_COLD_KEYS.has(key)) {
      if (key in guest.config) guest.pendingDelete.add(key);
      delete guest.pending[key];
      continue;
    }
    delete guest.pending[key];
    const old = guest.config[key];
    if (old === undefined) continue;
    if (isDiskKey(guest.type, key)) {
      if (key.startsWith('unused')) {
        const disk = parseDisk(guest.type, key, old);
        if (disk) cluster.removeVolume(guest.node, disk.volid);
      } else {
        detachDisk(guest, key, old, undefined);
      }
    }
    delete guest.config[key];
  }
  return log;
}

/** A disk replaced or removed is kept as the next free `unusedN`, as PVE does. */
function detachDisk(
  guest: SimGuest,
  key: string,
  old: string,
  replacement: string | undefined,
): void {
  const disk = parseDisk(guest.type, key, old);
  if (!disk) return;
  const next = replacement ? parseDisk(guest.type, key, replacement) : undefined;
  if (next?.volid === disk.volid) return;
  let n = 0;
  while (`unused${n}` in guest.config) n++;
  guest.config[`unused${n}`] = disk.volid;
}

function createGuest(type: GuestType) {
  return (ctx: Ctx) => {
    const { cluster } = ctx;
    const node = nodeParam(ctx);
    const vmid = num(ctx, 'vmid') ?? 0;
    const label = guestLabel(type);
    const pool = str(ctx, 'pool');
    const archive =
      type === 'qemu'
        ? str(ctx, 'archive')
        : bool(ctx, 'restore')
          ? str(ctx, 'ostemplate')
          : undefined;
    if (archive) return restoreGuest(ctx, type, node, vmid, archive);
    const existing = cluster.guests.get(vmid);
    // pve-container PVE/API2/LXC.pm create_vm checks the vmid first (pve-cluster PVE/Cluster.pm
    // check_vmid_unused); qemu-server PVE/API2/Qemu.pm create_vm only when it creates the config,
    // after the pool, the permission and the new disks' storages.
    if (type === 'lxc' && existing) throw fail(vmidTaken(existing));
    checkPool(ctx, pool);
    if (
      !ctx.access.has(ctx.auth, `/vms/${vmid}`, 'VM.Allocate') &&
      !(pool && ctx.access.has(ctx.auth, `/pool/${pool}`, 'VM.Allocate'))
    ) {
      throw notAllowed();
    }
    if (type === 'qemu') checkNewDiskStorages(ctx, type);
    if (existing) throw fail(`unable to create ${label} ${vmid} - ${vmidTaken(existing)}`);
    let ostype: string | undefined;
    let missingTemplate: string | undefined;
    if (type === 'lxc') {
      const template = str(ctx, 'ostemplate');
      if (!template)
        throw new PveError(400, 'Parameter verification failed.', {
          ostemplate: 'property is missing and it is not optional',
        });
      // pve-storage check_volume_access reads the content type from the name; whether the file is
      // there the worker finds out (pve-container PVE/LXC/Create.pm restore_archive).
      cluster.assertVolumeType(template, 'vztmpl');
      if (cluster.volume(node, template)?.content !== 'vztmpl') missingTemplate = template;
      ostype = /alpine/.test(template)
        ? 'alpine'
        : /ubuntu/.test(template)
          ? 'ubuntu'
          : /centos|rocky|alma/.test(template)
            ? 'centos'
            : 'debian';
      if (!ctx.params.rootfs) {
        const fallback = [...cluster.storages.values()].find(
          (s) => s.content.includes('rootdir') && (!s.nodes || s.nodes.includes(node)),
        );
        ctx.params.rootfs = `${fallback?.storage ?? 'local'}:4`;
      }
    }
    const allocated: string[] = [];
    let config: Config;
    try {
      config = configEntries(ctx, { type, vmid, node }, allocated);
    } catch (err) {
      freeVolumes(cluster, node, allocated);
      throw err;
    }
    if (type === 'qemu') {
      config.smbios1 ??= `uuid=${macFor(cluster.seed, `uuid${vmid}`).toLowerCase()}`;
      config.meta ??= `creation-qemu=9.2.0,ctime=${ctx.clock.seconds()}`;
    } else {
      config.ostype ??= ostype ?? 'debian';
      config.arch ??= 'amd64';
    }
    const guest = cluster.addGuest(
      { vmid, type, node, config: { ...config, lock: 'create' } },
      pool,
    );
    ctx.count('guest.create');
    const start = bool(ctx, 'start');
    return ctx.startTask({
      node,
      type: `${typePrefix(type)}create`,
      id: String(vmid),
      lock: { guest, lock: 'create' },
      log: allocated.map((v) => `  Logical volume "${v.split(':')[1]}" created.`),
      run: () => {
        // The volume's activation fails, first warned about by the OCI format check, then as the
        // extraction's error (pve-container PVE/LXC/Create.pm archive_is_oci_format,
        // restore_archive; pve-storage PVE/Storage/Plugin.pm activate_volume). The new disks and
        // config go.
        if (missingTemplate)
          throw new TaskError(
            `unable to create CT ${vmid} - volume '${missingTemplate}' does not exist`,
            [`volume '${missingTemplate}' does not exist`],
          );
        delete guest.config.lock;
        if (start) startGuest(guest, ctx.clock.now());
        return [];
      },
      abort: () => {
        cluster.guests.delete(vmid);
        cluster.poolRemove(vmid);
        freeVolumes(cluster, node, allocated);
      },
    });
  };
}

/** Restores a backup into a new guest, or over an existing one with `force`. */
function restoreGuest(
  ctx: Ctx,
  type: GuestType,
  node: string,
  vmid: number,
  archive: string,
): string {
  const { cluster } = ctx;
  const label = guestLabel(type);
  const existing = cluster.guests.get(vmid);
  const force = bool(ctx, 'force');
  const pool = str(ctx, 'pool');
  // Overwriting takes force and the guest's config on this node (`-f` of the local config file).
  const overwrite =
    force && existing?.type === type && existing.node === node ? existing : undefined;
  if (type === 'lxc') {
    // pve-container PVE/API2/LXC.pm create_vm, before anything else: a vmid taken by anything but
    // this node's container being overwritten, or that container running.
    if (existing && !overwrite) throw fail(vmidTaken(existing));
    if (overwrite?.running) throw fail("can't overwrite running container");
    if (overwrite?.config.protection === '1')
      throw fail(`unable to restore CT ${vmid} - protection mode enabled`);
  }
  checkPool(ctx, pool);
  const allowed =
    ctx.access.has(ctx.auth, `/vms/${vmid}`, 'VM.Allocate') ||
    (pool && ctx.access.has(ctx.auth, `/pool/${pool}`, 'VM.Allocate')) ||
    (overwrite && ctx.access.has(ctx.auth, `/vms/${vmid}`, 'VM.Backup'));
  if (!allowed) throw notAllowed();
  // pve-storage PVE/Storage.pm check_volume_access reads the content type from the name.
  // qemu-server then activates the archive before forking ($classify_restore_archive: the plugin's
  // activate_volume finds it missing); pve-container reads it only in its worker.
  cluster.assertVolumeType(archive, 'backup');
  const found = cluster.volume(node, archive);
  const vol = found?.backup ? found : undefined;
  if (type === 'qemu' && !vol) throw fail(`volume '${archive}' does not exist`);
  if (existing) {
    // qemu-server: create_and_lock_config (pve-guest-common PVE/AbstractConfig.pm) refuses a
    // taken vmid without force.
    if (!force) throw fail(`unable to restore ${label} ${vmid} - ${vmidTaken(existing)}`);
    if (existing.node !== node)
      throw fail(
        `unable to restore ${label} ${vmid} - ${label} ${vmid} already exists on node '${existing.node}'`,
      );
    if (existing.type !== type)
      throw fail(`unable to restore ${label} ${vmid} - it is a ${guestLabel(existing.type)}`);
  }
  // A container restore goes to `storage`, by default `local`, which must hold container volumes
  // (pve-container PVE/API2/LXC.pm create_vm); a VM goes back to its original storages.
  const targetStorage = str(ctx, 'storage') ?? (type === 'lxc' ? 'local' : undefined);
  if (
    type === 'lxc' &&
    targetStorage &&
    !cluster.storageOn(node, targetStorage).content.includes('rootdir')
  )
    throw unsupportedContent('lxc', targetStorage);
  if (overwrite) {
    // create_and_lock_config refuses a locked guest, prefixed as create_vm prefixes its errors.
    const lock = overwrite.config.lock;
    if (lock) throw fail(`unable to restore ${label} ${vmid} - ${label} is locked (${lock})`);
  }
  // What the worker finds before it restores anything; the guest is left as it was.
  // qemu-server PVE/API2/Qemu.pm create_vm $restorefn: protection (its prefix ends in ' -', so
  // the dash doubles), running, then the archive itself (PVE/QemuServer.pm restore_file_archive,
  // restore_tar_archive; restore_proxmox_backup_archive). pve-container PVE/API2/LXC.pm create_vm:
  // the archive's config (PVE/LXC/Create.pm recover_config, pve-storage
  // extract_vzdump_config_tar), each error prefixed.
  const pbsFormat = (t: GuestType) => `pbs-${t === 'qemu' ? 'vm' : 'ct'}`;
  const isPbs = cluster.storages.get(archive.split(':')[0] ?? '')?.type === 'pbs';
  const refusal =
    type === 'qemu'
      ? overwrite?.config.protection === '1'
        ? `unable to restore VM ${vmid} - - protection mode enabled`
        : overwrite?.running
          ? `unable to restore VM ${vmid} - vm is running`
          : vol && vol.backup?.type !== 'qemu'
            ? isPbs
              ? `got unexpected backup format '${pbsFormat('lxc')}'`
              : `ERROR: file '${cluster.archivePath(archive)}' does not look like a QemuServer vzdump backup`
            : undefined
      : !vol
        ? `unable to restore CT ${vmid} - volume '${archive}' does not exist`
        : vol.backup?.type !== 'lxc'
          ? isPbs
            ? `unable to restore CT ${vmid} - got unexpected backup format '${pbsFormat('qemu')}'`
            : `unable to restore CT ${vmid} - ERROR: archive contains no configuration file`
          : undefined;
  if (refusal || !vol?.backup)
    return ctx.startTask({
      node,
      type: `${typePrefix(type)}restore`,
      id: String(vmid),
      log: type === 'lxc' ? [`recovering backed-up configuration from '${archive}'`] : [],
      fail: refusal,
    });
  const source = vol.backup.config;
  const previous = existing
    ? { config: { ...existing.config }, volumes: ownedVolumes(cluster, existing) }
    : undefined;
  const guest =
    existing ??
    cluster.addGuest({
      vmid,
      type,
      node,
      config: {},
      agentRunning: Boolean(source.agent?.startsWith('1')),
      diskUsage: 0.3,
    });
  guest.config.lock = 'create';
  if (pool) cluster.poolAdd(pool, vmid);
  ctx.count('guest.create');
  const allocated: string[] = [];
  return ctx.startTask({
    node,
    type: `${typePrefix(type)}restore`,
    id: String(vmid),
    lock: { guest, lock: 'create' },
    log: [`restore vma archive: ${archive}`],
    steps: [
      'progress 25% (read 25% of archive)',
      'progress 50% (read 50% of archive)',
      'progress 75% (read 75% of archive)',
      'progress 100% (read 100% of archive)',
    ],
    run: () => {
      if (previous) freeVolumes(cluster, node, previous.volumes);
      const config: Config = {};
      const lines: string[] = [];
      for (const [key, value] of Object.entries(source)) {
        if (key === 'lock' || key === 'parent') continue;
        if (isDiskKey(type, key) && !key.startsWith('unused')) {
          const disk = parseDisk(type, key, value);
          if (disk) {
            const storage = targetStorage ?? disk.volid.split(':')[0] ?? 'local-lvm';
            const size = parseSize(disk.opts.size ?? '') ?? 8 * 2 ** 30;
            // qemu-server's restore asks this of each target storage in its own words
            // (PVE/QemuServer.pm $parse_backup_hints).
            const store = cluster.storages.get(storage);
            if (type === 'qemu' && store && !store.content.includes('images'))
              throw new TaskError(`Content type 'images' is not available on storage '${storage}'`);
            let volid: string;
            try {
              volid = cluster.allocateDisk(node, storage, vmid, size, type);
            } catch (err) {
              throw taskFailure(err);
            }
            allocated.push(volid);
            const defaultKey = type === 'lxc' && key !== 'rootfs' ? 'volume' : 'file';
            config[key] = formatPropertyString(
              { ...disk.opts, file: undefined, volume: undefined, [defaultKey]: volid },
              defaultKey,
            );
            lines.push(`new volume ID is '${volid}'`);
            continue;
          }
        }
        if (key.startsWith('unused')) continue;
        config[key] =
          /^net\d+$/.test(key) && bool(ctx, 'unique')
            ? regenerateMac(cluster, type, vmid, key, value)
            : value;
      }
      guest.config = config;
      guest.snapshots.clear();
      guest.pending = {};
      guest.pendingDelete.clear();
      if (bool(ctx, 'start')) startGuest(guest, ctx.clock.now());
      return lines;
    },
    abort: () => {
      freeVolumes(cluster, node, allocated);
      if (previous) guest.config = previous.config;
      else {
        cluster.guests.delete(vmid);
        cluster.poolRemove(vmid);
      }
    },
  });
}

function regenerateMac(
  cluster: Cluster,
  type: GuestType,
  vmid: number,
  key: string,
  value: string,
): string {
  if (type === 'qemu') {
    const opts = parsePropertyString(value);
    const model = Object.keys(opts).find((k) =>
      /^[0-9A-F]{2}(:[0-9A-F]{2}){5}$/i.test(opts[k] ?? ''),
    );
    if (model) opts[model] = macFor(cluster.seed + vmid, key);
    return formatPropertyString(opts);
  }
  const opts = parsePropertyString(value);
  opts.hwaddr = macFor(cluster.seed + vmid, key);
  return formatPropertyString(opts);
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

/**
 * Whether a storage can make a linked clone of this volume (pve-storage volume_has_feature
 * 'clone'): of a base volume, or of a snapshot, as each plugin allows. A directory-like storage
 * clones only to qcow2, which a container cannot use (PVE/Storage/Plugin.pm).
 */
function linkedCloneSupported(
  cluster: Cluster,
  type: GuestType,
  volid: string,
  snapname: string | undefined,
): boolean {
  const [sid = '', name = ''] = volid.split(':');
  const storage = cluster.storages.get(sid);
  const base = /^base-/.test(name.split('/').pop() ?? '');
  const key = snapname ? 'snap' : base ? 'base' : 'current';
  switch (storage?.type) {
    case 'lvmthin':
    case 'rbd':
      return key !== 'current';
    case 'zfspool':
      return key === 'base';
    case 'dir':
    case 'nfs':
    case 'cifs':
    case 'cephfs':
      return type === 'qemu' && key === 'base';
    default:
      return false;
  }
}

function cloneGuest(type: GuestType) {
  return (ctx: Ctx) => {
    const { cluster } = ctx;
    const source = guestFor(ctx, type);
    const label = guestLabel(type);
    const newid = num(ctx, 'newid') ?? 0;
    const target = str(ctx, 'target') ?? source.node;
    const isTemplate = cluster.isTemplate(source);
    const full = ctx.params.full === undefined ? !isTemplate : bool(ctx, 'full');
    const storage = str(ctx, 'storage');
    const pool = str(ctx, 'pool');
    const snapname = str(ctx, 'snapname');
    // The order is PVE's (qemu-server PVE/API2/Qemu.pm clone_vm $load_and_check, pve-container
    // PVE/API2/LXC.pm clone_vm), all before any task starts unless said otherwise.
    checkPool(ctx, pool);
    const targetNode = cluster.nodes.get(target);
    if (!targetNode) throw fail(`no such cluster node '${target}'`);
    if (!targetNode.online) throw fail(`target node '${target}' is not online`);
    if (storage) {
      // The storage on this node (qemu-server: holding VM images), on the target node, and shared
      // when that is another node.
      const s = cluster.storageOn(source.node, storage);
      if (type === 'qemu' && !s.content.includes('images'))
        throw unsupportedContent('qemu', storage);
      if (target !== source.node) {
        cluster.storageOn(target, storage);
        if (!s.shared) throw fail(`can't clone to non-shared storage '${storage}'`);
      }
    }
    cluster.assertUnlocked(source);
    const existing = cluster.guests.get(newid);
    // pve-container creates the new config first: any guest with that vmid, the source itself
    // included, is refused as pve-cluster PVE/Cluster.pm check_vmid_unused says.
    if (type === 'lxc' && existing) throw fail(vmidTaken(existing));
    const snapshotCheck = () => {
      if (snapname && !source.snapshots.has(snapname))
        throw fail(`snapshot '${snapname}' does not exist`);
    };
    if (type === 'qemu') snapshotCheck();
    if (storage && !full) throw fail("parameter 'storage' not allowed for linked clones");
    if (type === 'lxc') snapshotCheck();
    const from = snapname
      ? (source.snapshots.get(snapname)?.config ?? source.config)
      : source.config;
    const disks = cluster.disksOf(type, from).filter((d) => !d.key.startsWith('unused'));
    // Each volume in key order, before any task: a linked clone needs the storage's clone feature
    // for it (qemu-server PVE/API2/Qemu.pm clone_vm, pve-container PVE/API2/LXC.pm clone_vm).
    for (const d of [...disks].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))) {
      if (type === 'lxc') {
        if (full && source.running && !snapname)
          throw fail('Full clone of a running container is only possible from a snapshot');
        if (!full && !linkedCloneSupported(cluster, type, d.volid, snapname))
          throw fail(`Linked clone feature for '${d.volid}' is not available`);
        continue;
      }
      // Cloud-init drives and TPM state are always copied.
      if (full || d.key === 'tpmstate0' || /[:/](vm-\d+-)?cloudinit(\.\w+)?$/.test(d.volid))
        continue;
      if (!linkedCloneSupported(cluster, type, d.volid, snapname))
        throw fail(
          `Linked clone feature is not supported for${snapname ? ' a snapshot of' : ''} '${d.volid}' (${d.key})`,
        );
    }
    // To another node, every volume (a local ISO in a CD drive too) and the target storage must
    // be shared, full clones included.
    if (target !== source.node) {
      const volumes = [
        ...disks.map((d) => d.volid),
        ...Object.entries(from)
          .filter(([k, v]) => /^(ide|sata|scsi)\d+$/.test(k) && /media=cdrom/.test(String(v)))
          .map(([, v]) => String(v).split(',')[0] ?? '')
          .filter((v) => v.includes(':')),
      ];
      const local = [...volumes.map((v) => v.split(':')[0] ?? ''), ...(storage ? [storage] : [])];
      if (local.some((id) => !cluster.storages.get(id)?.shared))
        throw fail(`can't clone ${label} to node '${target}' (${label} uses local storage)`);
    }
    if (existing) {
      // qemu-server looks only for a config file of that vmid on this node (the source itself
      // included). Any other guest with that vmid is found when the worker writes the new config:
      // pmxcfs refuses the rename, and the task fails.
      if (existing.type === 'qemu' && existing.node === source.node)
        throw fail(`unable to create VM ${newid}: config file already exists`);
      return ctx.startTask({
        node: source.node,
        type: 'qmclone',
        id: String(source.vmid),
        fail: `close (rename) atomic file '/etc/pve/nodes/${source.node}/qemu-server/${newid}.conf' failed: File exists`,
      });
    }
    for (const d of disks) cluster.storageOn(target, storage ?? d.volid.split(':')[0] ?? '');
    const config: Config = {};
    for (const [key, value] of Object.entries(from)) {
      if (
        ['lock', 'parent', 'template', 'snaptime', 'vmstate', 'description'].includes(key) ||
        key.startsWith('unused')
      )
        continue;
      config[key] = /^net\d+$/.test(key) ? regenerateMac(cluster, type, newid, key, value) : value;
    }
    // A VM clone is named Copy-of-VM-<name>; a container clone keeps its source's hostname.
    const nameKey = type === 'qemu' ? 'name' : 'hostname';
    config[nameKey] =
      str(ctx, nameKey) ??
      (type === 'qemu'
        ? `Copy-of-${label}-${from[nameKey] ?? source.vmid}`
        : (from[nameKey] ?? `CT${newid}`));
    const description = str(ctx, 'description');
    if (description) config.description = description;
    const clone = cluster.addGuest(
      {
        vmid: newid,
        type,
        node: target,
        config: { ...config, lock: 'clone' },
        agentRunning: source.agentRunning,
        diskUsage: source.diskUsage,
      },
      pool,
    );
    ctx.count('guest.create');
    const allocated: string[] = [];
    const kind = full ? 'full' : 'linked';
    const log = disks.map((d) => `create ${kind} clone of drive ${d.key} (${d.volid})`);
    return ctx.startTask({
      node: source.node,
      type: `${typePrefix(type)}clone`,
      id: String(source.vmid),
      lock: { guest: clone, lock: 'clone' },
      log,
      steps: full
        ? ['transferred 25%', 'transferred 50%', 'transferred 75%', 'transferred 100%'].map(
            (p) => `drive mirror: ${p}`,
          )
        : [],
      durationMs: full ? undefined : 1_500,
      run: () => {
        for (const d of disks) {
          const store = storage ?? d.volid.split(':')[0] ?? '';
          let volid: string;
          try {
            volid = cluster.allocateDisk(target, store, newid, d.size, type);
          } catch (err) {
            throw taskFailure(err);
          }
          allocated.push(volid);
          if (!full && /^base-/.test(d.volid.split('/').pop()?.split(':').pop() ?? '')) {
            // A linked clone's volume names its base: base-9000-disk-0/vm-150-disk-0.
            const base = d.volid.split(':')[1] ?? '';
            const linked = `${store}:${base}/${volid.split(':')[1]}`;
            const vol = cluster.volume(target, volid);
            cluster.removeVolume(target, volid);
            if (vol) cluster.addVolume({ ...vol, volid: linked });
            allocated[allocated.length - 1] = linked;
            volid = linked;
          }
          const defaultKey = type === 'lxc' && d.key !== 'rootfs' ? 'volume' : 'file';
          const opts = parsePropertyString(from[d.key] ?? '', defaultKey);
          clone.config[d.key] = formatPropertyString({ ...opts, [defaultKey]: volid }, defaultKey);
        }
        return [];
      },
      abort: () => {
        cluster.guests.delete(newid);
        cluster.poolRemove(newid);
        freeVolumes(cluster, target, allocated);
      },
    });
  };
}

function migrateGuest(type: GuestType) {
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

function resizeGuest(type: GuestType) {
  return (ctx: Ctx) => {
    const { cluster } = ctx;
    const node = nodeParam(ctx);
    const vmid = num(ctx, 'vmid') ?? 0;
    const diskKey = str(ctx, 'disk') ?? '';
    const sizeText = str(ctx, 'size') ?? '';
    const digest = str(ctx, 'digest');
    /** The disk and its sizes, or the refusal in PVE's words. */
    const measure = (guest: SimGuest) => {
      const value = guest.config[diskKey] ?? '';
      const disk = value ? parseDisk(type, diskKey, value) : undefined;
      const current = parseSize(disk?.opts.size ?? '') ?? 0;
      const m = /^(\+)?(\d+(?:\.\d+)?[KMGT]?)$/.exec(sizeText);
      const amount = m ? (parseSize(m[2] ?? '') ?? 0) : 0;
      const next = Math.floor(m?.[1] ? current + amount : amount);
      return { value, disk, current, next };
    };
    let guest: SimGuest;
    let sizes: ReturnType<typeof measure>;
    if (type === 'qemu') {
      // qemu-server PVE/API2/Qemu.pm resize_vm checks only `skiplock` before forking; the worker
      // loads the config and checks digest, lock, disk and size.
      const skip = skiplock(ctx);
      const found = cluster.findGuest(node, vmid, type);
      const measured = found && measure(found);
      const refusal = !found
        ? missingConfig(node, vmid, type)
        : digest && digest !== cluster.digest(found)
          ? 'checksum mismatch (file change by other user?)'
          : !skip && found.config.lock
            ? `VM is locked (${found.config.lock})`
            : !measured?.value
              ? `disk '${diskKey}' does not exist`
              : !measured.disk && /media=cdrom/.test(measured.value)
                ? "you can't resize a cdrom"
                : measured.next < measured.current
                  ? 'shrinking disks is not supported'
                  : undefined;
      if (refusal || !found || !measured)
        return ctx.startTask({ node, type: 'resize', id: String(vmid), fail: refusal });
      guest = found;
      sizes = measured;
    } else {
      // pve-container PVE/API2/LXC.pm resize_vm runs its checks before forking: config, lock,
      // digest, then the mount point, which parse_volume reads from an empty string for a key
      // the config lacks: pve-common PVE/JSONSchema.pm parse_property_string's `format error`,
      // a plain die (500) with the missing properties.
      guest = guestFor(ctx, type);
      cluster.assertUnlocked(guest);
      if (digest && digest !== cluster.digest(guest))
        throw fail('detected modified configuration - file changed by other user? Try again.');
      sizes = measure(guest);
      if (!sizes.value) {
        const missing = 'property is missing and it is not optional';
        throw new PveError(
          500,
          'format error',
          diskKey === 'rootfs' ? { volume: missing } : { volume: missing, mp: missing },
        );
      }
      if (sizes.next < sizes.current) throw fail('unable to shrink disk size');
      if (sizes.next === sizes.current) throw fail('disk is already at specified size');
    }
    const { value, disk, current, next } = sizes;
    return ctx.startTask({
      node: guest.node,
      type: 'resize',
      id: String(guest.vmid),
      run: () => {
        if (next === current || !disk) return [];
        const defaultKey = type === 'lxc' && diskKey !== 'rootfs' ? 'volume' : 'file';
        const opts = parsePropertyString(value, defaultKey);
        guest.config[diskKey] = formatPropertyString(
          { ...opts, size: formatSize(next) },
          defaultKey,
        );
        const vol = cluster.volume(guest.node, disk.volid);
        if (vol) vol.size = next;
        return [
          `  Size of logical volume ${disk.volid} changed from ${formatSize(current)} to ${formatSize(next)}.`,
        ];
      },
    });
  };
}

function pending(ctx: Ctx, type: GuestType) {
  const guest = guestFor(ctx, type);
  const keys = new Set([
    ...Object.keys(guest.config),
    ...Object.keys(guest.pending),
    ...guest.pendingDelete,
  ]);
  return [...keys].sort().map((key) => {
    const row: Record<string, unknown> = { key };
    if (key in guest.config) row.value = guest.config[key];
    if (key in guest.pending) row.pending = guest.pending[key];
    if (guest.pendingDelete.has(key)) row.delete = 1;
    return row;
  });
}

/**
 * Config values as PVE's JSON carries them: numbers for integer and boolean keys, strings for the
 * rest, `number`-typed keys such as `cpulimit` included (qemu-server PVE/QemuServer.pm and
 * pve-container PVE/LXC/Config.pm check_type return `int()` for integers, the text for numbers).
 */
function typedConfig(ctx: Ctx, config: Config): Record<string, string | number> {
  const props = ctx.op.returns.properties ?? {};
  const out: Record<string, string | number> = {};
  for (const [key, value] of Object.entries(config)) {
    const type = (props[key] ?? props[key.replace(/\d+$/, '[n]')])?.type;
    const numeric = (type === 'integer' || type === 'boolean') && /^-?\d+(\.\d+)?$/.test(value);
    out[key] = numeric ? Number(value) : value;
  }
  return out;
}

function getConfig(ctx: Ctx, type: GuestType) {
  const guest = guestFor(ctx, type);
  const snapname = str(ctx, 'snapshot');
  let config: Config;
  if (snapname) {
    const snap = guest.snapshots.get(snapname);
    if (!snap) throw fail(`snapshot '${snapname}' does not exist`);
    config = snap.config;
  } else {
    config = viewConfig(guest, bool(ctx, 'current'));
  }
  return { ...typedConfig(ctx, config), digest: ctx.cluster.digest(guest) };
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
