/** Power actions on many guests, through the node bulk tasks (src/tools/bulk.ts). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type McpHarness, onTheClock, startHarness } from '../helpers/mcp.js';

let h: McpHarness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());

/** Guests' own tasks of a type started since a time, in the order they started. */
const started = (type: RegExp, since = 0) =>
  [...h.sim.sim.tasks.tasks.values()]
    .filter((t) => type.test(t.type) && t.startedAt >= since)
    .sort((a, b) => a.startedAt - b.startedAt || a.pid - b.pid);

describe('bulk', () => {
  it('bulk: stops a tag through one stopall per node, skipping the stopped, with a per-guest table', async () => {
    const progress: string[] = [];
    const counts: string[] = [];
    const from = h.sim.sim.requests.length;
    const r = await h.call(
      'proxmox_bulk_guests',
      { action: 'stop', tag: 'infra' },
      {
        onprogress: (p) => {
          progress.push(p.message ?? '');
          if (p.total !== undefined) counts.push(`${p.progress}/${p.total}`);
        },
      },
    );
    // Guests done of guests chosen, for a client to show as a share.
    expect(counts).toEqual(['1/2', '2/2']);
    expect(r.structured).toMatchObject({ action: 'stop', done: 2, skipped: 1, failed: 0 });
    expect(r.text.split('\n')[0]).toBe('stop: 2 done, 1 skipped, 0 failed');
    expect(r.text).toMatch(/\nNode tasks: UPID:pve1:\S+:stopall::\S+ UPID:pve2:\S+:stopall::\S+$/);
    const asked = h.sim.sim.requests.slice(from);
    // One bulk task per node, no guest's own power call, and no status poll per task.
    expect(asked.filter((q) => q.method === 'POST').map((q) => q.path)).toEqual([
      '/api2/json/nodes/pve1/stopall',
      '/api2/json/nodes/pve2/stopall',
    ]);
    expect(asked.filter((q) => q.template === '/nodes/{node}/tasks/{upid}/status')).toEqual([]);
    const polls = (node: string) =>
      asked.filter((q) => q.template === '/nodes/{node}/tasks' && q.path.includes(`/${node}/`))
        .length;
    expect(polls('pve1')).toBe(polls('pve2'));
    // The stop went to the guests' own shutdown, with no time before the hard stop.
    expect(started(/^vzshutdown$/).map((t) => t.id)).toEqual(['200', '202']);
    const none = await h.call('proxmox_bulk_guests', { action: 'start' });
    expect(none.isError).toBe(true);
  });

  it("starts in the guests' startup order with their up delays, and guests without onboot too", async () => {
    const g = (id: number) => h.sim.sim.cluster.guests.get(id);
    g(103)!.config.startup = 'order=1,up=20';
    g(201)!.config.startup = 'order=2';
    delete g(101)!.config.onboot;
    await h.call('proxmox_bulk_guests', { action: 'stop', vmids: [101] });
    const since = h.sim.sim.clock.now();
    const r = await onTheClock(
      h,
      h.call('proxmox_bulk_guests', { action: 'start', vmids: [101, 103, 201] }),
      { fullLength: true },
    );
    expect(r.isError, r.text).toBeFalsy();
    expect(r.structured).toMatchObject({ done: 3, failed: 0 });
    const starts = started(/^(qm|vz)start$/, since).filter((t) =>
      ['101', '103', '201'].includes(t.id),
    );
    expect(starts.map((t) => t.id)).toEqual(['103', '201', '101']);
    // 201 waits for 103's up delay; 101 (no order: last) for 201's group to end.
    expect((starts[1]?.startedAt ?? 0) - (starts[0]?.startedAt ?? 0)).toBeGreaterThanOrEqual(
      20_000,
    );
    expect(starts[2]?.startedAt ?? 0).toBeGreaterThanOrEqual(starts[1]?.endsAt ?? Infinity);
    for (const id of [101, 103, 201]) expect(g(id)?.running).toBe(true);
    delete g(103)!.config.startup;
    delete g(201)!.config.startup;
  });

  it("reports a guest whose own task failed, from that task's end", async () => {
    const vm = h.sim.sim.cluster.guests.get(105);
    if (!vm) throw new Error('no VM 105');
    await h.call('proxmox_bulk_guests', { action: 'stop', vmids: [105, 106] });
    // startall clears a left-over backup lock (Nodes.pm remove_locks_on_startup): another lock.
    vm.config.lock = 'migrate';
    const r = await h.call('proxmox_bulk_guests', { action: 'start', vmids: [105, 106] });
    delete vm.config.lock;
    expect(r.structured).toMatchObject({ done: 1, failed: 1 });
    const rows = (r.structured?.results ?? []) as {
      vmid: number;
      result: string;
      detail: string;
    }[];
    const row = rows.find((x) => x.vmid === 105);
    expect(row).toMatchObject({ result: 'failed', detail: expect.stringMatching(/locked/) });
    expect(r.text).toMatch(/105 +ci-runner +pve2 +failed +.*locked/);
  });

  it('suspends VMs to disk and skips containers', async () => {
    const r = await h.call('proxmox_bulk_guests', { action: 'suspend', vmids: [106, 202] });
    expect(r.isError, r.text).toBeFalsy();
    expect(r.structured).toMatchObject({ done: 1, skipped: 1 });
    expect(r.text).toMatch(/202 +ct-monitor +pve2 +skipped +(already stopped|only VMs)/);
    expect(h.sim.sim.cluster.guests.get(106)?.config.lock).toBe('suspended');
  });
});

describe('bulk on protected guests', () => {
  it('refuses the protected ones and leaves them out of the node task', async () => {
    const p = await startHarness({
      config: { toolsets: ['core', 'api'] },
      cluster: { scope: { protected: { vmids: ['101'] } } },
    });
    try {
      const r = await p.call('proxmox_bulk_guests', { action: 'stop', vmids: [100, 101] });
      expect(r.structured).toMatchObject({ refused: 1 });
      expect(r.text).toMatch(/101 +web-02 +pve1 +refused +protected/);
      expect(p.sim.sim.cluster.guests.get(101)?.running).toBe(true);
      // The same bulk spelled out by hand is held to it on the wire.
      const raw = await p.call('proxmox_api_request', {
        method: 'POST',
        path: '/nodes/pve1/stopall',
        params: { vms: '100,101' },
      });
      expect(raw.isError).toBe(true);
      expect(raw.text).toMatch(/101.*protected/);
      expect(p.sim.sim.cluster.guests.get(101)?.running).toBe(true);
    } finally {
      await p.close();
    }
  });
});
