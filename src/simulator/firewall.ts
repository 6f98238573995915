/**
 * The firewall's configuration as pve-firewall keeps it: text files in the cluster filesystem
 * (`firewall/cluster.fw`, `nodes/<node>/host.fw`, `firewall/<vmid>.fw`), read with pve-firewall's
 * parser and written with its formatter on every change, so that what the API answers goes through
 * the same round trip as on PVE (names lower-cased, `/32` dropped, entries sorted, rules re-verified).
 * The facts come from pve-firewall src/PVE/Firewall.pm; the subs are named where they are followed.
 *
 * PVE's host firewall (Firewall.pm compile, enable_host_firewall), which the simulated traffic in
 * routes/firewall-log.ts follows and a lock-out check needs:
 * - Nothing is filtered while the datacenter option `enable` is off: compile returns empty rule sets,
 *   for the hosts and the guests alike. An `enable` above 1 is a timestamp, on for 60 seconds only
 *   (parse_clusterfw_option), so that a change that locks the caller out undoes itself. A node's `enable` (default on) only adds or leaves out its
 *   PVEFW-HOST-IN/OUT chains; a guest's `enable` (default off) turns its rules and policies on.
 * - The `management` ipset always gets the node's local network added (compile). That network is
 *   the cluster alias `local_network` if defined, else the first route of the node's own address
 *   (its address in the cluster) with a /8../32 mask that holds it (local_network), else
 *   127.0.0.0/8. So an absent or empty `management` set still lets the local network in.
 * - PVEFW-HOST-IN, in order: `-i lo` accepted; conntrack INVALID dropped, RELATED,ESTABLISHED
 *   accepted; IPv6 neighbour discovery (host option `ndp`, default on); the cluster ipset
 *   `blacklist` dropped (logged at the host's log_level_out); SMURFS (host `nosmurfs`) and TCP
 *   flags (host `tcpflags`) filters; IGMP; then the rules of host.fw followed by the rules of
 *   cluster.fw (first match wins, so a node's rules come before the datacenter's); then from the
 *   `management` set TCP 8006 (API), 5900:5999 (VNC), 3128 (SPICE), 22 (SSH), 60000:60050
 *   (migration); corosync UDP 5404:5405 from the other nodes' ring addresses; last the datacenter
 *   `policy_in`, DROP unless set, logged at the host's `log_level_in`.
 * - PVEFW-HOST-OUT: `-o lo`, conntrack, NDP, IGMP, host.fw then cluster.fw `out` rules, then to
 *   the local network TCP 8006, 22, 5900:5999, 3128, corosync, and `policy_out`, ACCEPT unless set.
 * - Port 85 (pvedaemon) listens on localhost only and is not opened; nothing else is.
 */
import { createHash } from 'node:crypto';
import type { SimClock } from './clock.js';
import type { Dataset, GuestType } from './dataset-types.js';
import { fail, paramError } from './errors.js';
import type { SimNode } from './state.js';

export type FwKind = 'cluster' | 'host' | 'vm';
/** Where a rule is verified (Firewall.pm $rule_env_iface_lookup, $rule_env_direction_lookup). */
export type RuleEnv = 'cluster' | 'host' | 'vm' | 'ct' | 'group';

export interface FwRule {
  type?: string;
  action?: string;
  macro?: string;
  iface?: string;
  source?: string;
  dest?: string;
  proto?: string;
  dport?: string;
  sport?: string;
  log?: string;
  'icmp-type'?: string;
  comment?: string;
  enable?: number;
  ipversion?: number;
  pos?: number;
  digest?: string;
  errors?: Record<string, string>;
}

export interface FwAlias {
  name: string;
  cidr: string;
  ipversion: number;
  comment?: string;
}

export interface FwIpEntry {
  cidr: string;
  nomatch?: number;
  comment?: string;
  errors?: Record<string, string>;
}

export interface FwConf {
  kind: FwKind;
  options: Record<string, string | number>;
  /** Keyed by the lower-cased name. */
  aliases: Map<string, FwAlias>;
  ipset: Map<string, FwIpEntry[]>;
  ipsetComments: Map<string, string>;
  groups: Map<string, FwRule[]>;
  groupComments: Map<string, string>;
  rules: FwRule[];
}

export const SECURITY_GROUP_PATTERN = '[A-Za-z][A-Za-z0-9\\-\\_]+';
const NAME_RE = new RegExp(`^${SECURITY_GROUP_PATTERN}$`);
const MAX_ALIAS_NAME = 64;
const MAX_IPSET_NAME = 64;
const MAX_GROUP_NAME = 18;
export const LOG_LEVELS: Record<string, number> = {
  emerg: 0,
  alert: 1,
  crit: 2,
  err: 3,
  warning: 4,
  notice: 5,
  info: 6,
  debug: 7,
};
const LOGLEVEL_RE = 'emerg|alert|crit|err|warning|notice|info|debug|nolog';

/** Perl's truth: undef, '' and '0' are false. */
export const perlTrue = (v: unknown) =>
  v !== undefined && v !== null && v !== '' && v !== '0' && v !== 0;

// Facts of the host: netbase's /etc/protocols (all of it) and /etc/services (the usual names).

/** /etc/protocols, name to number (Firewall.pm get_etc_protocols, plus its `icmpv6`). */
export const PROTOCOLS: Record<string, number> = {
  ip: 0,
  hopopt: 0,
  icmp: 1,
  igmp: 2,
  ggp: 3,
  ipencap: 4,
  st: 5,
  tcp: 6,
  egp: 8,
  igp: 9,
  pup: 12,
  udp: 17,
  hmp: 20,
  'xns-idp': 22,
  rdp: 27,
  'iso-tp4': 29,
  dccp: 33,
  xtp: 36,
  ddp: 37,
  'idpr-cmtp': 38,
  ipv6: 41,
  'ipv6-route': 43,
  'ipv6-frag': 44,
  idrp: 45,
  rsvp: 46,
  gre: 47,
  esp: 50,
  ah: 51,
  skip: 57,
  'ipv6-icmp': 58,
  icmpv6: 58,
  'ipv6-nonxt': 59,
  'ipv6-opts': 60,
  rspf: 73,
  vmtp: 81,
  eigrp: 88,
  ospf: 89,
  'ax.25': 93,
  ipip: 94,
  etherip: 97,
  encap: 98,
  pim: 103,
  ipcomp: 108,
  vrrp: 112,
  l2tp: 115,
  isis: 124,
  sctp: 132,
  fc: 133,
  'mobility-header': 135,
  udplite: 136,
  'mpls-in-ip': 137,
  manet: 138,
  hip: 139,
  shim6: 140,
  wesp: 141,
  rohc: 142,
  ethernet: 143,
  mptcp: 262,
};
const PROTOCOL_IDS = new Set(Object.values(PROTOCOLS).map(String));

/** /etc/services names a port spec may use (get_etc_services), with their ports. */
export const SERVICES: Record<string, number> = {
  tcpmux: 1,
  echo: 7,
  discard: 9,
  systat: 11,
  daytime: 13,
  netstat: 15,
  qotd: 17,
  chargen: 19,
  'ftp-data': 20,
  ftp: 21,
  ssh: 22,
  telnet: 23,
  smtp: 25,
  time: 37,
  whois: 43,
  tacacs: 49,
  domain: 53,
  bootps: 67,
  bootpc: 68,
  tftp: 69,
  gopher: 70,
  finger: 79,
  http: 80,
  kerberos: 88,
  pop3: 110,
  sunrpc: 111,
  auth: 113,
  nntp: 119,
  ntp: 123,
  epmap: 135,
  'netbios-ns': 137,
  'netbios-dgm': 138,
  'netbios-ssn': 139,
  imap2: 143,
  snmp: 161,
  'snmp-trap': 162,
  bgp: 179,
  ldap: 389,
  https: 443,
  'microsoft-ds': 445,
  kpasswd: 464,
  submissions: 465,
  isakmp: 500,
  syslog: 514,
  printer: 515,
  route: 520,
  'dhcpv6-client': 546,
  'dhcpv6-server': 547,
  nntps: 563,
  submission: 587,
  ipp: 631,
  ldaps: 636,
  'domain-s': 853,
  rsync: 873,
  'ftps-data': 989,
  ftps: 990,
  telnets: 992,
  imaps: 993,
  pop3s: 995,
  socks: 1080,
  openvpn: 1194,
  'ms-sql-s': 1433,
  'ms-sql-m': 1434,
  l2f: 1701,
  radius: 1812,
  'radius-acct': 1813,
  nfs: 2049,
  cvspserver: 2401,
  gpsd: 2947,
  icpv2: 3130,
  'iscsi-target': 3260,
  mysql: 3306,
  'ms-wbt-server': 3389,
  svn: 3690,
  'ipsec-nat-t': 4500,
  munin: 4949,
  sip: 5060,
  'sip-tls': 5061,
  'xmpp-client': 5222,
  'xmpp-server': 5269,
  mdns: 5353,
  postgresql: 5432,
  amqp: 5672,
  nrpe: 5666,
  x11: 6000,
  redis: 6379,
  'sane-port': 6566,
  ircd: 6667,
  'syslog-tls': 6514,
  'http-alt': 8080,
  puppet: 8140,
  git: 9418,
  webmin: 10000,
  'zabbix-agent': 10050,
  'zabbix-trapper': 10051,
  amanda: 10080,
  hkp: 11371,
};

/** iptables' ICMP type names (Firewall.pm $icmp_type_names) with their type numbers. */
export const ICMP_TYPES: Record<string, number> = {
  any: -1,
  'echo-reply': 0,
  'destination-unreachable': 3,
  'network-unreachable': 3,
  'host-unreachable': 3,
  'protocol-unreachable': 3,
  'port-unreachable': 3,
  'fragmentation-needed': 3,
  'source-route-failed': 3,
  'network-unknown': 3,
  'host-unknown': 3,
  'network-prohibited': 3,
  'host-prohibited': 3,
  'TOS-network-unreachable': 3,
  'TOS-host-unreachable': 3,
  'communication-prohibited': 3,
  'host-precedence-violation': 3,
  'precedence-cutoff': 3,
  'source-quench': 4,
  redirect: 5,
  'network-redirect': 5,
  'host-redirect': 5,
  'TOS-network-redirect': 5,
  'TOS-host-redirect': 5,
  'echo-request': 8,
  'router-advertisement': 9,
  'router-solicitation': 10,
  'time-exceeded': 11,
  'ttl-zero-during-transit': 11,
  'ttl-zero-during-reassembly': 11,
  'parameter-problem': 12,
  'ip-header-bad': 12,
  'required-option-missing': 12,
  'timestamp-request': 13,
  'timestamp-reply': 14,
  'address-mask-request': 17,
  'address-mask-reply': 18,
};

/** ip6tables' ICMPv6 type names (Firewall.pm $icmpv6_type_names). */
const ICMPV6_TYPES = new Set([
  'destination-unreachable',
  'no-route',
  'communication-prohibited',
  'beyond-scope',
  'address-unreachable',
  'port-unreachable',
  'failed-policy',
  'reject-route',
  'packet-too-big',
  'time-exceeded',
  'ttl-zero-during-transit',
  'ttl-zero-during-reassembly',
  'parameter-problem',
  'bad-header',
  'unknown-header-type',
  'unknown-option',
  'echo-request',
  'echo-reply',
  'router-solicitation',
  'router-advertisement',
  'neighbor-solicitation',
  'neighbour-solicitation',
  'neighbor-advertisement',
  'neighbour-advertisement',
  'redirect',
]);

/** Protocols whose rules may name ports (Firewall.pm $PROTOCOLS_WITH_PORTS). */
export const PROTOCOLS_WITH_PORTS = new Set([
  'udp',
  '17',
  'udplite',
  '136',
  'tcp',
  '6',
  'dccp',
  '33',
  'sctp',
  '132',
]);
export const isIcmpProto = (proto: string) =>
  proto === 'icmp' || proto === 'icmpv6' || proto === 'ipv6-icmp';

/** Conntrack helpers (Firewall.pm $pve_fw_helpers). */
const HELPERS = new Set([
  'amanda',
  'ftp',
  'irc',
  'netbios-ns',
  'pptp',
  'sane',
  'sip',
  'snmp',
  'tftp',
]);

/**
 * PVE's macros, converted from Shorewall's (Firewall.pm $pve_fw_macros): the description, then
 * each rule as `proto [dport [sport]]`, its action being the rule's.
 */
const MACROS: Record<string, string[]> = {
  Amanda: ['Amanda Backup', 'udp 10080', 'tcp 10080'],
  Auth: ['Auth (identd) traffic', 'tcp 113'],
  BGP: ['Border Gateway Protocol traffic', 'tcp 179'],
  BitTorrent: ['BitTorrent traffic for BitTorrent 3.1 and earlier', 'tcp 6881:6889', 'udp 6881'],
  BitTorrent32: ['BitTorrent traffic for BitTorrent 3.2 and later', 'tcp 6881:6999', 'udp 6881'],
  Ceph: [
    'Ceph Storage Cluster traffic (Ceph Monitors, OSD & MDS Daemons)',
    'tcp 6789',
    'tcp 3300',
    'tcp 6800:7300',
  ],
  Citrix: ['Citrix/ICA traffic (ICA, ICA Browser, CGP)', 'tcp 1494', 'udp 1604', 'tcp 2598'],
  CVS: ['Concurrent Versions System pserver traffic', 'tcp 2401'],
  DAAP: [
    'Digital Audio Access Protocol traffic (iTunes, Rythmbox daemons)',
    'tcp 3689',
    'udp 3689',
  ],
  DCC: ['Distributed Checksum Clearinghouse spam filtering mechanism', 'tcp 6277'],
  DHCPfwd: ['Forwarded DHCP traffic', 'udp 67:68 67:68'],
  Distcc: ['Distributed Compiler service', 'tcp 3632'],
  DNS: ['Domain Name System traffic (upd and tcp)', 'udp 53', 'tcp 53'],
  Finger: ['Finger protocol (RFC 742)', 'tcp 79'],
  FTP: ['File Transfer Protocol', 'tcp 21'],
  Git: ['Git distributed revision control traffic', 'tcp 9418'],
  GNUnet: [
    'GNUnet secure peer-to-peer networking traffic',
    'tcp 2086',
    'udp 2086',
    'tcp 1080',
    'udp 1080',
  ],
  GRE: ['Generic Routing Encapsulation tunneling protocol', '47'],
  HKP: ['OpenPGP HTTP key server protocol traffic', 'tcp 11371'],
  HTTP: ['Hypertext Transfer Protocol (WWW)', 'tcp 80'],
  HTTPS: ['Hypertext Transfer Protocol (WWW) over SSL', 'tcp 443'],
  ICPV2: ['Internet Cache Protocol V2 (Squid) traffic', 'udp 3130'],
  ICQ: ['AOL Instant Messenger traffic', 'tcp 5190'],
  IMAP: ['Internet Message Access Protocol', 'tcp 143'],
  IMAPS: ['Internet Message Access Protocol over SSL', 'tcp 993'],
  IPIP: ['IPIP capsulation traffic', '94'],
  IPsec: ['IPsec traffic', 'udp 500 500', '50'],
  IPsecah: ['IPsec authentication (AH) traffic', 'udp 500 500', '51'],
  IPsecnat: ['IPsec traffic and Nat-Traversal', 'udp 500', 'udp 4500', '50'],
  IRC: ['Internet Relay Chat traffic', 'tcp 6667'],
  Jetdirect: ['HP Jetdirect printing', 'tcp 9100'],
  L2TP: ['Layer 2 Tunneling Protocol traffic', 'udp 1701'],
  LDAP: ['Lightweight Directory Access Protocol traffic', 'tcp 389'],
  LDAPS: ['Secure Lightweight Directory Access Protocol traffic', 'tcp 636'],
  Mail: ['Mail traffic (SMTP, SMTPS, Submission)', 'tcp 25', 'tcp 465', 'tcp 587'],
  MDNS: ['Multicast DNS', 'udp 5353'],
  MSNP: ['Microsoft Notification Protocol', 'tcp 1863'],
  MSSQL: ['Microsoft SQL Server', 'tcp 1433'],
  Munin: ['Munin networked resource monitoring traffic', 'tcp 4949'],
  MySQL: ['MySQL server', 'tcp 3306'],
  NNTP: ['NNTP traffic (Usenet).', 'tcp 119'],
  NNTPS: ['Encrypted NNTP traffic (Usenet)', 'tcp 563'],
  NTP: ['Network Time Protocol (ntpd)', 'udp 123'],
  OpenVPN: ['OpenVPN traffic', 'udp 1194'],
  OSPF: ['OSPF multicast traffic', '89'],
  PCA: ['Symantec PCAnywere (tm)', 'udp 5632', 'tcp 5631'],
  Ping: ['ICMP echo request', 'icmp echo-request'],
  PMG: ['Proxmox Mail Gateway web interface', 'tcp 8006'],
  POP3: ['POP3 traffic', 'tcp 110'],
  POP3S: ['Encrypted POP3 traffic', 'tcp 995'],
  PostgreSQL: ['PostgreSQL server', 'tcp 5432'],
  PPtP: ['Point-to-Point Tunneling Protocol', '47', 'tcp 1723'],
  Printer: ['Line Printer protocol printing', 'tcp 515'],
  Razor: ['Razor Antispam System', 'tcp 2703'],
  Rdate: ['Remote time retrieval (rdate)', 'tcp 37'],
  RDP: ['Microsoft Remote Desktop Protocol traffic', 'tcp 3389'],
  RIP: ['Routing Information Protocol (bidirectional)', 'udp 520'],
  RNDC: ['BIND remote management protocol', 'tcp 953'],
  Rsync: ['Rsync server', 'tcp 873'],
  SANE: ['SANE network scanning', 'tcp 6566'],
  SixXS: ['SixXS IPv6 Deployment and Tunnel Broker', 'tcp 3874', 'udp 3740', '41', 'udp 5072,8374'],
  SMB: [
    'Microsoft SMB traffic',
    'udp 135,445',
    'udp 137:139',
    'udp 1024:65535 137',
    'tcp 135,139,445',
  ],
  SMBswat: ['Samba Web Administration Tool', 'tcp 901'],
  SMTP: ['Simple Mail Transfer Protocol', 'tcp 25'],
  SMTPS: ['Encrypted Simple Mail Transfer Protocol', 'tcp 465'],
  SNMP: ['Simple Network Management Protocol', 'udp 161:162', 'tcp 161'],
  SPAMD: ['Spam Assassin SPAMD traffic', 'tcp 783'],
  SPICEproxy: ['Proxmox VE SPICE display proxy traffic', 'tcp 3128'],
  Squid: ['Squid web proxy traffic', 'tcp 3128'],
  SSH: ['Secure shell traffic', 'tcp 22'],
  Submission: ['Mail message submission traffic', 'tcp 587'],
  SVN: ['Subversion server (svnserve)', 'tcp 3690'],
  Syslog: ['Syslog protocol (RFC 5424) traffic', 'udp 514', 'tcp 514'],
  Telnet: ['Telnet traffic', 'tcp 23'],
  Telnets: ['Telnet over SSL', 'tcp 992'],
  TFTP: ['Trivial File Transfer Protocol traffic', 'udp 69'],
  Time: ['RFC 868 Time protocol', 'tcp 37'],
  Trcrt: ['Traceroute (for up to 30 hops) traffic', 'udp 33434:33524', 'icmp echo-request'],
  VNC: ["VNC traffic for VNC display's 0 - 99", 'tcp 5900:5999'],
  VNCL: ['VNC traffic from Vncservers to Vncviewers in listen mode', 'tcp 5500'],
  Web: ['WWW traffic (HTTP and HTTPS)', 'tcp 80', 'tcp 443'],
  Webcache: ['Web Cache/Proxy traffic (port 8080)', 'tcp 8080'],
  Webmin: ['Webmin traffic', 'tcp 10000'],
  Whois: ['Whois (nicname, RFC 3912) traffic', 'tcp 43'],
  // IPv6 only ($pve_ipv6fw_macros); Ping and Trcrt have IPv6 variants too.
  DHCPv6: ['DHCPv6 traffic', 'udp 546:547 546:547'],
  NeighborDiscovery: [
    'IPv6 neighbor solicitation, neighbor and router advertisement',
    'icmpv6 router-solicitation',
    'icmpv6 router-advertisement',
    'icmpv6 neighbor-solicitation',
    'icmpv6 neighbor-advertisement',
  ],
};
const IPV6_MACROS: Record<string, string[]> = {
  Ping: ['icmpv6 echo-request'],
  Trcrt: ['udp 33434:33524', 'icmpv6 echo-request'],
};
const MACRO_IPVERSION: Record<string, number> = { DHCPv6: 6, NeighborDiscovery: 6 };
const PREFERRED_MACRO = new Map(Object.keys(MACROS).map((k) => [k.toLowerCase(), k]));

/** `GET /cluster/firewall/macros` (API2/Firewall/Cluster.pm get_macros), sorted here. */
export const macroList = () =>
  Object.entries(MACROS).map(([macro, [descr]]) => ({ macro, descr: descr || macro }));

// Addresses

const V4_PART = '(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)';
/** PVE::Tools $IPV4RE. */
const IPV4RE = new RegExp(`^(?:${V4_PART}\\.){3}${V4_PART}$`);

export interface IpRange {
  version: 4 | 6;
  first: bigint;
  last: bigint;
}

function v4Int(text: string): bigint | undefined {
  if (!IPV4RE.test(text)) return undefined;
  return text.split('.').reduce((acc, p) => (acc << 8n) | BigInt(Number(p)), 0n);
}

/** An IPv6 address in any of its written forms (PVE::Tools $IPV6RE), or undefined. */
function v6Int(text: string): bigint | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(text) || !text.includes(':')) return undefined;
  let head = text;
  let v4tail: bigint | undefined;
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    v4tail = v4Int(text.slice(lastColon + 1));
    if (v4tail === undefined) return undefined;
    head = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = head.split('::');
  if (halves.length > 2) return undefined;
  const groups = (s: string) => (s === '' ? [] : s.split(':'));
  const left = groups(halves[0] ?? '');
  const right = halves.length === 2 ? groups(halves[1] ?? '') : [];
  const all = [...left, ...right];
  if (all.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  if (halves.length === 2 ? all.length > 7 : all.length !== 8) return undefined;
  const full = [...left, ...Array(8 - all.length).fill('0'), ...right];
  let n = full.reduce((acc, g) => (acc << 16n) | BigInt(Number.parseInt(g, 16)), 0n);
  if (v4tail !== undefined) n = (n & ~0xffffffffn) | v4tail;
  return n;
}

const bits = (version: 4 | 6) => (version === 4 ? 32 : 128);

/** An address as written: dotted quad, or IPv6 compressed and lower-cased (Net::IP). */
export function ipText(n: bigint, version: 4 | 6): string {
  if (version === 4) return [24n, 16n, 8n, 0n].map((s) => String((n >> s) & 0xffn)).join('.');
  const groups = Array.from({ length: 8 }, (_, i) => Number((n >> BigInt(112 - i * 16)) & 0xffffn));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** An address Net::IP reads: IPv4 may leave out trailing quads (`10.1` is 10.1.0.0). */
function netIpAddress(text: string): { version: 4 | 6; n: bigint } | undefined {
  if (!text.includes(':')) {
    if (!/^[\d.]+$/.test(text) || text.startsWith('.') || text.endsWith('.')) return undefined;
    const quads = text.split('.');
    if (quads.length > 4 || quads.some((q) => q === '' || Number(q) > 255)) return undefined;
    while (quads.length < 4) quads.push('0');
    return { version: 4, n: v4Int(quads.map((q) => String(Number(q))).join('.')) as bigint };
  }
  const n = v6Int(text);
  return n === undefined ? undefined : { version: 6, n };
}

/**
 * Net::IP->new: one address, a prefix (its host bits zero) or a range `a-b`; the error is
 * Net::IP's (Net::IP set, ip_normalize, ip_check_prefix).
 */
export function netIp(input: string): IpRange | { error: string } {
  const data = input.replace(/\s/g, '');
  const range = /^([^-]+)-(.+)$/.exec(data);
  if (range) {
    const [begin, end] = [range[1] as string, range[2] as string];
    const a = netIpAddress(begin);
    if (!a) return { error: `Cannot determine IP version for ${begin}` };
    const b = netIpAddress(end);
    if (!b) return { error: `Cannot determine IP version for ${end}` };
    if (a.version !== b.version)
      return {
        error: `Begin and End addresses have different IP versions - ${begin} - ${end}`,
      };
    if (a.n > b.n) return { error: `Begin address is greater than End address ${begin} - ${end}` };
    return { version: a.version, first: a.n, last: b.n };
  }
  const prefix = /^(.+)\/(\d+)$/.exec(data);
  const addr = prefix ? (prefix[1] as string) : data;
  const a = netIpAddress(addr);
  if (!a) return { error: `Cannot determine IP version for ${addr}` };
  if (!prefix) return { version: a.version, first: a.n, last: a.n };
  const len = Number(prefix[2]);
  const width = bits(a.version);
  if (len > width) return { error: `Prefix length ${len} is longer than IP address (${width})` };
  const hostBits = BigInt(width - len);
  const hostMask = (1n << hostBits) - 1n;
  if (a.n & hostMask)
    return { error: `Invalid prefix ${a.n.toString(2).padStart(width, '0')}/${len}` };
  return { version: a.version, first: a.n, last: a.n | hostMask };
}

/** An address or network in PVE's strict form ($IPV4RE, $IPV6RE, optional `/n`). */
function strictCidr(text: string): { version: 4 | 6; n: bigint; len?: number } | undefined {
  const m = /^([^/]+)(?:\/(\d+))?$/.exec(text);
  if (!m) return undefined;
  const len = m[2] === undefined ? undefined : Number(m[2]);
  const v4 = v4Int(m[1] as string);
  if (v4 !== undefined) return { version: 4, n: v4, len };
  const v6 = v6Int(m[1] as string);
  return v6 === undefined ? undefined : { version: 6, n: v6, len };
}

/** Firewall.pm clean_cidr: the host bits of a network cleared. */
export function cleanCidr(cidr: string): string {
  const c = strictCidr(cidr);
  if (!c?.len) return cidr;
  const width = bits(c.version);
  const len = Math.min(c.len, width);
  const mask = ((1n << BigInt(width)) - 1n) ^ ((1n << BigInt(width - len)) - 1n);
  return `${ipText(c.n & mask, c.version)}/${c.len}`;
}

/** Firewall.pm parse_ip_or_cidr: `/32` and `/128` dropped, with the IP version. */
export function parseIpOrCidr(cidr: string): { cidr: string; ipversion: 4 | 6 } {
  const c = strictCidr(cidr);
  if (!c) throw fail('value does not look like a valid IP address or CIDR network');
  if (c.version === 6) return { cidr: cidr.replace(/\/128$/, ''), ipversion: 6 };
  return { cidr: cidr.replace(/\/32$/, ''), ipversion: 4 };
}

/** The range a (strict) address or network covers. */
export function cidrRange(cidr: string): IpRange | undefined {
  const c = strictCidr(cidr);
  if (!c) return undefined;
  const width = bits(c.version);
  const host = (1n << BigInt(width - Math.min(c.len ?? width, width))) - 1n;
  return { version: c.version, first: c.n & ~host, last: c.n | host };
}

export const ipv4 = (text: string) => v4Int(text);

// Formats the schema names but the contract does not check (Firewall.pm, pve-common JSONSchema.pm)

const ALIAS_REF = new RegExp(`^(dc/|guest/)?${SECURITY_GROUP_PATTERN}$`);

/** Firewall.pm parse_address_list: the IP version of an address list, if it has one. */
export function parseAddressList(text: string): number | undefined {
  if (/^\+\S+$/.test(text)) {
    if (text.length > MAX_IPSET_NAME + 1) throw fail('ipset name too long');
    return undefined;
  }
  if (ALIAS_REF.test(text)) {
    if (text.length > MAX_ALIAS_NAME) throw fail('alias name too long');
    return undefined;
  }
  const elements = text.split(',');
  while (elements.length && elements[elements.length - 1] === '') elements.pop();
  if (text !== elements.join(',')) throw fail('extraneous commas in list');
  let version: number | undefined;
  let range = false;
  for (const elem of elements) {
    const ip = netIp(elem);
    if ('error' in ip) throw fail(`invalid IP address: ${ip.error}`);
    if (elem.includes('-')) range = true;
    if (version && ip.version !== version)
      throw fail(`detected mixed ipv4/ipv6 addresses in address list '${text}'`);
    version = ip.version;
  }
  if (range && elements.length > 1) throw fail("you can't use a range in a list");
  return version;
}

/** Firewall.pm parse_port_name_number_or_range; `dport` allows ICMP type names. */
export function parsePorts(text: string, dport: boolean): void {
  const items = text.split(',');
  while (items.length && items[items.length - 1] === '') items.pop();
  if (text !== items.join(',')) throw fail('extraneous commas in list');
  let count = 0;
  let icmp = false;
  for (const item of items) {
    const range = /^([0-9]+):([0-9]+)$/.exec(item);
    if (range) {
      count += 2;
      const [a, b] = [Number(range[1]), Number(range[2])];
      if (a > 65535) throw fail(`invalid port '${range[1]}'`);
      if (b > 65535) throw fail(`invalid port '${range[2]}'`);
      if (a > b)
        throw fail(
          `backwards range '${range[1]}:${range[2]}' not allowed, did you mean '${range[2]}:${range[1]}'?`,
        );
    } else if (/^[0-9]+$/.test(item)) {
      count += 1;
      if (Number(item) > 65535) throw fail(`invalid port '${item}'`);
    } else if (dport && (item in ICMP_TYPES || ICMPV6_TYPES.has(item))) {
      icmp = true;
    } else if (!(item in SERVICES)) {
      throw fail(`invalid port '${item}'`);
    }
  }
  if (icmp && count > 0) throw fail('ICMP ports not allowed in port range');
  if (count > 15) throw fail('too many entries in port list (> 15 numbers)');
}

/** Firewall.pm pve_fw_verify_protocol_spec. */
export function verifyProtocol(proto: string): void {
  if (proto && !(proto in PROTOCOLS) && !PROTOCOL_IDS.has(proto))
    throw fail(`unknown protocol '${proto}'`);
}

/** pve-common JSONSchema.pm pve_verify_iface. */
function verifyIface(iface: string): void {
  if (!/^[a-z][a-z0-9_]{1,20}([:.]\d+)?$/i.test(iface))
    throw fail(`invalid network interface name '${iface}'`);
}

/** Firewall.pm pve_verify_ip_or_cidr. */
function verifyIpOrCidr(cidr: string): void {
  if (!strictCidr(cidr)) throw fail('value does not look like a valid IP address or CIDR network');
  const ip = netIp(cleanCidr(cidr));
  if ('error' in ip) throw fail(ip.error);
}

const FORMATS: Record<string, (value: string) => void> = {
  'pve-fw-addr-spec': (v) => void parseAddressList(v),
  'pve-fw-sport-spec': (v) => parsePorts(v, false),
  'pve-fw-dport-spec': (v) => parsePorts(v, true),
  'pve-fw-protocol-spec': verifyProtocol,
  'pve-fw-icmp-type-spec': (v) => {
    if (v !== '' && !(v in ICMP_TYPES) && !ICMPV6_TYPES.has(v))
      throw fail(`invalid icmp-type value '${v}'`);
  },
  'pve-iface': verifyIface,
  'pve-fw-conntrack-helper': (v) => {
    const list = v.split(',');
    if (v !== list.join(',')) throw fail('extraneous commas in list');
    // The helper's die has no newline: Perl appends where it died.
    for (const h of list)
      if (!HELPERS.has(h))
        throw fail(`unknown helper ${h} at /usr/share/perl5/PVE/Firewall.pm line 1167.`);
  },
  IPorCIDR: verifyIpOrCidr,
  IPorCIDRorAlias: (v) => {
    if (!ALIAS_REF.test(v)) verifyIpOrCidr(v);
  },
};

/**
 * The errors of the firewall's own parameter formats, as the schema check words them
 * (`invalid format - <message>`), for the parameters given.
 */
export function formatErrors(
  specs: Record<string, { format?: unknown }>,
  params: Record<string, unknown>,
): Record<string, string> | undefined {
  const errors: Record<string, string> = {};
  for (const [name, value] of Object.entries(params)) {
    const format = specs[name]?.format;
    const check = typeof format === 'string' ? FORMATS[format] : undefined;
    if (!check || value === undefined) continue;
    try {
      check(String(value));
    } catch (err) {
      errors[name] = `invalid format - ${(err as Error).message}`;
    }
  }
  return Object.keys(errors).length ? errors : undefined;
}

// Rules

/** The rule properties the API copies and deletes (Firewall.pm $rule_properties). */
export const RULE_PROPERTIES = [
  'pos',
  'digest',
  'type',
  'action',
  'macro',
  'iface',
  'source',
  'dest',
  'proto',
  'enable',
  'log',
  'sport',
  'dport',
  'comment',
  'icmp-type',
] as const;
type RuleKey = (typeof RULE_PROPERTIES)[number];

/** Firewall.pm copy_rule_data: `''` or `-` removes a property. */
export function copyRuleData(rule: FwRule, params: Record<string, unknown>): FwRule {
  const r = rule as Record<string, unknown>;
  for (const k of RULE_PROPERTIES) {
    const v = params[k];
    if (v === undefined) continue;
    if (v === '' || v === '-') delete r[k];
    else r[k] = typeof v === 'boolean' ? (v ? 1 : 0) : v;
  }
  return rule;
}

/** Firewall.pm delete_rule_properties. */
export function deleteRuleProperties(rule: FwRule, list: string[]): void {
  for (const opt of list) {
    if (!(RULE_PROPERTIES as readonly string[]).includes(opt))
      throw paramError({ delete: `no such property ('${opt}')` });
    if (opt === 'type' || opt === 'action')
      throw paramError({ delete: `unable to delete required property '${opt}'` });
    delete (rule as Record<string, unknown>)[opt as RuleKey];
  }
}

const ENV_IFACE: Record<RuleEnv, boolean> = {
  cluster: true,
  host: true,
  vm: true,
  ct: true,
  group: false,
};
const ENV_TYPES: Record<RuleEnv, string[]> = {
  ct: ['in', 'out', 'group'],
  vm: ['in', 'out', 'group'],
  group: ['in', 'out', 'forward'],
  cluster: ['in', 'out', 'forward', 'group'],
  host: ['in', 'out', 'forward', 'group'],
};

/** A macro's rules for a rule, its action and other properties filled in (Firewall.pm $apply_macro). */
export function applyMacro(
  name: string,
  rule: FwRule,
  verify: boolean,
  ipversion?: number,
): FwRule[] {
  const macro = MACROS[name];
  if (!macro) throw fail(`unknown macro '${name}'`);
  let templates = macro.slice(1);
  if (ipversion === 6 && IPV6_MACROS[name]) templates = IPV6_MACROS[name];
  const required = MACRO_IPVERSION[name];
  if (ipversion && required && ipversion !== required) return [];
  const out: FwRule[] = [];
  for (const t of templates) {
    const [proto, dport, sport] = t.split(' ') as [string, string?, string?];
    const fixed: Record<string, string> = { proto };
    if (dport !== undefined) fixed.dport = dport;
    if (sport !== undefined) fixed.sport = sport;
    const r: Record<string, unknown> = { action: rule.action, ...fixed };
    for (const [k, v] of Object.entries(rule)) {
      if (k === 'macro' || k === 'action' || v === undefined) continue;
      if (k in fixed) {
        if (String(v) !== fixed[k]) {
          const msg = `parameter '${k}' already define in macro (value = '${fixed[k]}')`;
          if (verify) throw paramError({ [k]: msg });
          throw fail(msg);
        }
      } else r[k] = v;
    }
    out.push(r as FwRule);
  }
  return out;
}

/**
 * Firewall.pm verify_rule. With `noerr` the errors are collected in `errors` (as a config file is
 * read); otherwise the first one is a parameter error (as the API checks).
 */
export function verifyRule(
  rule: FwRule,
  cluster: FwConf | undefined,
  fw: FwConf | undefined,
  env: RuleEnv,
  noerr: boolean,
): FwRule {
  const errors: Record<string, string> = rule.errors ?? {};
  let count = 0;
  const addError = (param: string, msg: string) => {
    const text = msg.replace(/\n$/, '');
    if (!noerr) throw paramError({ [param]: text });
    count++;
    errors[param] ??= text;
  };
  let ipversion: number | undefined;
  const setIpVersion = (v: number | undefined) => {
    if (!v) return;
    if (ipversion && v !== ipversion) throw fail('detected mixed ipv4/ipv6 addresses in rule');
    ipversion = v;
  };
  const guarded = (param: string, fn: () => void) => {
    try {
      fn();
    } catch (err) {
      if (err instanceof Error && !('errors' in err && (err as { errors?: unknown }).errors))
        addError(param, err.message);
      else throw err;
    }
  };
  const checkRef = (name: 'source' | 'dest') => {
    const value = rule[name];
    if (!value) return;
    if (value.startsWith('+')) {
      const m = new RegExp(`^\\+(guest/|dc/|sdn/)?(${SECURITY_GROUP_PATTERN})$`).exec(value);
      if (!m) return addError(name, `invalid ipset name '${value}'`);
      const set = m[2] as string;
      if (!cluster?.ipset.has(set) && !fw?.ipset.has(set)) addError(name, `no such ipset '${set}'`);
      return;
    }
    const m = new RegExp(`^(guest/|dc/)?(${SECURITY_GROUP_PATTERN})$`).exec(value);
    if (!m) return;
    const scope = m[1] ?? '';
    const alias = (m[2] as string).toLowerCase();
    if (!cluster?.aliases.has(alias) && !fw?.aliases.has(alias))
      addError(name, `no such alias '${value}'`);
    let e: FwAlias | undefined;
    if (scope !== 'dc/' && fw) e = fw.aliases.get(alias);
    if (scope !== 'guest/' && !e && cluster) e = cluster.aliases.get(alias);
    setIpVersion(e?.ipversion);
  };

  const { type, action } = rule;
  if (!type) addError('type', 'missing property');
  if (!action) addError('action', 'missing property');
  if (type) {
    if (!ENV_TYPES[env].includes(type))
      addError('type', `invalid rule type '${type}' for rule_env '${env}'`);
    if (type === 'in' || type === 'out' || type === 'forward') {
      if (type === 'forward' && action === 'REJECT')
        addError('action', 'cannot define REJECT rules on forward chain');
      if (action && !/^(ACCEPT|DROP|REJECT)$/.test(action))
        addError('action', `unknown action '${action}'`);
    } else if (type === 'group') {
      if (env === 'group') addError('type', 'security groups not allowed');
      if (action && !NAME_RE.test(action))
        addError('action', 'invalid characters in security group name');
    } else addError('type', `unknown rule type '${type}'`);
  }
  if (rule.iface) {
    if (!ENV_IFACE[env]) addError('type', 'parameter -i not allowed for this rule type');
    const iface = rule.iface;
    guarded('iface', () => verifyIface(iface));
    if ((env === 'vm' || env === 'ct') && !/^net(\d+)$/.test(iface))
      addError('iface', "value does not match the regex pattern 'net\\d+'");
  }
  if (rule.macro) {
    const preferred = PREFERRED_MACRO.get(rule.macro.toLowerCase());
    if (preferred) rule.macro = preferred;
    else addError('macro', `unknown macro '${rule.macro}'`);
  }
  let icmp = false;
  const proto = rule.proto;
  if (proto) {
    guarded('proto', () => verifyProtocol(proto));
    if (proto === 'icmp') setIpVersion(4);
    if (proto === 'icmpv6' || proto === 'ipv6-icmp') setIpVersion(6);
    icmp = isIcmpProto(proto);
  }
  if (rule.dport) {
    const dport = rule.dport;
    guarded('dport', () => parsePorts(dport, icmp));
    if (!proto) addError('proto', "missing property - 'dport' requires this property");
    if (!PROTOCOLS_WITH_PORTS.has(proto ?? '') && !icmp)
      addError('dport', `protocol '${proto ?? ''}' does not support ports`);
  }
  const icmpType = rule['icmp-type'];
  if (perlTrue(icmpType)) {
    if (!icmp) addError('proto', "missing property - 'icmp-type' requires this property");
    if (rule.dport) addError('icmp-type', "'icmp-type' cannot be specified together with 'dport'");
    if (proto === 'icmp' && !(String(icmpType) in ICMP_TYPES))
      addError('icmp-type', `invalid icmp-type '${icmpType}' for proto 'icmp'`);
    else if ((proto === 'icmpv6' || proto === 'ipv6-icmp') && !ICMPV6_TYPES.has(String(icmpType)))
      addError('icmp-type', `invalid icmp-type '${icmpType}' for proto '${proto}'`);
  }
  if (rule.sport) {
    const sport = rule.sport;
    guarded('sport', () => parsePorts(sport, false));
    if (!proto) addError('proto', "missing property - 'sport' requires this property");
    if (!PROTOCOLS_WITH_PORTS.has(proto ?? ''))
      addError('sport', `protocol '${proto ?? ''}' does not support ports`);
  }
  for (const name of ['source', 'dest'] as const) {
    const value = rule[name];
    if (!value) continue;
    guarded(name, () => setIpVersion(parseAddressList(value)));
    checkRef(name);
  }
  if (ipversion) rule.ipversion = ipversion;
  if (rule.macro && !count) {
    try {
      applyMacro(rule.macro, rule, true, ipversion);
    } catch (err) {
      const e = err as { errors?: Record<string, string>; message: string };
      if (e.errors) for (const [p, m] of Object.entries(e.errors)) addError(p, m);
      else addError('macro', e.message);
    }
  }
  if (count) rule.errors = errors;
  return rule;
}

// Parsing and writing the files (Firewall.pm generic_fw_config_parser, save_*_conf)

const emptyConf = (kind: FwKind): FwConf => ({
  kind,
  options: {},
  aliases: new Map(),
  ipset: new Map(),
  ipsetComments: new Map(),
  groups: new Map(),
  groupComments: new Map(),
  rules: [],
});

type OptionParser = [RegExp, (m: RegExpExecArray, now: number) => [string, string | number]];
const lower = (m: RegExpExecArray, i: number) => (m[i] as string).toLowerCase();
const flag = (m: RegExpExecArray): [string, number] => [lower(m, 1), Number(m[2])];
const level = (m: RegExpExecArray): [string, string] => [lower(m, 1), m[2] ? lower(m, 3) : ''];
const policyOption = (m: RegExpExecArray): [string, string] => [
  lower(m, 1),
  (m[3] as string).toUpperCase(),
];

/** Firewall.pm parse_clusterfw_option, parse_hostfw_option, parse_vmfw_option. */
const OPTION_PARSERS: Record<FwKind, OptionParser[]> = {
  cluster: [
    [
      /^(enable):\s*(\d+)\s*$/i,
      (m, now) => {
        const value = Number(m[2]);
        // A timestamp (the anti-lock-out double call) holds for 60 seconds.
        return ['enable', value > 1 && now - value > 60 ? 0 : value];
      },
    ],
    [/^(ebtables):\s*(0|1)\s*$/i, flag],
    [/^(policy_(in|out|forward)):\s*(ACCEPT|DROP|REJECT)\s*$/i, policyOption],
    [/^(log_ratelimit):\s*(\S+)\s*$/, (m) => ['log_ratelimit', m[2] as string]],
  ],
  host: [
    [
      /^(enable|nosmurfs|tcpflags|ndp|log_nf_conntrack|nf_conntrack_allow_invalid|protection_synflood|nftables):\s*(0|1)\s*$/i,
      flag,
    ],
    [
      new RegExp(
        `^(log_level_(?:in|out|forward)|tcp_flags_log_level|smurf_log_level):\\s*((${LOGLEVEL_RE})\\s*)?$`,
        'i',
      ),
      level,
    ],
    [
      /^(nf_conntrack_helpers):\s*(((\S+)[,]?)+)\s*$/i,
      (m) => {
        const value = lower(m, 2);
        FORMATS['pve-fw-conntrack-helper']?.(value);
        return ['nf_conntrack_helpers', value];
      },
    ],
    [
      /^(nf_conntrack_max|nf_conntrack_tcp_timeout_established|nf_conntrack_tcp_timeout_syn_recv|protection_synflood_rate|protection_synflood_burst|protection_limit):\s*(\d+)\s*$/i,
      flag,
    ],
  ],
  vm: [
    [/^(enable|dhcp|ndp|radv|macfilter|ipfilter|ips):\s*(0|1)\s*$/i, flag],
    [new RegExp(`^(log_level_in|log_level_out):\\s*((${LOGLEVEL_RE})\\s*)?$`, 'i'), level],
    [/^(policy_(in|out)):\s*(ACCEPT|DROP|REJECT)\s*$/i, policyOption],
    [/^(ips_queues):\s*((\d+)(:(\d+))?)\s*$/i, (m) => ['ips_queues', m[2] as string]],
    [/^(layer2_protocols):\s*(((\S+)[,]?)+)\s*$/i, (m) => ['layer2_protocols', m[2] as string]],
  ],
};

function parseOption(kind: FwKind, line: string, now: number): [string, string | number] {
  for (const [re, parse] of OPTION_PARSERS[kind]) {
    const m = re.exec(line);
    if (m) return parse(m, now);
  }
  throw fail(`can't parse option '${line}'`);
}

/** A rule's options after its type and action (parse_fw_rule). */
const RULE_OPTIONS: [
  RegExp,
  'proto' | 'dport' | 'sport' | 'source' | 'dest' | 'log' | 'icmp-type',
][] = [
  [/^(?:-p|--?proto) (\S+)\s*/, 'proto'],
  [/^--?dport (\S+)\s*/, 'dport'],
  [/^--?sport (\S+)\s*/, 'sport'],
  [/^--?source (\S+)\s*/, 'source'],
  [/^--?dest (\S+)\s*/, 'dest'],
  [new RegExp(`^--?log (${LOGLEVEL_RE})\\s*`), 'log'],
  [/^--?icmp-type (\S+)\s*/, 'icmp-type'],
];

/** Firewall.pm parse_fw_rule. */
function parseRule(
  line: string,
  cluster: FwConf | undefined,
  fw: FwConf | undefined,
  env: RuleEnv,
): FwRule {
  const rule: FwRule = {};
  const comment = /#\s*(.*?)\s*$/.exec(line);
  if (comment) {
    rule.comment = comment[1] as string;
    line = line.slice(0, comment.index);
  }
  rule.enable = line.startsWith('|') ? 0 : 1;
  if (line.startsWith('|')) line = line.slice(1);
  const head = /^(\S+)\s+(\S+)\s*/.exec(line);
  if (!head) throw fail(`unable to parse rule: ${line}`);
  line = line.slice(head[0].length);
  rule.type = (head[1] as string).toLowerCase();
  rule.action = head[2] as string;
  if (rule.type === 'in' || rule.type === 'out' || rule.type === 'forward') {
    const m = /^(\S+)\((ACCEPT|DROP|REJECT)\)$/.exec(rule.action);
    if (m) [rule.macro, rule.action] = [m[1] as string, m[2] as string];
  }
  while (line.length) {
    const iface = /^-i (\S+)\s*/.exec(line);
    if (iface) {
      rule.iface = iface[1] as string;
      line = line.slice(iface[0].length);
      continue;
    }
    if (rule.type === 'group') break;
    const hit = RULE_OPTIONS.map(([re, key]) => [re.exec(line), key] as const).find(([m]) => m);
    if (!hit) break;
    const [m, key] = hit as [RegExpExecArray, (typeof RULE_OPTIONS)[number][1]];
    rule[key] = m[1] as string;
    line = line.slice(m[0].length);
  }
  if (line.length) throw fail(`unable to parse rule parameters: ${line}`);
  return verifyRule(rule, cluster, fw, env, true);
}

/** Firewall.pm resolve_alias: an alias's network, the guest's before the datacenter's. */
export function resolveAlias(
  cluster: FwConf | undefined,
  fw: FwConf | undefined,
  name: string,
  scope: string,
): FwAlias {
  const [dc, local] = cluster ? [cluster, fw] : [fw, undefined];
  const key = name.toLowerCase();
  let e: FwAlias | undefined;
  if (scope !== 'dc/' && local) e = local.aliases.get(key);
  if (scope !== 'guest/' && !e && dc) e = dc.aliases.get(key);
  if (!e) throw fail(`no such alias '${name}'`);
  return e;
}

/**
 * Firewall.pm generic_fw_config_parser for one file. `cluster` is the datacenter's config when
 * reading a node's or a guest's file; `now` is epoch seconds.
 */
export function parseFwFile(
  text: string,
  kind: FwKind,
  cluster: FwConf | undefined,
  now: number,
): FwConf {
  const res = emptyConf(kind);
  const dc = kind === 'cluster' ? res : cluster;
  const env: RuleEnv = kind === 'vm' ? 'vm' : kind;
  let section: string | undefined;
  let group = '';
  let keys = new Set<string>();
  for (const raw of text.split('\n')) {
    const line = raw.replace(/^[ \t]+|[ \t]+$/g, '');
    if (line.startsWith('#') || /^\s*$/.test(line)) continue;
    if (/^\[options\]$/i.test(line)) {
      section = 'options';
      continue;
    }
    if (kind !== 'host' && /^\[aliases\]$/i.test(line)) {
      section = 'aliases';
      continue;
    }
    const groupHead = /^\[group\s+(\S+)\]\s*(?:#\s*(.*?)\s*)?$/i.exec(line);
    const ipsetHead = /^\[ipset\s+(\S+)\]\s*(?:#\s*(.*?)\s*)?$/i.exec(line);
    if (kind === 'cluster' && groupHead) {
      const m = groupHead;
      const name = (m[1] as string).toLowerCase();
      if (name.length > MAX_GROUP_NAME || !NAME_RE.test(name)) {
        section = undefined;
        continue;
      }
      [section, group] = ['groups', name];
      res.groups.set(name, []);
      if (m[2]) res.groupComments.set(name, m[2]);
      continue;
    }
    if (/^\[rules\]$/i.test(line)) {
      section = 'rules';
      continue;
    }
    if (kind !== 'host' && ipsetHead) {
      const m = ipsetHead;
      const name = (m[1] as string).toLowerCase();
      if (name.length > MAX_IPSET_NAME || !NAME_RE.test(name)) {
        section = undefined;
        continue;
      }
      [section, group] = ['ipset', name];
      res.ipset.set(name, []);
      keys = new Set();
      if (m[2]) res.ipsetComments.set(name, m[2]);
      continue;
    }
    // pve-firewall warns about what it cannot read, and goes on.
    try {
      if (section === 'options') {
        const [opt, value] = parseOption(kind, line, now);
        res.options[opt] = value;
      } else if (section === 'aliases') {
        const a = parseAliasLine(line);
        if (a) res.aliases.set(a.name.toLowerCase(), a);
      } else if (section === 'rules') {
        res.rules.push(parseRule(line, dc, res, env));
      } else if (section === 'groups') {
        res.groups.get(group)?.push(parseRule(line, dc, undefined, 'group'));
      } else if (section === 'ipset') {
        res.ipset.get(group)?.push(parseIpsetLine(line, dc, res, keys));
      }
    } catch {
      // skipped, as pve-firewall does
    }
  }
  return res;
}

/** Firewall.pm parse_alias. */
function parseAliasLine(line: string): FwAlias | undefined {
  let comment: string | undefined;
  const c = /\s*#\s*(.*?)\s*$/.exec(line);
  if (c) {
    comment = c[1] as string;
    line = line.slice(0, c.index);
  }
  const m = /^(\S+)\s(\S+)$/.exec(line);
  if (!m) return undefined;
  const { cidr, ipversion } = parseIpOrCidr(m[2] as string);
  const alias: FwAlias = { name: m[1] as string, cidr, ipversion };
  if (perlTrue(comment)) alias.comment = comment;
  return alias;
}

/** An ipset line of a config file (generic_fw_config_parser, section ipset). */
function parseIpsetLine(
  line: string,
  cluster: FwConf | undefined,
  fw: FwConf,
  keys: Set<string>,
): FwIpEntry {
  let comment: string | undefined;
  const c = /#\s*(.*?)\s*$/.exec(line);
  if (c) {
    comment = c[1] as string;
    line = line.slice(0, c.index);
  }
  const m = /^(!)?\s*(\S+)\s*$/.exec(line);
  if (!m) throw fail('unable to parse ipset entry');
  let cidr = m[2] as string;
  const errors: Record<string, string> = {};
  try {
    const alias = ALIAS_REF.exec(cidr);
    if (alias) resolveAlias(cluster, fw, cidr.replace(/^(dc|guest)\//, ''), alias[1] ?? '');
    else cidr = parseIpOrCidr(cidr).cidr;
    if (keys.has(cidr)) throw fail(`duplicate ipset entry for '${cidr}'`);
  } catch (err) {
    errors.cidr = (err as Error).message;
  }
  if (/\/0+$/.test(cidr)) errors.cidr = 'a zero prefix is not allowed in ipset entries\n';
  const entry: FwIpEntry = { cidr };
  if (m[1]) entry.nomatch = 1;
  if (perlTrue(comment)) entry.comment = comment;
  if (Object.keys(errors).length) entry.errors = errors;
  keys.add(cidr);
  return entry;
}

/** Firewall.pm $format_rules. */
function formatRules(rules: FwRule[], allowIface: boolean): string {
  let raw = '';
  for (const rule of rules) {
    if (!['in', 'out', 'forward', 'group'].includes(rule.type ?? ''))
      throw fail(`unknown rule type '${rule.type}'`);
    if (rule.enable !== undefined && !rule.enable) raw += '|';
    raw += (rule.type as string).toUpperCase();
    raw += rule.macro ? ` ${rule.macro}(${rule.action})` : ` ${rule.action}`;
    if (allowIface && rule.iface) raw += ` -i ${rule.iface}`;
    if (rule.type !== 'group') {
      if (perlTrue(rule.source)) raw += ` -source ${rule.source}`;
      if (perlTrue(rule.dest)) raw += ` -dest ${rule.dest}`;
      if (perlTrue(rule.proto)) raw += ` -p ${rule.proto}`;
      if (perlTrue(rule.dport)) raw += ` -dport ${rule.dport}`;
      if (perlTrue(rule.sport)) raw += ` -sport ${rule.sport}`;
      if (perlTrue(rule.log)) raw += ` -log ${rule.log}`;
      if (rule['icmp-type'] !== undefined && rule['icmp-type'] !== '')
        raw += ` -icmp-type ${rule['icmp-type']}`;
    }
    if (perlTrue(rule.comment) && !/^\s*$/.test(rule.comment as string))
      raw += ` # ${rule.comment}`;
    raw += '\n';
  }
  return raw;
}

const sorted = <T>(map: Map<string, T>) => [...map.keys()].sort();

/** Firewall.pm save_clusterfw_conf, save_hostfw_conf, save_vmfw_conf: the file's text. */
export function formatFwFile(conf: FwConf): string {
  let raw = '';
  const options = Object.entries(conf.options);
  if (options.length) {
    raw += '[OPTIONS]\n\n';
    for (const [k, v] of options) raw += `${k}: ${v}\n`;
    raw += '\n';
  }
  if (conf.kind !== 'host') {
    if (conf.aliases.size) {
      raw += '[ALIASES]\n\n';
      for (const k of sorted(conf.aliases)) {
        const e = conf.aliases.get(k) as FwAlias;
        raw += `${e.name} ${e.cidr}`;
        if (perlTrue(e.comment) && !/^\s*$/.test(e.comment as string)) raw += ` # ${e.comment}`;
        raw += '\n';
      }
      raw += '\n';
    }
    for (const name of sorted(conf.ipset)) {
      const comment = conf.ipsetComments.get(name);
      raw += perlTrue(comment) ? `[IPSET ${name}] # ${comment}\n\n` : `[IPSET ${name}]\n\n`;
      const byCidr = new Map<string, FwIpEntry>();
      for (const e of conf.ipset.get(name) ?? []) if (!byCidr.has(e.cidr)) byCidr.set(e.cidr, e);
      for (const cidr of sorted(byCidr)) {
        const e = byCidr.get(cidr) as FwIpEntry;
        let line = `${e.nomatch ? '!' : ''}${e.cidr}`;
        if (perlTrue(e.comment) && !/^\s*$/.test(e.comment as string)) line += ` # ${e.comment}`;
        raw += `${line}\n`;
      }
      raw += '\n';
    }
  }
  if (conf.rules.length) raw += `[RULES]\n\n${formatRules(conf.rules, true)}\n`;
  if (conf.kind === 'cluster') {
    for (const name of sorted(conf.groups)) {
      const comment = conf.groupComments.get(name);
      raw += perlTrue(comment) ? `[group ${name}] # ${comment}\n\n` : `[group ${name}]\n\n`;
      raw += `${formatRules(conf.groups.get(name) ?? [], false)}\n`;
    }
  }
  return raw;
}

// Digests (Firewall.pm copy_opject_with_digest, copy_list_with_digest)

/** The list with `digest` on every item, and that digest: SHA-1 over `key:value` lines. */
export function listWithDigest<T extends object>(list: T[]): [(T & { digest: string })[], string] {
  const sha = createHash('sha1');
  const copies = list.map((entry) => {
    const data: Record<string, unknown> = {};
    for (const k of Object.keys(entry).sort()) {
      const v = (entry as Record<string, unknown>)[k];
      if (v === undefined || v === null) continue;
      data[k] = v;
      // References (a rule's `errors`) are left out of the digest.
      if (typeof v !== 'object') sha.update(`${k}:${v}\n`, 'utf8');
    }
    return data;
  });
  const digest = sha.digest('hex');
  return [copies.map((d) => ({ ...d, digest }) as T & { digest: string }), digest];
}

/** The options with their `digest`. */
export function objectWithDigest(obj: Record<string, unknown>): [Record<string, unknown>, string] {
  const sha = createHash('sha1');
  const res: Record<string, unknown> = {};
  for (const k of Object.keys(obj).sort()) {
    const v = obj[k];
    if (v === undefined) continue;
    res[k] = v;
    sha.update(`${k}:${v}\n`, 'utf8');
  }
  const digest = sha.digest('hex');
  res.digest = digest;
  return [res, digest];
}

/** PVE::Tools assert_if_modified. */
export function assertDigest(current: string, given: unknown): void {
  if (given && current !== given)
    throw fail('detected modified configuration - file changed by other user? Try again.');
}

// The state

/** A line of a node's /var/log/pve-firewall.log; `file` is when its file was started. */
export interface FwLogLine {
  time: number;
  file: number;
  text: string;
}

export const clusterPath = 'firewall/cluster.fw';
export const hostPath = (node: string) => `nodes/${node}/host.fw`;
export const guestPath = (vmid: number) => `firewall/${vmid}.fw`;

/** The firewall's files, kept as text, and what pvefw-logger wrote on each node. */
export class FirewallState {
  readonly files = new Map<string, string>();
  readonly logs = new Map<string, FwLogLine[]>();
  /** Simulated ms up to which traffic has been played (routes/firewall-log.ts). */
  trafficUpTo: number;

  constructor(
    dataset: Dataset,
    private readonly clock: SimClock,
  ) {
    for (const [path, text] of Object.entries(dataset.firewall ?? {})) this.files.set(path, text);
    this.trafficUpTo = clock.now();
  }

  private now = () => Math.floor(this.clock.now() / 1000);

  /** load_clusterfw_conf. */
  cluster(): FwConf {
    return parseFwFile(this.files.get(clusterPath) ?? '', 'cluster', undefined, this.now());
  }

  /** load_hostfw_conf of a node. */
  host(node: string, cluster = this.cluster()): FwConf {
    return parseFwFile(this.files.get(hostPath(node)) ?? '', 'host', cluster, this.now());
  }

  /** load_vmfw_conf: a guest's file, whether or not the guest exists (PVE does not look). */
  guest(vmid: number, cluster = this.cluster()): FwConf {
    return parseFwFile(this.files.get(guestPath(vmid)) ?? '', 'vm', cluster, this.now());
  }

  /** Writes a config as pve-firewall formats it; an empty one removes its file. */
  save(path: string, conf: FwConf): void {
    const text = formatFwFile(conf);
    if (text) this.files.set(path, text);
    else this.files.delete(path);
  }

  /** pve-guest-common remove_vmfw_conf, when a guest is destroyed. */
  removeGuest(vmid: number): void {
    this.files.delete(guestPath(vmid));
  }

  /** clone_vmfw_conf, when a guest is cloned. */
  cloneGuest(vmid: number, newid: number): void {
    const text = this.files.get(guestPath(vmid));
    if (text) this.files.set(guestPath(newid), text);
    else this.files.delete(guestPath(newid));
  }
}

/**
 * Firewall.pm local_network: the network of the first route (mask /8 to /32) that holds the
 * node's own address, else 127.0.0.0/8 (compile).
 */
export function localNetwork(node: SimNode): string {
  const own = ipv4(node.ip);
  for (const net of node.networks) {
    const [ip, len] = (net.cidr ?? '').split('/');
    const mask = Number(len);
    if (!ip || !(mask >= 8 && mask <= 32) || own === undefined) continue;
    const range = cidrRange(cleanCidr(`${ip}/${mask}`));
    if (range && range.version === 4 && own >= range.first && own <= range.last)
      return cleanCidr(`${ip}/${mask}`);
  }
  return '127.0.0.0/8';
}

/** The guest type pve-firewall's rule environment names. */
export const guestEnv = (type: GuestType): RuleEnv => (type === 'qemu' ? 'vm' : 'ct');
