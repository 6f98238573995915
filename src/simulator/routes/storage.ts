/** Storage on a node (list, status, content, delete) and backups (vzdump). */
import type { Ctx, Routes } from '../context.js';
import { bool, num, str } from '../context.js';
import { fail, PveError, TaskError } from '../errors.js';
import { guestUsage } from '../metrics.js';
import {
  type Cluster,
  guestLabel,
  type SimGuest,
  type SimStorage,
  type SimVolume,
} from '../state.js';
import { nodeParam } from './guest-common.js';

const flag = (b: boolean) => (b ? 1 : 0);

function canSeeStorage(ctx: Ctx, storage: string): boolean {
  const privs = ctx.access.privileges(ctx.auth, `/storage/${storage}`);
  return privs.has('Datastore.Audit') || privs.has('Datastore.AllocateSpace');
}

/**
 * A storage as pve-storage PVE/Storage.pm storage_info reports it on a node: one that is disabled
 * or restricted to other nodes has `enabled: 0` and no figures; `used_fraction` only with a total
 * (pve-storage PVE/API2/Storage/Status.pm index).
 */
function storageStatus(cluster: Cluster, node: string, s: SimStorage) {
  const enabled = !s.disabled && (!s.nodes || s.nodes.includes(node));
  const used = enabled ? cluster.usedBytes(node, s.storage) : 0;
  const total = enabled ? s.size : 0;
  return {
    storage: s.storage,
    type: s.type,
    content: s.content.join(','),
    active: flag(enabled),
    enabled: flag(enabled),
    shared: flag(s.shared),
    total,
    used,
    avail: Math.max(0, total - used),
    ...(total ? { used_fraction: Number((used / total).toFixed(6)) } : {}),
  };
}

/**
 * The storages storage_info knows on a node: all of them, or, with a content filter, the enabled
 * ones holding any of those types.
 */
function storageInfo(cluster: Cluster, node: string, content: string | undefined) {
  const types = (content ?? '').split(/[,; ]+/).filter(Boolean);
  return [...cluster.storages.values()].filter(
    (s) =>
      content === undefined ||
      (!s.disabled &&
        (!s.nodes || s.nodes.includes(node)) &&
        types.some((t) => s.content.includes(t as never))),
  );
}

const noSuchStorage = () =>
  new PveError(400, 'Parameter verification failed.', { storage: 'No such storage.' });

function volumeRow(cluster: Cluster, v: SimVolume) {
  const row: Record<string, unknown> = {
    volid: v.volid,
    content: v.content,
    format: v.format,
    size: v.size,
    ctime: v.ctime,
  };
  if (v.vmid !== undefined) row.vmid = v.vmid;
  if (v.content === 'images' || v.content === 'rootdir') {
    const guest = v.vmid === undefined ? undefined : cluster.guests.get(v.vmid);
    row.used = Math.round(v.size * (guest?.diskUsage ?? 0.1));
    const base = /^[^:]+:(base-\d+-disk-\d+)\//.exec(v.volid);
    if (base) row.parent = base[1];
  }
  if (v.notes !== undefined) row.notes = v.notes;
  if (v.content === 'backup') {
    // pve-storage lists `protected` only for a protected backup.
    if (v.protected) row.protected = 1;
    row.subtype = v.backup?.type;
  }
  return row;
}

/** A volume named by its full id or by its name within the storage. */
function resolveVolid(storage: string, volume: string): string {
  return volume.includes(':') ? volume : `${storage}:${volume}`;
}

function vzdump(ctx: Ctx) {
  const { cluster, clock } = ctx;
  const node = nodeParam(ctx);
  const all = bool(ctx, 'all');
  const ids = (str(ctx, 'vmid') ?? '')
    .split(/[,; ]+/)
    .filter(Boolean)
    .map(Number);
  const poolid = str(ctx, 'pool');
  // pve-manager PVE/API2/VZDump.pm vzdump refuses stdout outside the CLI first, then
  // PVE/VZDump.pm verify_vzdump_parameters wants something to back up.
  if (bool(ctx, 'stdout'))
    throw new PveError(400, 'Parameter verification failed.', {
      stdout: 'option is only allowed on the command line interface.',
    });
  if (!all && !ids.length && !poolid && !bool(ctx, 'stop'))
    throw new PveError(400, 'Parameter verification failed.', { vmid: 'property is missing' });
  const exclude = new Set(
    (str(ctx, 'exclude') ?? '')
      .split(/[,; ]+/)
      .filter(Boolean)
      .map(Number),
  );
  // An unknown pool is refused before any task (pve-manager PVE/VZDump.pm get_included_guests,
  // PVE/API2Tools.pm get_resource_pool_guest_members).
  // A pool is taken before `all` there.
  if (poolid && !cluster.pools.has(poolid)) throw fail(`pool '${poolid}' does not exist`);
  const wanted = poolid
    ? [...(cluster.pools.get(poolid)?.vms ?? [])]
    : all
      ? [...cluster.guests.keys()].filter((id) => !exclude.has(id))
      : ids;
  const storageId = str(ctx, 'storage') ?? 'local';
  if (!ctx.access.has(ctx.auth, `/storage/${storageId}`, 'Datastore.AllocateSpace')) {
    throw new PveError(
      403,
      `Permission check failed (/storage/${storageId}, Datastore.AllocateSpace)`,
    );
  }
  for (const id of wanted) {
    if (!ctx.access.has(ctx.auth, `/vms/${id}`, 'VM.Backup'))
      throw new PveError(403, `Permission check failed (/vms/${id}, VM.Backup)`);
  }
  const local = wanted
    .map((id) => cluster.guests.get(id))
    .filter((g): g is SimGuest => g?.node === node);
  // IDs of no guest run on every node and fail inside the task (pve-manager PVE/VZDump.pm
  // get_included_guests puts them under node '', PVE/API2/VZDump.pm adds them to the local list).
  const orphans = wanted.filter((id) => !cluster.guests.has(id));
  // Nothing selected lives on this node: PVE answers "OK" without a task.
  if (!local.length && !orphans.length && !all) return 'OK';
  // The storage is checked by the job itself (pve-manager PVE/VZDump.pm new: activate_storage,
  // then storage_info); its errors, joined, end the task (fork_worker turns the newlines into
  // spaces).
  const storage = cluster.storages.get(storageId);
  const storageErrors: string[] = [];
  if (!storage || storage.disabled || (storage.nodes && !storage.nodes.includes(node)))
    storageErrors.push(
      `could not activate storage '${storageId}': storage '${storageId}' ${
        !storage
          ? 'does not exist'
          : storage.disabled
            ? 'is disabled'
            : `is not available on node '${node}'`
      }`,
    );
  if (!storage?.content.includes('backup'))
    storageErrors.push(
      `could not get storage information for '${storageId}': ${
        storage
          ? `can't use storage '${storageId}' for backups - wrong content type`
          : `storage '${storageId}' does not exist`
      }`,
    );
  if (storageErrors.length || !storage) {
    ctx.count('vzdump');
    return ctx.startTask({
      node,
      type: 'vzdump',
      id: local.length + orphans.length === 1 ? String(local[0]?.vmid ?? orphans[0]) : '',
      fail: storageErrors.join(' '),
    });
  }
  const mode = str(ctx, 'mode') ?? 'snapshot';
  const compress = str(ctx, 'compress') ?? '0';
  const notesTemplate = str(ctx, 'notes-template');
  const protect = bool(ctx, 'protected');
  const started = clock.now();
  const stamp = (t: number) => new Date(t).toISOString().replace(/T/, ' ').slice(0, 19);
  const cmd = [
    'vzdump',
    ...local.map((g) => g.vmid),
    ...orphans,
    `--storage ${storageId}`,
    `--mode ${mode}`,
    `--compress ${compress}`,
    `--node ${node}`,
  ].join(' ');
  const log = [`INFO: starting new backup job: ${cmd}`];
  const locked = new Map<SimGuest, string>();
  for (const g of local) {
    if (g.config.lock) locked.set(g, g.config.lock);
    else g.config.lock = 'backup';
  }
  ctx.count('vzdump');
  return ctx.startTask({
    node,
    type: 'vzdump',
    id: local.length + orphans.length === 1 ? String(local[0]?.vmid ?? orphans[0]) : '',
    durationMs: 2_000 + local.length * 6_000,
    log,
    steps: local.map((g) => `INFO: Starting Backup of VM ${g.vmid} (${g.type})`),
    run: () => {
      const lines: string[] = [];
      let failed = 0;
      for (const g of local) {
        const label = guestLabel(g.type);
        const lock = locked.get(g);
        if (lock) {
          failed++;
          lines.push(`ERROR: Backup of VM ${g.vmid} failed - ${label} is locked (${lock})`);
          continue;
        }
        if (g.config.lock === 'backup') delete g.config.lock;
        const time = new Date(clock.now());
        const ts = time
          .toISOString()
          .slice(0, 19)
          .replace(/-/g, '_')
          .replace('T', '-')
          .replace(/:/g, '_');
        const ext = g.type === 'qemu' ? 'vma' : 'tar';
        const suffix =
          compress === '0'
            ? ''
            : `.${{ '1': 'lzo', gzip: 'gz', lzo: 'lzo', zstd: 'zst' }[compress] ?? compress}`;
        const volid =
          storage.type === 'pbs'
            ? `${storageId}:backup/${g.type === 'qemu' ? 'vm' : 'ct'}/${g.vmid}/${time.toISOString().slice(0, 19)}Z`
            : `${storageId}:backup/vzdump-${g.type}-${g.vmid}-${ts}.${ext}${suffix}`;
        const size = Math.max(
          64 * 2 ** 20,
          Math.round(
            cluster.disksOf(g.type, g.config).reduce((s, d) => s + d.size, 0) * g.diskUsage * 0.45,
          ),
        );
        const name = g.config.name ?? g.config.hostname ?? '';
        const notes = notesTemplate
          ?.replaceAll('{{guestname}}', name)
          .replaceAll('{{vmid}}', String(g.vmid))
          .replaceAll('{{node}}', node)
          .replaceAll('{{cluster}}', cluster.name);
        cluster.addVolume({
          volid,
          storage: storageId,
          node: storage.shared ? undefined : node,
          content: 'backup',
          // The archive's type and compression, as vzdump names them (`vma.zst`, `tar.gz`).
          format:
            storage.type === 'pbs' ? `pbs-${g.type === 'qemu' ? 'vm' : 'ct'}` : `${ext}${suffix}`,
          size,
          vmid: g.vmid,
          ctime: Math.floor(time.getTime() / 1000),
          notes,
          protected: protect || undefined,
          backup: { type: g.type, config: { ...g.config } },
        });
        const usage = guestUsage(cluster, g);
        lines.push(
          `INFO: Backup started at ${stamp(started)}`,
          `INFO: status = ${g.running ? 'running' : 'stopped'}`,
          `INFO: ${label === 'VM' ? 'VM' : 'CT'} Name: ${name}`,
          ...cluster
            .disksOf(g.type, g.config)
            .filter((d) => !d.key.startsWith('unused'))
            .map(
              (d) => `INFO: include disk '${d.key}' '${d.volid}' ${Math.round(d.size / 2 ** 30)}G`,
            ),
          `INFO: creating vzdump archive '${storage.path ?? `/mnt/pve/${storageId}`}/dump/${volid.split('/').pop()}'`,
          `INFO: transferred ${(size / 2 ** 30).toFixed(2)} GiB in ${Math.max(1, Math.round(usage.maxdisk / 2 ** 32))} seconds`,
          `INFO: Finished Backup of VM ${g.vmid} (00:00:0${Math.min(9, 2 + (g.vmid % 7))})`,
        );
        ctx.count('backup.created');
      }
      for (const id of orphans) {
        failed++;
        lines.push(`ERROR: Backup of VM ${id} failed - unable to find VM '${id}'`);
      }
      lines.push(`INFO: Backup finished at ${stamp(clock.now())}`);
      if (failed) {
        lines.push('INFO: Backup job finished with errors');
        throw new TaskError('job errors', lines);
      }
      lines.push('INFO: Backup job finished successfully');
      return lines;
    },
    abort: () => {
      for (const g of local) if (!locked.has(g) && g.config.lock === 'backup') delete g.config.lock;
    },
  });
}

export const storageRoutes: Routes = {
  'GET /nodes/{node}/storage': (ctx) => {
    const { cluster } = ctx;
    const node = nodeParam(ctx);
    const only = str(ctx, 'storage');
    const target = str(ctx, 'target');
    const info = storageInfo(cluster, node, str(ctx, 'content'));
    // pve-storage PVE/API2/Storage/Status.pm index: a storage not in storage_info is a parameter
    // error; `enabled` leaves out disabled storages only; `target` keeps shared ones both nodes
    // may use.
    if (only && !info.some((s) => s.storage === only)) throw noSuchStorage();
    const usable = (s: SimStorage, n: string) => !s.nodes || s.nodes.includes(n);
    return info
      .filter((s) => canSeeStorage(ctx, s.storage))
      .filter((s) => !only || s.storage === only)
      .filter((s) => !(ctx.params.enabled === true && s.disabled))
      .filter(
        (s) =>
          !target ||
          target === node ||
          target === 'localhost' ||
          (s.shared && usable(s, node) && usable(s, target)),
      )
      .map((s) => storageStatus(cluster, node, s));
  },
  'GET /nodes/{node}/storage/{storage}/status': (ctx) => {
    const node = nodeParam(ctx);
    const id = str(ctx, 'storage') ?? '';
    // pve-storage PVE/API2/Storage/Status.pm read_status: storage_info's entry, which a storage
    // restricted to other nodes has too (enabled 0); an unknown one is a parameter error.
    const s = storageInfo(ctx.cluster, node, str(ctx, 'content')).find((x) => x.storage === id);
    if (!s) throw noSuchStorage();
    const { storage: _s, used_fraction: _f, ...status } = storageStatus(ctx.cluster, node, s);
    return status;
  },
  'GET /nodes/{node}/storage/{storage}/content': (ctx) => {
    const { cluster } = ctx;
    const node = nodeParam(ctx);
    const s = cluster.storageOn(node, str(ctx, 'storage') ?? '');
    const content = str(ctx, 'content');
    const vmid = num(ctx, 'vmid');
    return cluster
      .volumesOn(node, s.storage)
      .filter((v) => !content || v.content === content)
      .filter((v) => vmid === undefined || v.vmid === vmid)
      .sort((a, b) => a.volid.localeCompare(b.volid))
      .map((v) => volumeRow(cluster, v));
  },
  'DELETE /nodes/{node}/storage/{storage}/content/{volume}': (ctx) => {
    const { cluster } = ctx;
    const node = nodeParam(ctx);
    const storageId = str(ctx, 'storage') ?? '';
    cluster.storageOn(node, storageId);
    const volid = resolveVolid(storageId, str(ctx, 'volume') ?? '');
    const vol = cluster.volume(node, volid);
    if (!vol) throw fail(`volume '${volid}' does not exist`);
    const privs = ctx.access.privileges(ctx.auth, `/storage/${storageId}`);
    const backupOk =
      vol.content === 'backup' &&
      privs.has('Datastore.AllocateSpace') &&
      vol.vmid !== undefined &&
      ctx.access.has(ctx.auth, `/vms/${vol.vmid}`, 'VM.Backup');
    if (!privs.has('Datastore.Allocate') && !backupOk) {
      throw new PveError(
        403,
        `Permission check failed (/storage/${storageId}, Datastore.Allocate)`,
      );
    }
    if (vol.content === 'images' || vol.content === 'rootdir') {
      const owner = vol.vmid === undefined ? undefined : cluster.guests.get(vol.vmid);
      if (owner && cluster.disksOf(owner.type, owner.config).some((d) => d.volid === volid)) {
        throw fail(
          `unable to delete volume '${volid}' - still used by ${guestLabel(owner.type)} ${owner.vmid}`,
        );
      }
    }
    ctx.count('volume.delete');
    const delay = num(ctx, 'delay');
    const upid = ctx.startTask({
      node,
      type: 'imgdel',
      id: vol.vmid === undefined ? storageId : `${vol.vmid}@${storageId}`,
      // With `delay` the task is over before the answer (an imgdel is quick).
      durationMs: delay ? 0 : undefined,
      run: () => {
        // The imgdel worker refuses a protected volume (pve-storage PVE/Storage/Plugin.pm
        // free_image): the request itself succeeds, the task fails.
        if (vol.protected)
          throw new TaskError(
            `cannot remove protected volume '${volid.slice(storageId.length + 1)}' on '${storageId}'`,
          );
        cluster.removeVolume(node, volid);
        return [];
      },
    });
    if (delay) {
      // With `delay` PVE waits for the task: null when it ended well, its error as a plain die
      // (500) when it failed (pve-storage PVE/API2/Storage/Content.pm delete).
      ctx.tasks.tick();
      const task = ctx.tasks.tasks.get(upid);
      if (task?.status !== 'stopped') return upid;
      const status = task.exitstatus ?? '';
      if (status === 'OK' || status.startsWith('WARNINGS: ')) return null;
      throw fail(status);
    }
    return upid;
  },
  'POST /nodes/{node}/vzdump': vzdump,
};
