/**
 * The `firewall` toolset: PVE's firewall at its three levels (datacenter, node, guest) in four
 * tools, one per family. Every change goes through the request path, where the rails and the
 * lock-out check (policy/lockout.ts) see it.
 */
import { z } from 'zod';
import { node as nodeName, resolveGuest, ToolError, vmid } from './common.js';
import { type AnyTool, defineTool, ok, type ToolContext } from './define.js';
import { rowsTable, table } from './render.js';

const where = {
  node: nodeName.optional(),
  vmid: vmid.optional(),
};

interface Level {
  /** `datacenter`, `node pve1`, `VM 100` */
  label: string;
  base: string;
  kind: 'datacenter' | 'node' | 'guest';
}

/** The firewall a call is about: a guest's with `vmid`, a node's with `node` alone, else the datacenter's. */
async function levelOf(ctx: ToolContext, a: { node?: string; vmid?: number }): Promise<Level> {
  if (a.vmid !== undefined) {
    const g = await resolveGuest(ctx, a.vmid, { node: a.node });
    return {
      label: `${g.type === 'qemu' ? 'VM' : 'container'} ${a.vmid}`,
      base: `/nodes/${g.node}/${g.type}/${a.vmid}/firewall`,
      kind: 'guest',
    };
  }
  if (a.node) return { label: `node ${a.node}`, base: `/nodes/${a.node}/firewall`, kind: 'node' };
  return { label: 'the datacenter', base: '/cluster/firewall', kind: 'datacenter' };
}

const get = async (ctx: ToolContext, path: string, params: Record<string, string | number> = {}) =>
  (await ctx.pve.client.request('GET', path, params, { signal: ctx.signal })).data;

const send = (
  ctx: ToolContext,
  method: 'POST' | 'PUT' | 'DELETE',
  path: string,
  params: Record<string, unknown>,
) =>
  ctx.pve.client.request(
    method,
    path,
    Object.fromEntries(
      Object.entries(params)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => [k, typeof v === 'boolean' ? (v ? 1 : 0) : (v as string | number)]),
    ),
    { signal: ctx.signal },
  );

type Row = Record<string, string | number | undefined>;

const RULE_COLUMNS = [
  'pos',
  'type',
  'action',
  'macro',
  'proto',
  'dport',
  'sport',
  'source',
  'dest',
  'iface',
  'enable',
  'log',
  'comment',
];

/** Rules as a table, the columns any rule uses; the list's digest last, for the next change. */
function rulesText(rules: Row[]): string {
  if (!rules.length) return 'no rules';
  const used = RULE_COLUMNS.filter((c) => rules.some((r) => r[c] !== undefined && r[c] !== ''));
  const digest = rules[0]?.digest;
  return `${table(
    rules,
    used.map((c) => [c, (r) => r[c]]),
  )}${digest ? `\ndigest: ${digest}` : ''}`;
}

const lines = (o: unknown) =>
  Object.entries((o ?? {}) as Record<string, unknown>)
    .map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`)
    .join('\n') || 'nothing set (PVE defaults apply)';

const SECTIONS = ['options', 'rules', 'aliases', 'ipsets', 'groups', 'refs', 'log'] as const;

const getFirewall = defineTool({
  name: 'proxmox_get_firewall',
  title: 'Read firewall',
  description:
    "Reads a firewall: a guest's with vmid, a node's with node, else the datacenter's. section: options, rules, aliases, ipsets (or one set's entries by name), groups (security groups, or one group's rules by name), refs (names usable in rules), log (node or guest; limit lines). Returns the answer with its digest.",
  toolset: 'firewall',
  access: 'read',
  targets: (a) => ({ guests: [a.vmid], nodes: [a.node] }),
  input: z.object({
    ...where,
    section: z.enum(SECTIONS),
    name: z.string().optional(),
    limit: z.coerce.number().int().min(1).max(1000).optional(),
  }),
  output: z.object({ level: z.string(), path: z.string(), data: z.unknown() }),
  async run(a, ctx) {
    const level = await levelOf(ctx, a);
    const only = (kinds: Level['kind'][]) => {
      if (!kinds.includes(level.kind))
        throw new ToolError(
          `A ${level.kind} firewall has no ${a.section}: they exist at the ${kinds.join(' and ')} level${kinds.length > 1 ? 's' : ''}.`,
        );
    };
    let path = `${level.base}/${a.section}`;
    const params: Record<string, number> = {};
    if (a.section === 'aliases' || a.section === 'refs') only(['datacenter', 'guest']);
    if (a.section === 'ipsets') {
      only(['datacenter', 'guest']);
      path = `${level.base}/ipset${a.name ? `/${encodeURIComponent(a.name)}` : ''}`;
    }
    if (a.section === 'groups') {
      only(['datacenter']);
      path = `${level.base}/groups${a.name ? `/${encodeURIComponent(a.name)}` : ''}`;
    }
    if (a.section === 'log') {
      only(['node', 'guest']);
      params.limit = a.limit ?? 50;
    }
    const answer = await ctx.pve.client.request('GET', path, params, { signal: ctx.signal });
    const data = answer.data;
    let text: string;
    if (a.section === 'rules' || (a.section === 'groups' && a.name))
      text = rulesText(data as Row[]);
    else if (a.section === 'options') text = lines(data);
    else if (a.section === 'log')
      text = `${(data as { t: string }[]).map((l) => l.t).join('\n')}\n(${(data as unknown[]).length} of ${answer.total ?? '?'} lines)`;
    else {
      const rows = data as Row[];
      text = rows.length ? rowsTable(rows, ['digest']) : 'none';
      if (rows[0]?.digest) text += `\ndigest: ${rows[0].digest}`;
    }
    return ok(
      { level: level.label, path, data },
      `Firewall of ${level.label}, ${a.section}${a.name ? ` ${a.name}` : ''}:\n${text}`,
    );
  },
});

const onOff = z.boolean().optional();
const logLevel = z
  .enum(['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug', 'nolog'])
  .optional();
const policy = z.enum(['ACCEPT', 'REJECT', 'DROP']).optional();

const setOptions = defineTool({
  name: 'proxmox_set_firewall_options',
  title: 'Set firewall options',
  description:
    "Changes firewall options: a guest's with vmid (ipfilter, macfilter, dhcp, ndp, radv, policies), a node's with node, else the datacenter's. delete resets options to PVE's defaults. A change that would cut this server's management path (TCP 8006 and 22) is refused unless allowLockout, which a human must confirm. Returns the options after the change.",
  toolset: 'firewall',
  access: 'write',
  targets: (a) => ({ guests: [a.vmid], nodes: [a.node], lockout: a.allowLockout }),
  input: z.object({
    ...where,
    enable: onOff,
    policy_in: policy,
    policy_out: policy,
    log_level_in: logLevel,
    log_level_out: logLevel,
    ipfilter: onOff,
    macfilter: onOff,
    dhcp: onOff,
    ndp: onOff,
    radv: onOff,
    delete: z.array(z.string()).optional(),
    digest: z.string().optional(),
    allowLockout: z.boolean().optional(),
  }),
  output: z.object({ level: z.string(), options: z.record(z.string(), z.unknown()) }),
  async run(a, ctx) {
    const level = await levelOf(ctx, a);
    const { node: _n, vmid: _v, allowLockout: _l, delete: del, ...options } = a;
    await send(ctx, 'PUT', `${level.base}/options`, { ...options, delete: del?.join(',') });
    const after = (await get(ctx, `${level.base}/options`)) as Record<string, unknown>;
    return ok(
      { level: level.label, options: after },
      `Firewall options of ${level.label} now:\n${lines(after)}`,
    );
  },
});

const editRule = defineTool({
  name: 'proxmox_edit_firewall_rule',
  title: 'Edit firewall rule',
  description:
    "Adds, updates, moves or deletes a firewall rule: a guest's with vmid, a node's with node, a security group's with group, else the datacenter's. add puts the rule first (pos 0), enabled unless enable: false; update, move (before the rule at moveto) and delete take its pos, and digest refuses the change if the rules changed since read. action is ACCEPT, DROP, REJECT, or the security group of a group rule. A change that would cut this server's management path is refused unless allowLockout, which a human must confirm. Returns the rules after the change.",
  toolset: 'firewall',
  access: 'destructive',
  targets: (a) => ({ guests: [a.vmid], nodes: [a.node], lockout: a.allowLockout }),
  input: z.object({
    change: z.enum(['add', 'update', 'move', 'delete']),
    ...where,
    group: z.string().optional(),
    pos: z.coerce.number().int().min(0).optional(),
    moveto: z.coerce.number().int().min(0).optional(),
    digest: z.string().optional(),
    type: z.enum(['in', 'out', 'forward', 'group']).optional(),
    action: z.string().optional(),
    macro: z.string().optional(),
    proto: z.string().optional(),
    dport: z.string().optional(),
    sport: z.string().optional(),
    source: z.string().optional(),
    dest: z.string().optional(),
    iface: z.string().optional(),
    'icmp-type': z.string().optional(),
    log: logLevel,
    comment: z.string().optional(),
    enable: onOff,
    allowLockout: z.boolean().optional(),
  }),
  output: z.object({ level: z.string(), rules: z.array(z.record(z.string(), z.unknown())) }),
  async run(a, ctx) {
    const { change, node: _n, vmid: _v, group, pos, moveto, allowLockout: _l, ...fields } = a;
    const level = group
      ? {
          label: `security group ${group}`,
          base: `/cluster/firewall/groups/${encodeURIComponent(group)}`,
          kind: 'datacenter' as const,
        }
      : await levelOf(ctx, a);
    const list = group ? level.base : `${level.base}/rules`;
    if (change !== 'add' && pos === undefined)
      throw new ToolError(
        `To ${change} a rule, give its pos (proxmox_get_firewall with section rules lists them).`,
      );
    if (change === 'move' && moveto === undefined)
      throw new ToolError('To move a rule, give moveto, its new position.');
    if (change === 'add')
      await send(ctx, 'POST', list, { ...fields, enable: fields.enable ?? true });
    else if (change === 'update') await send(ctx, 'PUT', `${list}/${pos}`, fields);
    else if (change === 'move')
      await send(ctx, 'PUT', `${list}/${pos}`, { moveto, digest: fields.digest });
    else await send(ctx, 'DELETE', `${list}/${pos}`, { digest: fields.digest });
    const rules = (await get(ctx, list)) as Row[];
    // PVE puts a moved rule before the one at `moveto`, counted before the move.
    const landed =
      pos === undefined || moveto === undefined
        ? undefined
        : Math.min(moveto > pos ? moveto - 1 : moveto, rules.length - 1);
    const done = {
      add: 'added',
      update: `${pos} updated`,
      move: `${pos} moved to ${landed}`,
      delete: `${pos} deleted`,
    }[change];
    return ok(
      { level: level.label, rules },
      `Rule ${done} in the firewall of ${level.label}. Rules now:\n${rulesText(rules)}`,
    );
  },
});

const editSet = defineTool({
  name: 'proxmox_edit_firewall_set',
  title: 'Edit firewall alias, IP set or group',
  description:
    "Adds, updates or deletes a named firewall object: an alias (name, cidr; update may rename), an IP set (name; update renames it to rename; delete with force empties it first), an IP set entry (name of the set, cidr, nomatch) or a security group (datacenter only; its rules via proxmox_edit_firewall_rule with group). A guest's with vmid, else the datacenter's. Returns the object's list after the change.",
  toolset: 'firewall',
  access: 'destructive',
  targets: (a) => ({ guests: [a.vmid], nodes: [a.node], lockout: a.allowLockout }),
  input: z.object({
    kind: z.enum(['alias', 'ipset', 'entry', 'group']),
    change: z.enum(['add', 'update', 'delete']),
    ...where,
    name: z.string().min(1),
    cidr: z.string().optional(),
    rename: z.string().optional(),
    nomatch: onOff,
    force: onOff,
    comment: z.string().optional(),
    digest: z.string().optional(),
    allowLockout: z.boolean().optional(),
  }),
  output: z.object({ level: z.string(), items: z.array(z.record(z.string(), z.unknown())) }),
  async run(a, ctx) {
    const level = await levelOf(ctx, a);
    if (level.kind === 'node')
      throw new ToolError(
        'A node firewall has no aliases, IP sets or groups: they exist at the datacenter and guest levels.',
      );
    if (a.kind === 'group' && level.kind !== 'datacenter')
      throw new ToolError('Security groups exist only at the datacenter level: leave out vmid.');
    const { name, cidr, rename, nomatch, force, comment, digest, change } = a;
    const need = (value: string | undefined, what: string) => {
      if (!value)
        throw new ToolError(
          `To ${change} ${a.kind === 'entry' ? 'an IP set entry' : `an ${a.kind}`}, give ${what}.`,
        );
      return value;
    };
    let list: string;
    if (a.kind === 'alias') {
      list = `${level.base}/aliases`;
      if (change === 'add')
        await send(ctx, 'POST', list, { name, cidr: need(cidr, 'cidr'), comment });
      else if (change === 'update')
        await send(ctx, 'PUT', `${list}/${encodeURIComponent(name)}`, {
          cidr: need(cidr, 'cidr'),
          rename,
          comment,
          digest,
        });
      else await send(ctx, 'DELETE', `${list}/${encodeURIComponent(name)}`, { digest });
    } else if (a.kind === 'entry') {
      list = `${level.base}/ipset/${encodeURIComponent(name)}`;
      if (change === 'add')
        await send(ctx, 'POST', list, { cidr: need(cidr, 'cidr'), nomatch, comment });
      else if (change === 'update')
        await send(ctx, 'PUT', `${list}/${encodeURIComponent(need(cidr, 'cidr'))}`, {
          nomatch,
          comment,
          digest,
        });
      else
        await send(ctx, 'DELETE', `${list}/${encodeURIComponent(need(cidr, 'cidr'))}`, { digest });
    } else {
      const group = a.kind === 'group';
      list = group ? `${level.base}/groups` : `${level.base}/ipset`;
      const key = group ? 'group' : 'name';
      // PVE renames by creating under the new name with `rename` naming the old one.
      if (change === 'add') await send(ctx, 'POST', list, { [key]: name, comment });
      else if (change === 'update')
        await send(ctx, 'POST', list, {
          [key]: rename ?? name,
          rename: rename ? name : undefined,
          comment,
          digest,
        });
      else await send(ctx, 'DELETE', `${list}/${encodeURIComponent(name)}`, group ? {} : { force });
    }
    const items = (await get(ctx, list)) as Row[];
    return ok(
      { level: level.label, items },
      `${a.kind === 'entry' ? `IP set ${name} entry` : `${a.kind} ${name}`} ${change === 'add' ? 'added' : `${change}d`} in the firewall of ${level.label}. Now:\n${
        items.length ? rowsTable(items, ['digest']) : 'none'
      }`,
    );
  },
});

export const firewallTools: AnyTool[] = [getFirewall, setOptions, editRule, editSet];
