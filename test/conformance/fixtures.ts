/**
 * The conformance suite's fixtures: the tools, resources and prompts its scenarios call by name
 * (`test_*`, `test://...`), as each scenario's description specifies them. They are registered on
 * the product's own server (see fixture-server.ts), so the scenarios run through proxmox-mcp's
 * transports and wiring: sessions and their streams, progress, logging, sampling and elicitation
 * on 2025-era sessions, input-required results on 2026-07-28 requests, completion, resources and
 * prompts. Test code only: nothing here is part of the package.
 */
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import {
  acceptedContent,
  type CallToolResult,
  CLIENT_CAPABILITIES_META_KEY,
  completable,
  fromJsonSchema,
  type GetPromptResult,
  type InputRequests,
  inputRequired,
  type McpServer,
  ProtocolError,
  ProtocolErrorCode,
  ResourceTemplate,
  type ServerContext,
} from '@modelcontextprotocol/server';
import { z } from 'zod';

/** The names of the fixture tools: the product's tools/call wrapper must let them through. */
export const FIXTURE_TOOLS = new Set<string>();

// A 1x1 PNG and a minimal WAV, as the suite's reference server sends them.
const PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';
const WAV = 'UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA=';

const text = (t: string): CallToolResult => ({ content: [{ type: 'text', text: t }] });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const noArgs = z.object({});

/**
 * requestState comes back from the client: it is sealed (HMAC) when handed out and checked when
 * it returns, as SEP-2322 requires of a server that relies on it.
 */
const stateKey = randomBytes(32);
const seal = (payload: Record<string, unknown>) => {
  const data = Buffer.from(JSON.stringify(payload)).toString('base64url');
  return `${data}.${createHmac('sha256', stateKey).update(data).digest('base64url')}`;
};
export const unseal = (state: unknown): Record<string, unknown> | undefined => {
  if (typeof state !== 'string') return undefined;
  const [data = '', mac] = state.split('.');
  if (mac !== createHmac('sha256', stateKey).update(data).digest('base64url')) return undefined;
  return JSON.parse(Buffer.from(data, 'base64url').toString()) as Record<string, unknown>;
};
/** A state that fails its check is refused outright, never taken as a first round. */
const stateOf = (ctx: ServerContext): Record<string, unknown> | undefined => {
  const raw = ctx.mcpReq.requestState();
  if (raw === undefined) return undefined;
  const state = unseal(raw);
  if (!state)
    throw new ProtocolError(ProtocolErrorCode.InvalidParams, 'requestState failed its check');
  return state;
};

const ask = (message: string, field: string, type = 'string') =>
  inputRequired.elicit({
    message,
    requestedSchema: {
      type: 'object',
      properties: { [field]: { type } },
      required: [field],
    },
  } as Parameters<typeof inputRequired.elicit>[0]);

export function registerFixtures(server: McpServer): void {
  // registerTool with its overloads' types, each name noted as a fixture's.
  const tool: McpServer['registerTool'] = ((name: string, config: never, cb: never) => {
    FIXTURE_TOOLS.add(name);
    return server.registerTool(name, config, cb);
  }) as never;

  // ===== Content types =====
  tool('test_simple_text', { description: 'Returns a simple text content' }, async () =>
    text('This is a simple text response for testing.'),
  );
  tool('test_image_content', { description: 'Returns an image content' }, async () => ({
    content: [{ type: 'image', data: PNG, mimeType: 'image/png' }],
  }));
  tool('test_audio_content', { description: 'Returns an audio content' }, async () => ({
    content: [{ type: 'audio', data: WAV, mimeType: 'audio/wav' }],
  }));
  tool('test_embedded_resource', { description: 'Returns an embedded resource' }, async () => ({
    content: [
      {
        type: 'resource',
        resource: {
          uri: 'test://embedded-resource',
          mimeType: 'text/plain',
          text: 'This is an embedded resource content.',
        },
      },
    ],
  }));
  tool(
    'test_multiple_content_types',
    { description: 'Returns text, an image and a resource' },
    async () => ({
      content: [
        { type: 'text', text: 'Multiple content types test:' },
        { type: 'image', data: PNG, mimeType: 'image/png' },
        {
          type: 'resource',
          resource: {
            uri: 'test://mixed-content-resource',
            mimeType: 'application/json',
            text: JSON.stringify({ test: 'data', value: 123 }),
          },
        },
      ],
    }),
  );
  tool('test_error_handling', { description: 'Fails' }, async () => {
    throw new Error('This tool intentionally returns an error for testing');
  });

  // ===== Notifications on the call's stream =====
  tool(
    'test_tool_with_logging',
    { description: 'Logs three messages while it runs', inputSchema: noArgs },
    async (_args, ctx) => {
      for (const data of ['Tool execution started', 'Tool processing data']) {
        await ctx.mcpReq.notify({
          method: 'notifications/message',
          params: { level: 'info', data },
        });
        await sleep(50);
      }
      await ctx.mcpReq.notify({
        method: 'notifications/message',
        params: { level: 'info', data: 'Tool execution completed' },
      });
      return text('Tool with logging executed successfully');
    },
  );
  tool(
    'test_tool_with_progress',
    { description: 'Reports progress 0, 50 and 100 of 100', inputSchema: noArgs },
    async (_args, ctx) => {
      const progressToken = ctx.mcpReq._meta?.progressToken;
      // Progress goes only to a caller that asked for it.
      if (progressToken !== undefined)
        for (const progress of [0, 50, 100]) {
          await ctx.mcpReq.notify({
            method: 'notifications/progress',
            params: {
              progressToken,
              progress,
              total: 100,
              message: `Completed step ${progress} of 100`,
            },
          });
          if (progress < 100) await sleep(50);
        }
      return text(String(progressToken ?? 'no-progress-token'));
    },
  );
  // SEP-1699: the call's SSE stream is closed mid-call; the client resumes it (Last-Event-ID)
  // from the session's event store (transports/sessions.ts RecentEvents) and gets the result.
  tool(
    'test_reconnection',
    { description: 'Closes its stream mid-call, then answers', inputSchema: noArgs },
    async (_args, ctx) => {
      ctx.http?.closeSSE?.();
      await sleep(100);
      return text(
        'Reconnection test completed successfully. If you received this, the client properly reconnected after stream closure.',
      );
    },
  );

  // ===== Requests to the client on a 2025-era session =====
  tool(
    'test_sampling',
    {
      description: 'Asks the client for an LLM completion',
      inputSchema: z.object({ prompt: z.string() }),
    },
    async ({ prompt }, ctx) => {
      const result = await ctx.mcpReq.send({
        method: 'sampling/createMessage',
        params: {
          messages: [{ role: 'user', content: { type: 'text', text: prompt } }],
          maxTokens: 100,
        },
      });
      const content = result.content as { text?: string };
      return text(`LLM response: ${content.text ?? 'No response'}`);
    },
  );
  const elicit = async (ctx: ServerContext, params: Record<string, unknown>) => {
    const r = await ctx.mcpReq.send({ method: 'elicitation/create', params });
    return `action=${r.action}, content=${JSON.stringify(r.content ?? {})}`;
  };
  tool(
    'test_elicitation',
    {
      description: 'Asks the user for a response',
      inputSchema: z.object({ message: z.string() }),
    },
    async ({ message }, ctx) =>
      text(
        `User response: ${await elicit(ctx, {
          message,
          requestedSchema: {
            type: 'object',
            properties: { response: { type: 'string', description: "User's response" } },
            required: ['response'],
          },
        })}`,
      ),
  );
  tool(
    'test_elicitation_sep1034_defaults',
    { description: 'Asks with a default for every primitive type (SEP-1034)', inputSchema: noArgs },
    async (_args, ctx) =>
      text(
        `Elicitation completed: ${await elicit(ctx, {
          message: 'Please review and update the form fields with defaults',
          requestedSchema: {
            type: 'object',
            properties: {
              name: { type: 'string', description: 'User name', default: 'John Doe' },
              age: { type: 'integer', description: 'User age', default: 30 },
              score: { type: 'number', description: 'User score', default: 95.5 },
              status: {
                type: 'string',
                description: 'User status',
                enum: ['active', 'inactive', 'pending'],
                default: 'active',
              },
              verified: { type: 'boolean', description: 'Verification status', default: true },
            },
            required: [],
          },
        })}`,
      ),
  );
  tool(
    'test_elicitation_sep1330_enums',
    { description: 'Asks with the five enum forms (SEP-1330)', inputSchema: noArgs },
    async (_args, ctx) =>
      text(
        `Elicitation completed: ${await elicit(ctx, {
          message: 'Please select options from the enum fields',
          requestedSchema: {
            type: 'object',
            properties: {
              untitledSingle: {
                type: 'string',
                description: 'Select one option',
                enum: ['option1', 'option2', 'option3'],
              },
              titledSingle: {
                type: 'string',
                description: 'Select one option with titles',
                oneOf: [
                  { const: 'value1', title: 'First Option' },
                  { const: 'value2', title: 'Second Option' },
                  { const: 'value3', title: 'Third Option' },
                ],
              },
              legacyEnum: {
                type: 'string',
                description: 'Select one option (legacy)',
                enum: ['opt1', 'opt2', 'opt3'],
                enumNames: ['Option One', 'Option Two', 'Option Three'],
              },
              untitledMulti: {
                type: 'array',
                description: 'Select multiple options',
                minItems: 1,
                maxItems: 3,
                items: { type: 'string', enum: ['option1', 'option2', 'option3'] },
              },
              titledMulti: {
                type: 'array',
                description: 'Select multiple options with titles',
                minItems: 1,
                maxItems: 3,
                items: {
                  anyOf: [
                    { const: 'value1', title: 'First Choice' },
                    { const: 'value2', title: 'Second Choice' },
                    { const: 'value3', title: 'Third Choice' },
                  ],
                },
              },
            },
            required: [],
          },
        })}`,
      ),
  );

  // ===== Schemas and headers =====
  // SEP-1613/SEP-2106: a hand-written 2020-12 schema must reach tools/list as written.
  tool(
    'json_schema_2020_12_tool',
    {
      description: 'Has a JSON Schema 2020-12 input schema',
      inputSchema: fromJsonSchema({
        $schema: 'https://json-schema.org/draft/2020-12/schema',
        type: 'object',
        $defs: {
          address: {
            $anchor: 'addressDef',
            type: 'object',
            properties: { street: { type: 'string' }, city: { type: 'string' } },
          },
        },
        properties: {
          name: { type: 'string' },
          address: { $ref: '#/$defs/address' },
          contactMethod: { type: 'string', enum: ['phone', 'email'] },
          phone: { type: 'string' },
          email: { type: 'string' },
        },
        allOf: [{ anyOf: [{ required: ['phone'] }, { required: ['email'] }] }],
        if: { properties: { contactMethod: { const: 'phone' } }, required: ['contactMethod'] },
        // biome-ignore lint/suspicious/noThenProperty: `then` is a JSON Schema keyword.
        then: { required: ['phone'] },
        else: { required: ['email'] },
        additionalProperties: false,
      }),
    },
    async (args) => text(`JSON Schema 2020-12 tool called with: ${JSON.stringify(args)}`),
  );
  // SEP-2243: an argument mirrored into an Mcp-Param-* header, checked by the HTTP entry.
  tool(
    'test_x_mcp_header',
    {
      description: 'Has an argument mirrored into the Mcp-Param-Region header',
      inputSchema: fromJsonSchema<{ region?: string; level?: number }>({
        type: 'object',
        properties: {
          region: { type: 'string', 'x-mcp-header': 'Region' } as { type: 'string' },
          level: { type: 'integer' },
        },
      }),
    },
    async (args) => text(`region=${args.region ?? '<none>'}`),
  );

  // ===== 2026-07-28: per-request capabilities, logging, input-required results =====
  tool(
    'test_missing_capability',
    { description: 'Needs the sampling capability', inputSchema: noArgs },
    async (_args, ctx) =>
      ctx.mcpReq.inputResponses?.llm_answer === undefined
        ? inputRequired({
            inputRequests: {
              llm_answer: inputRequired.createMessage({
                messages: [{ role: 'user', content: { type: 'text', text: 'Reply with: pong' } }],
                maxTokens: 16,
              }),
            },
          })
        : text('sampling round-trip complete'),
  );
  tool(
    'test_streaming_elicitation',
    { description: 'Answers on a stream that carries no request', inputSchema: noArgs },
    async () => text('stream observed: result frames only'),
  );
  tool(
    'test_logging_tool',
    { description: 'Logs only when the request set a log level', inputSchema: noArgs },
    async (_args, ctx) => {
      await ctx.mcpReq.log('info', 'test_logging_tool ran');
      return text('logged through the request-scoped channel');
    },
  );
  tool(
    'test_input_required_result_elicitation',
    { description: 'Asks for a name (elicitation)', inputSchema: noArgs },
    async (_args, ctx) => {
      const name = acceptedContent<{ name: string }>(ctx.mcpReq.inputResponses, 'user_name')?.name;
      if (typeof name === 'string') return text(`Hello, ${name}!`);
      return inputRequired({ inputRequests: { user_name: ask('What is your name?', 'name') } });
    },
  );
  tool(
    'test_input_required_result_sampling',
    { description: 'Asks for an LLM completion (sampling)', inputSchema: noArgs },
    async (_args, ctx) => {
      const answer = ctx.mcpReq.inputResponses?.capital_question as
        | { content?: { text?: string } }
        | undefined;
      if (answer)
        return text(`Sampling response: ${answer.content?.text ?? JSON.stringify(answer)}`);
      return inputRequired({
        inputRequests: {
          capital_question: inputRequired.createMessage({
            messages: [
              { role: 'user', content: { type: 'text', text: 'What is the capital of France?' } },
            ],
            maxTokens: 100,
          }),
        },
      });
    },
  );
  tool(
    'test_input_required_result_list_roots',
    { description: 'Asks for the client roots', inputSchema: noArgs },
    async (_args, ctx) => {
      const roots = (ctx.mcpReq.inputResponses?.client_roots as { roots?: unknown[] } | undefined)
        ?.roots;
      if (Array.isArray(roots)) return text(`Client exposed ${roots.length} root(s)`);
      return inputRequired({ inputRequests: { client_roots: inputRequired.listRoots() } });
    },
  );
  tool(
    'test_input_required_result_request_state',
    { description: 'Round-trips a sealed requestState', inputSchema: noArgs },
    async (_args, ctx) => {
      const state = stateOf(ctx);
      const ok = acceptedContent<{ ok: boolean }>(ctx.mcpReq.inputResponses, 'confirm');
      if (state?.tool === 'request_state' && ok !== undefined)
        return text('state-ok: requestState verified and confirmation received');
      return inputRequired({
        inputRequests: { confirm: ask('Please confirm', 'ok', 'boolean') },
        requestState: seal({ tool: 'request_state', nonce: randomUUID() }),
      });
    },
  );
  tool(
    'test_input_required_result_multiple_inputs',
    { description: 'Asks for elicitation, sampling and roots at once', inputSchema: noArgs },
    async (_args, ctx) => {
      const responses = ctx.mcpReq.inputResponses;
      const name = acceptedContent<{ name: string }>(responses, 'user_name')?.name;
      const greeting = (responses?.greeting as { content?: { text?: string } } | undefined)?.content
        ?.text;
      const roots = (responses?.client_roots as { roots?: unknown[] } | undefined)?.roots;
      if (stateOf(ctx) && typeof name === 'string' && typeof greeting === 'string' && roots)
        return text(`${greeting} ${name}: ${roots.length} root(s) visible`);
      return inputRequired({
        inputRequests: {
          user_name: ask('What is your name?', 'name'),
          greeting: inputRequired.createMessage({
            messages: [{ role: 'user', content: { type: 'text', text: 'Generate a greeting' } }],
            maxTokens: 50,
          }),
          client_roots: inputRequired.listRoots(),
        },
        requestState: seal({ tool: 'multiple_inputs', nonce: randomUUID() }),
      });
    },
  );
  tool(
    'test_input_required_result_multi_round',
    { description: 'Asks twice, its state changing between rounds', inputSchema: noArgs },
    async (_args, ctx) => {
      const state = stateOf(ctx);
      const round = state?.tool === 'multi_round' ? Number(state.round) : 0;
      if (round === 0)
        return inputRequired({
          inputRequests: { step1: ask('Step 1: What is your name?', 'name') },
          requestState: seal({ tool: 'multi_round', round: 1, nonce: randomUUID() }),
        });
      if (round === 1) {
        const name = acceptedContent<{ name: string }>(ctx.mcpReq.inputResponses, 'step1')?.name;
        return inputRequired({
          inputRequests: { step2: ask('Step 2: What is your favorite color?', 'color') },
          requestState: seal({ tool: 'multi_round', round: 2, name, nonce: randomUUID() }),
        });
      }
      const color = acceptedContent<{ color: string }>(ctx.mcpReq.inputResponses, 'step2')?.color;
      return text(`Multi-round complete: ${String(state?.name)} likes ${color ?? 'unknown'}`);
    },
  );
  tool(
    'test_input_required_result_tampered_state',
    { description: 'Refuses a requestState that fails its check', inputSchema: noArgs },
    async (_args, ctx) => {
      if (stateOf(ctx) && acceptedContent(ctx.mcpReq.inputResponses, 'confirm') !== undefined)
        return text('integrity-ok: requestState verified');
      return inputRequired({
        inputRequests: { confirm: ask('Please confirm', 'ok', 'boolean') },
        requestState: seal({ tool: 'tampered_state', nonce: randomUUID() }),
      });
    },
  );
  tool(
    'test_input_required_result_capabilities',
    { description: 'Asks only for what the client declared it can answer', inputSchema: noArgs },
    async (_args, ctx) => {
      if (ctx.mcpReq.inputResponses !== undefined)
        return text('Capability-aware input requests fulfilled');
      const envelope = ctx.mcpReq.envelope as Record<string, Record<string, unknown>> | undefined;
      const declared = envelope?.[CLIENT_CAPABILITIES_META_KEY];
      const inputRequests: InputRequests = {};
      if (declared?.elicitation) inputRequests.user_name = ask('What is your name?', 'name');
      if (declared?.sampling)
        inputRequests.greeting = inputRequired.createMessage({
          messages: [
            { role: 'user', content: { type: 'text', text: 'Generate a short greeting' } },
          ],
          maxTokens: 50,
        });
      if (declared?.roots) inputRequests.client_roots = inputRequired.listRoots();
      if (Object.keys(inputRequests).length === 0)
        return text('No declared client capability supports an in-band input request');
      return inputRequired({ inputRequests });
    },
  );

  // ===== Resources =====
  server.registerResource(
    'static-text',
    'test://static-text',
    { title: 'Static Text Resource', mimeType: 'text/plain' },
    async () => ({
      contents: [
        {
          uri: 'test://static-text',
          mimeType: 'text/plain',
          text: 'This is the content of the static text resource.',
        },
      ],
    }),
  );
  server.registerResource(
    'static-binary',
    'test://static-binary',
    { title: 'Static Binary Resource', mimeType: 'image/png' },
    async () => ({
      contents: [{ uri: 'test://static-binary', mimeType: 'image/png', blob: PNG }],
    }),
  );
  server.registerResource(
    'template',
    new ResourceTemplate('test://template/{id}/data', { list: undefined }),
    { title: 'Resource Template', mimeType: 'application/json' },
    async (uri, { id }) => ({
      contents: [
        {
          uri: uri.href,
          mimeType: 'application/json',
          text: JSON.stringify({ id, templateTest: true, data: `Data for ID: ${id}` }),
        },
      ],
    }),
  );
  server.registerResource(
    'watched-resource',
    'test://watched-resource',
    { title: 'Watched Resource', mimeType: 'text/plain' },
    async () => ({
      contents: [
        {
          uri: 'test://watched-resource',
          mimeType: 'text/plain',
          text: 'Watched resource content',
        },
      ],
    }),
  );

  // ===== Prompts =====
  const userText = (t: string): GetPromptResult['messages'][number] => ({
    role: 'user',
    content: { type: 'text', text: t },
  });
  server.registerPrompt(
    'test_simple_prompt',
    { title: 'Simple Test Prompt', description: 'A prompt without arguments' },
    async () => ({ messages: [userText('This is a simple prompt for testing.')] }),
  );
  server.registerPrompt(
    'test_prompt_with_arguments',
    {
      title: 'Prompt With Arguments',
      description: 'A prompt with two arguments; arg1 completes',
      argsSchema: z.object({
        // Completion (completion/complete) offers the values starting with what was typed.
        arg1: completable(z.string(), (value) =>
          ['test-alpha', 'test-beta', 'other'].filter((v) => v.startsWith(value)),
        ),
        arg2: z.string(),
      }),
    },
    async ({ arg1, arg2 }) => ({
      messages: [userText(`Prompt with arguments: arg1='${arg1}', arg2='${arg2}'`)],
    }),
  );
  server.registerPrompt(
    'test_prompt_with_embedded_resource',
    {
      title: 'Prompt With Embedded Resource',
      description: 'A prompt embedding a resource',
      argsSchema: z.object({ resourceUri: z.string() }),
    },
    async ({ resourceUri }) => ({
      messages: [
        {
          role: 'user',
          content: {
            type: 'resource',
            resource: {
              uri: resourceUri,
              mimeType: 'text/plain',
              text: 'Embedded resource content for testing.',
            },
          },
        },
        userText('Please process the embedded resource above.'),
      ],
    }),
  );
  server.registerPrompt(
    'test_prompt_with_image',
    { title: 'Prompt With Image', description: 'A prompt with an image' },
    async () => ({
      messages: [
        { role: 'user', content: { type: 'image', data: PNG, mimeType: 'image/png' } },
        userText('Please analyze the image above.'),
      ],
    }),
  );
  server.registerPrompt(
    'test_input_required_result_prompt',
    { title: 'Prompt Needing Input', description: 'Asks for context before it renders' },
    async (ctx) => {
      const context = acceptedContent<{ context: string }>(
        (ctx as ServerContext).mcpReq.inputResponses,
        'user_context',
      )?.context;
      if (typeof context === 'string')
        return { messages: [userText(`Use the following context: ${context}`)] };
      return inputRequired({
        inputRequests: { user_context: ask('What context should the prompt use?', 'context') },
      }) as never;
    },
  );
}
