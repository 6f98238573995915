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
import { requestKey, requestPath, type WireGuard } from '../policy/guard.js';
import {
  admit,
  type ClusterPolicy,
  type ConfirmationSeal,
  declaredTargets,
  guardGuest,
  impactOf,
  type PlannedCall,
  PolicyRefusal,
  type Preconditions,
} from '../policy/policy.js';
import { cleanDeep, cleanText } from '../policy/sanitize.js';
import { type Interceptor, type PveApi, plannedUpid } from '../pve/index.js';
import { type AnyTool, annotations, type ToolContext, type ToolResult } from '../tools/define.js';
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
  "Guests are named by their numeric vmid; the node is found from it, and a node given with a vmid must be the guest's. Tools that change something wait (timeout, in seconds) for their task and report its outcome, or with timeout: 0 return the task ID (UPID) at once; dryRun: true shows what a change would do; confirm: true says the user agreed to it.",
].join(' ');

type CallResult = {
  content: { type: 'text'; text: string }[];
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
};

/**
 * An output schema as small as it can be while it still describes what the server sends: clients
 * validate against it and models read the text, so descriptions go, and so do the keys that only
 * forbid what the server never sends (extra properties, non-string keys).
 */
function lean(json: unknown): unknown {
  if (Array.isArray(json)) return json.map(lean);
  if (!json || typeof json !== 'object') return json;
  return Object.fromEntries(
    Object.entries(json)
      .filter(
        ([k, v]) =>
          !(k === 'description' && typeof v === 'string') &&
          !(k === 'additionalProperties' && (v === false || JSON.stringify(v) === '{}')) &&
          !(k === 'propertyNames' && JSON.stringify(v) === '{"type":"string"}'),
      )
      .map(([k, v]) => [k, lean(v)]),
  );
}

/**
 * JSON Schema without `$schema`: MCP's default dialect is 2020-12, and the key costs context. Output
 * schemas are made lean too. Each
 * conversion is made once: the SDK asks again for every server instance, and HTTP makes one per
 * request. The SDK copies what it changes, so the cached schema is shared read-only.
 */
function compact<S extends z.ZodType>(
  schema: S,
  full: boolean,
  onInvalid?: (
    value: unknown,
    issues: readonly { message: string; path?: readonly unknown[] }[],
  ) => void,
): S {
  const std = schema['~standard'] as unknown as {
    jsonSchema: Record<'input' | 'output', (o?: object) => Record<string, unknown>>;
  };
  const cache = new Map<string, Record<string, unknown>>();
  const convert = (io: 'input' | 'output', o?: object) => {
    const key = `${io} ${JSON.stringify(o ?? {})}`;
    let json = cache.get(key);
    if (!json) {
      const { $schema: _dialect, ...rest } = std.jsonSchema[io](o);
      json = (full ? rest : lean(rest)) as Record<string, unknown>;
      cache.set(key, json);
    }
    return json;
  };
  const jsonSchema = {
    input: (o?: object) => convert('input', o),
    output: (o?: object) => convert('output', o),
  };
  type Validated = { issues?: readonly { message: string; path?: readonly unknown[] }[] };
  const validate =
    (inner: { validate: (v: unknown) => Validated | Promise<Validated> }) => (v: unknown) => {
      const seen = (result: Validated) => {
        if (result.issues) onInvalid?.(v, result.issues);
        return result;
      };
      const result = inner.validate(v);
      return result instanceof Promise ? result.then(seen) : seen(result);
    };
  return new Proxy(schema, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (key !== '~standard') return value;
      return new Proxy(value as object, {
        get: (inner, k, r) =>
          k === 'jsonSchema'
            ? jsonSchema
            : k === 'validate' && onInvalid
              ? validate(inner as never)
              : Reflect.get(inner, k, r),
      });
    },
  });
}

/** What a dry run answers in `dryRun` (see dryRunAnswer): the calls, the checks, a note. */
const dryRunOutput = z.record(z.string(), z.unknown());

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
  // In read-only mode a raw tool stays, limited to GET.
  if (allReadOnly) {
    const api = selectTools({
      toolsets: config.toolsets,
      tools: config.tools,
      excludeTools: config.excludeTools,
    }).find((t) => t.raw);
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
        confirm: z.boolean().optional(),
      });
    // A dry run answers the plan instead of the outcome, so changing tools' fields are all optional.
    const output = isChanging(tool)
      ? tool.output.partial().extend({ dryRun: dryRunOutput.optional() })
      : tool.output;
    // A change refused for bad input is an attempt too: it gets its audit line.
    const onInvalid = isChanging(tool)
      ? (value: unknown, issues: readonly { message: string; path?: readonly unknown[] }[]) => {
          const args = (value && typeof value === 'object' ? value : {}) as Record<string, unknown>;
          const { cluster, dryRun: _d, confirm: _c, ...rest } = args;
          deps.audit.write({
            time: new Date().toISOString(),
            cluster:
              typeof cluster === 'string' && names.includes(cluster)
                ? cluster
                : (names[0] as string),
            tool: tool.name,
            args: rest,
            decision: 'refused',
            reason: `invalid arguments: ${issues
              .map((i) => {
                const path = (i.path ?? []).map((p) =>
                  p && typeof p === 'object' ? String((p as { key: unknown }).key) : String(p),
                );
                return `${path.join('.') || '(arguments)'}: ${i.message}`;
              })
              .join('; ')}`,
            outcome: 'not-run',
            durationMs: 0,
          });
        }
      : undefined;
    return { tool, input: compact(input, true, onInvalid), output: compact(output, false) };
  });
  prepared.set(deps, { config, tools: result });
  return result;
}

const isChanging = (tool: AnyTool) => tool.access !== 'read';
// Any change may need a yes: that follows from what the call does, not from the tool.
const mayConfirm = (tool: AnyTool, config: Config) =>
  config.confirm === 'elicit' && isChanging(tool);

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
      const guard = deps.guards.get(clusterName) as WireGuard;
      const shared = deps.clusters.get(clusterName) as PveApi;
      /** The cluster's API with this call's requests passing `g` (and, for a plan, recorded). */
      const view = (g: WireGuard, record?: Interceptor) => {
        const client = shared.client.guarded(g);
        return shared.withClient(record ? client.intercepted(record) : client);
      };
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
      let isChange = tool.access !== 'read';
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
          args,
          client: client ? { name: client.name, version: client.version } : undefined,
          decision,
          ...(extra.reason ? { reason: shared.client.redact(extra.reason) } : {}),
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
        const redact = (s: string) => shared.client.redact(s);
        // With several clusters, the text says which one the rows come from.
        const shown = multi ? `[cluster ${clusterName}] ${text}` : text;
        const result: CallResult = { content: [{ type: 'text', text: cleanText(shown, redact) }] };
        if (structured && !isError) result.structuredContent = cleanDeep(structured, redact);
        if (isError) result.isError = true;
        return result;
      };
      const answer = (result: ToolResult<unknown>) =>
        result.isError
          ? finish(result.text, undefined, true)
          : finish(result.text, result.data as Record<string, unknown>);

      const token = ctx.mcpReq._meta?.progressToken;
      let step = 0;
      const session = guard.session();
      let running = false;
      const toolCtx: ToolContext = {
        pve: view(session),
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
                message: cleanText(message, (s) => shared.client.redact(s)).slice(0, 500),
              },
            })
            .catch(() => undefined);
        },
      };

      try {
        // Whether the call may change anything follows from what it declares (a raw GET does not).
        const declared = await declaredTargets(tool, args);
        isChange = declared.changing;
        // The plan: the call run against a view that records its changes instead of sending
        // them, each checked on the wire as if sent, with what PVE would refuse checked too. Its
        // session's fresh facts serve the admission as well.
        const planGuard = guard.session({ planning: true });
        const checks = await admit(isChange ? planGuard : session, tool, declared);
        if (!isChange) return answer(await tool.run(args, toolCtx));
        const calls: PlannedCall[] = [];
        const plan = await planCall(tool, args, calls, {
          ...toolCtx,
          pve: view(planGuard, (op, params) => record(calls, op, params)),
          progress: async () => undefined,
        });
        if (dryRun === true) {
          audit('dry-run', plan.failure ? 'error' : 'not-run', { reason: plan.failure });
          const shown = dryRunAnswer(tool, plan, checks);
          return finish(shown.text, { dryRun: shown.data }, Boolean(plan.failure));
        }
        if (plan.failure) {
          audit('refused', 'not-run', { reason: plan.failure });
          return finish(plan.failure, undefined, true);
        }
        // A call that would change nothing has already given its real answer.
        if (!plan.calls.length && plan.result) {
          audit('allowed', plan.result.isError ? 'error' : 'ok');
          return answer(plan.result);
        }
        const facts = await planGuard.facts(true);
        const impact = await impactOf(tool, plan.calls, toolCtx.pve, facts, clusterName);
        let decision: Decision = 'allowed';
        if (impact && config.confirm !== 'none') {
          const refusal = await confirmation(tool, args, impact, {
            canElicit,
            confirm,
            mode: config.confirm,
            deps,
            ctx,
          });
          if (refusal && 'inputRequired' in refusal) return refusal.inputRequired;
          if (refusal) throw refusal;
          decision = 'confirmed';
        }
        // The run may make only the changes the plan held. Once a human took time to answer, it
        // is decided on facts read anew; otherwise on the plan's own, read just before it. Either
        // read then serves the whole run (a long bulk run does not re-read for each guest).
        const run = guard.session({
          planned: new Set(plan.calls.map((c) => requestKey(c.op, c.params))),
        });
        if (decision === 'allowed') run.reuseFacts(planGuard);
        running = true;
        const result = await tool.run(args, { ...toolCtx, pve: view(run) });
        const upid = result.isError ? undefined : (result.data as { upid?: string }).upid;
        const status = result.isError ? undefined : (result.data as { status?: string }).status;
        audit(
          decision,
          result.isError
            ? 'error'
            : status === 'running' || status === 'started'
              ? 'running'
              : 'ok',
          { upid, reason: result.isError ? result.text : undefined },
        );
        return answer(result);
      } catch (err) {
        if (err instanceof PolicyRefusal) {
          // Refused in the middle of a run, what was sent before may have changed something.
          audit(err.decision, running ? 'error' : 'not-run', {
            reason: err.auditReason ?? err.message,
          });
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

interface Plan {
  /** The changing requests the call would send, in order. */
  calls: PlannedCall[];
  /** Why the call would fail, if it would. */
  failure?: string;
  /** The call's answer when it planned no change. */
  result?: ToolResult<unknown>;
}

/** Records a changing request of a plan; reads go through. Tasks get a dry-run UPID. */
function record(
  calls: PlannedCall[],
  op: Parameters<Interceptor>[0],
  params: Parameters<Interceptor>[1],
): ReturnType<Interceptor> {
  if (op.method === 'GET') return undefined;
  calls.push({ op, params, path: requestPath(op, params) });
  const upid = plannedUpid(
    typeof params.node === 'string' ? params.node : 'cluster',
    String(params.vmid ?? ''),
  );
  return { data: op.async === 'upid' || op.async === 'upid-or-ok' ? upid : null };
}

/** Runs a tool against a recording view (see `record`); a refusal on the wire propagates. */
async function planCall(
  tool: AnyTool,
  args: Record<string, unknown>,
  calls: PlannedCall[],
  ctx: ToolContext,
): Promise<Plan> {
  const plan: Plan = { calls };
  try {
    const result = await tool.run(args, ctx);
    if (result.isError) plan.failure = result.text;
    else plan.result = result;
  } catch (err) {
    if (err instanceof PolicyRefusal) {
      plan.failure = err.message;
      return plan;
    }
    const described = describeError(err, ctx.cluster);
    if (!described) throw err;
    plan.failure = described.text;
  }
  return plan;
}

/** A dry run's answer: the calls it would make and the facts checked, or why it would fail. */
function dryRunAnswer(tool: AnyTool, plan: Plan, checks: Preconditions) {
  const calls = plan.calls.map((c) => ({
    method: c.op.method,
    path: `/api2/json${c.path}`,
    params: redactArgs(c.params),
  }));
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
  const text = plan.failure
    ? `Dry run of ${tool.name}: the call would fail, and nothing was changed.\n${plan.failure}`
    : [
        `Dry run of ${tool.name}: nothing was changed.`,
        calls.length
          ? `It would call:\n${calls.map((c) => `  ${c.method} ${c.path} ${JSON.stringify(c.params)}`).join('\n')}`
          : 'It would make no changing call.',
        `Checks: ${facts.join(', ')}.`,
      ].join('\n');
  return {
    data: { calls, checks, ...(plan.failure ? { note: plan.failure } : {}) },
    text,
  };
}

interface ConfirmContext {
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
  impact: string,
  c: ConfirmContext,
): Promise<PolicyRefusal | { inputRequired: CallResult } | undefined> {
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
          requestState: c.deps.seal.seal(tool.name, args, impact),
        }) as unknown as CallResult,
      };
    }
    if (!c.deps.seal.verify(c.ctx.mcpReq.requestState(), tool.name, args, impact)) {
      return new PolicyRefusal(
        'The confirmation does not match this call (its arguments or what it would do changed, it was used already, or it expired): nothing was done. Ask again.',
        'declined',
      );
    }
    if (response.action === 'accept' && response.content?.confirm === true) return undefined;
    const how = response.action === 'cancel' ? 'cancelled' : 'declined';
    return new PolicyRefusal(
      `The user ${how} it: nothing was done.\n${impact}`,
      'declined',
      `the user ${how} it`,
    );
  }
  if (c.mode === 'strict') {
    return new PolicyRefusal(
      `Refused: this needs a human's confirmation, and this client cannot ask for one (confirmation mode strict).\n${impact}`,
      'refused',
      'needs a human yes; the client cannot ask (strict)',
    );
  }
  if (c.confirm === true) return undefined;
  return new PolicyRefusal(
    `Needs confirmation. ${impact}\nThis client cannot ask the user directly, so tell the user exactly what will happen and, once they agree, call again with confirm: true.`,
    'refused',
    'needs confirmation: the client cannot ask, and confirm was not given',
  );
}
