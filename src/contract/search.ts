/**
 * Finds API operations by words, a path fragment or a method: what a model reaches for when no
 * dedicated tool covers a task ("firewall rules vm", "/cluster/sdn", "apt").
 */
import { contract, matchOperation } from './index.js';
import type { ContractOperation, HttpMethod, PermCheck } from './types.js';

/** What people call things, in the API's words. */
const SYNONYMS: Record<string, string[]> = {
  vm: ['qemu'],
  vms: ['qemu'],
  virtual: ['qemu'],
  machine: ['qemu'],
  container: ['lxc'],
  containers: ['lxc'],
  ct: ['lxc'],
  guest: ['qemu', 'lxc'],
  update: ['update', 'apt'],
  updates: ['update', 'apt'],
  upgrade: ['apt', 'update'],
  package: ['apt'],
  packages: ['apt'],
  backup: ['vzdump', 'backup'],
  backups: ['vzdump', 'backup'],
  log: ['log', 'syslog', 'journal'],
  logs: ['log', 'syslog', 'journal'],
  console: ['vncproxy', 'termproxy'],
  vnc: ['vncproxy'],
  shell: ['termproxy', 'vncshell'],
  permission: ['permissions', 'acl'],
  permissions: ['permissions', 'acl'],
  certificate: ['certificates'],
  cert: ['certificates'],
  security: ['groups'],
  ip: ['ipset', 'ips'],
  interface: ['network', 'interfaces'],
  interfaces: ['network', 'interfaces'],
  job: ['jobs'],
  task: ['tasks'],
  disk: ['disks', 'disk'],
  iso: ['upload', 'content'],
  template: ['template', 'vztmpl', 'aplinfo'],
  cloudinit: ['cloudinit'],
  'cloud-init': ['cloudinit'],
  metrics: ['rrddata', 'metrics'],
  stats: ['rrddata'],
  password: ['password'],
  group: ['groups'],
  token: ['token'],
  tokens: ['token'],
};

/** Words that ask for a kind of request rather than name a thing. */
const VERBS: Record<string, HttpMethod> = {
  list: 'GET',
  show: 'GET',
  get: 'GET',
  read: 'GET',
  view: 'GET',
  create: 'POST',
  add: 'POST',
  new: 'POST',
  post: 'POST',
  update: 'PUT',
  set: 'PUT',
  change: 'PUT',
  edit: 'PUT',
  modify: 'PUT',
  put: 'PUT',
  delete: 'DELETE',
  remove: 'DELETE',
};

const stem = (w: string) =>
  w.length > 3 && w.endsWith('s') && !w.endsWith('ss') ? w.slice(0, -1) : w;

interface Indexed {
  op: ContractOperation;
  /** A directory listing of the paths below it: less often what is wanted than those. */
  directory: boolean;
  /** Literal path segments and their parts, stemmed. */
  segments: Set<string>;
  last: string;
  words: Set<string>;
}

let index: Indexed[] | undefined;
function indexed(): Indexed[] {
  if (index) return index;
  const parents = new Set(
    contract.operations.map((op) => op.path.slice(0, op.path.lastIndexOf('/'))),
  );
  index = contract.operations.map((op) => {
    const literals = op.path.split('/').filter((s) => s && !s.startsWith('{'));
    const parts = literals
      .flatMap((s) => [s, ...s.split(/[-_]/)])
      .map((s) => stem(s.toLowerCase()));
    const words = [...op.name.split(/[_-]/), ...op.summary.split(/[^A-Za-z0-9-]+/)]
      .filter(Boolean)
      .map((w) => stem(w.toLowerCase()));
    return {
      op,
      directory:
        parents.has(op.path) &&
        op.returns.type === 'array' &&
        Object.keys(op.returns.items?.properties ?? {}).every(
          (k) => k === 'name' || k === 'subdir',
        ),
      segments: new Set(parts),
      last: stem((literals.at(-1) ?? '').toLowerCase()),
      words: new Set(words),
    };
  });
  return index;
}

interface Term {
  alternatives: string[];
  /** A verb: found, it counts; missing, it does not lower the match. */
  optional: boolean;
}

function scoreOf(entry: Indexed, terms: Term[], paths: string[], method?: HttpMethod): number {
  const { op } = entry;
  let score = 0;
  let matched = 0;
  let wanted = paths.length;
  for (const { alternatives, optional } of terms) {
    let best = 0;
    for (const t of alternatives) {
      if (entry.segments.has(t)) best = Math.max(best, t === entry.last ? 4 : 3);
      else if (entry.words.has(t)) best = Math.max(best, 1.5);
      else if (t.length >= 3 && [...entry.segments].some((s) => s.startsWith(t)))
        best = Math.max(best, 1);
    }
    if (best) matched++;
    if (best || !optional) wanted++;
    score += best;
  }
  for (const fragment of paths) {
    const concrete = matchOperation(op.method, fragment);
    if (concrete?.template === op.path) score += 10;
    else if (op.path.toLowerCase().includes(fragment.toLowerCase().replace(/\/+$/, ''))) score += 6;
    else continue;
    matched++;
  }
  if (!matched) return 0;
  // Every word found matters more than any one word found well.
  score *= (matched / wanted) ** 2;
  if (method) score += op.method === method ? 2 : -1;
  else if (op.method === 'GET') score += 1;
  if (entry.directory) score -= 1;
  // The general operation before the specific one.
  return score - op.path.split('/').length * 0.15;
}

/** The official schema versions the contract was made from. */
export const versions = contract.versions;

/** Operations for a query, best first; `method` narrows to one HTTP method. */
export function searchOperations(query: string, limit = 5, only?: HttpMethod): ContractOperation[] {
  const raw = query.trim().split(/\s+/).filter(Boolean);
  const paths = raw.filter((w) => w.startsWith('/'));
  let method = only;
  const terms: Term[] = [];
  for (const word of raw.filter((w) => !w.startsWith('/'))) {
    const upper = word.toUpperCase();
    if (['GET', 'POST', 'PUT', 'DELETE'].includes(upper) && word === upper) {
      method ??= upper as HttpMethod;
      continue;
    }
    const lower = word.toLowerCase();
    const verb = VERBS[lower];
    if (verb) method ??= verb;
    const alternatives = [lower, ...(SYNONYMS[lower] ?? [])].map(stem);
    // A verb ("list") mostly steers the method, unless a path has it as a word (`disks/list`).
    terms.push({ alternatives, optional: Boolean(verb) });
  }
  return indexed()
    .filter((e) => !only || e.op.method === only)
    .map((e) => ({ op: e.op, score: scoreOf(e, terms, paths, method) }))
    .filter((r) => r.score > 0)
    .sort((a, b) => b.score - a.score)
    .slice(0, limit)
    .map((r) => r.op);
}

/** The privileges a permission check needs, in words. */
export function privileges(op: ContractOperation): string {
  const p = op.permissions;
  if (p?.user === 'world') return 'none (no login)';
  if (!p?.check) return p?.user === 'all' ? 'any logged-in user' : 'checked by the handler';
  const words = (check: PermCheck): string => {
    const [kind, ...rest] = check;
    if (kind === 'perm') {
      const [path, privs, mode] = rest as [string, string[], string?];
      return `${privs.join(mode === 'any' ? ' or ' : ' and ')} on ${path}`;
    }
    if (kind === 'and' || kind === 'or') return (rest as PermCheck[]).map(words).join(` ${kind} `);
    if (kind === 'userid-param') return rest[0] === 'self' ? 'the user itself' : `${rest[0]}`;
    if (kind === 'userid-group')
      return `${(rest[0] as string[]).join(' or ')} on the user's groups`;
    return String(kind);
  };
  return words(p.check);
}
