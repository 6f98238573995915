import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

describe('the audit log file', () => {
  it('holds one line per attempted change, refusals included, and survives a kill right after a call', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'pmcp-audit-')), 'audit.jsonl');
    const child = spawn(
      process.execPath,
      [cli, '--demo', '--audit-log', file, '--confirm', 'elicit'],
      { stdio: ['pipe', 'pipe', 'ignore'] },
    );
    const lines = createInterface({ input: child.stdout });
    const answers = new Map<number, (msg: Record<string, unknown>) => void>();
    lines.on('line', (line) => {
      const msg = JSON.parse(line) as { id?: number };
      if (msg.id !== undefined) answers.get(msg.id)?.(msg);
    });
    let nextId = 1;
    const request = (method: string, params: Record<string, unknown>) =>
      new Promise<Record<string, unknown>>((resolve) => {
        const id = nextId++;
        answers.set(id, resolve);
        child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id, method, params })}\n`);
      });
    await request('initialize', {
      protocolVersion: '2025-11-25',
      capabilities: {},
      clientInfo: { name: 'audit-test', version: '2.0' },
    });
    child.stdin.write(
      `${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })}\n`,
    );
    // A read (not audited), a refusal (no way to confirm), a dry run, and a change.
    await request('tools/call', { name: 'proxmox_list_vms', arguments: {} });
    await request('tools/call', { name: 'proxmox_stop_vm', arguments: { vmid: 105 } });
    await request('tools/call', {
      name: 'proxmox_stop_vm',
      arguments: { vmid: 105, dryRun: true },
    });
    const last = await request('tools/call', {
      name: 'proxmox_start_vm',
      arguments: { vmid: 103, timeout: 0 },
    });
    child.kill('SIGKILL');
    expect((last.result as { isError?: boolean }).isError).toBeFalsy();
    const records = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.map((r) => [r.tool, r.decision, r.outcome])).toEqual([
      ['proxmox_stop_vm', 'refused', 'not-run'],
      ['proxmox_stop_vm', 'dry-run', 'not-run'],
      ['proxmox_start_vm', 'allowed', 'running'],
    ]);
    expect(records[2]).toMatchObject({
      cluster: 'demo',
      client: { name: 'audit-test', version: '2.0' },
      args: { vmid: 103, timeout: 0 },
      upid: expect.stringMatching(/^UPID:pve1:.*:qmstart:103:/),
    });
    expect(records[0]?.reason).toMatch(/needs confirmation/i);
    for (const r of records)
      expect(typeof r.time === 'string' && typeof r.durationMs === 'number').toBe(true);
  });
});
