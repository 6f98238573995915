/**
 * Storage replication as pvescheduler runs it: each job syncs its guest's volumes on its schedule,
 * and a failing job retries after 5, 10, 15, then every 30 minutes (pve-guest-common
 * PVE/ReplicationState.pm job_status). The state is computed from the job, the guest's volumes
 * and the simulated time, so it moves on with the clock.
 */
import type { SimReplicationJob } from './admin-state.js';
import { lastEvent, nextEvent, parseCalendar } from './calendar.js';
import { unit } from './random.js';
import type { Cluster } from './state.js';

export interface ReplicationState {
  last_sync: number;
  last_try: number;
  fail_count: number;
  error?: string;
  duration?: number;
  next_sync: number;
  /** The scheduler's failed tries, oldest first (the last 200), as their syslog lines tell. */
  failures: number[];
}

const DEFAULT_SCHEDULE = '*/15';
const calendar = (job: SimReplicationJob) =>
  parseCalendar(job.schedule ?? DEFAULT_SCHEDULE) ??
  (parseCalendar(DEFAULT_SCHEDULE) as NonNullable<ReturnType<typeof parseCalendar>>);

/** The volumes a replication copies: the guest's own, on storages not shared, not `replicate=0`. */
export function replicatedVolumes(cluster: Cluster, vmid: number): string[] {
  const guest = cluster.guests.get(vmid);
  if (!guest) return [];
  const out = new Set<string>();
  for (const d of cluster.disksOf(guest.type, guest.config)) {
    const [storage = '', name = ''] = d.volid.split(':');
    if (cluster.storageShared(storage)) continue;
    if (/(?:^|,)replicate=0(?:,|$)/.test(guest.config[d.key] ?? '')) continue;
    const owner = /(?:^|\/)(?:vm|base|subvol|basevol)-(\d+)-/.exec(name.split('/').at(-1) ?? '');
    if (owner && Number(owner[1]) !== vmid) continue;
    out.add(d.volid);
  }
  return [...out].sort();
}

/**
 * Why the guest's volumes cannot replicate: only ZFS has the replicate feature (qemu-server
 * PVE/QemuConfig.pm and pve-container PVE/LXC/Config.pm get_replicatable_volumes).
 */
export function replicationError(cluster: Cluster, vmid: number): string | undefined {
  for (const volid of replicatedVolumes(cluster, vmid)) {
    const storage = cluster.storages.get(volid.split(':')[0] ?? '');
    if (storage?.type !== 'zfspool') return `missing replicate feature on volume '${volid}'`;
  }
  return undefined;
}

/** The job's state now (epoch seconds), as the node that runs it keeps it. */
export function replicationState(
  cluster: Cluster,
  job: SimReplicationJob,
  now: number,
): ReplicationState {
  const ev = calendar(job);
  const seed = cluster.seed;
  const guest = cluster.guests.get(job.guest);
  const sourceUp = guest ? (cluster.nodes.get(guest.node)?.online ?? false) : false;
  const frozen = {
    last_sync: job.lastSync,
    last_try: job.lastSync,
    fail_count: 0,
    failures: [],
    next_sync: nextEvent(ev, job.lastSync),
  };
  // A disabled job, or one whose node is down, does not run.
  if (job.disable || !sourceUp) {
    return job.lastSync
      ? { ...frozen, duration: Number((1.5 + unit(seed, job.id, job.lastSync) * 4).toFixed(6)) }
      : frozen;
  }
  const error = replicationError(cluster, job.guest);
  if (!error) {
    const last = lastEvent(ev, now);
    return {
      last_sync: last,
      last_try: last,
      fail_count: 0,
      duration: Number((1.5 + unit(seed, job.id, last) * 4).toFixed(6)),
      next_sync: nextEvent(ev, last),
      failures: [],
    };
  }
  // Failing since the first run after the last good one (or the day before the start).
  const since = job.lastSync || Math.floor(cluster.admin.startedAt / 1000) - 86_400;
  const failures: number[] = [];
  let t = nextEvent(ev, since);
  let count = 0;
  const backoff = (n: number) => 60 * (n <= 3 ? 5 * n : 30);
  while (t <= now) {
    count++;
    failures.push(t);
    if (failures.length > 200) failures.shift();
    t += backoff(count);
  }
  if (!count) return frozen;
  const lastTry = failures.at(-1) as number;
  const targetUp = cluster.nodes.get(job.target)?.online ?? false;
  return {
    last_sync: job.lastSync,
    last_try: lastTry,
    fail_count: count,
    error,
    duration: Number((0.05 + unit(seed, job.id, lastTry) * 0.2).toFixed(6)),
    next_sync: targetUp ? lastTry + backoff(count) : 0,
    failures,
  };
}

/** `YYYY-MM-DD HH:MM:SS`, as get_log_time writes the replication log (local time, here UTC). */
export const logTime = (seconds: number) =>
  new Date(seconds * 1000).toISOString().slice(0, 19).replace('T', ' ');

/**
 * The log of the job's last run (/var/log/pve/replicate/<id> on its node), as pve-guest-common
 * PVE/Replication.pm run_replication writes it; undefined when it never ran.
 */
export function replicationLog(cluster: Cluster, job: SimReplicationJob, now: number) {
  const state = replicationState(cluster, job, now);
  if (!state.last_try) return undefined;
  const at = state.last_try;
  const line = (offset: number, msg: string) => `${logTime(at + offset)} ${job.id}: ${msg}`;
  if (state.error)
    return [
      line(0, 'start replication job'),
      line(0, `end replication job with error: ${state.error}`),
    ];
  const guest = cluster.guests.get(job.guest);
  const volumes = replicatedVolumes(cluster, job.guest);
  const vm = guest?.type === 'qemu';
  const running = guest?.running ? (vm ? 1_000 + (guest.vmid % 60_000) : 1) : 0;
  const freeze = !!guest?.running && (!vm || guest.config.agent?.startsWith('1') === true);
  const snap = (t: number) => `__replicate_${job.id}_${t}__`;
  // The sync before this one, whose snapshot the incremental send starts from.
  const previous = lastEvent(calendar(job), at - 1);
  const out = [
    line(0, 'start replication job'),
    line(0, `guest => ${vm ? 'VM' : 'CT'} ${job.guest}, running => ${running}`),
    line(0, `volumes => ${volumes.join(',')}`),
  ];
  if (freeze) out.push(line(1, 'freeze guest filesystem'));
  for (const v of volumes) out.push(line(1, `create snapshot '${snap(at)}' on ${v}`));
  if (freeze) out.push(line(1, 'thaw guest filesystem'));
  out.push(
    line(1, `using secure transmission, rate limit: ${job.rate ? `${job.rate} MByte/s` : 'none'}`),
  );
  for (const v of volumes)
    out.push(line(1, `incremental sync '${v}' (${snap(previous)} => ${snap(at)})`));
  for (const v of volumes)
    out.push(line(3, `delete previous replication snapshot '${snap(previous)}' on ${v}`));
  out.push(line(3, 'end replication job'));
  return out;
}
