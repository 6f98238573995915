/**
 * The one configuration schema. Every setting has a default here; a config file, `PROXMOX_*`
 * environment variables and flags override it in that order (see load.ts).
 */
import { z } from 'zod';

import { DEFAULT_TOOLSETS, TOOLSETS, type Toolset } from '../tools/toolsets.js';

export { DEFAULT_TOOLSETS, TOOLSETS, type Toolset };

const fingerprint = z
  .string()
  .transform((s) => s.trim().toUpperCase())
  .refine((s) => /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/.test(s), {
    message:
      'must be a SHA-256 fingerprint of 32 hex pairs, as `pvenode cert info` prints it (AB:CD:...)',
  });

const vmidRange = z
  .string()
  .regex(/^\d+(-\d+)?$/, 'must be a vmid (100) or a range (100-199)')
  .refine((s) => {
    const [a, b] = s.split('-').map(Number);
    return b === undefined || (a ?? 0) <= b;
  }, 'a range must go from low to high');

// Every object is strict: a misspelled key (`read_only`) must stop the start, never be dropped.
export const scopeSchema = z
  .strictObject({
    /** Only these nodes; all when absent. */
    nodes: z.array(z.string().min(1)).optional(),
    /** Only guests in these pools; all when absent. */
    pools: z.array(z.string().min(1)).optional(),
    /** Only these vmids and ranges (`100-199`); all when absent. */
    vmids: z.array(vmidRange).optional(),
    /** Guests that can be read but not changed, stopped or deleted. */
    protected: z
      .strictObject({
        vmids: z.array(vmidRange).default([]),
        tags: z.array(z.string().min(1)).default(['protected']),
        pools: z.array(z.string().min(1)).default([]),
      })
      .default({ vmids: [], tags: ['protected'], pools: [] }),
  })
  .default({ protected: { vmids: [], tags: ['protected'], pools: [] } });

export const clusterSchema = z
  .strictObject({
    /** How tools name this cluster in their `cluster` argument. */
    name: z
      .string()
      .regex(
        /^[A-Za-z0-9][A-Za-z0-9_.-]*$/,
        'may hold letters, digits, _ . - and must start with a letter or digit',
      )
      .default('default'),
    /** `https://pve.example.com:8006` (the API path is added). */
    url: z.url({
      protocol: /^https?$/,
      error: 'must be an http(s) URL such as https://pve.example.com:8006',
    }),
    /** `user@realm!tokenid=secret`, or tokenId with tokenSecret. */
    apiToken: z.string().optional(),
    tokenId: z.string().optional(),
    tokenSecret: z.string().optional(),
    user: z.string().optional(),
    password: z.string().optional(),
    /** PEM file of the CA that signed the PVE certificate. */
    caFile: z.string().optional(),
    /** Pinned SHA-256 fingerprint of the PVE certificate. */
    fingerprint: fingerprint.optional(),
    /** Skip TLS verification (warned about at start). */
    insecure: z.boolean().default(false),
    readOnly: z.boolean().optional(),
    /** Parallel requests to this cluster at most. */
    maxInFlight: z.number().int().min(1).max(64).default(8),
    timeoutMs: z.number().int().min(1_000).max(600_000).default(30_000),
    /** The address PVE sees this server connect from, when NAT or a proxy changes it. */
    sourceAddress: z.union([z.ipv4(), z.ipv6()]).optional(),
    scope: scopeSchema,
  })
  .superRefine((c, ctx) => {
    const token =
      c.apiToken !== undefined || c.tokenId !== undefined || c.tokenSecret !== undefined;
    const password = c.user !== undefined || c.password !== undefined;
    if (!token && !password) {
      ctx.addIssue({
        code: 'custom',
        path: ['apiToken'],
        message:
          'no credentials: set an API token (PROXMOX_API_TOKEN=user@realm!tokenid=secret) or a user and password (PROXMOX_USER, PROXMOX_PASSWORD)',
      });
    }
    if (token && password) {
      ctx.addIssue({
        code: 'custom',
        path: ['apiToken'],
        message: 'both an API token and a user/password are set: keep one',
      });
    }
    if (c.apiToken !== undefined && !/^[^!\s]+@[^!\s]+![^=\s]+=\S+$/.test(c.apiToken)) {
      ctx.addIssue({
        code: 'custom',
        path: ['apiToken'],
        message: 'must look like user@realm!tokenid=secret',
      });
    }
    if ((c.tokenId === undefined) !== (c.tokenSecret === undefined) && c.apiToken === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: [c.tokenId === undefined ? 'tokenId' : 'tokenSecret'],
        message: 'tokenId and tokenSecret go together (PROXMOX_TOKEN_ID, PROXMOX_TOKEN_SECRET)',
      });
    }
    if (c.tokenId !== undefined && !/^[^!\s]+@[^!\s]+![^=\s]+$/.test(c.tokenId)) {
      ctx.addIssue({
        code: 'custom',
        path: ['tokenId'],
        message: 'must look like user@realm!tokenid',
      });
    }
    if ((c.user === undefined) !== (c.password === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: [c.user === undefined ? 'user' : 'password'],
        message: 'user and password go together (PROXMOX_USER, PROXMOX_PASSWORD)',
      });
    }
    if (c.user !== undefined && !c.user.includes('@')) {
      ctx.addIssue({
        code: 'custom',
        path: ['user'],
        message: 'must include the realm, e.g. root@pam',
      });
    }
    if (/^http:/i.test(c.url) && !c.insecure) {
      ctx.addIssue({
        code: 'custom',
        path: ['url'],
        message:
          'plain http sends the credentials in clear text: use https, or set insecure: true (PROXMOX_INSECURE=1) to accept it knowingly',
      });
    }
    if (c.insecure && (c.caFile || c.fingerprint)) {
      ctx.addIssue({
        code: 'custom',
        path: ['insecure'],
        message: 'insecure is set together with a CA file or fingerprint: keep one',
      });
    }
  });

export const configSchema = z
  .strictObject({
    clusters: z
      .array(clusterSchema)
      .min(
        1,
        'no cluster: set PROXMOX_URL and credentials, define clusters in a config file, or use --demo',
      ),
    toolsets: z
      .array(z.union([z.enum(TOOLSETS as [Toolset, ...Toolset[]]), z.literal('all')]))
      .default(DEFAULT_TOOLSETS),
    tools: z.array(z.string()).default([]),
    excludeTools: z.array(z.string()).default([]),
    readOnly: z.boolean().default(false),
    /** How destructive actions are confirmed: ask the human, refuse without a way to ask, or not at all. */
    confirm: z.enum(['elicit', 'strict', 'none']).default('elicit'),
    auditLog: z.string().optional(),
    logLevel: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
    http: z
      .strictObject({
        enabled: z.boolean().default(false),
        host: z.string().default('127.0.0.1'),
        port: z.number().int().min(0).max(65_535).default(3000),
        token: z.string().min(16, 'must be at least 16 characters').optional(),
        /** Bearer tokens with the label the audit log names their holder by. */
        tokens: z
          .array(
            z.strictObject({
              label: z.string().regex(/^[\w.@-]{1,64}$/, 'letters, digits and . _ @ -, at most 64'),
              token: z.string().min(16, 'must be at least 16 characters'),
            }),
          )
          .default([]),
        /** How clients authenticate: bearer tokens (`token`, `tokens`) or OAuth 2.1 (`oauth`). */
        auth: z.enum(['token', 'oauth']).default('token'),
        oauth: z
          .strictObject({
            /** The authorization server's issuer URL. */
            issuer: z.url(),
            /** This endpoint's public URL (e.g. https://mcp.example.com/mcp): the tokens' audience. */
            resource: z.url(),
            /** The authorization server's key set, when its metadata does not name it. */
            jwksUrl: z.url().optional(),
          })
          .optional(),
        /** Host names clients reach the endpoint by (the `Host` header), besides `host` itself. */
        allowedHosts: z.array(z.string().min(1)).default([]),
        allowedOrigins: z.array(z.string()).default([]),
        /** Open connections at most. */
        maxConnections: z.number().int().min(1).max(100_000).default(1_000),
        /** 2025-era sessions open at most. */
        maxSessions: z.number().int().min(1).max(100_000).default(100),
        /** Seconds an unused 2025-era session lasts. */
        sessionIdleSeconds: z
          .number()
          .int()
          .min(1)
          .max(7 * 24 * 3_600)
          .default(1_800),
        /** Seconds a client has to send a whole request (headers and body). */
        requestTimeoutSeconds: z.number().int().min(1).max(3_600).default(30),
      })
      .default({
        enabled: false,
        host: '127.0.0.1',
        port: 3000,
        tokens: [],
        auth: 'token',
        allowedHosts: [],
        allowedOrigins: [],
        maxConnections: 1_000,
        maxSessions: 100,
        sessionIdleSeconds: 1_800,
        requestTimeoutSeconds: 30,
      }),
    demo: z.boolean().default(false),
  })
  .superRefine((c, ctx) => {
    const names = new Set<string>();
    c.clusters.forEach((cluster, i) => {
      if (names.has(cluster.name))
        ctx.addIssue({
          code: 'custom',
          path: ['clusters', i, 'name'],
          message: `cluster name '${cluster.name}' is used twice`,
        });
      names.add(cluster.name);
    });
  });

export type Config = z.infer<typeof configSchema>;
export type ClusterConfig = z.infer<typeof clusterSchema>;
export type ScopeConfig = z.infer<typeof scopeSchema>;
