import { McpServer } from '@modelcontextprotocol/server';
import { describe, expect, it } from 'vitest';
import { RecentEvents, Sessions } from '../../src/transports/sessions.js';

const initialize = () =>
  new Request('http://127.0.0.1/mcp', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: {
        protocolVersion: '2025-11-25',
        capabilities: {},
        clientInfo: { name: 't', version: '1' },
      },
    }),
  });
const ping = (session: string) =>
  new Request('http://127.0.0.1/mcp', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-session-id': session,
      'mcp-protocol-version': '2025-11-25',
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'ping' }),
  });

describe('2025-era sessions', () => {
  it('are capped, and end when idle too long', async () => {
    const sessions = new Sessions(() => new McpServer({ name: 't', version: '1' }), {
      max: 1,
      idleMs: 60_000,
      onerror: () => undefined,
    });
    try {
      const first = await sessions.fetch(initialize());
      const id = first.headers.get('mcp-session-id') ?? '';
      expect(id).not.toBe('');
      expect(sessions.size).toBe(1);
      const second = await sessions.fetch(initialize());
      expect(second.status).toBe(503);
      expect(((await second.json()) as { error: { message: string } }).error.message).toMatch(
        /Too many open sessions/,
      );
      expect((await sessions.fetch(ping(id))).status).toBe(200);
      // An hour later, unused: the sweep ends it, and its id is unknown from then on.
      sessions.sweep(Date.now() + 3_600_000);
      expect(sessions.size).toBe(0);
      expect((await sessions.fetch(ping(id))).status).toBe(404);
      expect((await sessions.fetch(initialize())).status).toBe(200);
    } finally {
      await sessions.close();
    }
  });

  it('opens none for a request that is not an initialize', async () => {
    const sessions = new Sessions(() => new McpServer({ name: 't', version: '1' }), {
      max: 5,
      idleMs: 60_000,
      onerror: () => undefined,
    });
    try {
      const stray = new Request('http://127.0.0.1/mcp', {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/list' }),
      });
      expect((await sessions.fetch(stray)).status).toBeGreaterThanOrEqual(400);
      expect(sessions.size).toBe(0);
    } finally {
      await sessions.close();
    }
  });
});

describe("a session's recent events", () => {
  const note = (n: number) => ({
    jsonrpc: '2.0' as const,
    method: 'notifications/message',
    params: { n },
  });

  it('replays what a stream sent after the last event its client saw', async () => {
    const store = new RecentEvents(10);
    const a1 = await store.storeEvent('a', note(1));
    await store.storeEvent('b', note(2));
    const a3 = await store.storeEvent('a', note(3));
    await store.storeEvent('a', note(4));
    const sent: [string, unknown][] = [];
    const stream = await store.replayEventsAfter(a1, {
      send: async (id, message) => {
        sent.push([id, (message as unknown as { params: { n: number } }).params.n]);
      },
    });
    expect(stream).toBe('a');
    expect(sent.map(([, n]) => n)).toEqual([3, 4]);
    expect(sent[0]?.[0]).toBe(a3);
    expect(await store.getStreamIdForEventId(a3)).toBe('a');
  });

  it('keeps the last events only, and resumes nothing from one it dropped', async () => {
    const store = new RecentEvents(2);
    const first = await store.storeEvent('a', note(1));
    await store.storeEvent('a', note(2));
    await store.storeEvent('a', note(3));
    const sent: unknown[] = [];
    expect(
      await store.replayEventsAfter(first, { send: async (_id, m) => void sent.push(m) }),
    ).toBe('');
    expect(sent).toEqual([]);
  });
});
