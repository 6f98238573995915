/**
 * The MCP server: the selected tools registered on one McpServer, each call routed to its
 * cluster's API client, with progress notifications, and failures the user can act on turned into
 * `isError` results. One definition serves both protocol eras.
 */
import { McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import type { Config } from '../config/schema.js';
import type { PveApi } from '../pve/index.js';
import { type AnyTool, annotations, type ToolContext } from '../tools/define.js';
import { describeError } from '../tools/errors.js';
import { selectTools } from '../tools/registry.js';

export interface ServerDeps {
  /** One API client per configured cluster, by name, in configuration order. */
  clusters: Map<string, PveApi>;
  version: string;
}

export const INSTRUCTIONS = [
  'Manages Proxmox VE clusters: nodes, QEMU virtual machines and LXC containers, snapshots, storage, backups and the tasks long operations run as.',
  'Tools come in toolsets chosen by the operator: core (inventory, power, snapshots, storage, tasks), provision, backup, metrics, agent, agent_exec, access, cluster and api.',
  'Guests are named by their numeric vmid; the node is found from it when omitted. Tools that change something wait for their task and report its outcome, or return the task ID (UPID) with wait: false.',
].join(' ');

type CallResult = {
  content: { type: 'text'; text: string }[];
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
};

export function createServer(config: Config, deps: ServerDeps): McpServer {
  const server = new McpServer(
    { name: 'proxmox-mcp', title: 'Proxmox VE', version: deps.version },
    { instructions: INSTRUCTIONS, capabilities: { tools: {} } },
  );
  const names = [...deps.clusters.keys()];
  const multi = names.length > 1;
  const tools = selectTools({
    toolsets: config.toolsets,
    tools: config.tools,
    excludeTools: config.excludeTools,
    readOnly: config.readOnly,
  });
  for (const tool of tools) registerTool(server, tool, deps, names, multi);
  return server;
}

/** JSON Schema without `$schema`: MCP's default dialect is 2020-12, and the key costs context. */
function compact<S extends z.ZodType>(schema: S): S {
  const std = schema['~standard'] as unknown as {
    jsonSchema: {
      input(o: unknown): Record<string, unknown>;
      output(o: unknown): Record<string, unknown>;
    };
  };
  const strip = (json: Record<string, unknown>) => {
    const { $schema: _dialect, ...rest } = json;
    return rest;
  };
  const jsonSchema = {
    input: (o: unknown) => strip(std.jsonSchema.input(o)),
    output: (o: unknown) => strip(std.jsonSchema.output(o)),
  };
  return new Proxy(schema, {
    get(target, key, receiver) {
      if (key !== '~standard') return Reflect.get(target, key, receiver);
      return new Proxy(Reflect.get(target, key, receiver) as object, {
        get: (inner, k, r) => (k === 'jsonSchema' ? jsonSchema : Reflect.get(inner, k, r)),
      });
    },
  });
}

function registerTool(
  server: McpServer,
  tool: AnyTool,
  deps: ServerDeps,
  names: string[],
  multi: boolean,
): void {
  // With several clusters, every tool names the one it acts on.
  const input = multi
    ? tool.input.extend({
        cluster: z.enum(names as [string, ...string[]]).describe('Cluster to act on'),
      })
    : tool.input;
  server.registerTool(
    tool.name,
    {
      title: tool.title,
      description: tool.description,
      inputSchema: compact(input),
      outputSchema: compact(tool.output),
      annotations: annotations(tool),
    },
    async (args: Record<string, unknown>, ctx): Promise<CallResult> => {
      const clusterName = multi ? String(args.cluster) : (names[0] as string);
      const pve = deps.clusters.get(clusterName) as PveApi;
      const token = ctx.mcpReq._meta?.progressToken;
      let step = 0;
      const toolCtx: ToolContext = {
        pve,
        cluster: clusterName,
        signal: ctx.mcpReq.signal,
        async progress(message) {
          if (token === undefined) return;
          step++;
          // A lost progress note must not fail the call.
          await ctx.mcpReq
            .notify({
              method: 'notifications/progress',
              params: { progressToken: token, progress: step, message },
            })
            .catch(() => undefined);
        },
      };
      const { cluster: _cluster, ...toolArgs } = args;
      try {
        const result = await tool.run(multi ? toolArgs : args, toolCtx);
        if (result.isError)
          return { content: [{ type: 'text', text: result.text }], isError: true };
        return {
          content: [{ type: 'text', text: result.text }],
          structuredContent: result.data as Record<string, unknown>,
        };
      } catch (err) {
        const described = describeError(err, clusterName);
        if (!described) throw err;
        return {
          content: [{ type: 'text', text: pve.client.redact(described.text) }],
          isError: true,
        };
      }
    },
  );
}
