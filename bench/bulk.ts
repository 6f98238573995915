/**
 * Bulk work as an administrator asks for it, against the large simulated cluster at full task
 * length (so that the waits are real): start and shut down 200 guests spread over the 16 nodes,
 * and empty a node of 30 guests. Figures: the API requests the server made, and its wall time
 * against the schedule PVE's own rules give, which is how long the simulator's node bulk tasks
 * (playing pve-manager's Nodes.pm) themselves ran.
 */
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { type RunningSimulator, startSimulator } from '../src/simulator/server.js';
import { type BenchResult, round } from './types.js';

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

async function connect(sim: RunningSimulator): Promise<Client> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [cli, '--toolsets', 'core,provision'],
    env: {
      PATH: process.env.PATH ?? '',
      PROXMOX_URL: sim.url,
      PROXMOX_API_TOKEN: `${sim.token.id}=${sim.token.secret}`,
      PROXMOX_TLS_FINGERPRINT: sim.fingerprint ?? '',
      PROXMOX_LOG_LEVEL: 'error',
      PROXMOX_CONFIRM: 'none',
    },
    stderr: 'ignore',
  });
  const client = new Client({ name: 'bench', version: '1' });
  await client.connect(transport);
  return client;
}

/** One tool call: its wall time, the requests it made, and how long the node bulk tasks ran. */
async function measure(
  sim: RunningSimulator,
  client: Client,
  name: string,
  args: Record<string, unknown>,
  bulkType: RegExp,
) {
  const from = sim.sim.requests.length;
  const since = sim.sim.clock.now();
  const t0 = performance.now();
  const out = await client.callTool({ name, arguments: args });
  const wall = performance.now() - t0;
  if (out.isError) throw new Error(`${name}: ${JSON.stringify(out.content)}`);
  const asked = sim.sim.requests.slice(from);
  const bulks = [...sim.sim.tasks.tasks.values()].filter(
    (t) => bulkType.test(t.type) && t.startedAt >= since,
  );
  // The schedule PVE's rules give: the longest node bulk task, from its start to its end (the
  // time of its last log line).
  const schedule = Math.max(...bulks.map((t) => (t.lines.at(-1)?.at ?? t.startedAt) - t.startedAt));
  const polls = asked.filter((q) => q.template === '/nodes/{node}/tasks').length;
  return {
    wall,
    schedule,
    requests: asked.length,
    polls,
    statusPolls: asked.filter((q) => q.template === '/nodes/{node}/tasks/{upid}/status').length,
    nodes: new Set(bulks.map((t) => t.node)).size,
    bulks: bulks.length,
    data: out.structuredContent as Record<string, unknown>,
  };
}

export async function benchBulk(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  const sim = await startSimulator({ clock: 'real', dataset: 'large', taskScale: 1 });
  try {
    const nodes = [...sim.sim.cluster.nodes.values()].filter((n) => n.online).map((n) => n.name);
    const guests = [...sim.sim.cluster.guests.values()].filter(
      (g) => nodes.includes(g.node) && !sim.sim.cluster.isTemplate(g),
    );
    // 200 guests, as many from each node; stopped first so that all of them start.
    const chosen = nodes.flatMap((n) =>
      guests.filter((g) => g.node === n).slice(0, Math.ceil(200 / nodes.length)),
    );
    const picked = chosen.slice(0, 200);
    for (const g of picked) g.running = false;
    const vmids = picked.map((g) => g.vmid);
    const client = await connect(sim);
    const report = (what: string, m: Awaited<ReturnType<typeof measure>>) => {
      results.push(
        {
          group: 'bulk',
          name: `${what}: wall time against PVE's schedule (${round(m.schedule / 1000, 1)} s)`,
          value: round(m.wall / m.schedule),
          unit: 'x',
          target: 1.1,
        },
        {
          group: 'bulk',
          name: `${what}: API requests besides task-list polls, per node task`,
          value: round((m.requests - m.polls) / m.bulks, 1),
          unit: 'req',
          target: 3,
        },
        {
          group: 'bulk',
          name: `${what}: task-list polls per node (one per tick), and status polls: ${m.statusPolls}`,
          value: round(m.polls / m.nodes, 1),
          unit: 'req',
        },
      );
    };
    const start = await measure(
      sim,
      client,
      'proxmox_bulk_guests',
      { action: 'start', vmids },
      /^startall$/,
    );
    report(`bulk start of ${start.data.done} guests on ${start.nodes} nodes`, start);
    const shutdown = await measure(
      sim,
      client,
      'proxmox_bulk_guests',
      { action: 'shutdown', vmids, forceStop: true },
      /^stopall$/,
    );
    report(`bulk shutdown of ${shutdown.data.done} guests on ${shutdown.nodes} nodes`, shutdown);

    // Evacuation: a node holding 30 guests, the rest of its guests moved away beforehand.
    const [source, ...others] = nodes;
    const onSource = guests.filter((g) => g.node === source);
    onSource.slice(30).forEach((g, i) => {
      g.node = others[i % others.length] as string;
    });
    const evacuate = await measure(
      sim,
      client,
      'proxmox_evacuate_node',
      { node: source, withLocalDisks: true, maxWorkers: 4 },
      /^migrateall$/,
    );
    const moved = (evacuate.data.plan as { result: string }[]).filter((p) => p.result === 'done');
    report(`evacuation of ${moved.length} guests from ${source}`, evacuate);
    await client.close();
  } finally {
    await sim.close();
  }
  return results;
}
