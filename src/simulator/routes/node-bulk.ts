/**
 * A node's bulk actions, as pve-manager PVE/API2/Nodes.pm runs them: startall, stopall, suspendall
 * and migrateall each start one task whose worker calls the guests' own start, shutdown, suspend
 * and migrate handlers, so the guests' tasks (`qmstart`, `vzshutdown`, `hastart`, `qmigrate`, ...)
 * are those a call for each guest starts. The worker sleeps and polls on simulated time as the
 * Perl does (TaskEngine workers).
 */
import { listOf } from '../../contract/formats.js';
import { parsePropertyString } from '../../contract/propstring.js';
import type { Ctx, Handler, Routes } from '../context.js';
import { bool, num, str } from '../context.js';
import { fail, PveError, paramError, permissionError, TaskError } from '../errors.js';
import { guestLabel, type SimGuest } from '../state.js';
import type { Worker, WorkerIo } from '../tasks.js';
import { nodeParam } from './guest-common.js';
import { powerAction } from './guest-power.js';
import { migrateGuest } from './guests.js';

interface Startup {
  order?: number;
  up?: number;
  down?: number;
}

/**
 * A guest's `startup` (pve-common PVE/JSONSchema.pm pve_parse_startup_order): `order=N,up=N,down=N`,
 * `order=` optional; text it does not take counts as no setting.
 */
export function parseStartup(value: string | undefined): Startup {
  const res: Startup = {};
  for (const part of (value ?? '').split(',')) {
    if (/^\s*$/.test(part)) continue;
    const m = /^(?:(?:order=)?(\d+)|up=(\d+)|down=(\d+))$/.exec(part);
    if (!m) return {};
    if (m[1] !== undefined) res.order = Number(m[1]);
    if (m[2] !== undefined) res.up = Number(m[2]);
    if (m[3] !== undefined) res.down = Number(m[3]);
  }
  return res;
}

/**
 * get_filtered_vmlist: the guests whose config is on the node, those `vms` names if given (as
 * split_list splits it), without templates and HA-managed guests unless asked for.
 */
function filteredGuests(
  ctx: Ctx,
  node: string,
  vms: string | undefined,
  templates: boolean,
  haManaged: boolean,
): SimGuest[] {
  const allowed = vms === undefined ? undefined : new Set(listOf(vms));
  return [...ctx.cluster.guests.values()].filter(
    (g) =>
      (!allowed || allowed.has(String(g.vmid))) &&
      g.node === node &&
      (templates || !ctx.cluster.isTemplate(g)) &&
      (haManaged || !ctx.cluster.haManaged(g.vmid)),
  );
}

/**
 * get_start_stop_list: the guests to start or stop by startup order (absent: LONG_MAX, last),
 * HA-managed ones only when `vms` names them, only those with `onboot` for an autostart.
 */
function startStopList(
  ctx: Ctx,
  node: string,
  autostart: boolean,
  vms: string | undefined,
): Map<number, { guest: SimGuest; startup: Startup }[]> {
  const groups = new Map<number, { guest: SimGuest; startup: Startup }[]>();
  for (const guest of filteredGuests(ctx, node, vms, false, vms !== undefined)) {
    if (autostart && !perlTrue(guest.config.onboot)) continue;
    const startup = parseStartup(guest.config.startup);
    const order = startup.order ?? Number.POSITIVE_INFINITY;
    groups.set(order, [...(groups.get(order) ?? []), { guest, startup }]);
  }
  return groups;
}

/** Perl's truth of a config value: set, and neither empty nor `0`. */
const perlTrue = (v: string | undefined) => v !== undefined && v !== '' && v !== '0';

/**
 * The handlers' own check: the privileges on `/`, or else `perVm` on each guest `vms` names
 * (raise_perm_exc naming `denied` when it names none).
 */
function checkBulkPermission(ctx: Ctx, privs: string[], denied: string, perVm: string): void {
  if (privs.every((p) => ctx.access.has(ctx.auth, '/', p))) return;
  const vms = listOf(ctx.params.vms);
  if (!vms.length) throw permissionError('/', denied);
  for (const vmid of vms)
    if (!ctx.access.has(ctx.auth, `/vms/${vmid}`, perVm))
      throw permissionError(`/vms/${vmid}`, perVm);
}

/**
 * get_max_workers: the parameter, else datacenter.cfg's `max_workers`, else the node's CPU threads
 * less one, from 1 to 8.
 */
function maxWorkers(ctx: Ctx, node: string): number {
  const cpus = ctx.cluster.nodes.get(node)?.cpus ?? 1;
  return (
    num(ctx, 'max-workers') ||
    ctx.cluster.datacenter.max_workers ||
    Math.min(Math.max(1, cpus - 1), 8)
  );
}

/**
 * `warn $@` of an error a handler raised, after `before` (text printed without a newline): a plain
 * die's text, or PVE::Exception's with its code and parameter errors.
 */
function warnError(io: WorkerIo, err: unknown, before = ''): void {
  if (!(err instanceof PveError)) throw err;
  const head = err.status === 500 ? err.message : `${err.status} ${err.message}`;
  const lines = head.replace(/\n$/, '').split('\n');
  for (const [param, text] of Object.entries(err.errors ?? {})) lines.push(`${param}: ${text}`);
  for (const [i, line] of lines.entries()) io.print(i ? line : before + line);
}

/**
 * Calls a guest handler from the worker, as the Perl calls the API method directly (no schema
 * permission check) as the same user; returns the UPID, or undefined after warning of an error
 * raised before its task.
 */
function callGuest(
  ctx: Ctx,
  io: WorkerIo,
  handler: Handler,
  params: Ctx['params'],
): string | undefined {
  try {
    const upid = handler({ ...ctx, params });
    return typeof upid === 'string' ? upid : undefined;
  } catch (err) {
    warnError(io, err);
    return undefined;
  }
}

type Workers = Map<string, { vmid: number; guest: SimGuest }>;

/**
 * The Perl's wait loop: while `limit` or more workers run, reap those ended (`reap` is told of
 * each), then sleep a second.
 */
function* waitForWorkers(
  ctx: Ctx,
  workers: Workers,
  limit: number,
  reap: (upid: string, w: { vmid: number; guest: SimGuest }) => void = () => undefined,
): Worker {
  while (workers.size >= limit) {
    for (const [upid, w] of workers) {
      if (ctx.tasks.tasks.get(upid)?.status === 'running') continue;
      workers.delete(upid);
      reap(upid, w);
    }
    yield 1000;
  }
}

/** PVE::QemuServer::check_running / PVE::LXC::check_running: the guest runs here (paused too). */
const runningOn = (ctx: Ctx, node: string, vmid: number) => {
  const g = ctx.cluster.guests.get(vmid);
  return g !== undefined && g.node === node && g.running;
};

/**
 * startall's $remove_locks_on_startup under /var/run/vzdump.lock: a backup job holds that lock
 * while it runs, and lock_file waits 10 s for it; on a timeout the error is lost (lock_file
 * returns undef inside an eval that succeeds), and no lock is touched.
 */
function* removeLeftoverBackupLocks(ctx: Ctx, node: string, io: WorkerIo): Worker {
  const backupRunning = () =>
    [...ctx.tasks.tasks.values()].some(
      (t) => t.node === node && t.type === 'vzdump' && t.status === 'running',
    );
  if (backupRunning()) {
    io.print('trying to acquire lock...');
    for (let waited = 0; backupRunning(); waited += 1000) {
      if (waited >= 10_000) return;
      yield 1000;
    }
    io.print(' OK');
  }
  const guests = filteredGuests(ctx, node, undefined, false, true).sort((a, b) => a.vmid - b.vmid);
  for (const guest of guests) {
    if (guest.config.lock !== 'backup') continue;
    delete guest.config.lock;
    io.print(`removed left over backup lock from '${guest.vmid}'!`);
  }
}

const byOrder = <T>(groups: Map<number, T>, dir: 1 | -1) =>
  [...groups.entries()].sort(([a], [b]) => dir * (a - b)).map(([, v]) => v);

/** startall's worker. */
function* startAll(ctx: Ctx, node: string, io: WorkerIo): Worker {
  yield* removeLeftoverBackupLocks(ctx, node, io);
  const list = startStopList(ctx, node, !bool(ctx, 'force'), str(ctx, 'vms'));
  const max = maxWorkers(ctx, node);
  const workers: Workers = new Map();
  // A child that ended in error is reported when the worker next reaps it.
  const reap = (upid: string, w: { vmid: number; guest: SimGuest }) => {
    const status = ctx.tasks.tasks.get(upid)?.exitstatus ?? 'unknown';
    if (status !== 'OK' && !/^WARNINGS: \d+$/.test(status))
      io.print(`Starting ${guestLabel(w.guest.type)} ${w.vmid} failed: ${status}`);
  };
  for (const group of byOrder(list, 1)) {
    for (const { guest, startup } of group.sort((a, b) => a.guest.vmid - b.guest.vmid)) {
      const { vmid, type } = guest;
      if (runningOn(ctx, node, vmid)) continue;
      io.print(`Starting ${guestLabel(type)} ${vmid}`);
      const upid = callGuest(ctx, io, powerAction(type, 'start'), { node, vmid });
      // An error skips the delay and the wait, as the Perl's eval around them does.
      if (!upid) continue;
      workers.set(upid, { vmid, guest });
      // Without `up`, a VM waits 3 s to spread the load, a container not at all.
      const delay = startup.up ?? (type === 'qemu' ? 3 : 0);
      if (delay > 0) {
        if (startup.up) io.print(`Waiting for ${delay} seconds (startup delay)`);
        yield delay * 1000;
      }
      yield* waitForWorkers(ctx, workers, max, reap);
    }
    yield* waitForWorkers(ctx, workers, 1, reap);
  }
}

/** stopall's worker. */
function* stopAll(ctx: Ctx, node: string, io: WorkerIo): Worker {
  const list = startStopList(ctx, node, false, str(ctx, 'vms'));
  const max = maxWorkers(ctx, node);
  const forceStop = ctx.params['force-stop'] !== false;
  for (const group of byOrder(list, -1)) {
    const workers: Workers = new Map();
    for (const { guest, startup } of group.sort((a, b) => b.guest.vmid - a.guest.vmid)) {
      const { vmid, type } = guest;
      const timeout = startup.down ?? num(ctx, 'timeout') ?? 180;
      if (!runningOn(ctx, node, vmid)) continue;
      io.print(`Stopping ${guestLabel(type)} ${vmid} (timeout = ${timeout} seconds)`);
      const upid = callGuest(ctx, io, powerAction(type, 'shutdown'), {
        node,
        vmid,
        timeout,
        forceStop,
      });
      if (!upid) continue;
      workers.set(upid, { vmid, guest });
      yield* waitForWorkers(ctx, workers, max);
    }
    yield* waitForWorkers(ctx, workers, 1);
  }
}

/** suspendall's worker: VMs are suspended to disk; containers are skipped with a warning. */
function* suspendAll(ctx: Ctx, node: string, io: WorkerIo): Worker {
  const list = startStopList(ctx, node, false, str(ctx, 'vms'));
  const max = maxWorkers(ctx, node);
  for (const group of byOrder(list, -1)) {
    const workers: Workers = new Map();
    for (const { guest } of group.sort((a, b) => b.guest.vmid - a.guest.vmid)) {
      const { vmid } = guest;
      if (guest.type !== 'qemu') {
        io.warn(`skipping ${vmid}, only VMs can be suspended`);
        continue;
      }
      if (!runningOn(ctx, node, vmid)) {
        io.print(`VM ${vmid} not running, skipping suspension`);
        continue;
      }
      io.print(`Suspending VM ${vmid}`);
      const upid = callGuest(ctx, io, powerAction('qemu', 'suspend'), {
        node,
        vmid,
        todisk: true,
      });
      if (!upid) continue;
      workers.set(upid, { vmid, guest });
      yield* waitForWorkers(ctx, workers, max);
    }
    yield* waitForWorkers(ctx, workers, 1);
  }
}

const QEMU_DRIVE = /^(ide|sata|scsi|virtio)\d+$|^(efidisk0|tpmstate0)$/;

/**
 * qemu-server PVE/API2/Qemu.pm $check_vm_disks_local: every volume of the config, its snapshots
 * and saved states (CD-ROMs and unused disks too, not `none`) that is not on a shared storage.
 */
function localDisks(ctx: Ctx, guest: SimGuest): string[] {
  const out = new Set<string>();
  for (const config of [guest.config, ...[...guest.snapshots.values()].map((s) => s.config)]) {
    for (const [key, value] of Object.entries(config)) {
      if (!QEMU_DRIVE.test(key) && !/^unused\d+$/.test(key) && key !== 'vmstate') continue;
      const drive = parsePropertyString(value, 'file');
      const volid = drive.file;
      if (!volid || volid === 'none' || drive.shared === '1') continue;
      const storage = volid.includes(':') ? volid.split(':')[0] : undefined;
      if (storage && ctx.cluster.storageShared(storage)) continue;
      out.add(volid);
    }
  }
  return [...out];
}

/**
 * What qemu-server's migrate_vm_precondition finds against a migration to `target`, as migrateall
 * words it: local disks of a running VM (unless `with-local-disks`), local resources
 * (PVE/QemuMigrate/Helpers.pm check_local_resources; no resource mappings are configured, so a
 * mapped device is missing on every node), and storages the target lacks
 * (PVE/QemuServer.pm check_local_storage_availability). Throws what the precondition call dies of.
 */
function migrationBlockers(
  ctx: Ctx,
  guest: SimGuest,
  target: string,
  withLocalDisks: boolean,
): string[] {
  const { cluster } = ctx;
  const { config, running } = guest;
  cluster.assertUnlocked(guest);
  const local: string[] = [];
  const unavailableResources: string[] = [];
  if (running) {
    for (const key of ['amd-sev', 'intel-tdx']) if (config[key]) local.push(key);
    if (Object.keys(config).some((k) => /^virtiofs\d+$/.test(k))) local.push('virtiofs');
  }
  for (const key of ['hostusb', 'hostpci', 'ivshmem']) if (config[key]) local.push(key);
  for (const [key, value] of Object.entries(config)) {
    if (/^usb/.test(key)) {
      const usb = parsePropertyString(value, 'host');
      if (usb.host && /^spice$/i.test(usb.host)) continue;
      if (usb.mapping) unavailableResources.push(key);
    }
    if (/^hostpci/.test(key) && parsePropertyString(value, 'host').mapping) {
      unavailableResources.push(key);
      if (!running) continue;
    }
    if (/^virtiofs/.test(key)) unavailableResources.push(key);
    if (/^serial/.test(key) && value === 'socket') continue;
    if (/^(usb|hostpci|serial|parallel|virtiofs)\d+$/.test(key)) local.push(key);
  }
  const unavailableStorages = new Set<string>();
  for (const [key, value] of Object.entries(config)) {
    if (!QEMU_DRIVE.test(key)) continue;
    const volid = parsePropertyString(value, 'file').file ?? '';
    const m = /^([a-z][a-z0-9\-_.]*[a-z0-9]):/i.exec(volid);
    if (!m) continue;
    const storage = cluster.storages.get(m[1] as string);
    if (!storage) throw fail(`storage '${m[1]}' does not exist`);
    if (storage.disabled || (storage.nodes && !storage.nodes.includes(target)))
      unavailableStorages.add(storage.storage);
  }
  const disks = localDisks(ctx, guest);
  const blockers: string[] = [];
  if (running && !withLocalDisks && disks.length)
    blockers.push(`  Has local disks: ${disks.join(', ')}`);
  if (local.length) blockers.push(`  Has local resources: ${local.join(', ')}`);
  if (unavailableStorages.size)
    blockers.push(`  Has unavailable storages: ${[...unavailableStorages].sort().join(', ')}`);
  if (unavailableResources.length)
    blockers.push(`  Has unavailable resources: ${unavailableResources.join(', ')}`);
  return blockers;
}

/** migrateall's $create_migrate_worker: the migration task's UPID, or undefined. */
function migrateOne(
  ctx: Ctx,
  io: WorkerIo,
  node: string,
  guest: SimGuest,
  target: string,
): string | undefined {
  const { vmid, type } = guest;
  const withLocalDisks = ctx.params['with-local-disks'];
  const migrate = migrateGuest(type);
  if (type === 'lxc') {
    io.print(`Migrating CT ${vmid}`);
    const restart = runningOn(ctx, node, vmid);
    return callGuest(ctx, io, migrate, { node, vmid, target, restart });
  }
  // "Check VM 100: " is printed without a newline; what follows ends the line.
  const check = `Check VM ${vmid}: `;
  let blockers: string[];
  try {
    blockers = migrationBlockers(ctx, guest, target, withLocalDisks === true);
  } catch (err) {
    warnError(io, err, check);
    return undefined;
  }
  if (blockers.length) {
    io.print(`${check}skip VM ${vmid} - precondition check failed:`);
    for (const line of blockers) io.print(line);
    return undefined;
  }
  io.print(`${check}precondition check passed`);
  io.print(`Migrating VM ${vmid}`);
  const params: Ctx['params'] = { node, vmid, target, online: runningOn(ctx, node, vmid) };
  if (withLocalDisks !== undefined) params['with-local-disks'] = withLocalDisks;
  return callGuest(ctx, io, migrate, params);
}

/** migrateall's worker. */
function* migrateAll(ctx: Ctx, node: string, target: string, max: number, io: WorkerIo): Worker {
  const guests = filteredGuests(ctx, node, str(ctx, 'vms'), true, true);
  if (!guests.length) {
    io.print('no virtual guests matched, nothing to do..');
    return;
  }
  // `sort keys`: vmids as strings.
  guests.sort((a, b) => (String(a.vmid) < String(b.vmid) ? -1 : 1));
  const workers: Workers = new Map();
  let started = 0;
  for (const guest of guests) {
    const upid = migrateOne(ctx, io, node, guest, target);
    if (!upid) continue;
    started++;
    workers.set(upid, { vmid: guest.vmid, guest });
    yield* waitForWorkers(ctx, workers, max);
  }
  yield* waitForWorkers(ctx, workers, 1);
  if (started <= 0) throw new TaskError('no migrations worker started...');
  io.print(`All jobs finished, used ${started} workers in total.`);
}

/** The node's task of a bulk action (fork_worker with no id). */
const bulkTask = (ctx: Ctx, node: string, type: string, worker: (io: WorkerIo) => Worker) =>
  ctx.startTask({ node, type, worker });

export const nodeBulkRoutes: Routes = {
  'POST /nodes/{node}/startall': (ctx) => {
    checkBulkPermission(ctx, ['VM.PowerMgmt'], 'VM.PowerMgmt', 'VM.PowerMgmt');
    const node = nodeParam(ctx);
    return bulkTask(ctx, node, 'startall', (io) => startAll(ctx, node, io));
  },
  'POST /nodes/{node}/stopall': (ctx) => {
    checkBulkPermission(ctx, ['VM.PowerMgmt'], 'VM.PowerMgmt', 'VM.PowerMgmt');
    const node = nodeParam(ctx);
    return bulkTask(ctx, node, 'stopall', (io) => stopAll(ctx, node, io));
  },
  'POST /nodes/{node}/suspendall': (ctx) => {
    // The state storage's permission is checked per VM, by each suspend.
    checkBulkPermission(
      ctx,
      ['VM.PowerMgmt', 'VM.Config.Disk'],
      'VM.PowerMgmt && VM.Config.Disk',
      'VM.PowerMgmt',
    );
    const node = nodeParam(ctx);
    return bulkTask(ctx, node, 'suspendall', (io) => suspendAll(ctx, node, io));
  },
  'POST /nodes/{node}/migrateall': (ctx) => {
    checkBulkPermission(ctx, ['VM.Migrate'], 'VM.Migrate', 'VM.Migrate');
    const node = nodeParam(ctx);
    const target = str(ctx, 'target') ?? '';
    if (target === node) throw paramError({ target: 'target is local node.' });
    // pve-cluster PVE/Cluster.pm check_node_exists.
    if (!ctx.cluster.nodes.has(target)) throw fail(`no such cluster node '${target}'`);
    // Unlike the others, migrateall does not fall back on the CPU count.
    const max =
      num(ctx, 'max-workers') || num(ctx, 'maxworkers') || ctx.cluster.datacenter.max_workers;
    if (!max)
      throw fail("either 'max-workers' parameter or max_workers in datacenter.cfg must be set!");
    return bulkTask(ctx, node, 'migrateall', (io) => migrateAll(ctx, node, target, max, io));
  },
};
