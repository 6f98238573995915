/**
 * Resources (cluster status, a node, a guest, a task log, with completion of node names and
 * vmids) and prompts (health report, capacity planning, guided provisioning, triage).
 * Resources read the first configured cluster through the pipeline, as tools do; with several
 * clusters, each is also reachable as `proxmox://{cluster}/…`.
 */
import {
  type CompleteResourceTemplateCallback,
  type McpServer,
  ResourceTemplate,
} from '@modelcontextprotocol/server';
import { z } from 'zod';
import type { Pipeline } from '../policy/pipeline.js';
import { parseUpid } from '../pve/index.js';
import { resolveGuest, ToolError } from '../tools/common.js';
import type { ToolContext } from '../tools/define.js';
import { guestInfo, guestStatus, infoText, statusText } from '../tools/guest-views.js';

type Contents = { contents: { uri: string; mimeType: string; text: string }[] };

export function registerResources(server: McpServer, pipeline: Pipeline): void {
  /** A text and a JSON rendering of one resource, read through the pipeline; failures in words. */
  const answer = async (
    uri: URL,
    read: (ctx: ToolContext) => Promise<{ text: string; data: unknown }>,
    cluster?: string,
  ): Promise<Contents> => {
    const { text, data } = await pipeline.read(read, cluster);
    const contents = [{ uri: uri.href, mimeType: 'text/plain', text }];
    if (data !== undefined)
      contents.push({
        uri: uri.href,
        mimeType: 'application/json',
        text: JSON.stringify(data, null, 2),
      });
    return { contents };
  };
  const nodeNames = (prefix: string, cluster?: string) =>
    pipeline.read(
      async ({ pve }) => ({
        text: '',
        data: (await pve.nodes.list()).map((n) => n.node).filter((n) => n.startsWith(prefix)),
      }),
      cluster,
    );
  const vmids = (prefix: string, cluster?: string) =>
    pipeline.read(
      async ({ pve }) => ({
        text: '',
        data: [...(await pve.guestIndex()).keys()]
          .map(String)
          .filter((v) => v.startsWith(prefix))
          .slice(0, 100),
      }),
      cluster,
    );
  const multi = pipeline.names.length > 1;
  const clusterOf = (vars: Record<string, string | string[]>) =>
    vars.cluster === undefined ? undefined : String(vars.cluster);
  /**
   * Registers a resource for the default cluster at `proxmox://{path}`, and with several clusters
   * for each at `proxmox://{cluster}/{path}`.
   */
  const register = (
    name: string,
    path: string,
    meta: { title: string; description: string; mimeType: string },
    complete: Record<string, (prefix: string, cluster?: string) => Promise<string[]>>,
    read: (
      uri: URL,
      vars: Record<string, string | string[]>,
      cluster?: string,
    ) => Promise<Contents>,
  ) => {
    const completions = (cluster?: boolean): Record<string, CompleteResourceTemplateCallback> =>
      Object.fromEntries(
        Object.entries(complete).map(([v, fn]) => [
          v,
          (prefix: string, ctx?: { arguments?: Record<string, string> }) =>
            fn(prefix, cluster ? ctx?.arguments?.cluster : undefined),
        ]),
      );
    if (path.includes('{'))
      server.registerResource(
        name,
        new ResourceTemplate(`proxmox://${path}`, { list: undefined, complete: completions() }),
        meta,
        (uri, vars) => read(uri, vars),
      );
    else server.registerResource(name, `proxmox://${path}`, meta, (uri) => read(uri, {}));
    if (!multi) return;
    server.registerResource(
      `${name}-of-cluster`,
      new ResourceTemplate(`proxmox://{cluster}/${path}`, {
        list: undefined,
        complete: {
          cluster: async (p: string) => pipeline.names.filter((n) => n.startsWith(p)),
          ...completions(true),
        },
      }),
      { ...meta, title: `${meta.title} (by cluster)` },
      (uri, vars) => read(uri, vars, clusterOf(vars)),
    );
  };

  register(
    'cluster-status',
    'cluster/status',
    {
      title: 'Cluster status',
      description: 'Quorum and nodes of the cluster',
      mimeType: 'text/plain',
    },
    {},
    (uri, _vars, cluster) =>
      answer(
        uri,
        async ({ pve }) => {
          const status = await pve.cluster.status();
          const nodes = status.filter((s) => s.type === 'node');
          const name = status.find((s) => s.type === 'cluster')?.name ?? '(standalone)';
          const text = [
            `Cluster ${name}`,
            ...nodes.map(
              (n) =>
                `${n.name}: ${n.online === 1 ? 'online' : 'OFFLINE'}${n.ip ? ` (${n.ip})` : ''}`,
            ),
          ].join('\n');
          return { text, data: status };
        },
        cluster,
      ),
  );

  register(
    'node',
    'nodes/{node}',
    { title: 'Node', description: 'Status of one node', mimeType: 'text/plain' },
    { node: async (p, cluster) => (await nodeNames(p, cluster)).data ?? [] },
    (uri, vars, cluster) =>
      answer(
        uri,
        async ({ pve }) => {
          const node = String(vars.node);
          if (!pve.visibility.node(node))
            throw new ToolError(`Node ${node} is outside what this server may manage.`);
          const s = await pve.nodes.status(node);
          const mem = s.memory as { used?: number; total?: number };
          return {
            text: `${node}: ${s.pveversion}, CPU ${(s.cpu * 100).toFixed(0)}%, load ${s.loadavg.join(' ')}, memory ${mem.used}/${mem.total} bytes`,
            data: s,
          };
        },
        cluster,
      ),
  );

  register(
    'guest',
    'guests/{vmid}',
    {
      title: 'VM or container',
      description: 'Configuration and status of one guest',
      mimeType: 'text/plain',
    },
    { vmid: async (p, cluster) => (await vmids(p, cluster)).data ?? [] },
    (uri, vars, cluster) =>
      answer(
        uri,
        async (ctx) => {
          const { pve } = ctx;
          const guest = await resolveGuest(ctx, Number(vars.vmid));
          const [info, status] = await Promise.all([
            guestInfo(pve, guest),
            guestStatus(pve, guest),
          ]);
          return {
            text: `${statusText(status)}\n${infoText(info)}`,
            data: { status, config: info },
          };
        },
        cluster,
      ),
  );

  register(
    'task-log',
    'tasks/{upid}/log',
    { title: 'Task log', description: 'The log of one task', mimeType: 'text/plain' },
    {},
    (uri, vars, cluster) =>
      answer(
        uri,
        async ({ pve }) => {
          const upid = decodeURIComponent(String(vars.upid));
          const parsed = parseUpid(upid);
          if (!parsed) throw new ToolError(`'${upid}' is not a task ID.`);
          const log = await pve.tasks.log(parsed.node, upid, 0, 5_000);
          return { text: log.lines.join('\n'), data: log };
        },
        cluster,
      ),
  );
}

const user = (text: string) => ({
  messages: [{ role: 'user' as const, content: { type: 'text' as const, text } }],
});

// Built once: HTTP registers the prompts on a server made for every request.
const CAPACITY_ARGS = z.object({
  cores: z.string().describe('vCPUs'),
  memory: z.string().describe('Memory in MiB'),
  disk: z.string().describe('Disk in GiB'),
});
const PROVISION_ARGS = z.object({
  name: z.string().describe('VM name'),
  purpose: z.string().optional().describe('What it is for'),
});
const TRIAGE_ARGS = z.object({ vmid: z.string().describe('VM or container ID') });

export function registerPrompts(server: McpServer): void {
  server.registerPrompt(
    'cluster_health_report',
    {
      title: 'Cluster health report',
      description:
        'A health report of the Proxmox VE cluster: quorum, nodes, guests, storage, recent failures',
    },
    () =>
      user(
        [
          'Write a health report of the Proxmox VE cluster.',
          '1. proxmox_get_cluster_status for quorum, nodes online and guest counts.',
          '2. proxmox_list_nodes and, for each online node, proxmox_get_node_status: CPU, load, memory, root disk.',
          '3. proxmox_list_storage: flag any storage above 80% used or not available.',
          '4. proxmox_list_tasks with state "failed" for recent failures.',
          'Report: a one-line verdict (healthy, warnings, critical), then the findings by severity with the numbers, then suggested next steps. Change nothing.',
        ].join('\n'),
      ),
  );

  server.registerPrompt(
    'capacity_planning',
    {
      title: 'Capacity planning for a new guest',
      description: 'Which node and storage can take a new VM or container of a given size',
      argsSchema: CAPACITY_ARGS,
    },
    ({ cores, memory, disk }) =>
      user(
        [
          `Find where a new guest with ${cores} vCPUs, ${memory} MiB of memory and a ${disk} GiB disk fits best in the Proxmox VE cluster.`,
          'Use proxmox_list_nodes and proxmox_get_node_status for free memory and CPU load per node, and proxmox_list_storage for free space on storages that hold VM disks.',
          'Rank the online nodes by headroom after placing the guest (memory first, then CPU, then disk), name the storage to use, and warn when any node would go above 80% memory. Change nothing.',
        ].join('\n'),
      ),
  );

  server.registerPrompt(
    'provision_vm',
    {
      title: 'Guided VM provisioning',
      description: 'Create a VM step by step: choose node, storage and ISO, confirm, create, start',
      argsSchema: PROVISION_ARGS,
    },
    ({ name, purpose }) =>
      user(
        [
          `Help me create a VM named ${name}${purpose ? ` for ${purpose}` : ''} on the Proxmox VE cluster.`,
          'Suggest cores, memory and disk size for its purpose; pick a node with headroom (proxmox_list_nodes, proxmox_get_node_status) and a storage for VM disks (proxmox_list_storage); list ISOs with proxmox_list_storage_content (content iso).',
          'Show me the plan (proxmox_create_vm with dryRun: true) and wait for my go-ahead before creating it; then create it and report the result.',
        ].join('\n'),
      ),
  );

  server.registerPrompt(
    'triage_guest',
    {
      title: 'Triage a misbehaving guest',
      description:
        'Find out why a VM or container misbehaves: state, locks, load, recent tasks, agent',
      argsSchema: TRIAGE_ARGS,
    },
    ({ vmid }) =>
      user(
        [
          `Guest ${vmid} on the Proxmox VE cluster is misbehaving. Find out why, without changing anything yet.`,
          `1. Its status (proxmox_get_vm_status or proxmox_get_container_status): running, paused, locked?`,
          `2. proxmox_get_guest_metrics for the last hour and day: CPU, memory, disk and network patterns.`,
          `3. proxmox_list_tasks with vmid ${vmid}: recent failures and their logs (proxmox_get_task_log).`,
          '4. Its node (proxmox_get_node_status): is the node itself under pressure?',
          '5. For a VM with the guest agent: proxmox_get_guest_network for its addresses.',
          'Give the most likely causes with the evidence, and the fixes you would propose (each with the tool that would do it).',
        ].join('\n'),
      ),
  );
}
