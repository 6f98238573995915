/** The `access` toolset: who the server acts as and what it may do; users and tokens. */
import { z } from 'zod';
import { type AnyTool, defineTool, ok } from './define.js';
import { table } from './render.js';
import { TOOLSET_TABLE, TOOLSETS, type ToolsetInfo } from './toolsets.js';

/** What each toolset needs, to tell which will work with the credentials. */
const NEEDS: [string, string, string][] = [
  ['VM.Audit', '/vms', 'see VMs and containers'],
  ['VM.PowerMgmt', '/vms', 'start, stop and reboot guests'],
  ['VM.Allocate', '/vms', 'create and delete guests'],
  ['VM.Snapshot', '/vms', 'take snapshots'],
  ['VM.Backup', '/vms', 'back up guests'],
  ['Datastore.Audit', '/storage', 'see storage'],
  ['Sys.Audit', '/nodes', 'see nodes and tasks'],
];

const whoami = defineTool({
  name: 'proxmox_get_permissions',
  title: 'Who am I, and what may I do',
  description:
    'Returns the user or API token the server acts as and its effective privileges per ACL path (or on one path), with which common operations they allow.',
  toolset: 'access',
  access: 'read',
  input: z.object({
    path: z
      .string()
      .regex(/^\/[\w./-]*$/)
      .optional()
      .describe('Only this ACL path, e.g. /vms/100'),
  }),
  output: z.object({
    identity: z.string(),
    permissions: z.record(z.string(), z.array(z.string())),
    can: z.array(z.string()),
    cannot: z.array(z.string()),
    toolsets: z.array(
      z.object({ toolset: z.string(), works: z.boolean(), needs: z.array(z.string()) }),
    ),
  }),
  async run(args, ctx) {
    const raw = await ctx.pve.access.permissions(args.path ? { path: args.path } : {});
    const permissions = Object.fromEntries(
      Object.entries(raw as Record<string, Record<string, number>>).map(([path, privs]) => [
        path,
        Object.keys(privs).sort(),
      ]),
    );
    const holds = (priv: string, path: string) =>
      Object.entries(permissions).some(
        ([p, privs]) => (p === path || p.startsWith(`${path}/`)) && privs.includes(priv),
      );
    const can = NEEDS.filter(([priv, path]) => holds(priv, path)).map(([, , what]) => what);
    const cannot = NEEDS.filter(([priv, path]) => !holds(priv, path)).map(
      ([priv, path, what]) => `${what} (needs ${priv} on ${path})`,
    );
    const toolsets = TOOLSETS.map((toolset) => {
      const needs = (TOOLSET_TABLE[toolset] as ToolsetInfo).privileges
        .filter(([priv, path]) => !holds(priv, path))
        .map(([priv, path]) => `${priv} on ${path}`);
      return { toolset, works: needs.length === 0, needs };
    });
    // Paths holding the same privileges are listed once: a root token holds them all everywhere.
    const groups = new Map<string, string[]>();
    for (const [path, privs] of Object.entries(permissions)) {
      const key = privs.join(', ') || '(none)';
      groups.set(key, [...(groups.get(key) ?? []), path]);
    }
    const identity = ctx.pve.client.auth.identity;
    const works = toolsets.filter((t) => t.works).map((t) => t.toolset);
    const missing = toolsets.filter((t) => !t.works);
    const text = [
      `Acting as ${identity} in cluster '${ctx.cluster}'.`,
      args.path
        ? ''
        : [
            `Toolsets that work: ${works.join(', ') || 'none'}.`,
            missing.length
              ? `Not: ${missing.map((t) => `${t.toolset} (needs ${t.needs.join(', ')})`).join('; ')}.`
              : '',
            `Can: ${can.join('; ') || 'nothing of the usual'}.${cannot.length ? ` Cannot: ${cannot.join('; ')}.` : ''}`,
          ]
            .filter(Boolean)
            .join('\n'),
      ...[...groups].map(([privs, paths]) => {
        const count = privs === '(none)' ? 0 : privs.split(', ').length;
        return `${paths.join(', ')}: ${count} privilege${count === 1 ? '' : 's'}: ${privs}`;
      }),
    ].filter(Boolean);
    return ok({ identity, permissions, can, cannot, toolsets }, text.join('\n'));
  },
});

const userRow = z.object({
  userid: z.string(),
  enabled: z.boolean(),
  expire: z.number().optional(),
  name: z.string().optional(),
  email: z.string().optional(),
  tokens: z.array(z.string()).optional(),
});

const listUsers = defineTool({
  name: 'proxmox_list_users',
  title: 'List users',
  description:
    'Lists the users the credentials may see, with whether they are enabled, their expiry, and their API token ids.',
  toolset: 'access',
  access: 'read',
  input: z.object({}),
  output: z.object({ users: z.array(userRow) }),
  async run(_args, ctx) {
    const users = (await ctx.pve.access.users(true)) as {
      userid: string;
      enable?: number;
      expire?: number;
      firstname?: string;
      lastname?: string;
      email?: string;
      tokens?: { tokenid: string }[];
    }[];
    const rows = users.map((u) => ({
      userid: u.userid,
      enabled: u.enable !== 0,
      expire: u.expire || undefined,
      name: [u.firstname, u.lastname].filter(Boolean).join(' ') || undefined,
      email: u.email,
      tokens: u.tokens?.map((t) => t.tokenid),
    }));
    return ok(
      { users: rows },
      table(rows, [
        ['USER', (u) => u.userid],
        ['ENABLED', (u) => (u.enabled ? 'yes' : 'no')],
        ['NAME', (u) => u.name],
        ['TOKENS', (u) => u.tokens?.join(',')],
      ]),
    );
  },
});

const listTokens = defineTool({
  name: 'proxmox_list_tokens',
  title: 'List API tokens',
  description:
    "Lists a user's API tokens with privilege separation and expiry. Token secrets are never shown.",
  toolset: 'access',
  access: 'read',
  input: z.object({
    userid: z.string().regex(/^[^\s:/]+@[A-Za-z][\w.-]+$/, 'a user id like ops@pve'),
  }),
  output: z.object({
    userid: z.string(),
    tokens: z.array(
      z.object({
        tokenid: z.string(),
        privsep: z.boolean(),
        expire: z.number().optional(),
        comment: z.string().optional(),
      }),
    ),
  }),
  async run(args, ctx) {
    const tokens = (
      (await ctx.pve.access.tokens(args.userid)) as {
        tokenid: string;
        privsep?: number;
        expire?: number;
        comment?: string;
      }[]
    ).map((t) => ({
      tokenid: t.tokenid,
      privsep: t.privsep !== 0,
      expire: t.expire || undefined,
      comment: t.comment,
    }));
    const text = tokens.length
      ? table(tokens, [
          ['TOKEN', (t) => `${args.userid}!${t.tokenid}`],
          ['PRIVSEP', (t) => (t.privsep ? 'yes' : 'no')],
          [
            'EXPIRES',
            (t) => (t.expire ? new Date(t.expire * 1000).toISOString().slice(0, 10) : 'never'),
          ],
          ['COMMENT', (t) => t.comment],
        ])
      : `${args.userid} has no API tokens.`;
    return ok({ userid: args.userid, tokens }, text);
  },
});

export const accessTools: AnyTool[] = [whoami, listUsers, listTokens];
