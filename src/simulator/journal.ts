/**
 * What a node's journal and the cluster log hold, derived from the simulated history: the node's
 * boot, cron's hourly run from a day before the simulator started, every task's start and end
 * (pve-common PVE/RESTEnvironment.pm fork_worker logs both, to syslog and the cluster log), the
 * syslog line a guest's power task writes, logins, and failing replication runs.
 */

import { SERVICES } from './admin-state.js';
import { nodeBootTime } from './metrics.js';
import { hash32 } from './random.js';
import { replicationState } from './replication.js';
import { KERNEL } from './routes/nodes.js';
import type { Cluster, SimNode } from './state.js';
import type { SimTask, TaskEngine } from './tasks.js';

export interface JournalEntry {
  /** Epoch ms. */
  time: number;
  ident: string;
  pid?: number;
  msg: string;
  /** The systemd unit the line belongs to, for `journalctl --unit` (without `.service`). */
  unit?: string;
  seq: number;
}

/** A message of the cluster log (pve-cluster pmxcfs/logger.c clog_dump_json). */
export interface ClusterLogEntry {
  uid: number;
  time: number;
  pri: number;
  tag: string;
  pid: number;
  node: string;
  user: string;
  msg: string;
}

const INFO = 6;
const ERR = 3;

/** A stable process id for a daemon of a node. */
const pidOf = (cluster: Cluster, node: string, name: string, range = 2_000) =>
  900 + (hash32(cluster.seed, node, name) % range);

/** The pvedaemon worker that serves a request: one of the three. */
const daemonWorker = (cluster: Cluster, node: string, key: string) =>
  pidOf(cluster, node, 'pvedaemon') + 1 + (hash32(cluster.seed, key) % 3);

/** The syslog line a guest task's worker writes first (qemu-server PVE/API2/Qemu.pm, pve-container PVE/API2/LXC/Status.pm). */
const WORKER_LINES: Record<string, string> = {
  qmstart: 'start VM',
  qmstop: 'stop VM',
  qmshutdown: 'shutdown VM',
  qmreboot: 'requesting reboot of VM',
  qmsuspend: 'suspend VM',
  qmpause: 'suspend VM',
  qmresume: 'resume VM',
  qmdestroy: 'destroy VM',
  vzstart: 'starting CT',
  vzstop: 'stopping CT',
  vzshutdown: 'shutdown CT',
  vzsuspend: 'suspend CT',
  vzresume: 'resume CT',
  vzreboot: 'requesting reboot of CT',
};

const ok = (status: string | undefined) => status === 'OK' || !!status?.startsWith('WARNINGS: ');

/** The daemon that logs a task: pveupdate runs the daily package update, pvedaemon the rest. */
const taskTag = (task: SimTask): [ident: string, unit: string] =>
  task.type === 'aptupdate' ? ['pveupdate', 'pve-daily-update'] : ['pvedaemon', 'pvedaemon'];

/** The order systemd brings the services up in, near enough. */
const BOOT_ORDER = [
  'systemd-journald',
  'sshd',
  'cron',
  'chrony',
  'postfix',
  'ksmtuned',
  'lxcfs',
  'pve-lxc-syscalld',
  'qmeventd',
  'pve-cluster',
  'corosync',
  'pve-firewall',
  'pvefw-logger',
  'proxmox-firewall',
  'pvestatd',
  'pvedaemon',
  'pve-ha-crm',
  'pveproxy',
  'spiceproxy',
  'pve-ha-lrm',
  'pvescheduler',
];
const SERVERS = ['pvedaemon', 'pveproxy', 'spiceproxy', 'pvescheduler', 'pve-ha-crm', 'pve-ha-lrm'];

function bootEntries(cluster: Cluster, node: SimNode): Omit<JournalEntry, 'seq'>[] {
  const pve9 = Number(cluster.version.split('.')[0]) >= 9;
  const out: Omit<JournalEntry, 'seq'>[] = [];
  let at = nodeBootTime(node) * 1000;
  const add = (ident: string, msg: string, unit?: string, pid?: number, step = 40) => {
    out.push({ time: at, ident, msg, unit, pid });
    at += step;
  };
  const systemd = pve9 ? '257.9-1~deb13u1' : '252.38-1~deb12u1';
  add('kernel', `Linux version ${KERNEL.release} (build@proxmox) ${KERNEL.version}`);
  add(
    'kernel',
    `Command line: BOOT_IMAGE=/boot/vmlinuz-${KERNEL.release} root=/dev/mapper/pve-root ro quiet`,
  );
  add('systemd', `systemd ${systemd} running in system mode.`, undefined, 1, 4_000);
  const states = cluster.admin.services.get(node.name);
  const pmxcfs = pidOf(cluster, node.name, 'pmxcfs');
  for (const name of BOOT_ORDER) {
    const service = SERVICES.find((s) => s.name === name);
    if (!service || (service.since9 && !pve9) || states?.get(name)?.activeState !== 'active')
      continue;
    const unit = name === 'sshd' ? 'ssh' : name === 'postfix' && !pve9 ? 'postfix@-' : name;
    const desc = unit === 'postfix@-' ? 'Postfix Mail Transport Agent (instance -)' : service.desc;
    if (name === 'pve-cluster')
      add(
        'pmxcfs',
        `[main] notice: resolved node name '${node.name}' to '${node.ip}' for default node IP address`,
        unit,
        pmxcfs,
      );
    // systemd 253 and later name the unit before its description.
    add('systemd', pve9 ? `Started ${unit}.service - ${desc}.` : `Started ${desc}.`, unit, 1, 200);
    const pid = pidOf(cluster, node.name, name);
    if (name === 'corosync') {
      const ids = [...cluster.nodes.values()].map((n) => n.nodeid);
      add(name, `[QUORUM] Members[${ids.length}]: ${ids.join(' ')}`, unit, pid);
      add('pmxcfs', '[status] notice: node has quorum', 'pve-cluster', pmxcfs);
    }
    if (SERVERS.includes(name)) add(name, 'starting server', unit, pid);
    if (name === 'pvedaemon') {
      add(name, 'starting 3 worker(s)', unit, pid);
      for (let i = 1; i <= 3; i++) add(name, `worker ${pid + i} started`, unit, pid);
    }
  }
  return out;
}

function taskEntries(cluster: Cluster, task: SimTask): Omit<JournalEntry, 'seq'>[] {
  const [ident, unit] = taskTag(task);
  const worker = daemonWorker(cluster, task.node, task.upid);
  const out: Omit<JournalEntry, 'seq'>[] = [
    {
      time: task.startedAt,
      ident,
      unit,
      pid: worker,
      msg: `<${task.user}> starting task ${task.upid}`,
    },
  ];
  const first = WORKER_LINES[task.type];
  if (first)
    out.push({
      time: task.startedAt,
      ident,
      unit,
      pid: task.pid,
      msg: `${first} ${task.id}: ${task.upid}`,
    });
  if (task.status === 'stopped')
    out.push({
      time: (task.endtime ?? task.starttime) * 1000,
      ident,
      unit,
      pid: worker,
      msg: `<${task.user}> end task ${task.upid} ${task.exitstatus}`,
    });
  return out;
}

/** A node's journal, oldest first, each line numbered (its sequence number) from the node's base. */
export function nodeJournal(cluster: Cluster, tasks: TaskEngine, node: SimNode): JournalEntry[] {
  const now = cluster.clock.now();
  const entries = bootEntries(cluster, node);
  // cron's hourly run, from a day before the simulator's start.
  const hour = 3_600_000;
  const from = Math.max(nodeBootTime(node) * 1000, cluster.admin.startedAt - 24 * hour);
  for (let h = Math.ceil(from / hour) * hour + 17 * 60_000 + 1_000; h <= now; h += hour) {
    const pid = 10_000 + (hash32(cluster.seed, node.name, h) % 90_000);
    entries.push(
      {
        time: h,
        ident: 'CRON',
        pid,
        unit: 'cron',
        msg: 'pam_unix(cron:session): session opened for user root(uid=0) by root(uid=0)',
      },
      {
        time: h,
        ident: 'CRON',
        pid: pid + 1,
        unit: 'cron',
        msg: '(root) CMD (cd / && run-parts --report /etc/cron.hourly)',
      },
      {
        time: h + 50,
        ident: 'CRON',
        pid,
        unit: 'cron',
        msg: 'pam_unix(cron:session): session closed for user root',
      },
    );
  }
  for (const task of tasks.tasks.values())
    if (task.node === node.name) entries.push(...taskEntries(cluster, task));
  for (const e of cluster.admin.events)
    if (e.node === node.name)
      entries.push({
        time: e.time,
        ident: e.tag,
        pid: e.pid,
        unit: e.tag,
        msg: `<${e.user}> ${e.msg}`,
      });
  const scheduler = pidOf(cluster, node.name, 'pvescheduler');
  for (const job of cluster.admin.replication.values()) {
    if (cluster.guests.get(job.guest)?.node !== node.name) continue;
    const state = replicationState(cluster, job, Math.floor(now / 1000));
    for (const t of state.failures)
      entries.push({
        time: t * 1000 + 500,
        ident: 'pvescheduler',
        pid: scheduler + 1 + (t % 50_000),
        unit: 'pvescheduler',
        msg: `${job.id}: got unexpected replication job error - ${state.error}`,
      });
  }
  const sorted = entries
    .map((e, i) => ({ e, i }))
    .filter(({ e }) => e.time <= now)
    .sort((a, b) => a.e.time - b.e.time || a.i - b.i);
  const base = seqBase(cluster, node.name);
  return sorted.map(({ e }, i) => ({ ...e, seq: base + i }));
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number) => String(n).padStart(2, '0');

/** A line as `journalctl -o short` and mini-journalreader print it (local time, here UTC). */
export function journalLine(node: string, e: JournalEntry): string {
  const d = new Date(e.time);
  const stamp = `${MONTHS[d.getUTCMonth()]} ${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  return `${stamp} ${node} ${e.ident}${e.pid ? `[${e.pid}]` : ''}: ${e.msg}`;
}

const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');
const id128 = (...parts: (string | number)[]) =>
  [0, 1, 2, 3].map((i) => hex(hash32(...parts, i), 8)).join('');
const seqBase = (cluster: Cluster, node: string) =>
  0x1000 + (hash32(cluster.seed, node, 'seq') % 0x80000);

/** A journal cursor (`s=…;i=…;b=…;m=…;t=…;x=…`, sd_journal_get_cursor). */
export function journalCursor(cluster: Cluster, node: SimNode, e: JournalEntry): string {
  const s = id128(cluster.seed, node.name, 'seqnum-id');
  const b = id128(cluster.seed, node.name, 'boot-id');
  const m = Math.max(0, e.time - nodeBootTime(node) * 1000) * 1000;
  const x =
    hex(hash32(cluster.seed, node.name, e.seq, 'x'), 8) + hex(hash32(cluster.seed, e.seq), 8);
  return `s=${s};i=${e.seq.toString(16)};b=${b};m=${m.toString(16)};t=${(e.time * 1000).toString(16)};x=${x}`;
}

/** The sequence number a cursor of this node names, or undefined for one that does not parse. */
export function cursorSeq(cluster: Cluster, node: SimNode, cursor: string): number | undefined {
  const fields = Object.fromEntries(cursor.split(';').map((f) => [f.slice(0, 1), f.slice(2)]));
  if (
    fields.s !== id128(cluster.seed, node.name, 'seqnum-id') ||
    !/^[0-9a-f]+$/.test(fields.i ?? '')
  )
    return undefined;
  return Number.parseInt(fields.i as string, 16);
}

/** The cluster log: every node's task starts and ends, and the logins, newest first. */
export function clusterLog(cluster: Cluster, tasks: TaskEngine): ClusterLogEntry[] {
  const rows: (ClusterLogEntry & { at: number; order: number })[] = [];
  let order = 0;
  const push = (at: number, row: Omit<ClusterLogEntry, 'time'>) =>
    rows.push({ ...row, time: Math.floor(at / 1000), at, order: order++ });
  for (const task of tasks.tasks.values()) {
    const [tag] = taskTag(task);
    const pid = daemonWorker(cluster, task.node, task.upid);
    const base = { tag, pid, node: task.node, user: task.user };
    push(task.startedAt, {
      ...base,
      uid: hash32(cluster.seed, task.upid, 'start'),
      pri: INFO,
      msg: `starting task ${task.upid}`,
    });
    if (task.status === 'stopped')
      push((task.endtime ?? task.starttime) * 1000, {
        ...base,
        uid: hash32(cluster.seed, task.upid, 'end'),
        pri: ok(task.exitstatus) ? INFO : ERR,
        msg: `end task ${task.upid} ${task.exitstatus}`,
      });
  }
  for (const e of cluster.admin.events)
    push(e.time, {
      uid: hash32(cluster.seed, e.time, e.msg),
      pri: e.pri,
      tag: e.tag,
      pid: e.pid,
      node: e.node,
      user: e.user,
      msg: e.msg,
    });
  rows.sort((a, b) => b.at - a.at || b.order - a.order);
  return rows.map(({ at: _at, order: _order, ...row }) => row);
}

/** Records a login in the cluster log (pve-access-control PVE/API2/AccessControl.pm create_ticket). */
export function logLogin(cluster: Cluster, userid: string): void {
  const node = cluster.localNode;
  cluster.admin.events.push({
    time: cluster.clock.now(),
    node,
    pri: INFO,
    tag: 'pvedaemon',
    pid: daemonWorker(cluster, node, `login-${cluster.admin.events.length}`),
    user: 'root@pam',
    msg: `successful auth for user '${userid}'`,
  });
}
