/**
 * The MCP adapter: the selected tools, resources and prompts registered on an McpServer, each
 * request translated into a call of the pipeline (policy/pipeline.ts) and its answer back. One
 * definition serves both protocol eras; the tools' schemas are prepared once per configuration.
 */
import { inputRequired, McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import type { Config } from '../config/schema.js';
import { type Answer, type Human, Pipeline, type ServerDeps } from '../policy/pipeline.js';
import { type AnyTool, annotations } from '../tools/define.js';
import { loadTools, selectTools } from '../tools/registry.js';
import { TOOLSETS } from '../tools/toolsets.js';
import { appToolMeta, registerApps } from './apps.js';
import { explainUnknownTools, Offer } from './offered.js';
import { registerPrompts, registerResources } from './resources.js';

export type { ServerDeps } from '../policy/pipeline.js';

export const INSTRUCTIONS = [
  'Manages Proxmox VE clusters: nodes, QEMU virtual machines and LXC containers, snapshots, storage, backups and the tasks long operations run as.',
  `Tools come in toolsets chosen by the operator: ${TOOLSETS.join(', ')}; a tool not offered here answers why and what the operator can change.`,
  "Guests are named by their numeric vmid; the node is found from it, and a node given with a vmid must be the guest's. Tools that change something wait (timeout, in seconds) for their task and report its outcome, or with timeout: 0 return the task ID (UPID) at once; dryRun: true shows what a change would do; confirm: true says the user agreed to it.",
].join(' ');

type CallResult = {
  content: ({ type: 'text'; text: string } | { type: 'image'; data: string; mimeType: string })[];
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
 * A tool's schema as offered: JSON Schema without `$schema` (MCP's default dialect is 2020-12, and
 * the key costs context), output schemas made lean, and invalid input reported to `onInvalid`.
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
  const convert = (io: 'input' | 'output', o?: object) => {
    const { $schema: _dialect, ...rest } = std.jsonSchema[io](o);
    return (full ? rest : lean(rest)) as Record<string, unknown>;
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

/**
 * The server factory for one configuration: the tools and their schemas are prepared here, once;
 * each call of the factory (a stdio connection, an HTTP request) registers them on a new server.
 */
export function serverFactory(
  config: Config,
  deps: ServerDeps,
  /** The tools of the configured selection, loaded (tools/registry.ts loadTools). */
  catalogue: AnyTool[],
): () => McpServer {
  const pipeline = new Pipeline(config, deps);
  // A tool is offered when some cluster could run it; per-cluster read-only is enforced per call.
  const allReadOnly = config.readOnly || [...deps.policies.values()].every((p) => p.readOnly);
  const tools = prepareTools(config, deps, pipeline, catalogue, allReadOnly);
  const offer = new Offer(config, new Set(tools.map((t) => t.tool.name)), allReadOnly);
  return () => {
    const server = new McpServer(
      { name: 'proxmox-mcp', title: 'Proxmox VE', version: deps.version },
      {
        instructions: INSTRUCTIONS,
        // The lists are fixed by the configuration when the server starts: they never change.
        capabilities: {
          tools: { listChanged: false },
          resources: {},
          prompts: { listChanged: false },
          completions: {},
          logging: {},
        },
        // A confirmation's retry carries the state its question was sealed with: one this server
        // did not make (tampered, expired, spent) is refused before anything runs.
        requestState: {
          verify: (state: string) => {
            if (!deps.seal.authentic(state))
              throw new Error('not a confirmation state this server sealed, or no longer valid');
            return state;
          },
        },
      },
    );
    for (const tool of tools) registerTool(server, tool, deps, pipeline, offer);
    explainUnknownTools(server, offer);
    registerResources(server, pipeline);
    registerApps(
      server,
      tools.map((t) => t.tool),
    );
    registerPrompts(server);
    return server;
  };
}

/** One server for one configuration (library users with one connection). */
export async function createServer(config: Config, deps: ServerDeps): Promise<McpServer> {
  return serverFactory(config, deps, await loadTools(config))();
}

/** A selected tool with the schemas it is offered with. */
interface PreparedTool {
  tool: AnyTool;
  input: z.ZodObject;
  output: z.ZodObject;
}

function prepareTools(
  config: Config,
  deps: ServerDeps,
  pipeline: Pipeline,
  catalogue: AnyTool[],
  allReadOnly: boolean,
): PreparedTool[] {
  const names = [...deps.clusters.keys()];
  const selection = {
    toolsets: config.toolsets,
    tools: config.tools,
    excludeTools: config.excludeTools,
  };
  const tools = selectTools({ ...selection, readOnly: allReadOnly }, catalogue);
  // In read-only mode a raw tool stays, limited to GET.
  if (allReadOnly) {
    const api = selectTools(selection, catalogue).find((t) => t.raw);
    if (api)
      tools.push({ ...api, access: 'read', input: api.input.extend({ method: z.enum(['GET']) }) });
  }
  return tools.map((tool) => {
    let input = tool.input;
    if (names.length > 1)
      input = input.extend({
        cluster: z.enum(names as [string, ...string[]]).describe('Cluster to act on'),
      });
    if (isChanging(tool)) input = input.extend({ dryRun: z.boolean().optional() });
    // Any change may need a yes: that follows from what the call does, not from the tool.
    if (config.confirm === 'elicit' && isChanging(tool))
      input = input.extend({ confirm: z.boolean().optional() });
    // A dry run answers the plan instead of the outcome, so changing tools' fields are all optional.
    const output = isChanging(tool)
      ? tool.output.partial().extend({ dryRun: dryRunOutput.optional() })
      : tool.output;
    const onInvalid = isChanging(tool)
      ? (value: unknown, issues: readonly { message: string; path?: readonly unknown[] }[]) =>
          pipeline.refuseInvalid(tool, value, issues)
      : undefined;
    return { tool, input: compact(input, true, onInvalid), output: compact(output, false) };
  });
}

const isChanging = (tool: AnyTool) => tool.access !== 'read';

/** Translates a tools/call into a pipeline call, and the answer back. */
function registerTool(
  server: McpServer,
  { tool, input, output }: PreparedTool,
  deps: ServerDeps,
  pipeline: Pipeline,
  offer: Offer,
): void {
  const multi = deps.clusters.size > 1;
  server.registerTool(
    tool.name,
    {
      title: tool.title,
      description: tool.description,
      inputSchema: input,
      outputSchema: output,
      annotations: annotations(tool),
      ...(tool.app ? { _meta: appToolMeta(tool) } : {}),
    },
    async (rawArgs: Record<string, unknown>, ctx) => {
      const { cluster, dryRun, confirm, ...args } = rawArgs;
      const envelope = (ctx.mcpReq.envelope ?? {}) as Record<
        string,
        { name?: string; version?: string; elicitation?: unknown } | undefined
      >;
      // The 2026-07-28 era sends the client's capabilities with each request.
      const modernCaps = envelope['io.modelcontextprotocol/clientCapabilities'];
      const canElicit = Boolean(
        modernCaps ? modernCaps.elicitation : server.server.getClientCapabilities()?.elicitation,
      );
      const response = ctx.mcpReq.inputResponses?.confirm as
        | { action?: string; content?: { confirm?: unknown } }
        | undefined;
      const human: Human | undefined = canElicit
        ? {
            answer: response && {
              action: response.action,
              confirm: response.content?.confirm,
              state: ctx.mcpReq.requestState(),
            },
            ask: (impact, state) =>
              inputRequired({
                inputRequests: {
                  confirm: inputRequired.elicit({
                    message: `${impact}\nProceed?`,
                    requestedSchema: {
                      type: 'object',
                      properties: {
                        confirm: { type: 'boolean', title: 'Yes, do it', description: impact },
                      },
                      required: ['confirm'],
                    },
                  } as Parameters<typeof inputRequired.elicit>[0]),
                },
                requestState: state,
              }),
          }
        : undefined;
      const token = ctx.mcpReq._meta?.progressToken;
      // Progress must grow with every note: a count of notes until a total is known, then the
      // amount done (notes without one move it on by a hair).
      let step = 0;
      let total: number | undefined;
      const answer = await pipeline.call({
        tool,
        args,
        cluster: multi ? String(cluster) : undefined,
        dryRun: dryRun === true,
        confirm,
        signal: ctx.mcpReq.signal,
        client: envelope['io.modelcontextprotocol/clientInfo'] ?? server.server.getClientVersion(),
        // An OAuth token speaks for its subject; a static token for its label.
        user:
          (ctx.http?.authInfo?.extra?.subject as string | undefined) ??
          ctx.http?.authInfo?.clientId,
        scopes: ctx.http?.authInfo?.extra?.scoped ? ctx.http.authInfo.scopes : undefined,
        session: ctx.sessionId,
        human,
        progress:
          token === undefined
            ? undefined
            : (message, of) => {
                if (of) total = of.total;
                step = of && of.done > step ? of.done : step + (total === undefined ? 1 : 0.001);
                return ctx.mcpReq.notify({
                  method: 'notifications/progress',
                  params: {
                    progressToken: token,
                    progress: Number(step.toFixed(3)),
                    ...(total === undefined ? {} : { total }),
                    message,
                  },
                });
              },
      });
      return toResult(answer, offer);
    },
  );
}

async function toResult(answer: Answer, offer: Offer): Promise<CallResult> {
  if ('ask' in answer) return answer.ask as CallResult;
  const text = await offer.annotate(answer.text);
  const result: CallResult = {
    content: [
      { type: 'text', text },
      ...(answer.images ?? []).map((i) => ({ type: 'image' as const, ...i })),
    ],
  };
  if (answer.structured) result.structuredContent = answer.structured;
  if (answer.isError) result.isError = true;
  return result;
}
