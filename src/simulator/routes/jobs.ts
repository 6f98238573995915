/** Cluster-wide job configuration: HA groups and rules, storage replication, backup jobs. */
import { createHash } from 'node:crypto';
import type { SimHaRule, SimReplicationJob } from '../admin-state.js';
import { nextEvent, parseCalendar } from '../calendar.js';
import type { Ctx, Routes } from '../context.js';
import { num, str, WithTotal } from '../context.js';
import { fail, paramError, permissionError } from '../errors.js';
import { replicationLog, replicationState } from '../replication.js';
import { dumpLogfile } from './tasks.js';

const sha1 = (text: string) => createHash('sha1').update(text).digest('hex');

/** A section config file's text, for its digest (pve-common PVE/SectionConfig.pm write_config). */
function sectionText(sections: [string, string, Record<string, unknown>][]): string {
  return sections
    .map(([type, id, props]) => {
      const lines = Object.entries(props)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `\t${k} ${typeof v === 'boolean' ? (v ? 1 : 0) : v}\n`);
      return `${type}: ${id}\n${lines.join('')}`;
    })
    .join('\n');
}

// HA

/**
 * Whether PVE 9's HA manager has migrated the groups to rules: there are none left (pve-ha-manager
 * PVE/HA/Config.pm have_groups_been_migrated). The CRM migrates only with every node online and on
 * PVE 9 (PVE/HA/Manager.pm), so groups of a dataset stay until then.
 */
const groupsMigrated = (ctx: Ctx) => ctx.cluster.admin.haGroups.size === 0;

function groupsDigest(ctx: Ctx) {
  return sha1(
    sectionText(
      [...ctx.cluster.admin.haGroups.values()].map((g) => [
        'group',
        g.group,
        { comment: g.comment, nodes: g.nodes, nofailback: g.nofailback, restricted: g.restricted },
      ]),
    ),
  );
}

/** A group as pve-ha-manager PVE/API2/HA/Groups.pm $api_copy_config gives it. */
function haGroup(ctx: Ctx, id: string) {
  const g = ctx.cluster.admin.haGroups.get(id);
  if (!g) throw fail(`no such ha group '${id}'`);
  const out: Record<string, unknown> = { group: g.group, type: 'group', nodes: g.nodes };
  if (g.restricted !== undefined) out.restricted = g.restricted ? 1 : 0;
  if (g.nofailback !== undefined) out.nofailback = g.nofailback ? 1 : 0;
  if (g.comment) out.comment = g.comment;
  out.digest = groupsDigest(ctx);
  return out;
}

interface Rule extends Omit<SimHaRule, 'strict'> {
  /** null for a group migrated in memory whose `restricted` is unset. */
  strict?: boolean | null;
  order: number;
}

/**
 * The rules as the API shows them: the rules config, and groups not yet migrated turned into
 * node-affinity rules the same way (pve-ha-manager PVE/API2/HA/Rules.pm $get_full_rules_config,
 * PVE/HA/Groups.pm migrate_groups_to_rules).
 */
function haRules(ctx: Ctx): { rules: Rule[]; digest: string } {
  const { admin, ha } = ctx.cluster;
  const rules: Rule[] = [...admin.haRules.values()].map((r, i) => ({ ...r, order: i + 1 }));
  const digest = sha1(
    sectionText(
      rules.map((r) => [
        r.type,
        r.rule,
        {
          affinity: r.affinity,
          comment: r.comment,
          disable: r.disable,
          nodes: r.nodes,
          resources: r.resources,
          strict: r.strict,
        },
      ]),
    ),
  );
  for (const g of [...admin.haGroups.values()].sort((a, b) => a.group.localeCompare(b.group))) {
    const resources = [...ha.values()].filter((r) => r.group === g.group).map((r) => r.sid);
    if (!resources.length) continue;
    // get_next_ordinal: one more than the lowest order in use.
    const order = rules.length ? Math.min(...rules.map((r) => r.order)) + 1 : 1;
    rules.push({
      rule: `ha-group-${g.group}`,
      type: 'node-affinity',
      resources: resources.sort().join(','),
      nodes: g.nodes,
      strict: g.restricted ?? null,
      comment: g.comment || `Generated from HA group '${g.group}'.`,
      order,
    });
  }
  rules.sort((a, b) => a.order - b.order || a.rule.localeCompare(b.rule));
  return { rules, digest };
}

/** A rule as Rules.pm $get_api_ha_rule gives it: nodes sorted, each with its priority. */
function ruleRow(rule: Rule, digest: string) {
  const out: Record<string, unknown> = { rule: rule.rule, type: rule.type };
  out.resources = rule.resources.split(',').sort().join(',');
  if (rule.nodes)
    out.nodes = rule.nodes
      .split(',')
      .sort((a, b) => (a.split(':')[0] ?? '').localeCompare(b.split(':')[0] ?? ''))
      .join(',');
  // A group's unset `restricted` becomes an undefined `strict`, which PVE's JSON sends as null.
  if (rule.strict !== undefined) out.strict = rule.strict === null ? null : rule.strict ? 1 : 0;
  if (rule.affinity) out.affinity = rule.affinity;
  if (rule.disable) out.disable = 1;
  if (rule.comment) out.comment = rule.comment;
  out.digest = digest;
  out.order = rule.order;
  return out;
}

// Replication

/** The replication job, or PVE's error for an unknown one. */
function replicationJob(ctx: Ctx): SimReplicationJob {
  const id = str(ctx, 'id') ?? '';
  const job = ctx.cluster.admin.replication.get(id);
  if (!job) throw fail(`no such replication job '${id}'`);
  return job;
}

/** A job's configuration (pve-guest-common PVE/ReplicationConfig.pm parse_config). */
function replicationConfig(job: SimReplicationJob) {
  const out: Record<string, unknown> = {
    id: job.id,
    type: 'local',
    target: job.target,
    guest: job.guest,
    jobnum: job.jobnum,
  };
  if (job.source) out.source = job.source;
  if (job.schedule) out.schedule = job.schedule;
  if (job.rate) out.rate = job.rate;
  if (job.comment) out.comment = job.comment;
  if (job.disable) out.disable = 1;
  return out;
}

function replicationDigest(ctx: Ctx) {
  return sha1(
    sectionText(
      [...ctx.cluster.admin.replication.values()].map((j) => [
        'local',
        j.id,
        {
          comment: j.comment,
          disable: j.disable,
          rate: j.rate,
          schedule: j.schedule,
          source: j.source,
          target: j.target,
        },
      ]),
    ),
  );
}

/**
 * The jobs of guests on this node with their state (pve-guest-common PVE/ReplicationState.pm
 * job_status, pve-manager PVE/API2/Replication.pm $extract_job_status).
 */
function nodeJobs(ctx: Ctx) {
  const node = str(ctx, 'node');
  const now = ctx.clock.seconds();
  const rows = new Map<string, Record<string, unknown>>();
  for (const job of [...ctx.cluster.admin.replication.values()].sort((a, b) =>
    a.id.localeCompare(b.id),
  )) {
    const guest = ctx.cluster.guests.get(job.guest);
    if (!guest || guest.node !== node) continue;
    // A guest migrated to its target: the job now copies back to where it came from
    // (PVE/ReplicationConfig.pm switch_replication_job_target_nolock), as the node writes it.
    if (job.source && job.source !== node) {
      if (job.target === node) job.target = job.source;
      job.source = node;
    }
    job.source ??= node;
    if (job.target === node) continue;
    const { failures: _f, ...state } = replicationState(ctx.cluster, job, now);
    rows.set(job.id, { ...replicationConfig(job), ...state, vmtype: guest.type });
  }
  return rows;
}

const canAudit = (ctx: Ctx, vmid: unknown) => ctx.access.has(ctx.auth, `/vms/${vmid}`, 'VM.Audit');

// Backup jobs

/** A backup job as jobs.cfg holds it (pve-manager PVE/API2/Backup.pm read_job). */
function backupJob(ctx: Ctx, id: string) {
  const job = ctx.cluster.admin.backupJobs.get(id);
  if (!job) throw paramError({ id: `No such job '${id}'` });
  const out: Record<string, unknown> = { id: job.id, type: 'vzdump' };
  for (const [key, value] of Object.entries(job)) {
    if (key === 'id' || value === undefined) continue;
    out[key] = typeof value === 'boolean' ? (value ? 1 : 0) : value;
  }
  return out;
}

/** The guests a backup job takes (pve-manager PVE/VZDump.pm get_included_guests). */
function includedGuests(ctx: Ctx, job: ReturnType<typeof backupJob>): Set<number> {
  const { cluster } = ctx;
  let vmids: number[];
  if (job.pool) vmids = [...(cluster.pools.get(String(job.pool))?.vms ?? [])];
  else if (job.vmid)
    vmids = String(job.vmid)
      .split(/[,;\s]+/)
      .filter(Boolean)
      .map(Number);
  else if (job.all) {
    const exclude = new Set(
      String(job.exclude ?? '')
        .split(/[,;\s]+/)
        .filter(Boolean)
        .map(Number),
    );
    vmids = [...cluster.guests.keys()].filter((v) => !exclude.has(v));
  } else vmids = [];
  return new Set(
    vmids.filter(
      (v) => !job.node || cluster.guests.get(v)?.node === job.node || !cluster.guests.has(v),
    ),
  );
}

export const jobRoutes: Routes = {
  // pve-ha-manager PVE/API2/HA/Groups.pm index and read: refused once migrated to rules.
  'GET /cluster/ha/groups': (ctx) => {
    if (groupsMigrated(ctx))
      throw fail('cannot index groups: ha groups have been migrated to rules');
    return [...ctx.cluster.admin.haGroups.keys()].map((id) => haGroup(ctx, id));
  },
  'GET /cluster/ha/groups/{group}': (ctx) => {
    if (groupsMigrated(ctx)) throw fail('cannot read group: ha groups have been migrated to rules');
    return haGroup(ctx, str(ctx, 'group') ?? '');
  },
  // pve-ha-manager PVE/API2/HA/Rules.pm index (foreach_rule: type, resource, sorted) and read_rule.
  'GET /cluster/ha/rules': (ctx) => {
    const type = str(ctx, 'type');
    const resource = str(ctx, 'resource');
    const { rules, digest } = haRules(ctx);
    return rules
      .filter(
        (r) =>
          (!type || r.type === type) && (!resource || r.resources.split(',').includes(resource)),
      )
      .map((r) => ruleRow(r, digest));
  },
  'GET /cluster/ha/rules/{rule}': (ctx) => {
    const id = str(ctx, 'rule') ?? '';
    const { rules, digest } = haRules(ctx);
    const rule = rules.find((r) => r.rule === id);
    if (!rule) throw fail(`no such ha rule '${id}'`);
    return ruleRow(rule, digest);
  },

  // pve-manager PVE/API2/ReplicationConfig.pm index and read.
  'GET /cluster/replication': (ctx) =>
    [...ctx.cluster.admin.replication.values()]
      .sort((a, b) => a.id.localeCompare(b.id))
      .filter((j) => canAudit(ctx, j.guest))
      .map(replicationConfig),
  'GET /cluster/replication/{id}': (ctx) => {
    const job = replicationJob(ctx);
    if (!canAudit(ctx, job.guest)) throw permissionError(`/vms/${job.guest}`, 'VM.Audit');
    return { ...replicationConfig(job), digest: replicationDigest(ctx) };
  },
  // pve-manager PVE/API2/Replication.pm status, index, job_status, read_job_log.
  'GET /nodes/{node}/replication': (ctx) => {
    const guest = num(ctx, 'guest');
    return [...nodeJobs(ctx).values()].filter(
      (r) => (guest === undefined || r.guest === guest) && canAudit(ctx, r.guest),
    );
  },
  'GET /nodes/{node}/replication/{id}': () => [
    { name: 'schedule_now' },
    { name: 'log' },
    { name: 'status' },
  ],
  'GET /nodes/{node}/replication/{id}/status': (ctx) => {
    const id = str(ctx, 'id') ?? '';
    const row = nodeJobs(ctx).get(id);
    if (!row) throw fail(`no such replication job '${id}'`);
    if (!canAudit(ctx, row.guest)) throw permissionError(`/vms/${row.guest}`, 'VM.Audit');
    return row;
  },
  'GET /nodes/{node}/replication/{id}/log': (ctx) => {
    const job = replicationJob(ctx);
    const node = str(ctx, 'node');
    if (!canAudit(ctx, job.guest) && !ctx.access.has(ctx.auth, `/nodes/${node}`, 'Sys.Audit'))
      throw permissionError(`/vms/${job.guest}`, 'VM.Audit');
    // The log file is on the node that ran the job.
    const ranHere = ctx.cluster.guests.get(job.guest)?.node === node;
    const lines = ranHere ? replicationLog(ctx.cluster, job, ctx.clock.seconds()) : undefined;
    if (!lines)
      return new WithTotal([{ n: 1, t: 'unable to open file - No such file or directory' }], 1);
    return dumpLogfile(lines, num(ctx, 'start'), num(ctx, 'limit'));
  },

  // pve-manager PVE/API2/Backup.pm index (next-run computed from now) and read_job.
  'GET /cluster/backup': (ctx) =>
    [...ctx.cluster.admin.backupJobs.keys()].map((id) => {
      const job = backupJob(ctx, id);
      const ev = parseCalendar(String(job.schedule ?? ''));
      if (ev) job['next-run'] = nextEvent(ev, ctx.clock.seconds());
      return job;
    }),
  'GET /cluster/backup/{id}': (ctx) => backupJob(ctx, str(ctx, 'id') ?? ''),
  'GET /cluster/backup-info': () => [{ subdir: 'not-backed-up' }],
  // pve-manager PVE/API2/Cluster/BackupInfo.pm get_guests_not_in_backup.
  'GET /cluster/backup-info/not-backed-up': (ctx) => {
    const covered = new Set<number>();
    for (const id of ctx.cluster.admin.backupJobs.keys())
      for (const v of includedGuests(ctx, backupJob(ctx, id))) covered.add(v);
    return [...ctx.cluster.guests.values()]
      .filter((g) => !covered.has(g.vmid) && canAudit(ctx, g.vmid))
      .sort((a, b) => a.vmid - b.vmid)
      .map((g) => {
        const name = g.type === 'qemu' ? g.config.name : g.config.hostname;
        return { vmid: g.vmid, type: g.type, ...(name === undefined ? {} : { name }) };
      });
  },
};
