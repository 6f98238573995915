/**
 * The stdio start, seen from the wire: a checked configuration before any answer, each request
 * answered once, input it cannot read skipped, both protocol eras, and the client asked for a
 * confirmation.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSim, type TestSim } from '../helpers/sim.js';

const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

let sim: TestSim;
let env: Record<string, string>;
beforeAll(async () => {
  sim = await startTestSim({ clock: 'real', taskScale: 0.02, http: false });
  env = {
    PATH: process.env.PATH ?? '',
    PROXMOX_URL: sim.url,
    PROXMOX_API_TOKEN: `${sim.token.id}=${sim.token.secret}`,
    PROXMOX_TLS_FINGERPRINT: sim.fingerprint ?? '',
    PROXMOX_LOG_LEVEL: 'error',
  };
});
afterAll(() => sim.close());

interface Answer {
  id: number;
  result?: Record<string, unknown>;
  error?: { code: number; message: string };
}

/** The CLI over raw JSON-RPC lines, to see exactly what it writes. */
function rawClient(extraEnv: Record<string, string> = {}) {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [cli], {
    env: { ...env, ...extraEnv },
  });
  const answers: Answer[] = [];
  const waiters: { id: number; resolve: (a: Answer) => void }[] = [];
  let text = '';
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  child.stdout.on('data', (c: Buffer) => {
    text += c.toString();
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n')) {
      const answer = JSON.parse(text.slice(0, nl)) as Answer;
      text = text.slice(nl + 1);
      answers.push(answer);
      for (const w of waiters.filter((w) => w.id === answer.id)) w.resolve(answer);
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  let next = 1;
  return {
    answers,
    exited,
    stderr: () => stderr,
    write(line: string) {
      child.stdin.write(`${line}\n`);
    },
    notify(method: string) {
      child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', method })}\n`);
    },
    request(method: string, params?: Record<string, unknown>): Promise<Answer> {
      const id = next++;
      const answer = new Promise<Answer>((resolve) => waiters.push({ id, resolve }));
      child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id, method, params })}\n`);
      return answer;
    },
    async close() {
      child.stdin.end();
      return exited;
    },
  };
}

const initialize = (protocolVersion: string) => ({
  protocolVersion,
  capabilities: {},
  clientInfo: { name: 'e2e', version: '1' },
});

describe('the stdio start', () => {
  it('answers each request once', async () => {
    const c = rawClient();
    try {
      await c.request('initialize', initialize('2025-11-25'));
      c.notify('notifications/initialized');
      await c.request('tools/list');
      await c.request('ping');
      const call = await c.request('tools/call', {
        name: 'proxmox_get_vm_status',
        arguments: { vmid: 100 },
      });
      expect(call.result).toMatchObject({ structuredContent: { vmid: 100, status: 'running' } });
      const again = await c.request('tools/list');
      expect((again.result as { tools: unknown[] }).tools.length).toBeGreaterThan(30);
      await c.request('ping');
      expect(c.answers.map((a) => a.id)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(c.answers.every((a) => !a.error)).toBe(true);
    } finally {
      expect(await c.close()).toBe(0);
    }
  });

  it('skips input it cannot read', async () => {
    const c = rawClient();
    try {
      c.write('{"jsonrpc": "2.0", "id": 1, "method": ');
      const init = await c.request('initialize', initialize('2025-11-25'));
      expect(init.result).toMatchObject({ protocolVersion: '2025-11-25' });
      c.notify('notifications/initialized');
      const list = await c.request('tools/list');
      expect((list.result as { tools: unknown[] }).tools.length).toBeGreaterThan(30);
      expect(c.answers.map((a) => a.id)).toEqual([1, 2]);
    } finally {
      await c.close();
    }
  });

  it('asks the client for confirmation when it declares elicitation', async () => {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [cli],
      env,
      stderr: 'pipe',
    });
    const client = new Client(
      { name: 'e2e', version: '1' },
      { capabilities: { elicitation: { form: {} } } },
    );
    const asked: string[] = [];
    client.setRequestHandler('elicitation/create', async (req) => {
      asked.push(String((req.params as { message?: string }).message));
      return { action: 'accept', content: { confirm: true } };
    });
    await client.connect(transport);
    try {
      await client.listTools();
      const result = await client.callTool({
        name: 'proxmox_stop_vm',
        arguments: { vmid: 101 },
      });
      // The server knew the client could be asked: it asked instead of refusing.
      expect(asked).toHaveLength(1);
      expect(asked[0]).toMatch(/101/);
      expect(result.isError).toBeFalsy();
      expect(sim.sim.cluster.guests.get(101)?.running).toBe(false);
    } finally {
      await client.close();
    }
  });

  it('serves a client of the 2026-07-28 era', async () => {
    const transport = new StdioClientTransport({ command: process.execPath, args: [cli], env });
    const client = new Client(
      { name: 'e2e', version: '1' },
      { versionNegotiation: { mode: { pin: '2026-07-28' } } },
    );
    await client.connect(transport);
    try {
      expect((await client.listTools()).tools.map((t) => t.name)).toContain('proxmox_list_vms');
      const result = await client.callTool({
        name: 'proxmox_get_vm_status',
        arguments: { vmid: 100 },
      });
      expect(result.isError).toBeFalsy();
    } finally {
      await client.close();
    }
  });

  it('stops before answering anything when the audit log cannot be opened', async () => {
    const c = rawClient({ PROXMOX_AUDIT_LOG: '/nonexistent-dir/audit.jsonl' });
    c.write(
      JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: initialize('2025-11-25'),
      }),
    );
    expect(await c.exited).toBe(2);
    expect(c.answers).toEqual([]);
    expect(c.stderr()).toMatch(
      /auditLog .*cannot open '\/nonexistent-dir\/audit.jsonl' \(ENOENT\)/,
    );
  });

  it('stops before answering anything when a setting is wrong, naming it but not its value', async () => {
    const c = rawClient({ PROXMOX_API_TOKEN: 'not-a-token' });
    c.write(
      JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: initialize('2025-11-25'),
      }),
    );
    expect(await c.exited).toBe(2);
    expect(c.answers).toEqual([]);
    expect(c.stderr()).toMatch(/PROXMOX_API_TOKEN.*user@realm!tokenid=secret/);
    expect(c.stderr()).not.toContain('not-a-token');
  });
});
