/**
 * The HTTP endpoint as an OAuth 2.1 resource server, against a real authorization server
 * (oidc-provider) on 127.0.0.1 issuing JWT access tokens by client credentials.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import Provider from 'oidc-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as { port: number };
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

let issuer: string;
let resource: string;
/** A private key as jose makes it. */
type Key = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

let signingKey: Key;
let authServer: Server;
let mcp: ChildProcess;
let audit: string;

beforeAll(async () => {
  const [asPort, mcpPort] = [await freePort(), await freePort()];
  issuer = `http://127.0.0.1:${asPort}`;
  resource = `http://127.0.0.1:${mcpPort}/mcp`;
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  signingKey = privateKey;
  const provider = new Provider(issuer, {
    jwks: { keys: [{ ...(await exportJWK(privateKey)), kid: 'k1', alg: 'RS256', use: 'sig' }] },
    clients: [
      {
        client_id: 'ops',
        client_secret: 'ops-secret',
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
      },
    ],
    ttl: { ClientCredentials: 300 },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => resource,
        getResourceServerInfo: (_ctx: unknown, audience: string) => ({
          scope: 'proxmox:read proxmox:write',
          audience,
          accessTokenFormat: 'jwt',
          accessTokenTTL: 300,
        }),
        useGrantedResource: () => true,
      },
    },
  });
  authServer = provider.listen(asPort, '127.0.0.1');
  const dir = mkdtempSync(join(tmpdir(), 'pmcp-oauth-'));
  const config = join(dir, 'config.yaml');
  audit = join(dir, 'audit.jsonl');
  writeFileSync(
    config,
    `http:\n  auth: oauth\n  oauth:\n    issuer: ${issuer}\n    resource: ${resource}\n`,
  );
  mcp = spawn(
    process.execPath,
    [cli, '--demo', '--http', '--port', String(mcpPort), '--config', config, '--audit-log', audit],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  await new Promise<void>((resolve, reject) => {
    let text = '';
    mcp.stderr?.on('data', (c: Buffer) => {
      text += c.toString();
      if (text.includes('/mcp')) resolve();
    });
    mcp.once('exit', (code) => reject(new Error(`exited ${code}: ${text}`)));
  });
});
afterAll(() => {
  mcp?.kill('SIGTERM');
  authServer?.close();
});

/** An access token from the authorization server, for these scopes. */
async function token(scope: string): Promise<string> {
  const res = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from('ops:ops-secret').toString('base64')}`,
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope, resource }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

async function connect(accessToken: string) {
  const client = new Client({ name: 'oauth-e2e', version: '1' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(resource), {
      requestInit: { headers: { authorization: `Bearer ${accessToken}` } },
    }),
  );
  return client;
}

const post = (accessToken?: string) =>
  fetch(resource, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...(accessToken ? { authorization: `Bearer ${accessToken}` } : {}),
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
  });

describe('OAuth 2.1 resource server', () => {
  it('publishes its metadata, and its challenge points there', async () => {
    const meta = await fetch(resource.replace('/mcp', '/.well-known/oauth-protected-resource/mcp'));
    expect(await meta.json()).toEqual({
      resource,
      authorization_servers: [issuer],
      scopes_supported: ['proxmox:read', 'proxmox:write'],
      bearer_methods_supported: ['header'],
    });
    const none = await post();
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe(
      `Bearer resource_metadata="${resource.replace('/mcp', '/.well-known/oauth-protected-resource/mcp')}"`,
    );
  });

  it('serves a valid token, and audits the call under its subject', async () => {
    const client = await connect(await token('proxmox:read proxmox:write'));
    try {
      const status = await client.callTool({
        name: 'proxmox_get_vm_status',
        arguments: { vmid: 100 },
      });
      expect(status.structuredContent).toMatchObject({ vmid: 100, status: 'running' });
      const stop = await client.callTool({
        name: 'proxmox_stop_vm',
        arguments: { vmid: 105, confirm: true },
      });
      expect(stop.isError, JSON.stringify(stop.content)).toBeFalsy();
      const line = readFileSync(audit, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l.tool === 'proxmox_stop_vm');
      expect(line).toMatchObject({ user: 'ops', outcome: 'ok' });
      await client.callTool({ name: 'proxmox_start_vm', arguments: { vmid: 105, confirm: true } });
    } finally {
      await client.close();
    }
  });

  it('lets a read-only token read, and refuses it a change', async () => {
    const client = await connect(await token('proxmox:read'));
    try {
      expect(
        (await client.callTool({ name: 'proxmox_list_vms', arguments: {} })).isError,
      ).toBeFalsy();
      const stop = await client.callTool({
        name: 'proxmox_stop_vm',
        arguments: { vmid: 105, confirm: true },
      });
      expect(stop.isError).toBe(true);
      expect((stop.content as { text: string }[])[0]?.text).toBe(
        'This access token does not allow changes: it needs the scope proxmox:write (it has proxmox:read).',
      );
    } finally {
      await client.close();
    }
  });

  it('refuses an expired token, one for another audience, and a forged one', async () => {
    const sign = (key: Key, claims: { aud: string; exp: number }) =>
      new SignJWT({ scope: 'proxmox:read proxmox:write', client_id: 'ops' })
        .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
        .setIssuer(issuer)
        .setSubject('ops')
        .setAudience(claims.aud)
        .setIssuedAt()
        .setExpirationTime(claims.exp)
        .sign(key);
    const now = Math.floor(Date.now() / 1000);
    const { privateKey: other } = await generateKeyPair('RS256');
    const tokens = {
      expired: await sign(signingKey, { aud: resource, exp: now - 60 }),
      audience: await sign(signingKey, { aud: 'https://elsewhere.example/mcp', exp: now + 300 }),
      forged: await sign(other, { aud: resource, exp: now + 300 }),
    };
    for (const [what, t] of Object.entries(tokens)) {
      const res = await post(t);
      expect(res.status, what).toBe(401);
      expect(res.headers.get('www-authenticate'), what).toMatch(/error="invalid_token"/);
    }
    // The same claims, rightly signed and current, pass: the refusals were for what they said.
    expect((await post(await sign(signingKey, { aud: resource, exp: now + 300 }))).status).not.toBe(
      401,
    );
  });

  it('answers 503, not 401, while the authorization server cannot be reached', async () => {
    const [gone, port] = [await freePort(), await freePort()];
    const dir = mkdtempSync(join(tmpdir(), 'pmcp-oauth-'));
    const config = join(dir, 'config.yaml');
    const here = `http://127.0.0.1:${port}/mcp`;
    writeFileSync(
      config,
      `http:\n  auth: oauth\n  oauth:\n    issuer: http://127.0.0.1:${gone}\n    resource: ${here}\n`,
    );
    const orphan = spawn(
      process.execPath,
      [cli, '--demo', '--http', '--port', String(port), '--config', config],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    try {
      await new Promise<void>((resolve) => {
        let text = '';
        orphan.stderr?.on('data', (c: Buffer) => {
          text += c.toString();
          if (text.includes('/mcp')) resolve();
        });
      });
      const res = await fetch(here, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          authorization: `Bearer ${await token('proxmox:read')}`,
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
      });
      expect(res.status).toBe(503);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(
        /authorization server cannot be reached/,
      );
    } finally {
      orphan.kill('SIGTERM');
    }
  });
});
