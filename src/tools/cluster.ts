/** The `cluster` toolset: HA, pools, and nodes' network interfaces. */
import { z } from 'zod';
import { node } from './common.js';
import { type AnyTool, defineTool, ok } from './define.js';
import { table } from './render.js';

const haStatus = defineTool({
  name: 'proxmox_get_ha_status',
  title: 'HA status',
  description:
    'Returns the high-availability manager state (quorum, master, each node’s local resource manager) and every HA resource with its requested and current state.',
  toolset: 'cluster',
  access: 'read',
  input: z.object({}),
  output: z.object({
    quorate: z.boolean(),
    master: z.string().optional(),
    nodes: z.array(z.object({ node: z.string(), status: z.string() })),
    resources: z.array(
      z.object({
        sid: z.string(),
        node: z.string().optional(),
        state: z.string().optional(),
        requested: z.string().optional(),
        maxRestart: z.number().optional(),
        maxRelocate: z.number().optional(),
        group: z.string().optional(),
      }),
    ),
  }),
  async run(_args, ctx) {
    const [status, resources] = await Promise.all([
      ctx.pve.cluster.haStatus(),
      ctx.pve.cluster.haResources(),
    ]);
    const rows = status as {
      id: string;
      type: string;
      node?: string;
      status?: string;
      quorate?: number;
      sid?: string;
      state?: string;
      request_state?: string;
      max_restart?: number;
      max_relocate?: number;
    }[];
    const quorum = rows.find((r) => r.type === 'quorum');
    const master = rows.find((r) => r.type === 'master');
    const nodes = rows
      .filter((r) => r.type === 'lrm')
      .map((r) => ({ node: r.node ?? '', status: r.status ?? '' }));
    const configured = new Map(
      (resources as { sid: string; group?: string }[]).map((r) => [r.sid, r]),
    );
    const services = rows
      .filter((r) => r.type === 'service')
      .map((r) => ({
        sid: r.sid ?? '',
        node: r.node,
        state: r.state,
        requested: r.request_state,
        maxRestart: r.max_restart,
        maxRelocate: r.max_relocate,
        group: configured.get(r.sid ?? '')?.group,
      }));
    const text = [
      `HA: ${quorum?.quorate === 1 ? 'quorate' : 'NOT QUORATE'}, master ${master?.node ?? 'none'}`,
      ...nodes.map((n) => `lrm ${n.status}`),
      services.length
        ? table(services, [
            ['SID', (s) => s.sid],
            ['NODE', (s) => s.node],
            ['STATE', (s) => s.state],
            ['REQUESTED', (s) => s.requested],
          ])
        : 'No HA resources.',
    ].join('\n');
    return ok(
      { quorate: quorum?.quorate === 1, master: master?.node, nodes, resources: services },
      text,
    );
  },
});

const listPools = defineTool({
  name: 'proxmox_list_pools',
  title: 'List pools',
  description:
    'Lists resource pools with their comment; with poolid, the guests and storages in that pool.',
  toolset: 'cluster',
  access: 'read',
  input: z.object({
    poolid: z
      .string()
      .regex(/^[\w-]+(\/[\w-]+){0,2}$/)
      .optional(),
  }),
  output: z.object({
    pools: z.array(
      z.object({
        poolid: z.string(),
        comment: z.string().optional(),
        members: z
          .array(
            z.object({
              id: z.string(),
              type: z.string(),
              vmid: z.number().optional(),
              name: z.string().optional(),
              node: z.string().optional(),
              status: z.string().optional(),
            }),
          )
          .optional(),
      }),
    ),
  }),
  async run(args, ctx) {
    const pools = (await ctx.pve.cluster.pools(args.poolid)) as {
      poolid: string;
      comment?: string;
      members?: {
        id: string;
        type: string;
        vmid?: number;
        name?: string;
        node?: string;
        status?: string;
        storage?: string;
      }[];
    }[];
    const rows = pools.map((p) => ({
      poolid: p.poolid,
      comment: p.comment,
      members: p.members?.map((m) => ({
        id: m.id,
        type: m.type,
        vmid: m.vmid,
        name: m.name ?? m.storage,
        node: m.node,
        status: m.status,
      })),
    }));
    const text = args.poolid
      ? `${args.poolid}${rows[0]?.comment ? ` (${rows[0].comment})` : ''}:\n${table(
          rows[0]?.members ?? [],
          [
            ['ID', (m) => m.id],
            ['NAME', (m) => m.name],
            ['NODE', (m) => m.node],
            ['STATUS', (m) => m.status],
          ],
        )}`
      : table(rows, [
          ['POOL', (p) => p.poolid],
          ['COMMENT', (p) => p.comment],
        ]);
    return ok({ pools: rows }, text);
  },
});

const nodeNetwork = defineTool({
  name: 'proxmox_list_node_networks',
  title: 'Node network interfaces',
  description:
    "Lists a node's network interfaces: bridges, physical ports, bonds and VLANs, with addresses, gateway, bridge ports and whether each is active.",
  toolset: 'cluster',
  access: 'read',
  input: z.object({
    node,
    type: z.enum(['bridge', 'bond', 'eth', 'vlan', 'OVSBridge', 'any_bridge']).optional(),
  }),
  output: z.object({
    node: z.string(),
    interfaces: z.array(
      z.object({
        iface: z.string(),
        type: z.string(),
        active: z.boolean(),
        cidr: z.string().optional(),
        gateway: z.string().optional(),
        ports: z.string().optional(),
        comments: z.string().optional(),
      }),
    ),
  }),
  async run(args, ctx) {
    const rows = (await ctx.pve.nodes.network(args.node, args.type)).map((n) => ({
      iface: n.iface,
      type: String(n.type),
      active: n.active === 1,
      cidr: n.cidr,
      gateway: n.gateway,
      ports: n.bridge_ports ?? (n as { slaves?: string }).slaves,
      comments: n.comments,
    }));
    return ok(
      { node: args.node, interfaces: rows },
      table(rows, [
        ['IFACE', (n) => n.iface],
        ['TYPE', (n) => n.type],
        ['ACTIVE', (n) => (n.active ? 'yes' : 'no')],
        ['CIDR', (n) => n.cidr],
        ['GATEWAY', (n) => n.gateway],
        ['PORTS', (n) => n.ports],
      ]),
    );
  },
});

export const clusterTools: AnyTool[] = [haStatus, listPools, nodeNetwork];
