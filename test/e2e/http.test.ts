import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const TOKEN = 'a-test-bearer-token-of-some-length';

/** Starts the built CLI over HTTP and reads its URL from stderr. */
function start(args: string[]): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [cli, '--demo', '--http', '--port', '0', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let text = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const url = /(http:\/\/[\d.]+:\d+\/mcp)/.exec(text)?.[1];
      if (url) resolve({ child, url });
    });
    child.once('exit', (code) => reject(new Error(`exited ${code}: ${text}`)));
  });
}

function raw(
  url: string,
  headers: Record<string, string>,
  body = '{}',
): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          ...headers,
        },
      },
      (res) => {
        let data = '';
        res.on('data', (c: Buffer) => {
          data += c.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const INIT = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: {
    protocolVersion: '2025-11-25',
    capabilities: {},
    clientInfo: { name: 'raw', version: '1' },
  },
});

let open: { child: ChildProcess; url: string };
let guarded: { child: ChildProcess; url: string };
beforeAll(async () => {
  [open, guarded] = await Promise.all([start([]), start(['--http-token', TOKEN])]);
});
afterAll(() => {
  open.child.kill('SIGTERM');
  guarded.child.kill('SIGTERM');
});

describe('Streamable HTTP', () => {
  it.each(['legacy', 'modern'] as const)('serves the tools in the %s era', async (era) => {
    const client = new Client(
      { name: 'http-e2e', version: '1' },
      era === 'modern' ? { versionNegotiation: { mode: { pin: '2026-07-28' } } } : {},
    );
    await client.connect(new StreamableHTTPClientTransport(new URL(open.url)));
    try {
      expect((await client.listTools()).tools.map((t) => t.name)).toContain('proxmox_list_vms');
      const r = await client.callTool({ name: 'proxmox_get_vm_status', arguments: { vmid: 100 } });
      expect(r.structuredContent).toMatchObject({ vmid: 100, name: 'web-01', status: 'running' });
    } finally {
      await client.close();
    }
  });

  it('asks a 2025-era client that can ask its user, in a session, and a no changes nothing', async () => {
    const asked: string[] = [];
    let reply: 'accept' | 'decline' = 'decline';
    const client = new Client(
      { name: 'http-e2e', version: '1' },
      { capabilities: { elicitation: { form: {} } } },
    );
    client.setRequestHandler('elicitation/create', async (req) => {
      asked.push(String((req.params as { message?: string }).message));
      return reply === 'accept'
        ? { action: 'accept', content: { confirm: true } }
        : { action: 'decline' };
    });
    const transport = new StreamableHTTPClientTransport(new URL(open.url));
    await client.connect(transport);
    try {
      expect(transport.sessionId).toMatch(/^[0-9a-f-]{36}$/);
      const declined = await client.callTool({ name: 'proxmox_stop_vm', arguments: { vmid: 106 } });
      expect(asked).toHaveLength(1);
      expect(asked[0]).toMatch(/106/);
      expect(declined.isError).toBe(true);
      expect((declined.content as { text: string }[])[0]?.text).toMatch(
        /declined it: nothing was done/,
      );
      const still = await client.callTool({
        name: 'proxmox_get_vm_status',
        arguments: { vmid: 106 },
      });
      expect(still.structuredContent).toMatchObject({ status: 'running' });
      reply = 'accept';
      const stopped = await client.callTool({ name: 'proxmox_stop_vm', arguments: { vmid: 106 } });
      expect(stopped.isError, JSON.stringify(stopped.content)).toBeFalsy();
      expect(asked).toHaveLength(2);
      await client.callTool({ name: 'proxmox_start_vm', arguments: { vmid: 106 } });
    } finally {
      await transport.terminateSession();
      await client.close();
    }
  });

  it('refuses a 2025-era client that cannot ask, until it passes confirm: true', async () => {
    const client = new Client({ name: 'http-e2e', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(open.url)));
    try {
      const refused = await client.callTool({ name: 'proxmox_stop_vm', arguments: { vmid: 105 } });
      expect(refused.isError).toBe(true);
      expect((refused.content as { text: string }[])[0]?.text).toMatch(
        /^Needs confirmation\..*call again with confirm: true/s,
      );
      const done = await client.callTool({
        name: 'proxmox_stop_vm',
        arguments: { vmid: 105, confirm: true },
      });
      expect(done.isError, JSON.stringify(done.content)).toBeFalsy();
      await client.callTool({ name: 'proxmox_start_vm', arguments: { vmid: 105 } });
    } finally {
      await client.close();
    }
  });

  it('ends a session on DELETE, and answers 404 for it after', async () => {
    const init = await fetch(open.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: INIT,
    });
    const session = init.headers.get('mcp-session-id') ?? '';
    expect(session).toMatch(/^[0-9a-f-]{36}$/);
    await init.body?.cancel();
    const headers = {
      'mcp-session-id': session,
      'mcp-protocol-version': '2025-11-25',
      accept: 'application/json, text/event-stream',
    };
    expect((await fetch(open.url, { method: 'DELETE', headers })).status).toBe(200);
    const after = await fetch(open.url, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'ping' }),
    });
    expect(after.status).toBe(404);
  });

  it('answers the health endpoint', async () => {
    const res = await fetch(open.url.replace('/mcp', '/health'));
    expect(res.status).toBe(200);
    // Up or not, and nothing about what runs there.
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('serves every address under the host names it is given, and no other', async () => {
    const named = await start([
      '--host',
      '0.0.0.0',
      '--allowed-hosts',
      'mcp.example.test',
      '--http-token',
      TOKEN,
    ]);
    try {
      const port = new URL(named.url).port;
      const url = `http://127.0.0.1:${port}/mcp`;
      const asNamed = await raw(
        url,
        { host: `mcp.example.test:${port}`, authorization: `Bearer ${TOKEN}` },
        INIT,
      );
      expect(asNamed.status).toBe(200);
      const asOther = await raw(
        url,
        { host: `evil.example.test:${port}`, authorization: `Bearer ${TOKEN}` },
        INIT,
      );
      expect(asOther.status).toBe(403);
    } finally {
      named.child.kill('SIGTERM');
    }
  });

  it('audits who acted, by the label of their token, with the session they acted in', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pmcp-http-'));
    const config = join(dir, 'config.yaml');
    const audit = join(dir, 'audit.jsonl');
    const alice = 'alice-token-0123456789abcdef';
    const bob = 'bob-token-0123456789abcdef';
    writeFileSync(
      config,
      `http:\n  tokens:\n    - { label: alice, token: ${alice} }\n    - { label: bob, token: ${bob} }\n`,
    );
    const team = await start(['--config', config, '--audit-log', audit]);
    const client = async (token: string, era: 'legacy' | 'modern') => {
      const c = new Client(
        { name: `team-${era}`, version: '1' },
        era === 'modern' ? { versionNegotiation: { mode: { pin: '2026-07-28' } } } : {},
      );
      const transport = new StreamableHTTPClientTransport(new URL(team.url), {
        requestInit: { headers: { authorization: `Bearer ${token}` } },
      });
      await c.connect(transport);
      return { c, transport };
    };
    try {
      const b = await client(bob, 'legacy');
      await b.c.callTool({ name: 'proxmox_stop_vm', arguments: { vmid: 105, confirm: true } });
      const a = await client(alice, 'modern');
      await a.c.callTool({ name: 'proxmox_start_vm', arguments: { vmid: 105, confirm: true } });
      const lines = readFileSync(audit, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines.find((l) => l.tool === 'proxmox_stop_vm')).toMatchObject({
        user: 'bob',
        session: b.transport.sessionId,
        client: { name: 'team-legacy' },
      });
      const started = lines.find((l) => l.tool === 'proxmox_start_vm');
      expect(started).toMatchObject({ user: 'alice', client: { name: 'team-modern' } });
      expect(started?.session).toBeUndefined();
      expect(readFileSync(audit, 'utf8')).not.toContain('token-0123456789');
      await Promise.all([b.c.close(), a.c.close()]);
    } finally {
      team.child.kill('SIGTERM');
    }
  });

  it('replays what a lost stream missed to a client that resumes it with Last-Event-ID', async () => {
    const json = {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    };
    const init = await fetch(open.url, { method: 'POST', headers: json, body: INIT });
    const session = init.headers.get('mcp-session-id') ?? '';
    await init.text();
    const headers = { ...json, 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' };
    const post = (body: unknown, signal?: AbortSignal) =>
      fetch(open.url, { method: 'POST', headers, body: JSON.stringify(body), signal });
    await (await post({ jsonrpc: '2.0', method: 'notifications/initialized' })).text();
    // A call that reports progress; its stream is dropped after the first event.
    const dropped = new AbortController();
    const call = await post(
      {
        jsonrpc: '2.0',
        id: 2,
        method: 'tools/call',
        params: {
          name: 'proxmox_shutdown_vm',
          arguments: { vmid: 106, shutdownTimeout: 2, forceStop: true, confirm: true },
          _meta: { progressToken: 'p' },
        },
      },
      dropped.signal,
    );
    const reader = call.body?.getReader();
    let first = '';
    while (reader && !/\nid: (\S+)/.test(`\n${first}`)) {
      const { value } = await reader.read();
      first += new TextDecoder().decode(value);
    }
    const lastId = /id: (\S+)/.exec(first)?.[1] ?? '';
    dropped.abort();
    // Until the server has seen the stream drop, it answers 409 (the stream is still taken).
    const resumed = await vi.waitFor(
      async () => {
        const res = await fetch(open.url, {
          method: 'GET',
          headers: { ...headers, accept: 'text/event-stream', 'last-event-id': lastId },
        });
        if (res.status !== 200) await res.body?.cancel();
        expect(res.status).toBe(200);
        return res;
        // The server notices the drop when it next writes to the stream: the task's next line.
      },
      { timeout: 15_000, interval: 100 },
    );
    const rest = resumed.body?.getReader();
    let replayed = '';
    while (rest && !/"id":2/.test(replayed)) {
      const { value, done } = await rest.read();
      if (done) break;
      replayed += new TextDecoder().decode(value);
    }
    await rest?.cancel();
    // The progress notes and the answer the dropped stream never delivered.
    expect(replayed).toMatch(/notifications\/progress.*task qmshutdown started/);
    expect(replayed).toMatch(/"id":2/);
    expect(replayed).toMatch(/Shutdown VM 106 \(legacy-app\) on pve2: done/);
    await fetch(open.url, { method: 'DELETE', headers });
    // Leave the demo as it was for the other tests.
    const client = new Client({ name: 'http-e2e', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(open.url)));
    await client.callTool({ name: 'proxmox_start_vm', arguments: { vmid: 106, confirm: true } });
    await client.close();
  });

  it('caps the open 2025-era sessions, and ends an idle one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pmcp-http-'));
    const config = join(dir, 'config.yaml');
    writeFileSync(config, 'http:\n  maxSessions: 1\n  sessionIdleSeconds: 1\n');
    const capped = await start(['--config', config]);
    try {
      const first = await fetch(capped.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
        },
        body: INIT,
      });
      expect(first.status).toBe(200);
      const session = first.headers.get('mcp-session-id') ?? '';
      await first.text();
      const second = await raw(capped.url, {}, INIT);
      expect(second.status).toBe(503);
      expect(second.body).toMatch(/Too many open sessions/);
      // Unused past its idle time, the session ends: room is made for a new one (the probe opens
      // sessions, and never touches the old one), and the old id is unknown.
      await vi.waitFor(async () => expect((await raw(capped.url, {}, INIT)).status).toBe(200), {
        timeout: 10_000,
        interval: 500,
      });
      const ping = JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'ping' });
      const old = await raw(
        capped.url,
        { 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' },
        ping,
      );
      expect(old.status).toBe(404);
    } finally {
      capped.child.kill('SIGTERM');
    }
  });

  it('cuts off a request whose body trickles in', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pmcp-http-'));
    const config = join(dir, 'config.yaml');
    writeFileSync(config, 'http:\n  requestTimeoutSeconds: 1\n');
    const slow = await start(['--config', config]);
    try {
      const { port } = new URL(slow.url);
      const answer = await new Promise<string>((resolve) => {
        let text = '';
        const socket = connect(Number(port), '127.0.0.1', () => {
          socket.write(
            `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n`,
          );
          // One byte every 200 ms: the whole body would take over three minutes.
          const drip = setInterval(() => socket.write('{'), 200);
          socket.once('close', () => {
            clearInterval(drip);
            resolve(text);
          });
        });
        socket.on('data', (c: Buffer) => {
          text += c.toString();
        });
        socket.on('error', () => undefined);
      });
      expect(answer).toMatch(/^HTTP\/1\.1 408/);
    } finally {
      slow.child.kill('SIGTERM');
    }
  }, 20_000);

  it('rejects a forged Host or Origin (DNS rebinding)', async () => {
    const host = new URL(open.url).host;
    expect((await raw(open.url, { host: 'evil.example.com' }, INIT)).status).toBe(403);
    expect((await raw(open.url, { host, origin: 'http://evil.example.com' }, INIT)).status).toBe(
      403,
    );
    expect((await raw(open.url, { host, origin: 'http://localhost:5173' }, INIT)).status).toBe(200);
  });

  it('requires the bearer token when one is set', async () => {
    const host = new URL(guarded.url).host;
    expect((await raw(guarded.url, { host }, INIT)).status).toBe(401);
    expect(
      (await raw(guarded.url, { host, authorization: 'Bearer wrong-token' }, INIT)).status,
    ).toBe(401);
    expect((await raw(guarded.url, { host, authorization: `Bearer ${TOKEN}` }, INIT)).status).toBe(
      200,
    );
    const client = new Client({ name: 'http-e2e', version: '1' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(guarded.url), {
        requestInit: { headers: { authorization: `Bearer ${TOKEN}` } },
      }),
    );
    expect((await client.listTools()).tools.length).toBeGreaterThan(30);
    await client.close();
  });

  it('refuses to start on a non-loopback address without a token', () => {
    const run = spawnSync(
      process.execPath,
      [cli, '--demo', '--http', '--host', '0.0.0.0', '--port', '0'],
      { encoding: 'utf8', timeout: 20_000 },
    );
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/needs a bearer token/);
  });

  it('lets a running call finish on SIGTERM, then exits', async () => {
    const own = await start([]);
    const client = new Client({ name: 'http-e2e', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(own.url)));
    // VM 106 ignores ACPI: this shutdown waits out its 2-second timeout (demo tasks run at half time).
    let started!: () => void;
    const running = new Promise<void>((resolve) => {
      started = resolve;
    });
    const call = client.callTool(
      {
        name: 'proxmox_shutdown_vm',
        // forceStop may end in a hard stop, so it needs a yes: this client cannot ask, so confirm.
        arguments: { vmid: 106, shutdownTimeout: 4, forceStop: true, confirm: true },
      },
      // The first progress note says the task runs.
      { onprogress: () => started() },
    );
    await running;
    const exited = new Promise<number | null>((resolve) => own.child.once('exit', resolve));
    own.child.kill('SIGTERM');
    const result = await call;
    expect(result.structuredContent).toMatchObject({ status: 'completed' });
    expect(await exited).toBe(0);
    await client.close().catch(() => undefined);
  });
});
