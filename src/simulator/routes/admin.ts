/**
 * A node's administration views: services, package updates, disks, syslog and journal; and the
 * cluster log.
 */
import { SERVICES, type SimDisk, UPDATE_CATALOG } from '../admin-state.js';
import type { Ctx, Routes } from '../context.js';
import { bool, num, str, WithTotal } from '../context.js';
import { fail, paramError } from '../errors.js';
import {
  clusterLog,
  cursorSeq,
  type JournalEntry,
  journalCursor,
  journalLine,
  nodeJournal,
} from '../journal.js';
import { nodeOf } from './nodes.js';

const major = (ctx: Ctx) => Number(ctx.cluster.version.split('.')[0]);

/**
 * PVE's service list for the simulated version (pve-manager PVE/API2/Services.pm), with each
 * service's state as `systemctl show` gives it ($service_state).
 */
function services(ctx: Ctx) {
  const node = nodeOf(ctx);
  const states = ctx.cluster.admin.services.get(node.name);
  const pve8 = major(ctx) < 9;
  return SERVICES.filter((s) => !(s.since9 && pve8)).map((s) => {
    const st = states?.get(s.name) ?? {
      state: 'unknown',
      unitState: 'unknown',
      activeState: 'unknown',
    };
    // PVE 8 looks at postfix's `-` instance (Services.pm $unit_extra_names).
    const desc =
      pve8 && s.name === 'postfix' ? 'Postfix Mail Transport Agent (instance -)' : s.desc;
    return {
      service: s.name,
      name: s.name,
      desc,
      state: st.state,
      'unit-state': st.unitState,
      'active-state': st.activeState,
    };
  });
}

/** The next patch release of a version: `9.1.3` -> `9.1.4`. */
const nextPatch = (v: string) => v.replace(/(\d+)$/, (n) => String(Number(n) + 1));

/** The updates apt offers the node (pve-manager PVE/API2/APT.pm list_updates, assemble_pkginfo). */
function updates(ctx: Ctx) {
  const node = nodeOf(ctx);
  const waiting = new Set(ctx.cluster.admin.updates.get(node.name) ?? []);
  const release = major(ctx) >= 9 ? '9' : '8';
  return UPDATE_CATALOG.filter((p) => waiting.has(p.Package)).map((p) => {
    const [old, version] = p.versions?.[release] ?? [
      ctx.cluster.version,
      nextPatch(ctx.cluster.version),
    ];
    const row: Record<string, unknown> = {
      Package: p.Package,
      Title: p.Title,
      Description: p.Description,
      Origin: p.Origin,
      Section: p.Section,
      Arch: p.Arch,
      Priority: p.Priority,
      Version: version,
    };
    if (old) row.OldVersion = old;
    // The daily update already mailed about the new pve-manager.
    if (p.Package === 'pve-manager') row.NotifyStatus = version;
    return row;
  });
}

function diskRow(d: SimDisk, smart: boolean, withPartitions: boolean) {
  const row: Record<string, unknown> = {
    devpath: d.devpath,
    type: d.type,
    size: d.size,
    model: d.model,
    vendor: d.vendor,
    serial: d.serial,
    wwn: d.wwn,
    gpt: d.gpt ? 1 : 0,
    rpm: d.rpm,
    health: smart ? 'PASSED' : 'UNKNOWN',
    wearout: smart && d.wearout !== undefined ? d.wearout : 'N/A',
    by_id_link: `/dev/disk/by-id/${d.type === 'nvme' ? 'nvme' : 'ata'}-${d.model.replace(/ /g, '_')}_${d.serial}`,
    mounted: 0,
    osdid: -1,
    'osdid-list': [],
  };
  // Without partitions listed, a disk shows the use of its first partition that has one
  // (pve-storage PVE/Diskmanage.pm get_disks).
  const used = withPartitions && d.partitions.length ? 'partitions' : d.partitions[0]?.used;
  if (used) row.used = used;
  return row;
}

/** The node's disks (pve-storage PVE/API2/Disks.pm list, PVE/Diskmanage.pm get_disks). */
function disks(ctx: Ctx) {
  const node = nodeOf(ctx);
  const smart = !bool(ctx, 'skipsmart');
  const withPartitions = bool(ctx, 'include-partitions');
  const rows: Record<string, unknown>[] = [];
  for (const d of ctx.cluster.admin.disks.get(node.name) ?? []) {
    rows.push(diskRow(d, smart, withPartitions));
    if (!withPartitions) continue;
    d.partitions.forEach((p, i) => {
      // zpool create numbers its reserve partition 9.
      const n = p.used === 'ZFS reserved' ? 9 : i + 1;
      rows.push({
        devpath: `${d.devpath}${d.type === 'nvme' ? 'p' : ''}${n}`,
        parent: d.devpath,
        type: 'partition',
        size: p.size,
        gpt: d.gpt ? 1 : 0,
        used: p.used,
        mounted: 0,
        osdid: -1,
        'osdid-list': [],
      });
    });
  }
  // Sorted by device name, partitions after their disk.
  rows.sort((a, b) => (String(a.devpath) < String(b.devpath) ? -1 : 1));
  const type = str(ctx, 'type');
  if (type === 'unused') return rows.filter((r) => !r.used);
  if (type === 'journal_disks')
    return rows.filter(
      (r) => r.osdid === -1 && (!r.used || (r.used === 'partitions' && r.gpt) || r.used === 'LVM'),
    );
  return rows;
}

/** `YYYY-MM-DD[ HH:MM[:SS]]` in the node's local time (here UTC), as journalctl reads it. */
function journalTime(text: string): number {
  const [date = '', time = '00:00:00'] = text.split(' ');
  const [h = '0', m = '0', s = '0'] = time.split(':');
  return Date.parse(`${date}T${h.padStart(2, '0')}:${m.padStart(2, '0')}:${s.padStart(2, '0')}Z`);
}

/**
 * The unit `journalctl --unit` is given: PVE 9.1 maps postfix to its instance
 * (pve-manager PVE/API2/Nodes.pm syslog).
 */
const unitFor = (service: string) => (service === 'postfix' ? 'postfix@-' : service);

/** `journalctl -o short` paged as pve-common PVE/Tools.pm dump_journal pages it. */
function syslog(ctx: Ctx) {
  const node = nodeOf(ctx);
  const since = str(ctx, 'since');
  const until = str(ctx, 'until');
  const service = str(ctx, 'service');
  const unit = service ? unitFor(service).replace(/\.service$/, '') : undefined;
  const lines = nodeJournal(ctx.cluster, ctx.tasks, node)
    .filter(
      (e) =>
        (!since || e.time >= journalTime(since)) &&
        (!until || e.time <= journalTime(until)) &&
        (!unit || e.unit === unit),
    )
    .map((e) => journalLine(node.name, e));
  // journalctl prints this line when nothing matches.
  if (!lines.length) lines.push('-- No entries --');
  const start = num(ctx, 'start') ?? 0;
  const limit = num(ctx, 'limit') || 50;
  const page = lines.slice(start, start + limit).map((t, i) => ({ n: start + i + 1, t }));
  return new WithTotal(page, lines.length);
}

/**
 * mini-journalreader's answer (pve-manager PVE/API2/Nodes.pm journal): the first entry's cursor,
 * the lines, then the cursor of where reading stopped; the web UI pages with those cursors. The
 * reader's moves through sd-journal are followed step by step (proxmox-mini-journalreader main).
 */
function journal(ctx: Ctx) {
  const node = nodeOf(ctx);
  const entries = nodeJournal(ctx.cluster, ctx.tasks, node);
  const count = entries.length;
  let number = num(ctx, 'lastentries') ?? 0;
  const begin = (num(ctx, 'since') ?? 0) * 1000;
  const end = (num(ctx, 'until') ?? 0) * 1000;
  const startcursor = str(ctx, 'startcursor');
  const endcursor = str(ctx, 'endcursor');
  // The reader's own refusals (usage()); PVE then streams an empty answer.
  if (number && (begin || startcursor)) throw fail('ERROR: -n conflicts with -b and/or -f');
  if (begin && startcursor) throw fail('ERROR: -b and -f conflict');
  if (end && endcursor) throw fail('ERROR: -e and -t conflict');

  // Where sd-journal stands: on an entry, before entry `gap` after a seek, or at a cursor's entry
  // (which the next step in either direction lands on).
  let pos: { at: number } | { gap: number } | { cursor: number } = { gap: 0 };
  const seekTime = (t: number) => {
    const i = entries.findIndex((e) => e.time >= t);
    pos = { gap: i < 0 ? count : i };
  };
  const seekCursor = (cursor: string, what: string) => {
    const seq = cursorSeq(ctx.cluster, node, cursor);
    if (seq === undefined) throw fail(`Failed to seek to ${what}/cursor: Invalid argument`);
    const i = entries.findIndex((e) => e.seq >= seq);
    pos = i >= 0 && entries[i]?.seq === seq ? { cursor: i } : { gap: i < 0 ? count : i };
  };
  const next = () => {
    const i = 'at' in pos ? pos.at + 1 : 'gap' in pos ? pos.gap : pos.cursor;
    if (i >= count) return false;
    pos = { at: i };
    return true;
  };
  const previous = () => {
    const i = 'at' in pos ? pos.at - 1 : 'gap' in pos ? pos.gap - 1 : pos.cursor;
    if (i < 0) return false;
    pos = { at: i };
    return true;
  };
  const current = () => ('at' in pos ? (entries[pos.at] as JournalEntry) : undefined);
  const out: string[] = [];
  let first = false;
  const printFirst = () => {
    const e = current();
    if (first || !e) return;
    out.push(journalCursor(ctx.cluster, node, e));
    first = true;
  };

  if (number) {
    if (end) seekTime(end);
    else if (endcursor) {
      seekCursor(endcursor, 'end');
      number++;
    } else pos = { gap: count };
    for (let k = 0; k < number + 1 && previous(); k++);
  } else {
    if (begin) seekTime(begin);
    else if (startcursor) seekCursor(startcursor, 'begin');
    if (startcursor) {
      next();
      printFirst();
    }
  }
  // sd_journal_test_cursor fails on a cursor it cannot parse, which the reader takes as a match.
  const endSeq =
    endcursor === undefined ? undefined : (cursorSeq(ctx.cluster, node, endcursor) ?? -1);
  while (next() && (!end || (current() as JournalEntry).time < end)) {
    printFirst();
    const e = current() as JournalEntry;
    if (endSeq !== undefined && (endSeq === -1 || e.seq === endSeq)) break;
    out.push(journalLine(node.name, e));
  }
  const last = current();
  if (last) out.push(journalCursor(ctx.cluster, node, last));
  return out;
}

export const adminRoutes: Routes = {
  'GET /nodes/{node}/services': services,
  'GET /nodes/{node}/services/{service}': () =>
    ['state', 'start', 'stop', 'restart', 'reload'].map((subdir) => ({ subdir })),
  'GET /nodes/{node}/services/{service}/state': (ctx) => {
    const name = str(ctx, 'service');
    const list = services(ctx);
    const row = list.find((s) => s.service === name);
    // The contract's enum is PVE 9's; PVE 8's schema lists fewer services.
    if (!row)
      throw paramError({
        service: `value '${name}' does not have a value in the enumeration '${list.map((s) => s.service).join(', ')}'`,
      });
    return row;
  },
  'GET /nodes/{node}/apt/update': updates,
  'GET /nodes/{node}/disks/list': disks,
  'GET /nodes/{node}/syslog': syslog,
  'GET /nodes/{node}/journal': journal,

  // pve-manager PVE/API2/Cluster.pm log: all of it with Sys.Syslog on /, else the caller's own;
  // pmxcfs gives 50 entries unless told (pmxcfs/server.c).
  'GET /cluster/log': (ctx) => {
    const admin = ctx.access.has(ctx.auth, '/', 'Sys.Syslog');
    const me = ctx.auth.tokenid ? `${ctx.auth.userid}!${ctx.auth.tokenid}` : ctx.auth.userid;
    return clusterLog(ctx.cluster, ctx.tasks)
      .filter((e) => admin || e.user === me)
      .slice(0, num(ctx, 'max') ?? 50)
      .map((e) => ({ ...e, id: `${e.uid}:${e.node}` }));
  },
};
