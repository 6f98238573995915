/**
 * The MCP server: the selected tools registered on one McpServer. Every call goes through the
 * policy (read-only, scope, protection, confirmation, dry run, audit), runs against its cluster's
 * API client, and answers sanitized text and structured content; failures the user can act on
 * become `isError` results. One definition serves both protocol eras.
 */
import { inputRequired, McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import type { Config } from '../config/schema.js';
import { type AuditLog, type Decision, type Outcome, redactArgs } from '../policy/audit.js';
import type { WireGuard } from '../policy/guard.js';
import {
  admit,
  type ClusterPolicy,
  type ConfirmationSeal,
  changes,
  describeImpact,
  destructive,
  guardGuest,
  PolicyRefusal,
  type Preconditions,
} from '../policy/policy.js';
import { cleanDeep, cleanText } from '../policy/sanitize.js';
import type { Interceptor, PveApi } from '../pve/index.js';
import { type AnyTool, annotations, type ToolContext } from '../tools/define.js';
import { describeError } from '../tools/errors.js';
import { selectTools } from '../tools/registry.js';
import { registerPrompts, registerResources } from './resources.js';

export interface ServerDeps {
  /** One API client per configured cluster, by name, in configuration order. */
  clusters: Map<string, PveApi>;
  /** The policy of each cluster, by name. */
  policies: Map<string, ClusterPolicy>;
  /** The guard every request of each cluster passes, by name (its clients are guarded by it). */
  guards: Map<string, WireGuard>;
  audit: AuditLog;
  version: string;
  /** Shared by every server instance, so a confirmation survives the retry of a stateless request. */
  seal: ConfirmationSeal;
}

export const INSTRUCTIONS = [
  'Manages Proxmox VE clusters: nodes, QEMU virtual machines and LXC containers, snapshots, storage, backups and the tasks long operations run as.',
  'Tools come in toolsets chosen by the operator: core (inventory, power, snapshots, storage, tasks), provision, backup, metrics, agent, agent_exec, access, cluster and api.',
  'Guests are named by their numeric vmid; the node is found from it when omitted. Tools that change something wait for their task and report its outcome, or return the task ID (UPID) with wait: false; dryRun: true shows what a change would do.',
].join(' ');

type CallResult = {
  content: { type: 'text'; text: string }[];
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
};

/**
 * JSON Schema without `$schema`: MCP's default dialect is 2020-12, and the key costs context. Each
 * conversion is made once: the SDK asks again for every server instance, and HTTP makes one per
 * request. The SDK copies what it changes, so the cached schema is shared read-only.
 */
function compact<S extends z.ZodType>(schema: S): S {
  const std = schema['~standard'] as unknown as {
    jsonSchema: Record<'input' | 'output', (o?: object) => Record<string, unknown>>;
  };
  const cache = new Map<string, Record<string, unknown>>();
  const convert = (io: 'input' | 'output', o?: object) => {
    const key = `${io} ${JSON.stringify(o ?? {})}`;
    let json = cache.get(key);
    if (!json) {
      const { $schema: _dialect, ...rest } = std.jsonSchema[io](o);
      json = rest;
      cache.set(key, json);
    }
    return json;
  };
  const jsonSchema = {
    input: (o?: object) => convert('input', o),
    output: (o?: object) => convert('output', o),
  };
  return new Proxy(schema, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (key !== '~standard') return value;
      return new Proxy(value as object, {
        get: (inner, k, r) => (k === 'jsonSchema' ? jsonSchema : Reflect.get(inner, k, r)),
      });
    },
  });
}

const plannedCall = z.object({
  method: z.string(),
  path: z.string(),
  params: z.record(z.string(), z.unknown()),
});
const dryRunOutput = z.object({
  calls: z.array(plannedCall).describe('The API calls the change would make'),
  checks: z.object({
    vmid: z.number().optional(),
    exists: z.boolean().optional(),
    inScope: z.boolean(),
    protected: z.boolean(),
    locked: z.string().optional(),
    status: z.string().optional(),
    node: z.string().optional(),
  }),
  note: z.string().optional(),
});

export function createServer(config: Config, deps: ServerDeps): McpServer {
  const server = new McpServer(
    { name: 'proxmox-mcp', title: 'Proxmox VE', version: deps.version },
    {
      instructions: INSTRUCTIONS,
      capabilities: { tools: {}, resources: {}, prompts: {}, completions: {}, logging: {} },
    },
  );
  const names = [...deps.clusters.keys()];
  for (const prepared of preparedTools(config, deps)) registerTool(server, prepared, config, deps);
  registerResources(server, names[0] as string, deps.clusters.get(names[0] as string) as PveApi);
  registerPrompts(server);
  return server;
}

/** A selected tool with the schemas it is offered with. */
interface PreparedTool {
  tool: AnyTool;
  input: z.ZodObject;
  output: z.ZodObject;
}

// Made once per configuration: HTTP builds a server for every request.
const prepared = new WeakMap<ServerDeps, { config: Config; tools: PreparedTool[] }>();

function preparedTools(config: Config, deps: ServerDeps): PreparedTool[] {
  const cached = prepared.get(deps);
  if (cached?.config === config) return cached.tools;
  const names = [...deps.clusters.keys()];
  // A tool is offered when some cluster could run it; per-cluster read-only is enforced per call.
  const allReadOnly = config.readOnly || [...deps.policies.values()].every((p) => p.readOnly);
  const tools = selectTools({
    toolsets: config.toolsets,
    tools: config.tools,
    excludeTools: config.excludeTools,
    readOnly: allReadOnly,
  });
  // In read-only mode the raw API tool stays, limited to GET.
  if (allReadOnly) {
    const api = selectTools({
      toolsets: config.toolsets,
      tools: config.tools,
      excludeTools: config.excludeTools,
    }).find((t) => t.name === 'proxmox_api_request');
    if (api)
      tools.push({ ...api, access: 'read', input: api.input.extend({ method: z.enum(['GET']) }) });
  }
  const result = tools.map((tool) => {
    let input = tool.input;
    if (names.length > 1)
      input = input.extend({
        cluster: z.enum(names as [string, ...string[]]).describe('Cluster to act on'),
      });
    if (isChanging(tool)) input = input.extend({ dryRun: z.boolean().optional() });
    if (mayConfirm(tool, config))
      input = input.extend({
        confirm: z.boolean().optional().describe('User agreed'),
      });
    // A dry run answers the plan instead of the outcome, so changing tools' fields are all optional.
    const output = isChanging(tool)
      ? tool.output.partial().extend({ dryRun: dryRunOutput.optional() })
      : tool.output;
    return { tool, input: compact(input), output: compact(output) };
  });
  prepared.set(deps, { config, tools: result });
  return result;
}

const isChanging = (tool: AnyTool) => tool.access !== 'read' || tool.name === 'proxmox_api_request';
const mayConfirm = (tool: AnyTool, config: Config) =>
  config.confirm === 'elicit' &&
  (tool.access === 'destructive' || tool.name === 'proxmox_api_request');

function registerTool(
  server: McpServer,
  { tool, input, output }: PreparedTool,
  config: Config,
  deps: ServerDeps,
): void {
  const names = [...deps.clusters.keys()];
  const multi = names.length > 1;

  server.registerTool(
    tool.name,
    {
      title: tool.title,
      description: tool.description,
      inputSchema: input,
      outputSchema: output,
      annotations: annotations(tool),
    },
    async (rawArgs: Record<string, unknown>, ctx) => {
      const started = Date.now();
      const { cluster: chosen, dryRun, confirm, ...args } = rawArgs;
      const clusterName = multi ? String(chosen) : (names[0] as string);
      const policy = deps.policies.get(clusterName) as ClusterPolicy;
      // This call's requests are decided on facts read for it (see WireGuard.session).
      const shared = deps.clusters.get(clusterName) as PveApi;
      const guard = (deps.guards.get(clusterName) as WireGuard).session();
      const pve = shared.withClient(shared.client.guarded(guard));
      const envelope = (ctx.mcpReq.envelope ?? {}) as Record<
        string,
        { name?: string; version?: string; elicitation?: unknown } | undefined
      >;
      const modernCaps = envelope['io.modelcontextprotocol/clientCapabilities'];
      const canElicit = Boolean(
        modernCaps ? modernCaps.elicitation : server.server.getClientCapabilities()?.elicitation,
      );
      const client =
        envelope['io.modelcontextprotocol/clientInfo'] ?? server.server.getClientVersion();
      const isChange = changes(tool, args);
      const audit = (
        decision: Decision,
        outcome: Outcome,
        extra: { reason?: string; upid?: string } = {},
      ) => {
        if (!isChange) return;
        deps.audit.write({
          time: new Date().toISOString(),
          cluster: clusterName,
          tool: tool.name,
          args: redactArgs(args),
          client: client ? { name: client.name, version: client.version } : undefined,
          decision,
          ...(extra.reason ? { reason: pve.client.redact(extra.reason) } : {}),
          ...(extra.upid ? { upid: extra.upid } : {}),
          outcome,
          durationMs: Date.now() - started,
        });
      };
      const finish = (
        text: string,
        structured?: Record<string, unknown>,
        isError?: boolean,
      ): CallResult => {
        // Cluster text is data: invisible characters out, long fields cut, secrets masked.
        const redact = (s: string) => pve.client.redact(s);
        // With several clusters, the text says which one the rows come from.
        const shown = multi ? `[cluster ${clusterName}] ${text}` : text;
        const result: CallResult = { content: [{ type: 'text', text: cleanText(shown, redact) }] };
        if (structured && !isError) result.structuredContent = cleanDeep(structured, redact);
        if (isError) result.isError = true;
        return result;
      };

      const token = ctx.mcpReq._meta?.progressToken;
      let step = 0;
      const toolCtx: ToolContext = {
        pve,
        cluster: clusterName,
        signal: ctx.mcpReq.signal,
        guard: (guest) => guardGuest(policy, guest),
        async progress(message) {
          if (token === undefined) return;
          step++;
          // A lost progress note must not fail the call.
          await ctx.mcpReq
            .notify({
              method: 'notifications/progress',
              params: {
                progressToken: token,
                progress: step,
                message: cleanText(message, (s) => pve.client.redact(s)).slice(0, 500),
              },
            })
            .catch(() => undefined);
        },
      };

      try {
        const checks = await admit(policy, { tool, args, cluster: clusterName, pve });
        if (dryRun === true && isChange) {
          const plan = await dryRunOf(tool, args, toolCtx, checks);
          audit('dry-run', 'not-run');
          return finish(plan.text, { dryRun: plan.data });
        }
        if (destructive(tool, args) && config.confirm !== 'none') {
          const refusal = await confirmation(tool, args, {
            clusterName,
            pve,
            checks,
            canElicit,
            confirm,
            mode: config.confirm,
            deps,
            ctx,
          });
          if (refusal && 'inputRequired' in refusal) return refusal.inputRequired;
          if (refusal) throw refusal;
        }
        const result = await tool.run(args, toolCtx);
        const upid = result.isError ? undefined : (result.data as { upid?: string }).upid;
        const status = result.isError ? undefined : (result.data as { status?: string }).status;
        audit(
          'allowed',
          result.isError
            ? 'error'
            : status === 'running' || status === 'started'
              ? 'running'
              : 'ok',
          { upid, reason: result.isError ? result.text : undefined },
        );
        return result.isError
          ? finish(result.text, undefined, true)
          : finish(result.text, result.data as Record<string, unknown>);
      } catch (err) {
        if (err instanceof PolicyRefusal) {
          audit(err.decision, 'not-run', { reason: err.message });
          return finish(err.message, undefined, true);
        }
        const described = describeError(err, clusterName);
        if (!described) throw err;
        audit('allowed', 'error', {
          reason: described.text,
          upid: described.data?.upid as string | undefined,
        });
        return finish(described.text, undefined, true);
      }
    },
  );
}

/** Runs a tool against a client that records its changing calls instead of sending them. */
async function dryRunOf(
  tool: AnyTool,
  args: Record<string, unknown>,
  ctx: ToolContext,
  checks: Preconditions,
) {
  const calls: z.infer<typeof plannedCall>[] = [];
  const record: Interceptor = (op, params, path) => {
    if (op.method === 'GET') return undefined;
    calls.push({
      method: op.method,
      path: `/api2/json${path}`,
      params: redactArgs(params as Record<string, unknown>),
    });
    const node = typeof params.node === 'string' ? params.node : 'cluster';
    const id = params.vmid ?? '';
    const upid = `UPID:${node}:00000000:00000000:00000000:dryrun:${id}:dry-run@pve:`;
    return { data: op.async === 'upid' || op.async === 'upid-or-ok' ? upid : null };
  };
  const pve = ctx.pve.withClient(ctx.pve.client.intercepted(record));
  let note: string | undefined;
  try {
    const result = await tool.run(args, { ...ctx, pve, progress: async () => undefined });
    if (result.isError) note = result.text;
  } catch (err) {
    const described = describeError(err, ctx.cluster);
    if (!described) throw err;
    note = described.text;
  }
  const facts = [
    checks.vmid === undefined
      ? undefined
      : checks.exists
        ? `guest ${checks.vmid} exists on ${checks.node}, ${checks.status}`
        : `guest ${checks.vmid} does not exist`,
    checks.inScope ? 'in scope' : 'out of scope',
    checks.protected ? 'protected' : 'not protected',
    checks.vmid === undefined || !checks.exists
      ? undefined
      : checks.locked
        ? `locked (${checks.locked})`
        : 'not locked',
  ].filter(Boolean);
  const text = [
    `Dry run of ${tool.name}: nothing was changed.`,
    calls.length
      ? `It would call:\n${calls.map((c) => `  ${c.method} ${c.path} ${JSON.stringify(c.params)}`).join('\n')}`
      : 'It would make no changing call.',
    `Checks: ${facts.join(', ')}.`,
    note ? `Note: ${note}` : '',
  ]
    .filter(Boolean)
    .join('\n');
  return { data: { calls, checks, ...(note ? { note } : {}) }, text };
}

interface ConfirmContext {
  clusterName: string;
  pve: PveApi;
  checks: Preconditions;
  canElicit: boolean;
  confirm: unknown;
  mode: Config['confirm'];
  deps: ServerDeps;
  ctx: { mcpReq: { inputResponses?: Record<string, unknown>; requestState: () => unknown } };
}

/**
 * Asks the human (elicitation in the 2025-11-25 era, an input-required result in 2026-07-28), or
 * falls back to the `confirm` argument when the client cannot ask, unless the mode is strict.
 * Returns nothing when the call may go ahead.
 */
async function confirmation(
  tool: AnyTool,
  args: Record<string, unknown>,
  c: ConfirmContext,
): Promise<PolicyRefusal | { inputRequired: CallResult } | undefined> {
  const impact = await describeImpact({ tool, args, cluster: c.clusterName, pve: c.pve }, c.checks);
  if (c.canElicit) {
    const response = c.ctx.mcpReq.inputResponses?.confirm as
      | { action?: string; content?: { confirm?: unknown } }
      | undefined;
    if (!response) {
      const request = inputRequired.elicit({
        message: `${impact}\nProceed?`,
        requestedSchema: {
          type: 'object',
          properties: { confirm: { type: 'boolean', title: 'Yes, do it', description: impact } },
          required: ['confirm'],
        },
      } as Parameters<typeof inputRequired.elicit>[0]);
      return {
        inputRequired: inputRequired({
          inputRequests: { confirm: request },
          requestState: c.deps.seal.seal(tool.name, args),
        }) as unknown as CallResult,
      };
    }
    if (!c.deps.seal.verify(c.ctx.mcpReq.requestState(), tool.name, args)) {
      return new PolicyRefusal(
        'The confirmation does not match this call (its arguments changed): nothing was done. Ask again.',
        'declined',
      );
    }
    if (response.action === 'accept' && response.content?.confirm === true) return undefined;
    const how = response.action === 'cancel' ? 'cancelled' : 'declined';
    return new PolicyRefusal(`The user ${how} it: nothing was done. (${impact})`, 'declined');
  }
  if (c.mode === 'strict') {
    return new PolicyRefusal(
      `Refused: this needs a human's confirmation, and this client cannot ask for one (confirmation mode strict). ${impact}`,
    );
  }
  if (c.confirm === true) return undefined;
  return new PolicyRefusal(
    `Needs confirmation: ${impact} This client cannot ask the user directly, so tell the user exactly what will happen and, once they agree, call again with confirm: true.`,
  );
}
