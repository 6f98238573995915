/**
 * The firewall API of the datacenter, the nodes and the guests (pve-firewall
 * src/PVE/API2/Firewall/*.pm): options, rules, security groups, aliases, IP sets, references and
 * macros. Every call reads the config files, changes them and writes them back as pve-firewall
 * does (see ../firewall.ts); the logs are in firewall-log.ts.
 */
import { listOf } from '../../contract/formats.js';
import type { Ctx, Handler, Routes } from '../context.js';
import { bool, num, str } from '../context.js';
import type { GuestType } from '../dataset-types.js';
import { fail, paramError } from '../errors.js';
import {
  assertDigest,
  cleanCidr,
  clusterPath,
  copyRuleData,
  deleteRuleProperties,
  type FwAlias,
  type FwConf,
  type FwIpEntry,
  type FwRule,
  formatErrors,
  guestEnv,
  guestPath,
  hostPath,
  listWithDigest,
  macroList,
  objectWithDigest,
  parseIpOrCidr,
  perlTrue,
  type RuleEnv,
  resolveAlias,
  SECURITY_GROUP_PATTERN,
  verifyRule,
} from '../firewall.js';
import { firewallLogRoutes, playTraffic } from './firewall-log.js';

const state = (ctx: Ctx) => ctx.cluster.firewall;

/**
 * A firewall handler: the schema's firewall formats checked (the contract leaves them to the
 * simulator), and the simulated traffic played up to now before anything changes.
 */
const fwHandler =
  (h: Handler): Handler =>
  (ctx) => {
    const errors = formatErrors(ctx.op.params, ctx.params);
    if (errors) throw paramError(errors);
    playTraffic(ctx.cluster);
    return h(ctx);
  };

/** Where a config is: the datacenter's, a node's or a guest's file, and how it is verified. */
interface Level {
  env: RuleEnv;
  /** The datacenter's config beside a node's or guest's (undefined at the datacenter). */
  load(ctx: Ctx): { dc?: FwConf; conf: FwConf };
  save(ctx: Ctx, conf: FwConf): void;
}

const datacenter: Level = {
  env: 'cluster',
  load: (ctx) => ({ conf: state(ctx).cluster() }),
  save: (ctx, conf) => state(ctx).save(clusterPath, conf),
};

const hostLevel: Level = {
  env: 'host',
  load: (ctx) => {
    const dc = state(ctx).cluster();
    return { dc, conf: state(ctx).host(str(ctx, 'node') ?? '', dc) };
  },
  save: (ctx, conf) => state(ctx).save(hostPath(str(ctx, 'node') ?? ''), conf),
};

/** A guest's file: PVE neither checks that the guest exists nor where it runs. */
const guestLevel = (type: GuestType): Level => ({
  env: guestEnv(type),
  load: (ctx) => {
    const dc = state(ctx).cluster();
    return { dc, conf: state(ctx).guest(num(ctx, 'vmid') ?? 0, dc) };
  },
  save: (ctx, conf) => state(ctx).save(guestPath(num(ctx, 'vmid') ?? 0), conf),
});

// Options (API2/Firewall/Cluster.pm, Host.pm, VM.pm get_options, set_options)

const OPTIONS: Record<'cluster' | 'host' | 'vm', string[]> = {
  cluster: ['enable', 'ebtables', 'policy_in', 'policy_out', 'policy_forward', 'log_ratelimit'],
  host: [
    'enable',
    'log_level_in',
    'log_level_out',
    'log_level_forward',
    'tcp_flags_log_level',
    'smurf_log_level',
    'nosmurfs',
    'tcpflags',
    'nf_conntrack_max',
    'nf_conntrack_tcp_timeout_established',
    'nf_conntrack_tcp_timeout_syn_recv',
    'ndp',
    'nf_conntrack_allow_invalid',
    'nf_conntrack_helpers',
    'protection_synflood',
    'protection_synflood_rate',
    'protection_synflood_burst',
    'log_nf_conntrack',
    'nftables',
  ],
  vm: [
    'enable',
    'macfilter',
    'dhcp',
    'ndp',
    'radv',
    'ipfilter',
    'policy_in',
    'policy_out',
    'log_level_in',
    'log_level_out',
  ],
};

function optionRoutes(
  level: Level,
  kind: 'cluster' | 'host' | 'vm',
): { get: Handler; put: Handler } {
  return {
    get: (ctx) => objectWithDigest(level.load(ctx).conf.options)[0],
    put: (ctx) => {
      const { conf } = level.load(ctx);
      assertDigest(objectWithDigest(conf.options)[1], ctx.params.digest);
      for (const opt of listOf(ctx.params.delete)) {
        if (!OPTIONS[kind].includes(opt)) throw paramError({ delete: `no such option '${opt}'` });
        delete conf.options[opt];
      }
      for (const k of OPTIONS[kind]) {
        const v = ctx.params[k];
        if (v === undefined) continue;
        if (k === 'enable' && kind === 'cluster')
          // Above 1: the first of two calls, on for a minute unless the second sets 1.
          conf.options[k] = Number(v) > 1 ? ctx.clock.seconds() : Number(v);
        else conf.options[k] = typeof v === 'boolean' ? (v ? 1 : 0) : (v as string | number);
      }
      level.save(ctx, conf);
      return null;
    },
  };
}

// Rules (API2/Firewall/Rules.pm)

interface RuleSet {
  env: RuleEnv;
  load(ctx: Ctx): { dc?: FwConf; conf: FwConf; rules: FwRule[] };
  save(ctx: Ctx, conf: FwConf, rules: FwRule[]): void;
}

const levelRules = (level: Level): RuleSet => ({
  env: level.env,
  load: (ctx) => {
    const { dc, conf } = level.load(ctx);
    return { dc, conf, rules: conf.rules };
  },
  save: (ctx, conf, rules) => {
    conf.rules = rules;
    level.save(ctx, conf);
  },
});

/** GroupRules load_config: the rules of a security group. */
const groupRules: RuleSet = {
  env: 'group',
  load: (ctx) => {
    const conf = state(ctx).cluster();
    const group = str(ctx, 'group') ?? '';
    const rules = conf.groups.get(group);
    if (!rules) throw fail(`no such security group '${group}'`);
    return { conf, rules };
  },
  save: (ctx, conf, rules) => {
    conf.groups.set(str(ctx, 'group') ?? '', rules);
    state(ctx).save(clusterPath, conf);
  },
};

function listRules(set: RuleSet): Handler {
  return (ctx) => listWithDigest(set.load(ctx).rules)[0].map((r, pos) => ({ ...r, pos }));
}

function ruleAt(rules: FwRule[], pos: number): FwRule {
  const rule = rules[pos];
  if (!rule) throw fail(`no rule at position ${pos}`);
  return rule;
}

/** register_create_rule: a new rule goes on top, whatever `pos` says; off unless `enable`. */
function createRule(set: RuleSet): Handler {
  return (ctx) => {
    const { dc, conf, rules } = set.load(ctx);
    const rule = copyRuleData({}, ctx.params);
    verifyRule(rule, dc, conf, set.env, false);
    if (ctx.params.enable === undefined) rule.enable = 0;
    rules.unshift(rule);
    set.save(ctx, conf, rules);
    return null;
  };
}

/** register_update_rule: `moveto` moves (and ignores the rest); otherwise fields change. */
function updateRule(set: RuleSet): Handler {
  return (ctx) => {
    const { dc, conf, rules: current } = set.load(ctx);
    let rules = current;
    assertDigest(listWithDigest(rules)[1], ctx.params.digest);
    const pos = num(ctx, 'pos') ?? 0;
    const rule = ruleAt(rules, pos);
    const moveto = num(ctx, 'moveto');
    if (moveto !== undefined && moveto !== pos) {
      // Placed before the rule that was at `moveto`, or last.
      const moved: FwRule[] = [];
      rules.forEach((r, i) => {
        if (i === pos) return;
        if (i === moveto) moved.push(rule);
        moved.push(r);
      });
      if (moveto >= rules.length) moved.push(rule);
      rules = moved;
    } else {
      copyRuleData(rule, ctx.params);
      if (ctx.params.delete) deleteRuleProperties(rule, listOf(ctx.params.delete));
      verifyRule(rule, dc, conf, set.env, false);
    }
    set.save(ctx, conf, rules);
    return null;
  };
}

function ruleRoutes(set: RuleSet, base: string): Routes {
  return {
    [`GET ${base}`]: listRules(set),
    [`POST ${base}`]: createRule(set),
    [`GET ${base}/{pos}`]: (ctx) => {
      const pos = num(ctx, 'pos') ?? 0;
      const list = listWithDigest(set.load(ctx).rules)[0];
      return { ...ruleAt(list, pos), pos };
    },
    [`PUT ${base}/{pos}`]: updateRule(set),
    [`DELETE ${base}/{pos}`]: (ctx) => {
      const { conf, rules } = set.load(ctx);
      assertDigest(listWithDigest(rules)[1], ctx.params.digest);
      const pos = num(ctx, 'pos') ?? 0;
      ruleAt(rules, pos);
      rules.splice(pos, 1);
      set.save(ctx, conf, rules);
      return null;
    },
  };
}

// Security groups (API2/Firewall/Groups.pm)

const groupList = (conf: FwConf) =>
  listWithDigest(
    [...conf.groups.keys()].sort().map((group) => {
      const comment = conf.groupComments.get(group);
      return perlTrue(comment) ? { group, comment } : { group };
    }),
  );

/** $rename_fw_rules: group rules that name the old group name the new one. */
const renameIn = (rules: FwRule[], from: string, to: string) => {
  for (const r of rules) if (r.type === 'group' && r.action === from) r.action = to;
};

/** create_security_group: create, or with `rename` rename (every reference too) or re-comment. */
function createGroup(ctx: Ctx): null {
  const fw = state(ctx);
  const group = str(ctx, 'group') ?? '';
  const rename = str(ctx, 'rename');
  const comment = str(ctx, 'comment');
  const conf = fw.cluster();
  if (rename) {
    assertDigest(groupList(conf)[1], ctx.params.digest);
    if (!conf.groups.has(rename))
      throw paramError({ group: `Security group '${rename}' does not exist` });
    if (conf.groups.has(group) && group !== rename)
      throw paramError({ group: `Security group '${group}' does already exist` });
    if (rename === group) {
      if (comment !== undefined) conf.groupComments.set(rename, comment);
      fw.save(clusterPath, conf);
      return null;
    }
    // A copy first, so that references to the new name never dangle.
    conf.groups.set(group, conf.groups.get(rename) ?? []);
    const old = conf.groupComments.get(rename);
    if (old !== undefined) conf.groupComments.set(group, old);
    if (comment !== undefined) conf.groupComments.set(group, comment);
    fw.save(clusterPath, conf);
    const dc = fw.cluster();
    for (const node of ctx.cluster.nodes.keys()) {
      const host = fw.host(node, dc);
      renameIn(host.rules, rename, group);
      fw.save(hostPath(node), host);
    }
    for (const vmid of ctx.cluster.guests.keys()) {
      const guest = fw.guest(vmid, dc);
      renameIn(guest.rules, rename, group);
      fw.save(guestPath(vmid), guest);
    }
    renameIn(conf.rules, rename, group);
    conf.groups.delete(rename);
    conf.groupComments.delete(rename);
  } else {
    if (conf.groups.has(group))
      throw paramError({ group: `Security group '${group}' already exists` });
    conf.groups.set(group, []);
    if (comment !== undefined) conf.groupComments.set(group, comment);
  }
  fw.save(clusterPath, conf);
  return null;
}

// Aliases (API2/Firewall/Aliases.pm)

function aliasRoutes(level: Level, base: string): Routes {
  const list = (conf: FwConf) =>
    [...conf.aliases.keys()].sort().map((k) => conf.aliases.get(k) as FwAlias);
  const entry = (ctx: Ctx): FwAlias => {
    const data: FwAlias = {
      name: str(ctx, 'name') ?? '',
      cidr: str(ctx, 'cidr') ?? '',
    } as FwAlias;
    const comment = str(ctx, 'comment');
    if (perlTrue(comment)) data.comment = comment;
    return data;
  };
  return {
    [`GET ${base}`]: (ctx) => listWithDigest(list(level.load(ctx).conf))[0],
    [`POST ${base}`]: (ctx) => {
      const { conf } = level.load(ctx);
      const name = str(ctx, 'name') ?? '';
      if (conf.aliases.has(name.toLowerCase()))
        throw paramError({ name: `alias '${name}' already exists` });
      conf.aliases.set(name.toLowerCase(), entry(ctx));
      level.save(ctx, conf);
      return null;
    },
    [`GET ${base}/{name}`]: (ctx) => {
      const alias = level.load(ctx).conf.aliases.get((str(ctx, 'name') ?? '').toLowerCase());
      if (!alias) throw paramError({ name: 'no such alias' });
      return alias;
    },
    [`PUT ${base}/{name}`]: (ctx) => {
      const { conf } = level.load(ctx);
      assertDigest(listWithDigest(list(conf))[1], ctx.params.digest);
      const key = (str(ctx, 'name') ?? '').toLowerCase();
      if (!conf.aliases.has(key)) throw paramError({ name: 'no such alias' });
      const data = entry(ctx);
      conf.aliases.set(key, data);
      const rename = str(ctx, 'rename');
      if (rename && rename.toLowerCase() !== key) {
        if (conf.aliases.has(rename.toLowerCase()))
          throw paramError({ name: `alias '${rename}' already exists` });
        data.name = rename;
        conf.aliases.set(rename.toLowerCase(), data);
        conf.aliases.delete(key);
      }
      level.save(ctx, conf);
      return null;
    },
    // Rules and ipsets that use the alias are not looked at: they show the error when read.
    [`DELETE ${base}/{name}`]: (ctx) => {
      const { conf } = level.load(ctx);
      assertDigest(listWithDigest(list(conf))[1], ctx.params.digest);
      conf.aliases.delete((str(ctx, 'name') ?? '').toLowerCase());
      level.save(ctx, conf);
      return null;
    },
  };
}

// IP sets (API2/Firewall/IPSet.pm)

function ipsetRoutes(level: Level, base: string): Routes {
  const setList = (conf: FwConf) =>
    listWithDigest(
      [...conf.ipset.keys()].sort().map((name) => {
        const comment = conf.ipsetComments.get(name);
        return perlTrue(comment) ? { name, comment } : { name };
      }),
    );
  const loadSet = (ctx: Ctx) => {
    const loaded = level.load(ctx);
    const name = str(ctx, 'name') ?? '';
    const entries = loaded.conf.ipset.get(name);
    if (!entries) throw fail(`no such IPSet '${name}'`);
    return { ...loaded, name, entries };
  };
  return {
    [`GET ${base}`]: (ctx) => setList(level.load(ctx).conf)[0],
    [`POST ${base}`]: (ctx) => {
      const { conf } = level.load(ctx);
      const name = str(ctx, 'name') ?? '';
      const rename = str(ctx, 'rename');
      const comment = str(ctx, 'comment');
      if (rename) {
        assertDigest(setList(conf)[1], ctx.params.digest);
        if (!conf.ipset.has(rename)) throw paramError({ name: `IPSet '${rename}' does not exist` });
        if (conf.ipset.has(name) && name !== rename)
          throw paramError({ name: `IPSet '${name}' does already exist` });
        const data = conf.ipset.get(rename) ?? [];
        conf.ipset.delete(rename);
        conf.ipset.set(name, data);
        const old = conf.ipsetComments.get(rename);
        conf.ipsetComments.delete(rename);
        if (perlTrue(old)) conf.ipsetComments.set(name, old as string);
      } else {
        if (conf.ipset.has(name)) throw paramError({ name: `IPSet '${name}' already exists` });
        conf.ipset.set(name, []);
      }
      if (comment !== undefined) conf.ipsetComments.set(name, comment);
      level.save(ctx, conf);
      return null;
    },
    [`GET ${base}/{name}`]: (ctx) => listWithDigest(loadSet(ctx).entries)[0],
    [`DELETE ${base}/{name}`]: (ctx) => {
      const { conf, name, entries } = loadSet(ctx);
      if (entries.length && !bool(ctx, 'force')) throw fail(`IPSet '${name}' is not empty`);
      conf.ipset.delete(name);
      level.save(ctx, conf);
      return null;
    },
    [`POST ${base}/{name}`]: (ctx) => {
      const { dc, conf, entries } = loadSet(ctx);
      let cidr = str(ctx, 'cidr') ?? '';
      const alias = new RegExp(`^(dc/|guest/)?(${SECURITY_GROUP_PATTERN})$`).exec(cidr);
      // An alias must exist; an address is stored as the config parser would read it.
      if (alias) resolveAlias(dc, conf, alias[2] as string, alias[1] ?? '');
      else cidr = parseIpOrCidr(cleanCidr(cidr)).cidr;
      if (entries.some((e) => e.cidr === cidr))
        throw paramError({ cidr: `address '${cidr}' already exists` });
      if (/\/0+$/.test(cidr))
        throw paramError({ cidr: 'a zero prefix is not allowed in ipset entries' });
      const data: FwIpEntry = { cidr };
      if (bool(ctx, 'nomatch')) data.nomatch = 1;
      const comment = str(ctx, 'comment');
      if (perlTrue(comment)) data.comment = comment;
      entries.unshift(data);
      level.save(ctx, conf);
      return null;
    },
    [`GET ${base}/{name}/{cidr}`]: (ctx) => {
      const cidr = str(ctx, 'cidr');
      const found = listWithDigest(loadSet(ctx).entries)[0].find((e) => e.cidr === cidr);
      if (!found) throw paramError({ cidr: 'no such IP/Network' });
      return found;
    },
    [`PUT ${base}/{name}/{cidr}`]: (ctx) => {
      const { conf, entries } = loadSet(ctx);
      assertDigest(listWithDigest(entries)[1], ctx.params.digest);
      const entry = entries.find((e) => e.cidr === str(ctx, 'cidr'));
      if (!entry) throw paramError({ cidr: 'no such IP/Network' });
      const nomatch = ctx.params.nomatch;
      if (nomatch === undefined) delete entry.nomatch;
      else entry.nomatch = nomatch ? 1 : 0;
      const comment = str(ctx, 'comment');
      if (comment === undefined) delete entry.comment;
      else entry.comment = comment;
      level.save(ctx, conf);
      return null;
    },
    [`DELETE ${base}/{name}/{cidr}`]: (ctx) => {
      const { conf, name, entries } = loadSet(ctx);
      assertDigest(listWithDigest(entries)[1], ctx.params.digest);
      conf.ipset.set(
        name,
        entries.filter((e) => e.cidr !== str(ctx, 'cidr')),
      );
      level.save(ctx, conf);
      return null;
    },
  };
}

// References (Firewall/Helpers.pm collect_refs)

function refs(conf: FwConf, type: string | undefined, scope: string) {
  const out: Record<string, string>[] = [];
  if (!type || type === 'ipset')
    for (const name of [...conf.ipset.keys()].sort()) {
      const row: Record<string, string> = { type: 'ipset', name, ref: `+${name}`, scope };
      const comment = conf.ipsetComments.get(name);
      if (perlTrue(comment)) row.comment = comment as string;
      out.push(row);
    }
  if (!type || type === 'alias')
    for (const name of [...conf.aliases.keys()].sort()) {
      const row: Record<string, string> = { type: 'alias', name, ref: name, scope };
      const comment = conf.aliases.get(name)?.comment;
      if (perlTrue(comment)) row.comment = comment as string;
      out.push(row);
    }
  return out;
}

// The routes

const index = (names: string[]) => () => names.map((name) => ({ name }));

function guestRoutes(type: GuestType): Routes {
  const base = `/nodes/{node}/${type}/{vmid}/firewall`;
  const level = guestLevel(type);
  const options = optionRoutes(level, 'vm');
  return {
    [`GET ${base}`]: index(['rules', 'aliases', 'ipset', 'refs', 'options']),
    [`GET ${base}/options`]: options.get,
    [`PUT ${base}/options`]: options.put,
    ...ruleRoutes(levelRules(level), `${base}/rules`),
    ...aliasRoutes(level, `${base}/aliases`),
    ...ipsetRoutes(level, `${base}/ipset`),
    [`GET ${base}/refs`]: (ctx) => {
      const { dc, conf } = level.load(ctx);
      const type = str(ctx, 'type');
      return [...refs(dc as FwConf, type, 'dc'), ...refs(conf, type, 'guest')];
    },
  };
}

const clusterOptions = optionRoutes(datacenter, 'cluster');
const hostOptions = optionRoutes(hostLevel, 'host');

const routes: Routes = {
  'GET /cluster/firewall': index([
    'aliases',
    'rules',
    'options',
    'groups',
    'ipset',
    'macros',
    'refs',
  ]),
  'GET /cluster/firewall/options': clusterOptions.get,
  'PUT /cluster/firewall/options': clusterOptions.put,
  // PVE lists them in hash order; sorted here.
  'GET /cluster/firewall/macros': () => macroList(),
  'GET /cluster/firewall/refs': (ctx) => refs(datacenter.load(ctx).conf, str(ctx, 'type'), 'dc'),
  ...ruleRoutes(levelRules(datacenter), '/cluster/firewall/rules'),
  'GET /cluster/firewall/groups': (ctx) => groupList(state(ctx).cluster())[0],
  'POST /cluster/firewall/groups': createGroup,
  ...ruleRoutes(groupRules, '/cluster/firewall/groups/{group}'),
  // delete_security_group: only an empty group goes; rules that use it are not looked at.
  'DELETE /cluster/firewall/groups/{group}': (ctx) => {
    const { conf, rules } = groupRules.load(ctx);
    const group = str(ctx, 'group') ?? '';
    if (rules.length) throw fail(`Security group '${group}' is not empty`);
    conf.groups.delete(group);
    state(ctx).save(clusterPath, conf);
    return null;
  },
  ...aliasRoutes(datacenter, '/cluster/firewall/aliases'),
  ...ipsetRoutes(datacenter, '/cluster/firewall/ipset'),

  'GET /nodes/{node}/firewall': index(['rules', 'options', 'log']),
  'GET /nodes/{node}/firewall/options': hostOptions.get,
  'PUT /nodes/{node}/firewall/options': hostOptions.put,
  ...ruleRoutes(levelRules(hostLevel), '/nodes/{node}/firewall/rules'),

  ...guestRoutes('qemu'),
  ...guestRoutes('lxc'),
};

export const firewallRoutes: Routes = Object.fromEntries(
  Object.entries({ ...routes, ...firewallLogRoutes }).map(([k, h]) => [k, fwHandler(h)]),
);
