/**
 * Hostile lines at the stdio start: whatever comes,
 * the process keeps serving, answers each request at most once and with well-formed JSON-RPC, and
 * still answers a plain request afterwards.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSim, type TestSim } from '../helpers/sim.js';

const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

let sim: TestSim;
beforeAll(async () => {
  sim = await startTestSim({ clock: 'real', taskScale: 0.02, http: false });
});
afterAll(() => sim.close());

const initialize = (protocolVersion: unknown) => ({
  protocolVersion,
  capabilities: {},
  clientInfo: { name: 'fuzz', version: '1' },
});

/** One line a client might send, given the id to use when it is a request. */
const line: fc.Arbitrary<(id: number) => string> = fc.oneof(
  fc
    .constantFrom('2025-11-25', '2024-11-05', '2026-07-28', '1999-01-01', 7)
    .map(
      (v) => (id: number) =>
        JSON.stringify({ jsonrpc: '2.0', id, method: 'initialize', params: initialize(v) }),
    ),
  fc
    .record({
      method: fc.constantFrom(
        'tools/list',
        'prompts/list',
        'resources/list',
        'resources/templates/list',
        'ping',
        'tools/call',
        'logging/setLevel',
        'no/such/method',
      ),
      params: fc.option(
        fc.oneof(
          fc.constant({ cursor: 'abc' }),
          fc.constant({ _meta: { progressToken: 1 } }),
          fc.constant({ _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' } }),
          fc.constant([1, 2]),
          fc.constant('text'),
        ),
        { nil: undefined },
      ),
    })
    .map(
      ({ method, params }) =>
        (id: number) =>
          JSON.stringify({ jsonrpc: '2.0', id, method, params }),
    ),
  fc
    .constantFrom(
      '{"jsonrpc":"2.0","method":"notifications/initialized"}',
      '{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}',
      '{"jsonrpc": "2.0", "id": 1, "method": ',
      '[{"jsonrpc":"2.0","id":99,"method":"ping"}]',
      '{"jsonrpc":"2.0","id":null,"method":"ping"}',
      '{"jsonrpc":"2.0","id":{"a":1},"method":"tools/list"}',
      '{"jsonrpc":"1.0","id":98,"method":"ping"}',
      '{"id":97,"method":"tools/list"}',
      'null',
      '42',
      '"\u202e\u0000"',
      `{"jsonrpc":"2.0","method":"${'x'.repeat(50_000)}"}`,
      '',
      '   ',
    )
    .map((text) => () => text),
);

/** Sends the lines, then initialize (when none was answered) and a ping; collects every answer. */
async function session(lines: ((id: number) => string)[]) {
  const child = spawn(process.execPath, [cli], {
    env: {
      PATH: process.env.PATH ?? '',
      PROXMOX_URL: sim.url,
      PROXMOX_API_TOKEN: `${sim.token.id}=${sim.token.secret}`,
      PROXMOX_TLS_FINGERPRINT: sim.fingerprint ?? '',
      PROXMOX_LOG_LEVEL: 'error',
    },
  });
  const answers: { id?: unknown; jsonrpc?: unknown; result?: unknown; error?: unknown }[] = [];
  let text = '';
  let onAnswer = () => {};
  child.stdout.on('data', (c: Buffer) => {
    text += c.toString();
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n')) {
      answers.push(JSON.parse(text.slice(0, nl)));
      text = text.slice(nl + 1);
      onAnswer();
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const waitFor = (id: number) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to ${id}`)), 15_000);
      onAnswer = () => {
        if (answers.some((a) => a.id === id)) {
          clearTimeout(timer);
          resolve();
        }
      };
      onAnswer();
    });
  for (const [i, make] of lines.entries()) child.stdin.write(`${make(i + 1)}\n`);
  child.stdin.write(
    `${JSON.stringify({ jsonrpc: '2.0', id: 1000, method: 'initialize', params: initialize('2025-11-25') })}\n`,
  );
  child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id: 1001, method: 'ping' })}\n`);
  await waitFor(1001);
  child.stdin.end();
  return { answers, code: await exited };
}

describe('the stdio start under hostile lines', () => {
  it('keeps serving, answers each request at most once, and always in JSON-RPC', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(line, { maxLength: 6 }), async (lines) => {
        const { answers, code } = await session(lines);
        expect(code).toBe(0);
        for (const a of answers) {
          expect(a.jsonrpc).toBe('2.0');
          expect('result' in a || 'error' in a).toBe(true);
        }
        const ids = answers.map((a) => a.id).filter((id) => id !== null && id !== undefined);
        expect(new Set(ids).size).toBe(ids.length);
        expect(answers.find((a) => a.id === 1001)).toMatchObject({ result: {} });
      }),
      { numRuns: 25 },
    );
  }, 120_000);
});
