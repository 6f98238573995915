import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildDataset, readDatasetFile } from '../../src/simulator/datasets.js';
import { startTestSim } from '../helpers/sim.js';

describe('datasets', () => {
  it('small: 3 nodes (one offline), 13 guests with a template and containers', () => {
    const d = buildDataset('small');
    expect(d.nodes.map((n) => [n.name, n.online ?? true])).toEqual([
      ['pve1', true],
      ['pve2', true],
      ['pve3', false],
    ]);
    expect(d.guests).toHaveLength(13);
    expect(d.guests.filter((g) => g.type === 'lxc')).toHaveLength(4);
    expect(d.guests.some((g) => g.config.template === 1)).toBe(true);
  });

  it('small: a demo that tells the truth, with a task history and a protected guest', async () => {
    const sim = await startTestSim();
    try {
      // Failed tasks exist from the start, on a node that is up and on the one that is down.
      const tasks = await sim.data<
        { upid: string; type: string; id: string; status: string; node: string }[]
      >('GET', '/cluster/tasks');
      expect(tasks.filter((t) => t.status !== 'OK').length).toBeGreaterThanOrEqual(3);
      expect(tasks.some((t) => t.node === 'pve3')).toBe(true);
      const log = await sim.data<{ t: string }[]>(
        'GET',
        `/nodes/pve1/tasks/${encodeURIComponent(tasks.find((t) => t.type === 'qmstart')?.upid ?? '')}/log`,
      );
      expect(log.at(-1)?.t).toBe('TASK ERROR: start failed: QEMU exited with code 1');
      const rows = await sim.data<Record<string, unknown>[]>('GET', '/cluster/resources', {
        type: 'vm',
      });
      expect(rows.find((r) => r.vmid === 102)?.tags).toBe('db;prod;protected');
      // A guest of the offline node: pmxcfs dropped its stats (pve-manager PVE/API2Tools.pm).
      expect(rows.find((r) => r.vmid === 107)).toEqual({
        id: 'qemu/107',
        type: 'qemu',
        vmid: 107,
        node: 'pve3',
        status: 'unknown',
      });
      // Nodes down report no live figures.
      const nodes = await sim.data<Record<string, unknown>[]>('GET', '/cluster/resources', {
        type: 'node',
      });
      expect(nodes.find((n) => n.node === 'pve3')).not.toHaveProperty('cpu');
    } finally {
      await sim.close();
    }
  });

  it('large: 16 nodes and 2,000 guests', () => {
    const d = buildDataset('large');
    expect(d.nodes).toHaveLength(16);
    expect(d.guests).toHaveLength(2_000);
  });

  it('are deterministic from the seed', () => {
    expect(JSON.stringify(buildDataset('large', 7))).toBe(JSON.stringify(buildDataset('large', 7)));
    expect(JSON.stringify(buildDataset('large', 7))).not.toBe(
      JSON.stringify(buildDataset('large', 8)),
    );
  });

  it('give the same figures at the same simulated time', async () => {
    const startTime = Date.UTC(2026, 10, 24, 12);
    const a = await startTestSim({ startTime, seed: 42 });
    const b = await startTestSim({ startTime, seed: 42 });
    const c = await startTestSim({ startTime, seed: 43 });
    try {
      const [ra, rb, rc] = await Promise.all(
        [a, b, c].map((s) => s.data<Record<string, unknown>[]>('GET', '/cluster/resources')),
      );
      expect(ra).toEqual(rb);
      expect(ra).not.toEqual(rc);
      const [ga, gb] = await Promise.all(
        [a, b].map((s) => s.data('GET', '/nodes/pve1/qemu/100/rrddata', { timeframe: 'hour' })),
      );
      expect(ga).toEqual(gb);
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  });

  it('load from a JSON file in the documented format', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pmcp-dataset-'));
    const file = join(dir, 'tiny.json');
    writeFileSync(
      file,
      JSON.stringify({
        version: 1,
        seed: 1,
        cluster: 'tiny',
        nodes: [{ name: 'solo' }],
        storages: [
          { storage: 'local-lvm', type: 'lvmthin', content: ['images', 'rootdir'], sizeGiB: 100 },
        ],
        guests: [
          {
            vmid: 100,
            type: 'qemu',
            node: 'solo',
            status: 'running',
            config: { name: 'only', scsi0: 'local-lvm:vm-100-disk-0,size=10G' },
          },
        ],
      }),
    );
    const sim = await startTestSim({ dataset: readDatasetFile(file) });
    try {
      const rows = await sim.data<{ id: string }[]>('GET', '/cluster/resources');
      expect(rows.map((r) => r.id)).toEqual(['node/solo', 'qemu/100', 'storage/solo/local-lvm']);
    } finally {
      await sim.close();
    }
    writeFileSync(file, JSON.stringify({ version: 2 }));
    expect(() => readDatasetFile(file)).toThrow(/version must be 1/);
  });
});
