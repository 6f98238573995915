/**
 * Lock-out protection: a firewall change must not cut the path this server (and the administrator
 * beside it) manages the cluster by. The check reads the firewall as it is, applies the request to
 * a copy, and asks, for each node concerned, whether TCP 8006 (the API) and 22 (SSH) from the
 * server's address still get in. It follows how pve-firewall builds a node's input chain
 * (src/PVE/Firewall.pm enable_host_firewall, compile):
 * - nothing is filtered while the datacenter firewall is off, nor on a node whose own firewall
 *   option is `enable: 0`; loopback is always accepted, sources in the `blacklist` IP set dropped;
 * - the node's rules come first, then the datacenter's, enabled ones only, `in` rules and security
 *   groups expanded, first match wins;
 * - then PVE's built-in rule accepts 8006, 22 and the console ports from the `management` IP set,
 *   to which the node's local network is always added (the `local_network` alias, else the
 *   network of the node's own address);
 * - then the datacenter's inbound policy, DROP unless set.
 * A rule counts as accepting only when it surely matches; one that may drop counts as dropping.
 */
import { BlockList, isIP } from 'node:net';
import { listOf, truthy } from '../contract/targets.js';
import type { ContractOperation } from '../contract/types.js';

export interface FwRule {
  type?: string;
  action?: string;
  macro?: string;
  proto?: string;
  dport?: string;
  sport?: string;
  source?: string;
  dest?: string;
  iface?: string;
  enable?: number | boolean;
  [key: string]: unknown;
}

interface NodeFirewall {
  options: Record<string, unknown>;
  rules: FwRule[];
  /** The node's address, as the cluster knows it. */
  ip?: string;
  /** CIDRs of the node's interfaces, for its local network. */
  networks: string[];
}

/** What decides whether management traffic reaches a node. */
export interface FirewallState {
  options: Record<string, unknown>;
  rules: FwRule[];
  groups: Map<string, FwRule[]>;
  aliases: Map<string, string>;
  ipsets: Map<string, { cidr: string; nomatch?: unknown }[]>;
  nodes: Map<string, NodeFirewall>;
}

/** What the lock-out check reads: GET answers of the API by path. */
export type Reader = (path: string) => Promise<unknown>;

const MANAGEMENT_PORTS = [
  [8006, 'TCP 8006 (the API and web interface)'],
  [22, 'TCP 22 (SSH)'],
] as const;

// The macros of pve-firewall's $pve_fw_macros that reach TCP 22 or 8006; every other macro names
// other ports.
const MACROS: Record<string, number> = { ssh: 22, pmg: 8006 };
const SERVICES: Record<string, number> = { ssh: 22 };

/** Whether a firewall request may change what reaches a node: it is checked then. */
export const concernsManagement = (op: ContractOperation) =>
  op.method !== 'GET' &&
  (op.path.startsWith('/cluster/firewall/') || op.path.startsWith('/nodes/{node}/firewall/'));

const asList = <T>(v: unknown): T[] => (Array.isArray(v) ? (v as T[]) : []);
/** A firewall flag: `1`, or for the datacenter's `enable` a timestamp (PVE's 60-second trial). */
const on = (v: unknown) => truthy(v) || Number(v) > 0;
/** An address as PVE stores it: a single host without its /32 or /128. */
const normal = (cidr: unknown) =>
  String(cidr)
    .toLowerCase()
    .replace(/\/(?:32|128)$/, '');
const lower = (s: string) => s.toLowerCase();

/** Reads the firewall state for the nodes named (every node of the cluster when none is). */
export async function readFirewall(read: Reader, only?: string): Promise<FirewallState> {
  const status = asList<{ type: string; name: string; ip?: string; online?: number }>(
    await read('/cluster/status'),
  ).filter((e) => e.type === 'node' && (only ? e.name === only : e.online !== 0));
  const groups = new Map<string, FwRule[]>();
  const ipsets = new Map<string, { cidr: string; nomatch?: unknown }[]>();
  const [options, rules, aliases, groupList, ipsetList] = await Promise.all([
    read('/cluster/firewall/options'),
    read('/cluster/firewall/rules'),
    read('/cluster/firewall/aliases'),
    read('/cluster/firewall/groups'),
    read('/cluster/firewall/ipset'),
  ]);
  await Promise.all([
    ...asList<{ group: string }>(groupList).map(async ({ group }) =>
      groups.set(lower(group), asList<FwRule>(await read(`/cluster/firewall/groups/${group}`))),
    ),
    ...asList<{ name: string }>(ipsetList).map(async ({ name }) =>
      ipsets.set(lower(name), asList(await read(`/cluster/firewall/ipset/${name}`))),
    ),
  ]);
  const nodes = new Map<string, NodeFirewall>();
  await Promise.all(
    status.map(async (n) => {
      const [nodeOptions, nodeRules, network] = await Promise.all([
        read(`/nodes/${n.name}/firewall/options`),
        read(`/nodes/${n.name}/firewall/rules`),
        read(`/nodes/${n.name}/network`).catch(() => []),
      ]);
      nodes.set(n.name, {
        options: (nodeOptions ?? {}) as Record<string, unknown>,
        rules: asList(nodeRules),
        ip: n.ip,
        networks: asList<{ cidr?: string }>(network)
          .map((i) => i.cidr)
          .filter((c): c is string => Boolean(c)),
      });
    }),
  );
  return {
    options: (options ?? {}) as Record<string, unknown>,
    rules: asList(rules),
    groups,
    aliases: new Map(
      asList<{ name: string; cidr: string }>(aliases).map((a) => [lower(a.name), a.cidr]),
    ),
    ipsets,
    nodes,
  };
}

/** The state as it would be after the request (unchanged by a request it does not model). */
export function afterRequest(
  state: FirewallState,
  op: ContractOperation,
  params: Record<string, unknown>,
): FirewallState {
  const next: FirewallState = structuredClone(state);
  const node = typeof params.node === 'string' ? next.nodes.get(params.node) : undefined;
  const rel = op.path
    .replace(/^\/nodes\/\{node\}\/firewall/, '/node')
    .replace(/^\/cluster\/firewall/, '/dc');
  const fields = Object.fromEntries(
    Object.entries(params).filter(
      ([k]) => !['node', 'pos', 'digest', 'delete', 'moveto', 'group', 'name', 'cidr'].includes(k),
    ),
  );
  const setOptions = (options: Record<string, unknown>) => {
    Object.assign(options, fields);
    for (const key of listOf(params.delete)) delete options[key];
  };
  const rulesOf = (): FwRule[] | undefined =>
    rel.startsWith('/node/')
      ? node?.rules
      : rel.startsWith('/dc/groups/')
        ? next.groups.get(lower(String(params.group)))
        : next.rules;
  const pos = Number(params.pos);
  switch (`${op.method} ${rel}`) {
    case 'PUT /dc/options':
      setOptions(next.options);
      break;
    case 'PUT /node/options':
      if (node) setOptions(node.options);
      break;
    case 'POST /dc/rules':
    case 'POST /node/rules':
    case 'POST /dc/groups/{group}': {
      // A new rule goes first, disabled unless `enable` says otherwise (Rules.pm create_rule).
      rulesOf()?.unshift({
        ...fields,
        enable: on(params.enable) || truthy(params.enable) ? 1 : 0,
      } as FwRule);
      break;
    }
    case 'PUT /dc/rules/{pos}':
    case 'PUT /node/rules/{pos}':
    case 'PUT /dc/groups/{group}/{pos}': {
      const rules = rulesOf();
      const rule = rules?.[pos];
      if (!rules || !rule) break;
      if (params.moveto !== undefined) {
        // Before the rule at `moveto`, counted before the move (Rules.pm update_rule).
        const to = Number(params.moveto);
        const moved = rules.filter((_, i) => i !== pos);
        moved.splice(Math.min(to > pos ? to - 1 : to, moved.length), 0, rule);
        rules.splice(0, rules.length, ...moved);
      } else {
        Object.assign(rule, fields);
        for (const key of listOf(params.delete)) delete rule[key];
      }
      break;
    }
    case 'DELETE /dc/rules/{pos}':
    case 'DELETE /node/rules/{pos}':
    case 'DELETE /dc/groups/{group}/{pos}':
      rulesOf()?.splice(pos, 1);
      break;
    case 'DELETE /dc/groups/{group}':
      next.groups.delete(lower(String(params.group)));
      break;
    case 'POST /dc/ipset': {
      // Create, or rename with `rename`.
      const from = typeof params.rename === 'string' ? lower(params.rename) : undefined;
      const set = from ? next.ipsets.get(from) : [];
      if (from) next.ipsets.delete(from);
      next.ipsets.set(lower(String(params.name)), set ?? []);
      break;
    }
    case 'DELETE /dc/ipset/{name}':
      next.ipsets.delete(lower(String(params.name)));
      break;
    case 'POST /dc/ipset/{name}':
      next.ipsets
        .get(lower(String(params.name)))
        ?.push({ cidr: String(params.cidr), nomatch: params.nomatch });
      break;
    case 'PUT /dc/ipset/{name}/{cidr}':
    case 'DELETE /dc/ipset/{name}/{cidr}': {
      const set = next.ipsets.get(lower(String(params.name)));
      const i = set?.findIndex((e) => normal(e.cidr) === normal(params.cidr)) ?? -1;
      if (!set || i < 0) break;
      if (op.method === 'DELETE') set.splice(i, 1);
      else set[i] = { ...(set[i] as { cidr: string }), nomatch: params.nomatch };
      break;
    }
    case 'POST /dc/aliases':
      next.aliases.set(lower(String(params.name)), String(params.cidr));
      break;
    case 'PUT /dc/aliases/{name}': {
      next.aliases.delete(lower(String(params.name)));
      next.aliases.set(lower(String(params.rename ?? params.name)), String(params.cidr));
      break;
    }
    case 'DELETE /dc/aliases/{name}':
      next.aliases.delete(lower(String(params.name)));
      break;
  }
  return next;
}

type Match = 'yes' | 'no' | 'maybe';

/** A block list of addresses and networks written as PVE writes them: `a.b.c.d`, CIDRs, ranges. */
function addressList(entries: string[]): BlockList | undefined {
  const list = new BlockList();
  for (const entry of entries) {
    const range = /^(.+?)-(.+)$/.exec(entry);
    const [addr, prefix] = entry.split('/') as [string, string?];
    try {
      if (range && isIP(range[1] as string) && isIP(range[2] as string))
        list.addRange(
          range[1] as string,
          range[2] as string,
          isIP(range[1] as string) === 6 ? 'ipv6' : 'ipv4',
        );
      else if (isIP(addr) && prefix !== undefined)
        list.addSubnet(addr, Number(prefix), isIP(addr) === 6 ? 'ipv6' : 'ipv4');
      else if (isIP(addr)) list.addAddress(addr, isIP(addr) === 6 ? 'ipv6' : 'ipv4');
      else return undefined;
    } catch {
      return undefined;
    }
  }
  return list;
}

const contains = (entries: string[], address: string): Match => {
  const list = addressList(entries);
  if (!list) return 'maybe';
  return list.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4') ? 'yes' : 'no';
};

/** The network a node's own address lies in, as PVE's local_network finds it from its routes. */
function localNetwork(state: FirewallState, node: NodeFirewall): string | undefined {
  const alias = state.aliases.get('local_network');
  if (alias) return alias;
  if (!node.ip) return undefined;
  return node.networks.find((cidr) => {
    const [addr, prefix] = cidr.split('/') as [string, string?];
    return prefix !== undefined && contains([`${addr}/${prefix}`], node.ip as string) === 'yes';
  });
}

/** Whether an address is in an IP set (`nomatch` entries exclude). */
function inIpset(state: FirewallState, name: string, address: string): Match {
  const set = state.ipsets.get(lower(name));
  if (!set) return 'no';
  let result: Match = 'no';
  for (const entry of set) {
    const cidr = state.aliases.get(lower(entry.cidr.replace(/^dc\//, ''))) ?? entry.cidr;
    const m = contains([cidr], address);
    if (m === 'yes' && truthy(entry.nomatch)) return 'no';
    if (m === 'yes' || (m === 'maybe' && result === 'no')) result = m;
  }
  return result;
}

/** Whether an address matches a rule's `source` (addresses, aliases, `+ipset`). */
function matchesAddress(state: FirewallState, spec: string | undefined, address: string): Match {
  if (!spec) return 'yes';
  let result: Match = 'no';
  for (const raw of spec.split(',')) {
    const entry = raw.trim();
    let m: Match;
    if (entry.startsWith('+')) m = inIpset(state, entry.slice(1).replace(/^dc\//, ''), address);
    else {
      const alias = state.aliases.get(lower(entry.replace(/^dc\//, '')));
      m = contains([alias ?? entry], address);
    }
    if (m === 'yes') return 'yes';
    if (m === 'maybe') result = 'maybe';
  }
  return result;
}

/** Whether a port is in a PVE port list: `22`, `22,8006`, `5900:5999`, service names. */
function matchesPort(spec: string, port: number): Match {
  let result: Match = 'no';
  for (const part of spec.split(',')) {
    const [from, to] = part
      .split(':')
      .map((p) => (/^\d+$/.test(p) ? Number(p) : SERVICES[lower(p)]));
    if (from === undefined || (part.includes(':') && to === undefined)) result = 'maybe';
    else if (port >= from && port <= (to ?? from)) return 'yes';
  }
  return result;
}

/** Whether TCP traffic to `port` from `address` matches a rule (an `in` rule, groups expanded). */
function matchesRule(
  state: FirewallState,
  rule: FwRule,
  node: NodeFirewall,
  address: string,
  port: number,
): Match {
  let proto = rule.proto;
  let dport = rule.dport;
  if (rule.macro) {
    const macroPort = MACROS[lower(rule.macro)];
    if (macroPort === undefined) return 'no';
    [proto, dport] = ['tcp', String(macroPort)];
  }
  if (proto && !['tcp', '6'].includes(lower(proto))) return 'no';
  const checks: Match[] = [
    dport ? matchesPort(dport, port) : 'yes',
    matchesAddress(state, rule.source, address),
    // Where it is sent: the node's own address is all this server knows of.
    rule.dest ? (node.ip ? matchesAddress(state, rule.dest, node.ip) : 'maybe') : 'yes',
    // The connection's source port and the interface it comes in on are not known here.
    rule.sport || rule.iface ? 'maybe' : 'yes',
  ];
  if (checks.includes('no')) return 'no';
  return checks.includes('maybe') ? 'maybe' : 'yes';
}

/** What happens to management traffic from `address` on one node: let in, or why not. */
function verdict(
  state: FirewallState,
  nodeName: string,
  address: string,
  port: number,
): { open: boolean; why: string } {
  const node = state.nodes.get(nodeName);
  if (!on(state.options.enable)) return { open: true, why: 'the datacenter firewall is off' };
  if (!node) return { open: true, why: 'the node is not known' };
  if (node.options.enable !== undefined && !on(node.options.enable))
    return { open: true, why: `the firewall of node ${nodeName} is off` };
  if (/^(?:127\.|::1$)/.test(address)) return { open: true, why: 'it comes over loopback' };
  // The blacklist IP set is dropped before any rule.
  if (inIpset(state, 'blacklist', address) === 'yes')
    return { open: false, why: 'the IP set "blacklist" drops it before any rule' };
  const rules: [FwRule, string][] = [
    ...node.rules.map((r, i): [FwRule, string] => [r, `rule ${i} of node ${nodeName}`]),
    ...state.rules.map((r, i): [FwRule, string] => [r, `datacenter rule ${i}`]),
  ];
  for (const [rule, where] of rules) {
    if (!on(rule.enable)) continue;
    const expanded: [FwRule, string][] =
      rule.type === 'group'
        ? (state.groups.get(lower(String(rule.action))) ?? []).map((r, i): [FwRule, string] => [
            r,
            `rule ${i} of security group ${rule.action} (${where})`,
          ])
        : [[rule, where]];
    for (const [r, label] of expanded) {
      if (r.type !== 'in' || (rule.type === 'group' && !on(r.enable))) continue;
      const m = matchesRule(state, r, node, address, port);
      if (m === 'no') continue;
      if (r.action === 'ACCEPT' && m === 'yes') return { open: true, why: `${label} accepts it` };
      if (r.action === 'DROP' || r.action === 'REJECT')
        return { open: false, why: `${label} ${m === 'yes' ? '' : 'may '}${lower(r.action)}s it` };
    }
  }
  const localnet = localNetwork(state, node);
  const management = [
    inIpset(state, 'management', address),
    localnet ? contains([localnet], address) : 'no',
  ];
  if (management.includes('yes'))
    return { open: true, why: "PVE's built-in rule for the management IP set accepts it" };
  const policy = String(state.options.policy_in ?? 'DROP');
  if (policy === 'ACCEPT') return { open: true, why: 'the inbound policy is ACCEPT' };
  return {
    open: false,
    why: `no rule accepts it, ${address} is not in the management IP set${localnet ? ` nor the node's local network ${localnet}` : ''}, and the inbound policy ${policy} applies`,
  };
}

/**
 * What a request would newly block, in words, or undefined when the management path stays open.
 * Only what is open now and closed after counts: the check does not stand in the way of a cluster
 * it already reads as closed (its reading may be incomplete: the connection got through).
 */
export function lockoutOf(
  before: FirewallState,
  after: FirewallState,
  address: string,
): string | undefined {
  const lost: string[] = [];
  for (const node of after.nodes.keys())
    for (const [port, label] of MANAGEMENT_PORTS) {
      const was = verdict(before, node, address, port);
      const will = verdict(after, node, address, port);
      if (was.open && !will.open) lost.push(`${label} to node ${node}: ${will.why}`);
    }
  if (!lost.length) return undefined;
  return `This change would cut the management path from ${address}, the address this server connects from: ${lost.join('; ')}. Add a rule that lets it in first: an enabled datacenter rule "in ACCEPT" with source ${address} and dport 8006 (and one with macro SSH), or add ${address} to the IP set "management".`;
}
