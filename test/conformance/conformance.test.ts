/**
 * Third-party checkers against proxmox-mcp: the MCP conformance suite, for the 2025-11-25 and the
 * 2026-07-28 requirements, and the MCP Inspector's CLI. Both need a newer Node than the package
 * supports (the suite >= 22, the Inspector >= 22.19); scripts/node-binary.ts provides it.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { nodeAtLeast } from '../../scripts/node-binary.js';
import { startTestSim, type TestSim } from '../helpers/sim.js';
import { type FixtureServer, startFixtureServer } from './fixture-server.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const cli = join(root, 'dist/cli.js');
const pkg = (dir: string) => join(root, 'node_modules', dir);
const versionOf = (dir: string) =>
  (JSON.parse(readFileSync(join(pkg(dir), 'package.json'), 'utf8')) as { version: string }).version;

// Installed on first use (a few seconds), then kept in node_modules/.cache.
const node22 = nodeAtLeast('22.19.0');
// scripts/node-versions.ts runs the whole suite again on Node 22 and 24. The checkers run on
// Node 22 whatever the pass, and the product's Node is what the rest of the suite covers: their
// second and third runs would add half a minute and nothing new.
const repeat = Boolean(process.env.NODE_VERSIONS_RUN);

const run = (args: string[], env: Record<string, string> = {}) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      node22 as string,
      args,
      {
        cwd: root,
        env: { ...process.env, ...env },
        encoding: 'utf8',
        timeout: 120_000,
        maxBuffer: 32 << 20,
      },
      // A timeout or a signal has no exit code: -1.
      (err, stdout, stderr) =>
        resolve({ code: !err ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr }),
    );
  });

describe.skipIf(!node22 || repeat)('protocol conformance', () => {
  const STABLE = '@modelcontextprotocol/conformance';
  const NEXT = 'conformance-next';
  let fixtures: FixtureServer;
  const out = mkdtempSync(join(tmpdir(), 'pmcp-conformance-'));
  // The suite sends malformed requests on purpose, which the endpoint logs as it refuses them:
  // kept for a failure's message rather than printed.
  const logged: string[] = [];
  beforeAll(async () => {
    fixtures = await startFixtureServer((m) => logged.push(m));
  });
  afterAll(async () => {
    await fixtures?.close();
    rmSync(out, { recursive: true, force: true });
  });

  /** What a revision requires of a server, from the suite's own frozen requirement files. */
  const required = (revision: string) =>
    (
      parse(readFileSync(join(pkg(NEXT), 'requirements', `${revision}.yaml`), 'utf8')) as {
        server: string[];
      }
    ).server;

  // The latest release, which knows the 2025-11-25 scenarios, and the prerelease with the frozen
  // requirement sets of both revisions, each run at its own wire (handshake, or none).
  it.each([
    [`${versionOf(STABLE)}, the latest release`, STABLE, [], '2025-11-25'],
    [
      `${versionOf(NEXT)} --requirements 2025-11-25`,
      NEXT,
      ['--requirements', '2025-11-25'],
      '2025-11-25',
    ],
    [
      `${versionOf(NEXT)} --requirements 2026-07-28`,
      NEXT,
      ['--requirements', '2026-07-28'],
      '2026-07-28',
    ],
  ])(
    'conformance %s: every scenario passes but the baseline',
    async (_title, suite, extra, revision) => {
      const baseline = `test/conformance/baseline-${revision}.yml`;
      const { server: excused, unscored = [] } = parse(
        readFileSync(join(root, baseline), 'utf8'),
      ) as {
        server: string[];
        unscored?: string[];
      };
      const dir = mkdtempSync(join(out, 'run-'));
      const r = await run([
        join(pkg(suite), 'dist/index.js'),
        'server',
        '--url',
        fixtures.url,
        ...extra,
        '--expected-failures',
        baseline,
        '-o',
        dir,
      ]);
      const context = `${r.stdout.slice(-3_000)}${r.stderr}\nendpoint log:\n${logged.slice(-20).join('\n')}`;
      // The suite's own verdict: no unexpected failure, and no baseline entry that now passes.
      expect(r.stdout, context).toMatch(/Baseline check passed/);
      expect(r.code, context).toBe(0);

      // "✓ name: 3 passed, 0 failed" for each scenario run.
      const scenarios = new Map(
        [...r.stdout.matchAll(/^[✓✗] (\S+): (\d+) passed, (\d+) failed$/gmu)].map((m) => [
          m[1] as string,
          { passed: Number(m[2]), failed: Number(m[3]) },
        ]),
      );
      // Every scenario the revision requires ran (the stable release has no requirement sets: it
      // must still cover what 2025-11-25 requires).
      expect([...scenarios.keys()]).toEqual(expect.arrayContaining(required(revision)));
      // None passes for want of a fixture, or unexcused: those that do not pass are exactly the
      // scenarios excused whole and the unscored ones listed in the baseline file.
      const notPassing = [...scenarios]
        .filter(([, s]) => s.failed > 0 || s.passed === 0)
        .map(([name]) => name);
      const wholesale = excused.filter((e) => !e.includes(':'));
      expect(notPassing.sort(), context).toEqual([...wholesale, ...unscored].sort());
    },
    180_000,
  );

  it('the fixtures are test code only: the built package holds none of them', () => {
    const files = (d: string): string[] =>
      readdirSync(d, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? files(join(d, e.name)) : [join(d, e.name)],
      );
    const shipped = files(join(root, 'dist')).filter((f) => f.endsWith('.js'));
    expect(shipped.length).toBeGreaterThan(1);
    for (const file of shipped)
      expect(readFileSync(file, 'utf8'), file).not.toMatch(/test_simple_text|test:\/\/static/);
  });
});

describe.skipIf(!node22 || repeat)('MCP Inspector CLI', () => {
  // The Inspector's CLI entry (bin `mcp-inspector --cli`). Its postinstall script only installs
  // the clients' dependencies in a source checkout and does nothing in node_modules: the
  // published package runs without it.
  const inspector = join(pkg('@modelcontextprotocol/inspector'), 'clients/launcher/build/index.js');
  // The Inspector keeps its catalog and secrets (the -e values among them) under $HOME.
  const home = mkdtempSync(join(tmpdir(), 'pmcp-inspector-'));
  const env = { HOME: home };
  const inspect = (args: string[]) =>
    run([inspector, '--cli', ...args, '--format', 'json', '--connect-timeout', '20000'], env);
  let sim: TestSim;
  let http: ReturnType<typeof spawn>;
  let url = '';
  beforeAll(async () => {
    sim = await startTestSim({ clock: 'real', taskScale: 0.02, http: false });
    http = spawn(process.execPath, [cli, '--http', '--demo', '--port', '0'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    url = await new Promise<string>((resolve, reject) => {
      let text = '';
      http.stderr?.on('data', (c: Buffer) => {
        text += c.toString();
        const m = /(http:\/\/127\.0\.0\.1:\d+\/mcp)/.exec(text);
        if (m?.[1]) resolve(m[1]);
      });
      http.once('exit', (code) => reject(new Error(`server exited ${code}: ${text}`)));
    });
  });
  afterAll(async () => {
    http?.kill('SIGTERM');
    await sim?.close();
    rmSync(home, { recursive: true, force: true });
  });

  it('is the v2 Inspector (2.12 or later), on a Node it supports (22.19 or later)', async () => {
    const [major = 0, minor = 0] = versionOf('@modelcontextprotocol/inspector')
      .split('.')
      .map(Number);
    expect(major * 100 + minor).toBeGreaterThanOrEqual(212);
    const r = await run(['-p', 'process.versions.node']);
    const [nodeMajor = 0, nodeMinor = 0] = r.stdout.split('.').map(Number);
    expect(nodeMajor * 100 + nodeMinor, r.stdout).toBeGreaterThanOrEqual(2219);
  });

  // The demo and a configured cluster (its settings in the environment) over stdio, and the
  // demo over Streamable HTTP: the built package, as clients start it.
  const targets = {
    'the demo over stdio': () => [process.execPath, cli, '--demo'],
    'a configured cluster over stdio': () => [
      ...['-e', `PROXMOX_URL=${sim.url}`],
      ...['-e', `PROXMOX_API_TOKEN=${sim.token.id}=${sim.token.secret}`],
      ...['-e', `PROXMOX_TLS_FINGERPRINT=${sim.fingerprint ?? ''}`],
      process.execPath,
      cli,
    ],
    'the demo over HTTP': () => [url, '--transport', 'http'],
  };
  // Both protocol eras: the 2025-11-25 handshake, and 2026-07-28 requests without one.
  describe.each(['legacy', 'modern'])('protocol era %s', (era) => {
    it.each(Object.entries(targets))(
      'lists tools and calls one, against %s',
      async (_w, target) => {
        const list = await inspect([
          ...target(),
          '--protocol-era',
          era,
          '--method',
          'tools/list',
          // Tool schemas with a portability problem of error severity fail the listing (exit 6).
          '--strict',
        ]);
        expect(list.code, list.stderr).toBe(0);
        expect(list.stderr).toMatch(/\b0 errors\b/);
        const tools = (JSON.parse(list.stdout) as { result: { tools: { name: string }[] } }).result
          .tools;
        expect(tools.map((t) => t.name)).toContain('proxmox_list_vms');
        expect(tools.length).toBeGreaterThan(30);

        const call = await inspect([
          ...target(),
          '--protocol-era',
          era,
          '--method',
          'tools/call',
          '--tool-name',
          'proxmox_get_vm_status',
          '--tool-arg',
          'vmid=100',
        ]);
        expect(call.code, call.stderr).toBe(0);
        const { result } = JSON.parse(call.stdout) as {
          result: { _meta?: Record<string, unknown> };
        };
        expect(result).toMatchObject({
          structuredContent: { vmid: 100, name: 'web-01', status: 'running' },
        });
        // Only a 2026-07-28 result names the server (there was no handshake to do it): the era
        // asked for is the era spoken.
        expect(Boolean(result._meta?.['io.modelcontextprotocol/serverInfo'])).toBe(
          era === 'modern',
        );
      },
      60_000,
    );
  });
});
