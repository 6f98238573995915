/**
 * The rails, tried on the built server as an assistant would: a real MCP client over stdio, a
 * config file with a scope and protection, and the simulator's state and request log as witness.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withoutPoolAudit } from '../helpers/acl.js';
import { startTestSim, type TestSim } from '../helpers/sim.js';

const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const BACKUP_100 = 'backup-nfs:backup/vzdump-qemu-100-2026_11_20-01_00_03.vma.zst';

let sim: TestSim;
let client: Client;
let audit: string;

beforeAll(async () => {
  sim = await startTestSim({ clock: 'real', taskScale: 0.02, http: false });
  const dir = mkdtempSync(join(tmpdir(), 'pmcp-rails-'));
  audit = join(dir, 'audit.jsonl');
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    [
      `url: ${sim.url}`,
      `apiToken: ${sim.token.id}=${sim.token.secret}`,
      `fingerprint: ${sim.fingerprint}`,
      'toolsets: [all]',
      'confirm: elicit',
      `auditLog: ${audit}`,
      'logLevel: error',
      'scope:',
      '  nodes: [pve1, pve2]',
      '  protected:',
      '    tags: [PROD]',
    ].join('\n'),
  );
  client = new Client({ name: 'rails-e2e', version: '1' });
  await client.connect(
    new StdioClientTransport({
      command: process.execPath,
      args: [cli, '--config', config],
      env: { PATH: process.env.PATH ?? '' },
      stderr: 'ignore',
    }),
  );
});
afterAll(async () => {
  await client.close();
  await sim.close();
});

const call = async (name: string, args: Record<string, unknown>) => {
  const r = await client.callTool({ name, arguments: args });
  return {
    isError: r.isError,
    text: (r.content as { text?: string }[]).map((c) => c.text ?? '').join('\n'),
  };
};
const changesSent = () => sim.sim.requests.filter((r) => r.method !== 'GET').length;

describe('the built server, under scope and protection', () => {
  it('refuses every route to a protected guest before anything is sent', async () => {
    const before = changesSent();
    const routes: [string, Record<string, unknown>][] = [
      ['proxmox_api_request', { method: 'POST', path: '//nodes/pve1/qemu/100/status/stop' }],
      ['proxmox_api_request', { method: 'POST', path: '/nodes/pve1/qemu/%31%30%31/status/reset' }],
      [
        'proxmox_api_request',
        { method: 'PUT', path: '/nodes/pve1/qemu/102/config', params: { tags: 'db' } },
      ],
      [
        'proxmox_api_request',
        { method: 'POST', path: '/nodes/pve1/vzdump', params: { all: 1, mode: 'stop' } },
      ],
      ['proxmox_delete_backup', { volid: BACKUP_100 }],
      ['proxmox_restore_backup', { volid: BACKUP_100, vmid: 103, force: true }],
    ];
    for (const [name, args] of routes) {
      const r = await call(name, args);
      expect(r.isError, `${name} ${JSON.stringify(args)}`).toBe(true);
      // Refused outright: nobody is asked to confirm what may not be done.
      expect(r.text).not.toMatch(/Needs confirmation/);
    }
    // The bulk tool leaves protected guests out, one by one, and says so.
    const bulk = await call('proxmox_bulk_guests', { action: 'stop', vmids: [100, 101] });
    expect(bulk.text).toMatch(/0 done, .*2 refused by policy/);
    expect(changesSent()).toBe(before);
    expect([100, 101, 102].map((id) => sim.sim.cluster.guests.get(id)?.running)).toEqual([
      true,
      true,
      true,
    ]);
    expect(sim.sim.cluster.volumes.has(`|${BACKUP_100}`)).toBe(true);
  });

  it('keeps out-of-scope guests out of reach and out of sight', async () => {
    const r = await call('proxmox_api_request', {
      method: 'GET',
      path: '/nodes/pve3/qemu/107/status/current',
    });
    expect(r.text).toMatch(/Node pve3 is outside/);
    const list = await call('proxmox_api_request', { method: 'GET', path: '/cluster/resources' });
    expect(list.text).toMatch(/"id":"qemu\/100"/);
    expect(list.text).not.toMatch(/pve3/);
  });

  it('asks before a hard stop, naming the guest, and a client that cannot ask must confirm', async () => {
    const first = await call('proxmox_stop_vm', { vmid: 106 });
    expect(first.text).toMatch(
      /^Needs confirmation\. On cluster 'default':\nStop hard, like pulling the power \(unsaved data is lost\): VM 106 \(legacy-app\) on pve2, now running\./,
    );
    expect(sim.sim.cluster.guests.get(106)?.running).toBe(true);
    const second = await call('proxmox_stop_vm', { vmid: 106, confirm: true });
    expect(second.isError, second.text).toBeFalsy();
    expect(sim.sim.cluster.guests.get(106)?.running).toBe(false);
  });

  it('writes an audit line for each attempt', async () => {
    const { readFileSync } = await import('node:fs');
    const lines = readFileSync(audit, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.filter((l) => l.decision === 'refused').length).toBeGreaterThanOrEqual(6);
    expect(lines.at(-1)).toMatchObject({
      tool: 'proxmox_stop_vm',
      decision: 'confirmed',
      outcome: 'ok',
    });
  });
});

describe('pools the credentials cannot read', () => {
  it('are named at start, with the privilege to grant', async () => {
    const own = await startTestSim({ clock: 'real', http: false });
    const { secret } = withoutPoolAudit(own);
    const dir = mkdtempSync(join(tmpdir(), 'pmcp-pools-'));
    const config = join(dir, 'config.yaml');
    writeFileSync(
      config,
      [
        `url: ${own.url}`,
        `apiToken: ops@pve!ci=${secret}`,
        `fingerprint: ${own.fingerprint}`,
        'scope:',
        '  protected:',
        '    pools: [production]',
      ].join('\n'),
    );
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [cli, '--config', config], {
      env: { PATH: process.env.PATH ?? '' },
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    try {
      // The check runs once the tools are listed, at the latest half a second after the start.
      const seen = await new Promise<boolean>((resolve) => {
        const t = setTimeout(() => resolve(false), 10_000);
        child.stderr.on('data', () => {
          if (/Pool\.Audit on \/pool\/production/.test(stderr)) {
            clearTimeout(t);
            resolve(true);
          }
        });
      });
      expect(seen, stderr).toBe(true);
      expect(stderr).toMatch(/warning: cluster 'default': .*changes to guests are refused/);
      expect(stderr).not.toContain(secret);
    } finally {
      child.kill('SIGTERM');
      await own.close();
    }
  });
});
