import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSim, type TestSim } from '../helpers/sim.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const cli = join(root, 'dist/cli.js');
const bin = (name: string) => join(root, 'node_modules/.bin', name);
const run = (cmd: string, args: string[], env: Record<string, string> = {}) =>
  promisify(execFile)(cmd, args, {
    cwd: root,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 120_000,
    maxBuffer: 16 << 20,
  }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code?: number; stdout?: string; stderr?: string }) => ({
      code: e.code ?? -1,
      stdout: e.stdout ?? '',
      stderr: e.stderr ?? '',
    }),
  );

let server: ChildProcess;
let url = '';
let sim: TestSim;
beforeAll(async () => {
  sim = await startTestSim({ clock: 'real', taskScale: 0.02, http: false });
  server = spawn(process.execPath, [cli, '--http', '--demo', '--port', '0'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  url = await new Promise<string>((resolve, reject) => {
    let text = '';
    server.stderr?.on('data', (c: Buffer) => {
      text += c.toString();
      const m = /(http:\/\/127\.0\.0\.1:\d+\/mcp)/.exec(text);
      if (m?.[1]) resolve(m[1]);
    });
    server.once('exit', (code) => reject(new Error(`server exited ${code}: ${text}`)));
  });
});
afterAll(async () => {
  server.kill('SIGTERM');
  await sim.close();
});

describe('protocol conformance', () => {
  it('passes every generic scenario of @modelcontextprotocol/conformance; only fixture scenarios are in the baseline', async () => {
    const out = mkdtempSync(join(tmpdir(), 'pmcp-conformance-'));
    const r = await run(bin('conformance'), [
      'server',
      '--url',
      url,
      '--expected-failures',
      'test/conformance/baseline.yml',
      '-o',
      out,
    ]);
    expect(r.stdout).toMatch(/✓ server-initialize/);
    expect(r.stdout).toMatch(/✓ dns-rebinding-protection/);
    expect(r.stdout).toMatch(/Baseline check passed/);
    expect(r.code, r.stdout.slice(-2_000)).toBe(0);
  });
});

describe('MCP Inspector CLI', () => {
  // The Inspector writes under $HOME.
  const env = { HOME: mkdtempSync(join(tmpdir(), 'pmcp-inspector-')) };

  // The demo and a configured cluster start the same way; both are checked.
  it.each([
    ['the demo', () => [process.execPath, cli, '--demo']],
    [
      'a configured cluster',
      () => [
        ...['-e', `PROXMOX_URL=${sim.url}`],
        ...['-e', `PROXMOX_API_TOKEN=${sim.token.id}=${sim.token.secret}`],
        ...['-e', `PROXMOX_TLS_FINGERPRINT=${sim.fingerprint ?? ''}`],
        process.execPath,
        cli,
      ],
    ],
  ])('lists tools and calls one over stdio, against %s', async (_what, launch) => {
    const list = await run(
      bin('mcp-inspector-cli'),
      ['--cli', ...launch(), '--method', 'tools/list'],
      env,
    );
    expect(list.code, list.stderr).toBe(0);
    expect(
      (JSON.parse(list.stdout) as { tools: { name: string }[] }).tools.map((t) => t.name),
    ).toContain('proxmox_list_vms');
    const call = await run(
      bin('mcp-inspector-cli'),
      [
        '--cli',
        ...launch(),
        '--method',
        'tools/call',
        '--tool-name',
        'proxmox_get_vm_status',
        '--tool-arg',
        'vmid=100',
      ],
      env,
    );
    expect(call.code, call.stderr).toBe(0);
    expect(JSON.parse(call.stdout)).toMatchObject({
      structuredContent: { vmid: 100, name: 'web-01' },
    });
  });

  it('lists tools over HTTP', async () => {
    const list = await run(
      bin('mcp-inspector-cli'),
      ['--cli', url, '--transport', 'http', '--method', 'tools/list'],
      env,
    );
    expect(list.code, list.stderr).toBe(0);
    expect((JSON.parse(list.stdout) as { tools: unknown[] }).tools.length).toBeGreaterThan(30);
  });
});
