/**
 * Authentication and privileges, as pve-access-control does them: tickets with CSRF tokens, API
 * tokens with privilege separation, roles, and ACLs that propagate down the path tree.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { PermCheck } from '../contract/types.js';
import type { SimClock } from './clock.js';
import type { Cluster, SimUser } from './state.js';

const VM_PRIVS = [
  'VM.Allocate',
  'VM.Audit',
  'VM.Backup',
  'VM.Clone',
  'VM.Config.CDROM',
  'VM.Config.CPU',
  'VM.Config.Cloudinit',
  'VM.Config.Disk',
  'VM.Config.HWType',
  'VM.Config.Memory',
  'VM.Config.Network',
  'VM.Config.Options',
  'VM.Console',
  'VM.Migrate',
  'VM.PowerMgmt',
  'VM.Replicate',
  'VM.Snapshot',
  'VM.Snapshot.Rollback',
  'VM.GuestAgent.Audit',
  'VM.GuestAgent.FileRead',
  'VM.GuestAgent.FileWrite',
  'VM.GuestAgent.FileSystemMgmt',
  'VM.GuestAgent.Unrestricted',
];
const DATASTORE_PRIVS = [
  'Datastore.Allocate',
  'Datastore.AllocateSpace',
  'Datastore.AllocateTemplate',
  'Datastore.Audit',
];
export const ALL_PRIVILEGES = [
  'Sys.Audit',
  'Sys.Modify',
  'Sys.PowerMgmt',
  'Sys.Console',
  'Sys.Syslog',
  'Sys.Incoming',
  'Sys.AccessNetwork',
  'Permissions.Modify',
  'Group.Allocate',
  'Realm.Allocate',
  'Realm.AllocateUser',
  'User.Modify',
  'Pool.Allocate',
  'Pool.Audit',
  'SDN.Allocate',
  'SDN.Audit',
  'SDN.Use',
  'Mapping.Audit',
  'Mapping.Modify',
  'Mapping.Use',
  ...DATASTORE_PRIVS,
  ...VM_PRIVS,
];

/** PVE's built-in roles. */
export const BUILTIN_ROLES: Record<string, string[]> = {
  Administrator: ALL_PRIVILEGES,
  NoAccess: [],
  PVEAdmin: ALL_PRIVILEGES.filter(
    (p) => !['Sys.Modify', 'Sys.PowerMgmt', 'Realm.Allocate', 'Permissions.Modify'].includes(p),
  ),
  PVEAuditor: [
    'Datastore.Audit',
    'Mapping.Audit',
    'Pool.Audit',
    'SDN.Audit',
    'Sys.Audit',
    'VM.Audit',
    'VM.GuestAgent.Audit',
  ],
  PVEVMAdmin: VM_PRIVS,
  PVEVMUser: [
    'VM.Audit',
    'VM.Backup',
    'VM.Config.CDROM',
    'VM.Config.Cloudinit',
    'VM.Console',
    'VM.PowerMgmt',
    'VM.GuestAgent.Audit',
  ],
  PVETemplateUser: ['VM.Audit', 'VM.Clone'],
  PVEDatastoreAdmin: DATASTORE_PRIVS,
  PVEDatastoreUser: ['Datastore.AllocateSpace', 'Datastore.Audit'],
  PVEPoolAdmin: ['Pool.Allocate', 'Pool.Audit'],
  PVEPoolUser: ['Pool.Audit'],
  PVESysAdmin: ['Sys.Audit', 'Sys.Console', 'Sys.Syslog', 'Sys.Modify', 'Sys.PowerMgmt'],
  PVEUserAdmin: ['Group.Allocate', 'Realm.AllocateUser', 'User.Modify'],
  PVESDNUser: ['SDN.Audit', 'SDN.Use'],
  PVESDNAdmin: ['SDN.Allocate', 'SDN.Audit', 'SDN.Use'],
  PVEMappingUser: ['Mapping.Audit', 'Mapping.Use'],
  PVEMappingAdmin: ['Mapping.Audit', 'Mapping.Modify', 'Mapping.Use'],
};

/** Who a request is from. */
export interface AuthContext {
  userid: string;
  tokenid?: string;
  method: 'ticket' | 'token';
}

/** `user@realm` or `user@realm!tokenid`, as tasks and ACLs name the caller. */
export const authId = (auth: AuthContext) =>
  auth.tokenid ? `${auth.userid}!${auth.tokenid}` : auth.userid;

const TICKET_LIFETIME_S = 7_200;
const TICKET_FUTURE_SKEW_S = 300;

export class Auth {
  /** Signs tickets; replacing it makes every ticket issued so far invalid (PVE's authkey rotation). */
  private secret = randomBytes(32);

  constructor(
    private readonly cluster: Cluster,
    private readonly clock: SimClock,
  ) {}

  private sign(data: string): string {
    return createHmac('sha256', this.secret).update(data).digest('base64').replace(/=+$/, '');
  }

  /** A ticket and CSRF token for a user, issued at the current simulated time. */
  issueTicket(userid: string, tfaPending = false): { ticket: string; csrf: string } {
    const hexTime = this.clock.seconds().toString(16).toUpperCase().padStart(8, '0');
    const who = tfaPending ? `!tfa!${userid}` : userid;
    const plain = `PVE:${who}:${hexTime}`;
    return {
      ticket: `${plain}::${this.sign(plain)}`,
      csrf: `${hexTime}:${this.sign(`${hexTime}:${userid}`)}`,
    };
  }

  /** Makes every ticket and CSRF token issued so far invalid, as a forced expiry. */
  expireAllTickets(): void {
    this.secret = randomBytes(32);
  }

  /** The user a ticket belongs to, or undefined when it is forged, partial or expired. */
  verifyTicket(ticket: string): string | undefined {
    const m = /^(PVE:([^:]+):([0-9A-F]{8}))::(.+)$/.exec(ticket);
    if (!m) return undefined;
    const [, plain = '', userid = '', hexTime = '', sig = ''] = m;
    if (!safeEqual(sig, this.sign(plain)) || userid.startsWith('!tfa!')) return undefined;
    const age = this.clock.seconds() - Number.parseInt(hexTime, 16);
    if (age > TICKET_LIFETIME_S || age < -TICKET_FUTURE_SKEW_S) return undefined;
    const user = this.cluster.users.get(userid);
    return user && this.userUsable(user) ? userid : undefined;
  }

  verifyCsrf(token: string | undefined, userid: string): boolean {
    const m = token ? /^([0-9A-F]{8}):(.+)$/.exec(token) : null;
    if (!m) return false;
    const [, hexTime = '', sig = ''] = m;
    const age = this.clock.seconds() - Number.parseInt(hexTime, 16);
    if (age > TICKET_LIFETIME_S || age < -TICKET_FUTURE_SKEW_S) return false;
    return safeEqual(sig, this.sign(`${hexTime}:${userid}`));
  }

  /** Checks a password login; `password` may also be a valid ticket of the same user (renewal). */
  login(username: string, password: string): SimUser | undefined {
    const user = this.cluster.users.get(username);
    if (!user || !this.userUsable(user)) return undefined;
    if (password.startsWith('PVE:'))
      return this.verifyTicket(password) === username ? user : undefined;
    return user.password !== undefined && safeEqual(password, user.password) ? user : undefined;
  }

  /** Checks `user@realm!tokenid=secret`; returns the caller or undefined. */
  verifyToken(value: string): AuthContext | undefined {
    const eq = value.lastIndexOf('=');
    const bang = value.indexOf('!');
    if (eq === -1 || bang === -1 || bang > eq) return undefined;
    const userid = value.slice(0, bang);
    const tokenid = value.slice(bang + 1, eq);
    const user = this.cluster.users.get(userid);
    const token = user?.tokens.get(tokenid);
    if (!user || !token || !this.userUsable(user)) return undefined;
    if (token.expire && token.expire < this.clock.seconds()) return undefined;
    if (!safeEqual(value.slice(eq + 1), token.secret)) return undefined;
    return { userid, tokenid, method: 'token' };
  }

  private userUsable(user: SimUser): boolean {
    return user.enable && (!user.expire || user.expire > this.clock.seconds());
  }

  private rolePrivs(roleid: string): Set<string> {
    const custom = this.cluster.roles.get(roleid);
    return custom ?? new Set(BUILTIN_ROLES[roleid] ?? []);
  }

  /**
   * The privileges an ACL subject holds on a path: the most specific path with entries wins,
   * user entries beat group entries at the same level, NoAccess removes everything.
   */
  private aclPrivs(userid: string, tokenid: string | undefined, path: string): Set<string> {
    const user = this.cluster.users.get(userid);
    const groups = new Set(user?.groups ?? []);
    const subject = tokenid ? `${userid}!${tokenid}` : userid;
    const parts = path.split('/').filter(Boolean);
    let roles: string[] = [];
    for (let depth = 0; depth <= parts.length; depth++) {
      const prefix = `/${parts.slice(0, depth).join('/')}`;
      const exact = depth === parts.length;
      const here = this.cluster.acl.filter((a) => a.path === prefix && (a.propagate || exact));
      const own = here.filter((a) => a.type !== 'group' && a.ugid === subject);
      const viaGroup = tokenid ? [] : here.filter((a) => a.type === 'group' && groups.has(a.ugid));
      const chosen = own.length ? own : viaGroup;
      if (chosen.length) roles = chosen.map((a) => a.roleid);
    }
    if (roles.includes('NoAccess')) return new Set();
    const privs = new Set<string>();
    for (const role of roles) for (const p of this.rolePrivs(role)) privs.add(p);
    return privs;
  }

  /** Privileges of the caller on a path, pools and privilege separation included. */
  privileges(auth: AuthContext, path: string): Set<string> {
    if (auth.userid === 'root@pam' && !auth.tokenid) return new Set(ALL_PRIVILEGES);
    const forSubject = (tokenid?: string) => {
      if (!tokenid && auth.userid === 'root@pam') return new Set(ALL_PRIVILEGES);
      const privs = this.aclPrivs(auth.userid, tokenid, path);
      // A guest in a pool also grants what the subject holds on the pool.
      const vm = /^\/vms\/(\d+)$/.exec(path);
      const pool = vm ? this.cluster.poolOf(Number(vm[1])) : undefined;
      if (pool) for (const p of this.aclPrivs(auth.userid, tokenid, `/pool/${pool}`)) privs.add(p);
      return privs;
    };
    const userPrivs = forSubject();
    if (!auth.tokenid) return userPrivs;
    const token = this.cluster.users.get(auth.userid)?.tokens.get(auth.tokenid);
    if (!token?.privsep) return userPrivs;
    const tokenPrivs = forSubject(auth.tokenid);
    return new Set([...userPrivs].filter((p) => tokenPrivs.has(p)));
  }

  has(auth: AuthContext, path: string, priv: string): boolean {
    return this.privileges(auth, path).has(priv);
  }

  /**
   * Evaluates a schema permission check. Returns undefined when allowed, otherwise the path and
   * privilege to name in the 403.
   */
  check(
    auth: AuthContext,
    check: PermCheck,
    params: Record<string, unknown>,
  ): { path: string; priv: string } | undefined {
    const subst = (path: string) =>
      path.replace(/\{([^}]+)\}/g, (_, name: string) => String(params[name] ?? ''));
    const [kind, ...rest] = check;
    switch (kind) {
      case 'perm': {
        const [pathTpl, privs, ...opts] = rest as [string, string[], ...unknown[]];
        const requireParam = opts.indexOf('require_param');
        if (requireParam !== -1 && params[String(opts[requireParam + 1])] === undefined) {
          return { path: subst(pathTpl), priv: privs.join('|') };
        }
        const path = subst(pathTpl);
        const held = this.privileges(auth, path);
        if (opts.includes('any')) {
          return privs.some((p) => held.has(p)) ? undefined : { path, priv: privs.join('|') };
        }
        const missing = privs.find((p) => !held.has(p));
        return missing ? { path, priv: missing } : undefined;
      }
      case 'and': {
        for (const sub of rest as PermCheck[]) {
          const denied = this.check(auth, sub, params);
          if (denied) return denied;
        }
        return undefined;
      }
      case 'or': {
        let first: { path: string; priv: string } | undefined;
        for (const sub of rest as PermCheck[]) {
          const denied = this.check(auth, sub, params);
          if (!denied) return undefined;
          first ??= denied;
        }
        return first;
      }
      case 'userid-param':
        return rest[0] === 'self' && params.userid === auth.userid && !auth.tokenid
          ? undefined
          : { path: '/access/users', priv: 'self' };
      case 'userid-group': {
        const privs = rest[0] as string[];
        const held = this.privileges(auth, '/access/groups');
        return privs.some((p) => held.has(p))
          ? undefined
          : { path: '/access/groups', priv: privs.join('|') };
      }
      default:
        return { path: '/', priv: String(kind) };
    }
  }

  /** Paths with their privileges, as /access/permissions reports them. */
  permissionMap(auth: AuthContext, onlyPath?: string): Record<string, Record<string, 0 | 1>> {
    const paths = onlyPath
      ? [onlyPath]
      : [
          ...new Set([
            '/',
            '/access',
            '/nodes',
            '/pool',
            '/sdn',
            '/storage',
            '/vms',
            ...this.cluster.acl.map((a) => a.path),
          ]),
        ];
    // Each value is a propagate flag (pve-access-control PVE/RPCEnvironment.pm): 1 when the
    // privilege reaches the paths below too, 0 when it is held here only (an ACL entry without
    // propagation, or a guest's pool).
    const out: Record<string, Record<string, 0 | 1>> = {};
    for (const path of paths) {
      const privs = [...this.privileges(auth, path)].sort();
      const below = this.privileges(auth, `${path === '/' ? '' : path}/-`);
      if (privs.length || onlyPath)
        out[path] = Object.fromEntries(privs.map((p) => [p, below.has(p) ? 1 : 0]));
    }
    return out;
  }
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
