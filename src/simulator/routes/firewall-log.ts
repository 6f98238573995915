/**
 * The firewall log (`/var/log/pve-firewall.log`, written by pvefw-logger) and the simulated
 * traffic that fills it. Each online node sees a few packets per simulated minute, chosen from the
 * seed: from the internet and the local network to the node, from the internet to its running
 * guests whose NIC has `firewall=1`, and from those guests out. Each packet goes through the
 * chains pve-firewall would build from the current config (Firewall.pm enable_host_firewall,
 * generate_tap_rules_direction, ruleset_add_chain_policy): a matching rule with a log level other
 * than `nolog`, or a DROP/REJECT policy with a log level, writes a line in pvefw-logger's format
 * (src/pvefw-logger.c print_pkt):
 * `<vmid> <level> <chain> <dd/Mon/yyyy:HH:MM:SS +0000> <prefix>IN=... SRC=... DST=... PROTO=...`.
 * The log rotates at midnight (logrotate daily, 7 kept) and pvefw-logger restarts with it.
 * Traffic is played up to the simulated time whenever a firewall call is made.
 */
import { parsePropertyString } from '../../contract/propstring.js';
import type { Ctx, Routes } from '../context.js';
import { num, WithTotal } from '../context.js';
import {
  applyMacro,
  type FwConf,
  type FwLogLine,
  type FwRule,
  ICMP_TYPES,
  type IpRange,
  ipv4,
  LOG_LEVELS,
  localNetwork,
  netIp,
  PROTOCOLS,
  resolveAlias,
  SERVICES,
} from '../firewall.js';
import { nodeBootTime } from '../metrics.js';
import { avalanche, hash32 } from '../random.js';
import type { Cluster, SimGuest, SimNode } from '../state.js';
import { guestIp } from './agent.js';

const MINUTE = 60_000;
const DAY = 86_400_000;
/** logrotate keeps 7 old files beside the current one (debian/pve-firewall.logrotate). */
const KEEP_DAYS = 7;

interface Packet {
  time: number;
  proto: 'tcp' | 'udp' | 'icmp';
  src: string;
  dst: string;
  /** The addresses as numbers, for matching. */
  srcN: bigint;
  dstN: bigint;
  sport: number;
  dport: number;
  /** Hash for the header fields that do not matter (TTL, ids, sequence numbers). */
  h: number;
}

/** A guest NIC the firewall filters: `firewall=1` on a running guest of the node. */
interface Nic {
  guest: SimGuest;
  netid: string;
  /** tap100i0 or veth200i0. */
  dev: string;
  mac: string;
  ip: string;
}

type Verdict = 'accept' | 'drop' | 'reject' | undefined;

/** What one round of traffic reads from the config, read once. */
interface Round {
  cluster: Cluster;
  /** Each node's peers' addresses, corosync's ring. */
  peers: Map<string, string[]>;
  localNets: Map<string, string>;
  dc: FwConf;
  hosts: Map<string, FwConf>;
  guests: Map<number, FwConf>;
}

const pad = (n: number) => String(n).padStart(2, '0');
const MONTHS = 'Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec'.split(' ');

/** strftime `%d/%b/%Y:%H:%M:%S %z` in the node's local time (UTC here). */
function stamp(ms: number): string {
  const d = new Date(ms);
  return `${pad(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;
}

const midnight = (ms: number) => Math.floor(ms / DAY) * DAY;
const bootMs = (node: SimNode) => nodeBootTime(node) * 1000;
/** When the log file holding a line written at `t` was started. */
const fileStart = (node: SimNode, t: number) => Math.max(bootMs(node), midnight(t));

/** A MAC address from a key, lower-case as the logger prints it. */
function macOf(seed: number, oui: string, key: string): string {
  const h = hash32(seed, 'fwmac', key);
  return `${oui}:${[(h >>> 16) & 0xff, (h >>> 8) & 0xff, h & 0xff].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;
}

// Matching (Firewall.pm ipt_rule_to_cmds, ipt_gen_src_or_dst_match)

/** Parsed addresses and networks: the same few are asked about over and over. */
const ranges = new Map<string, IpRange | undefined>();
function range(spec: string): IpRange | undefined {
  if (!ranges.has(spec)) {
    if (ranges.size > 10_000) ranges.clear();
    const r = netIp(spec);
    ranges.set(spec, 'error' in r ? undefined : r);
  }
  return ranges.get(spec);
}

/** Whether an address (the packets' are IPv4) is in a network, range or address. */
const inRange = (ip: bigint, spec: string) => {
  const r = range(spec);
  return r?.version === 4 && ip >= r.first && ip <= r.last;
};

/** An ipset holds an address if its most specific matching entry is not `nomatch`. */
function ipsetHolds(
  entries: { cidr: string; nomatch?: number; errors?: object }[],
  ip: bigint,
  resolve: (name: string, scope: string) => string,
): boolean {
  let best: { len: bigint; nomatch: boolean } | undefined;
  for (const e of entries) {
    if (e.errors) continue;
    let cidr = e.cidr;
    const alias = /^(dc\/|guest\/)?([A-Za-z][A-Za-z0-9\-_]+)$/.exec(cidr);
    try {
      if (alias) cidr = resolve(alias[2] as string, alias[1] ?? '');
    } catch {
      continue;
    }
    const r = range(cidr);
    if (!r || !inRange(ip, cidr)) continue;
    const size = r.last - r.first;
    if (!best || size < best.len) best = { len: size, nomatch: !!e.nomatch };
  }
  return !!best && !best.nomatch;
}

/**
 * Whether an address matches a rule's source or dest: an ipset (the guest's before the
 * datacenter's, `management` with the local network), an alias, a list, a range or a network.
 */
function addrMatches(
  spec: string,
  ip: bigint,
  round: Round,
  fw: FwConf | undefined,
  node: SimNode,
) {
  const { dc } = round;
  const set = /^\+(guest\/|dc\/|sdn\/)?(.+)$/.exec(spec);
  if (set) {
    const scope = set[1] ?? '';
    const name = set[2] as string;
    if ((!scope || scope === 'guest/') && fw?.kind === 'vm' && fw.ipset.has(name))
      return ipsetHolds(fw.ipset.get(name) ?? [], ip, (a, s) => resolveAlias(dc, fw, a, s).cidr);
    if ((!scope || scope === 'dc/') && dc.ipset.has(name)) return dcSetHolds(name, ip, round, node);
    if ((!scope || scope === 'dc/') && name === 'management')
      return dcSetHolds(name, ip, round, node);
    return false;
  }
  const alias = /^(dc\/|guest\/)?([A-Za-z][A-Za-z0-9\-_]+)$/.exec(spec);
  if (alias) {
    try {
      return inRange(
        ip,
        resolveAlias(dc, fw?.kind === 'vm' ? fw : undefined, alias[2] as string, alias[1] ?? '')
          .cidr,
      );
    } catch {
      return false;
    }
  }
  return spec.split(',').some((part) => inRange(ip, part));
}

/** A datacenter ipset; `management` always holds the node's local network too (compile). */
function dcSetHolds(name: string, ip: bigint, round: Round, node: SimNode): boolean {
  const entries = [...(round.dc.ipset.get(name) ?? [])];
  if (name === 'management') entries.push({ cidr: localNet(round, node) });
  return ipsetHolds(entries, ip, (a, s) => resolveAlias(round.dc, undefined, a, s).cidr);
}

/** The cluster alias `local_network`, else the node's own network (compile). */
function localNet(round: Round, node: SimNode): string {
  let net = round.localNets.get(node.name);
  if (net === undefined) {
    net = round.dc.aliases.get('local_network')?.cidr ?? localNetwork(node);
    round.localNets.set(node.name, net);
  }
  return net;
}

function portMatches(spec: string, port: number): boolean {
  return spec.split(',').some((item) => {
    const range = /^(\d+):(\d+)$/.exec(item);
    if (range) return port >= Number(range[1]) && port <= Number(range[2]);
    if (/^\d+$/.test(item)) return Number(item) === port;
    return SERVICES[item] === port;
  });
}

const PROTO_NUMBER = { tcp: 6, udp: 17, icmp: 1 } as const;

/** Whether a rule without macro matches the packet. */
function matches(
  rule: FwRule,
  pkt: Packet,
  round: Round,
  fw: FwConf | undefined,
  node: SimNode,
): boolean {
  if (rule.proto) {
    const n = PROTOCOLS[rule.proto] ?? Number(rule.proto);
    if (n !== PROTO_NUMBER[pkt.proto]) return false;
  }
  if (rule.proto === 'icmp') {
    const type = rule['icmp-type'] || rule.dport;
    if (type && type !== 'any' && (ICMP_TYPES[type] ?? Number(type)) !== pkt.dport) return false;
  } else {
    if (rule.dport && (!rule.proto || !portMatches(rule.dport, pkt.dport))) return false;
    if (rule.sport && (!rule.proto || !portMatches(rule.sport, pkt.sport))) return false;
  }
  if (rule.source && !addrMatches(rule.source, pkt.srcN, round, fw, node)) return false;
  if (rule.dest && !addrMatches(rule.dest, pkt.dstN, round, fw, node)) return false;
  return true;
}

const macroRules = new WeakMap<FwRule, FwRule[]>();

/** A rule's own matches, or its macro's (ruleset_generate_rule). */
function ruleMatches(
  rule: FwRule,
  pkt: Packet,
  round: Round,
  fw: FwConf | undefined,
  node: SimNode,
) {
  if (!rule.macro) return matches(rule, pkt, round, fw, node);
  let expanded = macroRules.get(rule);
  if (!expanded) {
    try {
      expanded = applyMacro(rule.macro, rule, false, 4);
    } catch {
      expanded = [];
    }
    macroRules.set(rule, expanded);
  }
  return expanded.some((r) => matches(r, pkt, round, fw, node));
}

const usable = (rule: FwRule) => !!rule.enable && !rule.errors && rule.ipversion !== 6;
const verdictOf = (action: string | undefined): Verdict =>
  action === 'ACCEPT' ? 'accept' : action === 'DROP' ? 'drop' : 'reject';
const logLevel = (level: unknown) =>
  typeof level === 'string' && level in LOG_LEVELS ? LOG_LEVELS[level] : undefined;

/**
 * What PVEFW-Drop and PVEFW-Reject drop or accept without a word before the policy logs: SMB and
 * UPnP noise, DNS replies, critical ICMP (Firewall.pm $pve_std_chains_conf).
 */
function quietlyHandled(pkt: Packet): boolean {
  if (pkt.proto === 'udp')
    return (
      portMatches('135,445', pkt.dport) ||
      portMatches('137:139', pkt.dport) ||
      (pkt.sport === 137 && pkt.dport >= 1024) ||
      pkt.dport === 1900 ||
      pkt.sport === 53
    );
  if (pkt.proto === 'tcp') return portMatches('135,139,445', pkt.dport);
  return pkt.dport === 3 || pkt.dport === 11;
}

/** A chain's evaluation: the log prefixes written on the way, and the verdict. */
interface Outcome {
  logs: { vmid: number; level: number; chain: string; msg: string }[];
  verdict: Verdict;
}

/** GROUP-<name>-<dir> (generate_group_rules): its log lines carry vmid 0 and no prefix text. */
function groupChain(
  name: string,
  dir: 'in' | 'out',
  pkt: Packet,
  round: Round,
  node: SimNode,
  out: Outcome,
): Verdict {
  for (const rule of round.dc.groups.get(name) ?? []) {
    if (rule.type !== dir || !usable(rule) || !ruleMatches(rule, pkt, round, undefined, node))
      continue;
    const level = logLevel(rule.log);
    if (level !== undefined)
      out.logs.push({ vmid: 0, level, chain: `GROUP-${name}-${dir.toUpperCase()}`, msg: '' });
    return verdictOf(rule.action);
  }
  return undefined;
}

/** ruleset_add_chain_policy: DROP and REJECT log at the given level, after the quiet drops. */
function policy(
  out: Outcome,
  policyName: string,
  level: number | undefined,
  vmid: number,
  chain: string,
  pkt: Packet,
): Outcome {
  if (policyName === 'ACCEPT') return { ...out, verdict: 'accept' };
  if (!quietlyHandled(pkt) && level !== undefined)
    out.logs.push({ vmid, level, chain, msg: `policy ${policyName}: ` });
  return { ...out, verdict: policyName === 'DROP' ? 'drop' : 'reject' };
}

/** The cluster ipset `blacklist`, logged at the host's log_level_out (the chain is made first for FWBR-IN). */
function blacklisted(
  pkt: Packet,
  round: Round,
  node: SimNode,
  host: FwConf,
  out: Outcome,
): boolean {
  if (!round.dc.ipset.has('blacklist') || !dcSetHolds('blacklist', pkt.srcN, round, node))
    return false;
  const level = logLevel(host.options.log_level_out);
  if (level !== undefined)
    out.logs.push({ vmid: 0, level, chain: 'PVEFW-blacklist', msg: 'DROP: ' });
  return true;
}

/** PVEFW-HOST-IN for a new connection arriving on `iface` (enable_host_firewall). */
function hostIn(pkt: Packet, iface: string, round: Round, node: SimNode): Outcome {
  const out: Outcome = { logs: [], verdict: undefined };
  const host = round.hosts.get(node.name) as FwConf;
  if (host.options.enable === 0) return out;
  if (blacklisted(pkt, round, node, host, out)) return { ...out, verdict: 'drop' };
  for (const rule of [...host.rules, ...round.dc.rules]) {
    if (!usable(rule) || (rule.iface && rule.iface !== iface)) continue;
    if (rule.type === 'group') {
      const v = groupChain(rule.action ?? '', 'in', pkt, round, node, out);
      if (v) return { ...out, verdict: v };
    } else if (rule.type === 'in' && ruleMatches(rule, pkt, round, host, node)) {
      const level = logLevel(rule.log);
      if (level !== undefined)
        out.logs.push({ vmid: 0, level, chain: 'PVEFW-HOST-IN', msg: `${rule.action}: ` });
      return { ...out, verdict: verdictOf(rule.action) };
    }
  }
  const tcpPorts = '8006,5900:5999,3128,22,60000:60050';
  if (
    pkt.proto === 'tcp' &&
    portMatches(tcpPorts, pkt.dport) &&
    dcSetHolds('management', pkt.srcN, round, node)
  )
    return { ...out, verdict: 'accept' };
  const peers = round.peers.get(node.name) ?? [];
  if (pkt.proto === 'udp' && portMatches('5404:5405', pkt.dport) && peers.includes(pkt.src))
    return { ...out, verdict: 'accept' };
  const name = String(round.dc.options.policy_in || 'DROP');
  return policy(out, name, logLevel(host.options.log_level_in), 0, 'PVEFW-HOST-IN', pkt);
}

/** A guest's tap chain, in or out (generate_tap_rules_direction, ruleset_create_vm_chain). */
function guestChain(
  pkt: Packet,
  nic: Nic,
  dir: 'in' | 'out',
  round: Round,
  node: SimNode,
): Outcome {
  const out: Outcome = { logs: [], verdict: undefined };
  const host = round.hosts.get(node.name) as FwConf;
  // PVEFW-FWBR-IN filters what goes to a guest first.
  if (dir === 'in' && blacklisted(pkt, round, node, host, out)) return { ...out, verdict: 'drop' };
  const conf = round.guests.get(nic.guest.vmid);
  const options = conf?.options ?? {};
  if (!conf || !options.enable) return { ...out, verdict: 'accept' };
  const dhcp = dir === 'in' ? [67, 68] : [68, 67];
  if (options.dhcp !== 0 && pkt.proto === 'udp' && pkt.sport === dhcp[0] && pkt.dport === dhcp[1])
    return { ...out, verdict: 'accept' };
  if (dir === 'out') {
    const name = `ipfilter-${nic.netid}`;
    if (options.ipfilter || conf.ipset.has(name)) {
      const entries = [...(conf.ipset.get(name) ?? [])];
      if (nic.guest.type === 'lxc') entries.push({ cidr: nic.ip });
      const resolve = (a: string, s: string) => resolveAlias(round.dc, conf, a, s).cidr;
      if (!ipsetHolds(entries, pkt.srcN, resolve)) return { ...out, verdict: 'drop' };
    }
  }
  const chain = `${nic.dev}-${dir.toUpperCase()}`;
  for (const rule of conf.rules) {
    if ((rule.iface && rule.iface !== nic.netid) || !usable(rule)) continue;
    if (rule.type === 'group') {
      const v = groupChain(rule.action ?? '', dir, pkt, round, node, out);
      if (v) return { ...out, verdict: v };
    } else if (rule.type === dir && ruleMatches(rule, pkt, round, conf, node)) {
      const level = logLevel(rule.log);
      if (level !== undefined)
        out.logs.push({ vmid: nic.guest.vmid, level, chain, msg: `${rule.action}: ` });
      return { ...out, verdict: verdictOf(rule.action) };
    }
  }
  const name = String(options[`policy_${dir}`] || (dir === 'in' ? 'DROP' : 'ACCEPT'));
  return policy(out, name, logLevel(options[`log_level_${dir}`]), nic.guest.vmid, chain, pkt);
}

// The packets

/** The NICs the firewall filters on a node's running guests. */
function nicsOf(cluster: Cluster, node: SimNode): Nic[] {
  const nics: Nic[] = [];
  for (const guest of cluster.guests.values()) {
    if (guest.node !== node.name || !guest.running) continue;
    for (const [key, value] of Object.entries(guest.config)) {
      const m = /^net(\d+)$/.exec(key);
      if (!m) continue;
      let opts: Record<string, string>;
      try {
        opts = parsePropertyString(value);
      } catch {
        continue;
      }
      if (opts.firewall !== '1') continue;
      const mac =
        opts.hwaddr ?? Object.values(opts).find((v) => /^[0-9A-F]{2}(:[0-9A-F]{2}){5}$/i.test(v));
      const staticIp = opts.ip && /^\d/.test(opts.ip) ? opts.ip.split('/')[0] : undefined;
      nics.push({
        guest,
        netid: key,
        dev: `${guest.type === 'qemu' ? 'tap' : 'veth'}${guest.vmid}i${m[1]}`,
        mac: (mac ?? '').toLowerCase(),
        ip: staticIp ?? guestIp(guest),
      });
    }
  }
  return nics;
}

const pick = <T>(list: readonly T[], h: number): T => list[h % list.length] as T;

/** The node's bridge and the port under it (the network holding its address). */
function uplink(node: SimNode): [string, string] {
  const net =
    node.networks.find((n) => n.cidr?.split('/')[0] === node.ip) ??
    node.networks.find((n) => n.type === 'bridge');
  return [net?.iface ?? 'vmbr0', net?.bridge_ports?.split(/\s+/)[0] ?? 'eno1'];
}

function internetAddress(h: number): string {
  const n = 1 + ((h >>> 8) % 254);
  return `${pick(['203.0.113', '198.51.100', '192.0.2', '100.64.7'], h)}.${n}`;
}

/** A number derived from a hash and a field index (a murmur3 finaliser). */
const field = (h: number, i: number): number => avalanche((h ^ Math.imul(i + 1, 0x9e3779b9)) >>> 0);

const HOST_PORTS = [22, 8006, 23, 80, 443, 445, 3389, 5900, 3128, 111, 25, 3306];
const LAN_PORTS = [8006, 22, 5900, 3128, 9100, 111, 2049];
const GUEST_TCP = [80, 443, 22, 3306, 5432, 8080, 3389, 445];
const GUEST_UDP = [53, 161, 123, 137];
const OUTBOUND = [
  ['9.9.9.9', 'udp', 53],
  ['1.1.1.1', 'udp', 53],
  ['151.101.2.132', 'tcp', 443],
  ['gateway', 'udp', 123],
  ['203.0.113.10', 'tcp', 25],
] as const;

/**
 * The packets of one minute on a node: one from the internet to the node, one from the local
 * network or a peer node, one to a firewalled guest and one from it.
 */
function minutePackets(
  cluster: Cluster,
  node: SimNode,
  peers: string[],
  nics: Nic[],
  minute: number,
) {
  const out: { pkt: Packet; to: 'host' | 'in' | 'out'; nic?: Nic }[] = [];
  const base = node.ip.split('.').slice(0, 3).join('.');
  for (let k = 0; k < 4; k++) {
    const h = hash32(cluster.seed, 'fw', node.name, minute, k);
    const f = (i: number) => field(h, i);
    const packet = (proto: Packet['proto'], src: string, dst: string, dport: number): Packet => ({
      time: minute * MINUTE + (f(0) % 60) * 1000,
      proto,
      src,
      dst,
      srcN: ipv4(src) ?? 0n,
      dstN: ipv4(dst) ?? 0n,
      sport:
        proto === 'icmp' ? 0 : proto === 'udp' && dport === 5405 ? 5405 : 32768 + (f(1) % 28000),
      dport: proto === 'icmp' ? 8 : dport,
      h: f(2),
    });
    const lan = `${base}.${20 + (f(3) % 30)}`;
    const kind = f(4) % 10;
    if (k === 0) {
      out.push({
        pkt: packet('tcp', internetAddress(f(3)), node.ip, pick(HOST_PORTS, f(5))),
        to: 'host',
      });
    } else if (k === 1) {
      // Corosync comes from the other nodes.
      const peer = peers.length ? pick(peers, f(6)) : lan;
      const pkt =
        kind < 6
          ? packet('tcp', kind < 2 ? peer : lan, node.ip, pick(LAN_PORTS, f(5)))
          : kind < 8
            ? packet('udp', peer, node.ip, 5405)
            : packet('icmp', lan, node.ip, 8);
      out.push({ pkt, to: 'host' });
    } else if (nics.length) {
      const nic = pick(nics, f(7));
      if (k === 2) {
        const src = f(8) % 4 === 0 ? lan : internetAddress(f(3));
        const pkt =
          kind < 7
            ? packet('tcp', src, nic.ip, pick(GUEST_TCP, f(5)))
            : kind < 9
              ? packet('udp', src, nic.ip, pick(GUEST_UDP, f(5)))
              : packet('icmp', src, nic.ip, 8);
        out.push({ pkt, to: 'in', nic });
      } else {
        const [dst, proto, dport] = pick(OUTBOUND, f(5));
        out.push({
          pkt: packet(proto, nic.ip, dst === 'gateway' ? `${base}.1` : dst, dport),
          to: 'out',
          nic,
        });
      }
    }
  }
  return out;
}

/** The packet part of a log line (pvefw-logger print_iphdr, print_tcp, print_udp, print_icmp). */
function packetText(pkt: Packet): string {
  const id = pkt.h % 65536;
  const ttl = 40 + (pkt.h % 24);
  if (pkt.proto === 'tcp')
    return `SRC=${pkt.src} DST=${pkt.dst} LEN=60 TOS=0x00 PREC=0x00 TTL=${ttl} ID=${id} DF PROTO=TCP SPT=${pkt.sport} DPT=${pkt.dport} SEQ=${hash32(pkt.h, 'seq')} ACK=0 WINDOW=64240 SYN `;
  if (pkt.proto === 'udp')
    return `SRC=${pkt.src} DST=${pkt.dst} LEN=76 TOS=0x00 PREC=0x00 TTL=${ttl} ID=${id} PROTO=UDP SPT=${pkt.sport} DPT=${pkt.dport} LEN=56`;
  return `SRC=${pkt.src} DST=${pkt.dst} LEN=84 TOS=0x00 PREC=0x00 TTL=${ttl} ID=${id} DF PROTO=ICMP TYPE=8 CODE=0 ID=${pkt.h % 4096} SEQ=${1 + (pkt.h % 50)} `;
}

// The log

function logOf(cluster: Cluster, node: SimNode): FwLogLine[] {
  const fw = cluster.firewall;
  let log = fw.logs.get(node.name);
  if (!log) {
    log = [];
    // What the days kept before the simulator started hold: pvefw-logger's restarts.
    const from = midnight(fw.trafficUpTo) - KEEP_DAYS * DAY;
    restarts(node, log, from - 1, fw.trafficUpTo);
    log = log.filter((l) => l.file >= from);
    fw.logs.set(node.name, log);
  }
  return log;
}

/** pvefw-logger's own lines (log_status_message): vmid 0, its level, no chain. */
const statusLine = (t: number, level: number, msg: string) => `0 ${level} - ${stamp(t)} ${msg}`;

/** The logger starting at boot, and stopping and starting at each rotation in (from, to]. */
function restarts(node: SimNode, log: FwLogLine[], from: number, to: number): void {
  const boot = bootMs(node);
  if (boot > from && boot <= to)
    log.push({ time: boot, file: boot, text: statusLine(boot, 5, 'starting pvefw logger') });
  for (let m = midnight(from) + DAY; m <= to; m += DAY) {
    if (m <= boot) continue;
    const old = fileStart(node, m - 1);
    log.push({ time: m, file: old, text: statusLine(m, 5, 'received terminate request (signal)') });
    log.push({ time: m, file: old, text: statusLine(m, 5, 'stopping pvefw logger') });
    log.push({ time: m, file: m, text: statusLine(m, 5, 'starting pvefw logger') });
  }
}

/** Plays the simulated traffic from where it stopped up to the simulated now. */
export function playTraffic(cluster: Cluster): void {
  const fw = cluster.firewall;
  const now = cluster.clock.now();
  if (now <= fw.trafficUpTo) return;
  for (const node of cluster.nodes.values()) if (node.online) logOf(cluster, node);
  // Older traffic would be rotated away anyway.
  const from = Math.max(fw.trafficUpTo, midnight(now) - KEEP_DAYS * DAY);
  const nodes = [...cluster.nodes.values()];
  const round: Round = {
    cluster,
    peers: new Map(nodes.map((n) => [n.name, nodes.filter((o) => o !== n).map((o) => o.ip)])),
    localNets: new Map(),
    dc: fw.cluster(),
    hosts: new Map(),
    guests: new Map(),
  };
  const enabled = !!round.dc.options.enable;
  for (const node of cluster.nodes.values()) {
    if (!node.online) continue;
    const log = logOf(cluster, node);
    restarts(node, log, fw.trafficUpTo, now);
    if (!enabled) continue;
    round.hosts.set(node.name, fw.host(node.name, round.dc));
    const nics = nicsOf(cluster, node);
    for (const nic of nics)
      if (!round.guests.has(nic.guest.vmid))
        round.guests.set(nic.guest.vmid, fw.guest(nic.guest.vmid, round.dc));
    const lines: FwLogLine[] = [];
    const [bridge, port] = uplink(node);
    const hostMac = macOf(cluster.seed, '3c:ec:ef', node.name);
    const routerMac = macOf(cluster.seed, '00:1b:21', 'gateway');
    for (let minute = Math.floor(from / MINUTE); minute <= Math.floor(now / MINUTE); minute++) {
      for (const { pkt, to, nic } of minutePackets(
        cluster,
        node,
        round.peers.get(node.name) ?? [],
        nics,
        minute,
      )) {
        if (pkt.time <= from || pkt.time > now) continue;
        let outcome: Outcome;
        let devs: string;
        if (to === 'host') {
          outcome = hostIn(pkt, bridge, round, node);
          devs = `IN=${bridge} PHYSIN=${port} MAC=${hostMac}:${routerMac}:08:00 `;
        } else {
          const n = nic as Nic;
          outcome = guestChain(pkt, n, to, round, node);
          const fwbr = `fwbr${n.guest.vmid}i${n.netid.slice(3)}`;
          const fwln = `fwln${n.guest.vmid}i${n.netid.slice(3)}`;
          devs =
            to === 'in'
              ? `IN=${fwbr} OUT=${fwbr} PHYSIN=${fwln} PHYSOUT=${n.dev} MAC=${n.mac}:${routerMac}:08:00 `
              : `IN=${fwbr} OUT=${fwbr} PHYSIN=${n.dev} PHYSOUT=${fwln} MAC=${routerMac}:${n.mac}:08:00 `;
        }
        for (const l of outcome.logs)
          lines.push({
            time: pkt.time,
            file: fileStart(node, pkt.time),
            text: `${l.vmid} ${l.level} ${l.chain} ${stamp(pkt.time)} ${l.msg}${devs}${packetText(pkt)}`,
          });
      }
    }
    log.push(...lines);
    log.sort((a, b) => a.time - b.time);
  }
  fw.trafficUpTo = now;
  // logrotate drops the oldest file.
  for (const [name, log] of fw.logs) {
    const oldest = midnight(now) - KEEP_DAYS * DAY;
    const keep = log.filter((l) => l.file >= oldest);
    if (keep.length !== log.length) fw.logs.set(name, keep);
  }
}

/**
 * Firewall/Helpers.pm dump_fw_logfile: the current file, or with `since`/`until` every file kept,
 * oldest first, filtered by the time in each line; paged as pve-common dump_logfile pages.
 */
function readLog(ctx: Ctx, vmid?: number): WithTotal {
  const node = ctx.cluster.nodes.get(String(ctx.params.node)) as SimNode;
  const now = ctx.clock.now();
  const since = num(ctx, 'since');
  const until = num(ctx, 'until');
  const all = node.online ? logOf(ctx.cluster, node) : [];
  const current = fileStart(node, now);
  const lines = all.filter((l) => {
    if (vmid !== undefined && !l.text.startsWith(`${vmid} `)) return false;
    if (since === undefined && until === undefined) return l.file === current;
    const t = Math.floor(l.time / 1000);
    return !(since && t < since) && !(until && t > until);
  });
  const start = num(ctx, 'start') ?? 0;
  const limit = num(ctx, 'limit') ?? 50;
  const page = (limit === 0 ? lines.slice(start) : lines.slice(start, start + limit)).map(
    (l, i) => ({ n: start + i + 1, t: l.text }),
  );
  // An empty log answers one line, for ExtJS.
  if (!lines.length) return new WithTotal([{ n: 1, t: 'no content' }], 1);
  return new WithTotal(page, lines.length);
}

export const firewallLogRoutes: Routes = {
  'GET /nodes/{node}/firewall/log': (ctx) => readLog(ctx),
  'GET /nodes/{node}/qemu/{vmid}/firewall/log': (ctx) => readLog(ctx, num(ctx, 'vmid')),
  'GET /nodes/{node}/lxc/{vmid}/firewall/log': (ctx) => readLog(ctx, num(ctx, 'vmid')),
};
