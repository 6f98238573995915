/** /access: login tickets, permissions, users, tokens, ACLs and roles. */

import { BUILTIN_ROLES } from '../auth.js';
import type { Ctx, Routes } from '../context.js';
import { bool, str } from '../context.js';
import { fail, PveError } from '../errors.js';
import { logLogin } from '../journal.js';
import type { SimUser } from '../state.js';

function canSeeUsers(ctx: Ctx): boolean {
  const privs = ctx.access.privileges(ctx.auth, '/access/groups');
  return privs.has('User.Modify') || privs.has('Sys.Audit');
}

function userOf(ctx: Ctx): SimUser {
  const userid = str(ctx, 'userid') ?? '';
  const user = ctx.cluster.users.get(userid);
  if (!user) throw fail(`no such user ('${userid}')`);
  return user;
}

function tokenRow(t: { tokenid: string; privsep: boolean; expire: number; comment?: string }) {
  const row: Record<string, unknown> = {
    tokenid: t.tokenid,
    privsep: t.privsep ? 1 : 0,
    expire: t.expire,
  };
  if (t.comment) row.comment = t.comment;
  return row;
}

function userRow(user: SimUser, full: boolean) {
  const row: Record<string, unknown> = {
    userid: user.userid,
    enable: user.enable ? 1 : 0,
    expire: user.expire,
    'realm-type': user.userid.split('@')[1] === 'pam' ? 'pam' : 'pve',
  };
  for (const key of ['firstname', 'lastname', 'email', 'comment'] as const)
    if (user[key]) row[key] = user[key];
  if (user.groups.length) row.groups = user.groups.join(',');
  if (full) row.tokens = [...user.tokens.values()].map(tokenRow);
  return row;
}

export const accessRoutes: Routes = {
  'GET /access/ticket': () => null,

  'POST /access/ticket': (ctx) => {
    const realm = str(ctx, 'realm');
    let username = str(ctx, 'username') ?? '';
    if (realm && !username.includes('@')) username = `${username}@${realm}`;
    const user = ctx.access.login(username, str(ctx, 'password') ?? '');
    if (!user) throw new PveError(401, 'authentication failure');
    if (user.tfa && !str(ctx, 'password')?.startsWith('PVE:')) {
      const partial = ctx.access.issueTicket(user.userid, true);
      return {
        username: user.userid,
        ticket: partial.ticket,
        CSRFPreventionToken: partial.csrf,
        NeedTFA: 1,
      };
    }
    const { ticket, csrf } = ctx.access.issueTicket(user.userid);
    logLogin(ctx.cluster, user.userid);
    return {
      username: user.userid,
      ticket,
      CSRFPreventionToken: csrf,
      clustername: ctx.cluster.name,
      cap: {
        vms: Object.fromEntries(
          [...ctx.access.privileges({ userid: user.userid, method: 'ticket' }, '/vms')].map((p) => [
            p,
            1,
          ]),
        ),
        storage: Object.fromEntries(
          [...ctx.access.privileges({ userid: user.userid, method: 'ticket' }, '/storage')].map(
            (p) => [p, 1],
          ),
        ),
        nodes: Object.fromEntries(
          [...ctx.access.privileges({ userid: user.userid, method: 'ticket' }, '/nodes')].map(
            (p) => [p, 1],
          ),
        ),
      },
    };
  },

  'GET /access/permissions': (ctx) => {
    const userid = str(ctx, 'userid');
    const path = str(ctx, 'path');
    if (!userid || userid === ctx.auth.userid) return ctx.access.permissionMap(ctx.auth, path);
    // Another user (or one of one's own tokens) needs Sys.Audit on /access.
    const [owner, tokenid] = userid.split('!');
    const own = owner === ctx.auth.userid && !ctx.auth.tokenid;
    if (!own && !ctx.access.has(ctx.auth, '/access', 'Sys.Audit')) {
      throw new PveError(403, 'Permission check failed (/access, Sys.Audit)');
    }
    // An unknown user or token holds nothing: PVE answers with no privileges, not an error
    // (pve-access-control PVE/API2/AccessControl.pm permissions, PVE/RPCEnvironment.pm).
    const user = ctx.cluster.users.get(owner ?? '');
    if (!user || (tokenid !== undefined && !user.tokens.has(tokenid)))
      return path ? { [path]: {} } : {};
    return ctx.access.permissionMap(
      { userid: owner ?? '', tokenid, method: tokenid ? 'token' : 'ticket' },
      path,
    );
  },

  'GET /access/users': (ctx) => {
    const all = canSeeUsers(ctx);
    const enabled = ctx.params.enabled;
    return [...ctx.cluster.users.values()]
      .filter((u) => all || u.userid === ctx.auth.userid)
      .filter((u) => enabled === undefined || u.enable === enabled)
      .map((u) => userRow(u, bool(ctx, 'full')));
  },
  'GET /access/users/{userid}': (ctx) => {
    const user = userOf(ctx);
    const { userid: _id, tokens: _t, groups: _g, ...row } = userRow(user, false);
    return {
      ...row,
      groups: user.groups,
      tokens: Object.fromEntries(
        [...user.tokens.values()].map((t) => {
          const { tokenid, ...rest } = tokenRow(t);
          return [tokenid, rest];
        }),
      ),
    };
  },
  'GET /access/users/{userid}/token': (ctx) => [...userOf(ctx).tokens.values()].map(tokenRow),
  'GET /access/users/{userid}/token/{tokenid}': (ctx) => {
    const user = userOf(ctx);
    const tokenid = str(ctx, 'tokenid') ?? '';
    const token = user.tokens.get(tokenid);
    if (!token) throw fail(`no such token '${tokenid}' for user '${user.userid}'`);
    const { tokenid: _t, ...rest } = tokenRow(token);
    return rest;
  },

  'GET /access/acl': (ctx) =>
    ctx.cluster.acl
      .filter(
        (a) =>
          ctx.access.has(ctx.auth, a.path, 'Permissions.Modify') ||
          ctx.access.has(ctx.auth, a.path, 'Sys.Audit'),
      )
      .map((a) => ({
        path: a.path,
        type: a.type,
        ugid: a.ugid,
        roleid: a.roleid,
        propagate: a.propagate ? 1 : 0,
      })),

  'GET /access/roles': (ctx) => {
    const roles = new Map<string, { privs: string[]; special: boolean }>();
    for (const [roleid, privs] of Object.entries(BUILTIN_ROLES))
      roles.set(roleid, { privs, special: true });
    for (const [roleid, privs] of ctx.cluster.roles)
      roles.set(roleid, { privs: [...privs], special: false });
    return [...roles].map(([roleid, r]) => ({
      roleid,
      privs: [...r.privs].sort().join(','),
      special: r.special ? 1 : 0,
    }));
  },
};
