import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { PveClient } from '../../src/pve/index.js';

const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

/** Starts `proxmox-mcp simulator` and reads what it prints until the ready line. */
function start(args: string[]): Promise<{ child: ChildProcess; out: Record<string, string> }> {
  const child = spawn(process.execPath, [cli, 'simulator', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let text = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (!text.includes('Press Ctrl+C')) return;
      const out: Record<string, string> = {};
      for (const line of text.split('\n')) {
        const m = /^([A-Za-z ]+):\s+(.+)$/.exec(line);
        if (m) out[(m[1] as string).trim()] = (m[2] as string).trim();
      }
      resolve({ child, out });
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code}: ${text}`)));
  });
}

describe('proxmox-mcp simulator', () => {
  it('serves the small cluster over HTTPS; the printed token and fingerprint reach /cluster/resources', async () => {
    const { child, out } = await start([]);
    expect(out.URL).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/api2\/json$/);
    expect(out['API token']).toBe('root@pam!simulator');
    expect(out.Secret).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    expect(out.Header).toBe(`Authorization: PVEAPIToken=root@pam!simulator=${out.Secret}`);
    expect(out.Fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    const client = new PveClient({
      url: out.URL ?? '',
      auth: { tokenId: 'root@pam!simulator', secret: out.Secret ?? '' },
      tls: { fingerprint: out.Fingerprint },
    });
    try {
      const rows = await client.call('GET /cluster/resources', {});
      expect(rows.filter((r) => r.type === 'qemu' || r.type === 'lxc')).toHaveLength(13);
    } finally {
      await client.close();
    }
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('serves plain HTTP with --http and injects faults from flags', async () => {
    const { out } = await start(['--http', '--fault', 'status:code=503,path=/version,times=1']);
    expect(out.URL).toMatch(/^http:\/\//);
    const client = new PveClient({
      url: out.URL ?? '',
      auth: { tokenId: 'root@pam!simulator', secret: out.Secret ?? '' },
      retry: { read: { attempts: 1 } },
    });
    try {
      await expect(client.call('GET /version', {})).rejects.toThrow(/Service Unavailable/);
      expect((await client.call('GET /version', {})).version).toBe('9.1.3');
    } finally {
      await client.close();
    }
  });

  it('writes the dataset and nothing else when asked, and refuses bad flags', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pmcp-sim-'));
    const file = join(dir, 'small.json');
    const run = spawnSync(process.execPath, [cli, 'simulator', '--write-dataset', file], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(run.status).toBe(0);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ version: 1, cluster: 'demo' });
    const bad = spawnSync(process.execPath, [cli, 'simulator', '--port', 'x'], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/--port must be 0 to 65535/);
  });
});
