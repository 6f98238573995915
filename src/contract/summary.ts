/**
 * One-line summaries of API operations, derived from the method and the path alone (the schema's
 * own descriptions are not ours to ship): `POST /nodes/{node}/qemu/{vmid}/status/start` → "Start a
 * VM". Search ranks and shows them.
 */

/** How path words read in a sentence. */
const WORDS: Record<string, string> = {
  qemu: 'VMs',
  lxc: 'containers',
  sdn: 'SDN',
  ha: 'HA',
  apt: 'APT',
  acl: 'ACL',
  acme: 'ACME',
  ceph: 'Ceph',
  tfa: 'TFA',
  vzdump: 'backup (vzdump)',
  rrddata: 'RRD statistics',
  rrd: 'RRD graph',
  cfg: 'config',
  ipset: 'IP sets',
  vnets: 'VNets',
  ipams: 'IPAMs',
  osd: 'OSDs',
  mds: 'MDS',
  mon: 'monitors',
  mgr: 'managers',
  fs: 'CephFS',
  pci: 'PCI devices',
  usb: 'USB devices',
  dns: 'DNS',
  zfs: 'ZFS pools',
  lvm: 'LVM volume groups',
  lvmthin: 'LVM thin pools',
  smart: 'SMART health',
  syslog: 'system log',
  vncproxy: 'VNC console proxy',
  termproxy: 'terminal proxy',
  spiceproxy: 'SPICE proxy',
  vncshell: 'VNC shell',
  spiceshell: 'SPICE shell',
  cloudinit: 'cloud-init',
};

/** Path parameters that name their thing better than the path words before them. */
const PARAMS: Record<string, string> = {
  upid: 'task',
  snapname: 'snapshot',
  tokenid: 'API token',
  iface: 'network interface',
  sid: 'HA resource',
  cidr: 'IP set entry',
  volume: 'volume',
  service: 'service',
  node: 'node',
  storage: 'storage',
};

/** Path words that are actions when they end a POST or PUT. */
const ACTIONS = new Set([
  'start',
  'stop',
  'shutdown',
  'reboot',
  'reset',
  'suspend',
  'resume',
  'migrate',
  'remote_migrate',
  'clone',
  'template',
  'resize',
  'rollback',
  'move_disk',
  'move_volume',
  'sendkey',
  'unlink',
  'wipedisk',
  'initgpt',
  'restart',
  'reload',
  'sync',
  'startall',
  'stopall',
  'suspendall',
  'migrateall',
  'relocate',
  'exec',
  'ping',
  'scrub',
  'wakeonlan',
  'execute',
  'join',
  'schedule_now',
]);

const humanize = (seg: string) => WORDS[seg] ?? seg.replace(/[-_]/g, ' ');
const singular = (word: string) =>
  word.endsWith('ies')
    ? `${word.slice(0, -3)}y`
    : /(?:ss|[sx]e)s$/.test(word)
      ? word.slice(0, -2)
      : word.endsWith('s') && !word.endsWith('ss')
        ? word.slice(0, -1)
        : word;
const article = (noun: string) =>
  /^[aeiouAEIOU]/.test(noun) && !/^(?:USB|user)/.test(noun) ? 'an' : 'a';

/** The things a path's parameters name, outermost first: `{vmid}` under qemu is a VM. */
function entities(segs: string[]): string[] {
  const found: string[] = [];
  let words: string[] = [];
  for (const seg of segs) {
    if (!seg.startsWith('{')) {
      words.push(seg);
      continue;
    }
    const param = seg.slice(1, -1);
    const last = words.at(-1);
    const named =
      param === 'vmid'
        ? last === 'lxc'
          ? 'container'
          : last === 'qemu'
            ? 'VM'
            : 'guest'
        : (PARAMS[param] ??
          (words.length
            ? [
                ...words.slice(-2, -1).filter((w) => w !== 'cluster' && w !== 'access'),
                last as string,
              ]
                .map((w, i, all) => (i === all.length - 1 ? singular(humanize(w)) : humanize(w)))
                .join(' ')
            : param === 'pos'
              ? 'rule'
              : param));
    found.push(named);
    words = [];
  }
  return found;
}

/** A summary of one operation; `returnsList` says whether it answers with an array. */
export function summarize(method: string, path: string, returnsList: boolean): string {
  const segs = path.split('/').filter(Boolean);
  const lastParam = segs.findLastIndex((s) => s.startsWith('{'));
  const tail = segs.slice(lastParam + 1).filter((s) => s !== 'status' || segs.at(-1) === 'status');
  // The thing acted on, and what it belongs to (every guest is on a node: that goes unsaid).
  const all = entities(segs);
  const things = all.length > 1 ? all.filter((e) => e !== 'node') : all;
  const owner = things.at(-1);
  const outer = things.at(-2);
  const a = (noun: string) => `${article(noun)} ${noun}`;
  const subject = owner ? `${a(owner)}${outer && !tail.length ? ` of ${a(outer)}` : ''}` : '';
  const of = owner ? ` of ${a(owner)}` : '';
  const last = segs.at(-1) as string;
  const words = tail.map(humanize).join(' ');
  if (!tail.length) {
    if (method === 'GET') return `Read ${subject}`;
    if (method === 'PUT') return `Update ${subject}`;
    if (method === 'DELETE') return `Delete ${subject}`;
    return `Create or add to ${subject}`;
  }
  if (method !== 'GET' && ACTIONS.has(last)) {
    const rest = tail.slice(0, -1).map(humanize).join(' ');
    const action = humanize(last);
    const verb = `${action[0]?.toUpperCase()}${action.slice(1)}${rest ? ` ${rest}` : ''}`;
    if (!owner) return verb;
    return `${verb}${verb.includes(' ') ? ' of' : ''} ${a(owner)}`;
  }
  switch (method) {
    case 'GET':
      return `${returnsList ? 'List' : 'Read'} ${words}${of}`;
    case 'POST': {
      const thing = [...tail.slice(0, -1).map(humanize), singular(humanize(last))].join(' ');
      return returnsList ? `Run ${words}${of}` : `Create ${thing}${of}`;
    }
    case 'PUT':
      return `Update ${words}${of}`;
    default:
      return `Delete ${words}${of}`;
  }
}
