/**
 * The server's figures: tool-call overhead against a raw API call, API calls and bytes per
 * listing, start-up time and memory against a bare Node, and a load
 * of concurrent HTTP clients.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { Agent, request } from 'undici';
import { type RunningSimulator, startSimulator } from '../src/simulator/server.js';
import { type BenchResult, percentile, round } from './types.js';

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const median = (xs: number[]) => percentile(xs, 50);

function envFor(sim: RunningSimulator, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    PROXMOX_URL: sim.url,
    PROXMOX_API_TOKEN: `${sim.token.id}=${sim.token.secret}`,
    PROXMOX_TLS_FINGERPRINT: sim.fingerprint ?? '',
    PROXMOX_LOG_LEVEL: 'error',
    ...extra,
  };
}

async function stdioClient(env: Record<string, string>, args: string[] = []) {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [cli, ...args],
    env,
    stderr: 'ignore',
  });
  const client = new Client({ name: 'bench', version: '1' });
  await client.connect(transport);
  return { client, pid: (transport as unknown as { pid: number | null }).pid ?? 0 };
}

/** Peak resident memory of a process (Linux), in KiB. */
function peakRss(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? Number.NaN);
}

async function bareNodeRss(): Promise<number> {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 400)']);
  await new Promise((r) => setTimeout(r, 250));
  const kib = peakRss(child.pid ?? 0);
  await new Promise((r) => child.once('exit', r));
  return kib;
}

/** Spawn, connect and call a tool, as a client does for a user's first question. */
async function spawnToFirstResult(env: Record<string, string>): Promise<number> {
  const t0 = performance.now();
  const { client } = await stdioClient(env);
  await client.callTool({ name: 'proxmox_get_vm_status', arguments: { vmid: 100 } });
  const ms = performance.now() - t0;
  await client.close();
  return ms;
}

async function spawnBareNode(): Promise<number> {
  const t0 = performance.now();
  const child: ChildProcess = spawn(process.execPath, ['-e', '']);
  await new Promise((r) => child.once('exit', r));
  return performance.now() - t0;
}

export async function benchServer(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  const small = await startSimulator({ clock: 'real', taskScale: 0.02 });
  // Tasks at a tenth of their time: short enough for a quick run, long enough that polling is not all.
  const large = await startSimulator({ clock: 'real', dataset: 'large', taskScale: 0.1 });
  try {
    // Tool-call overhead: the tool over stdio against the raw GET it makes, interleaved.
    const { client } = await stdioClient(envFor(small));
    const dispatcher = new Agent({ connect: { ca: small.ca } });
    const url = `${small.url}/api2/json/nodes/pve1/qemu/100/status/current`;
    const tool: number[] = [];
    const raw: number[] = [];
    const ping: number[] = [];
    for (let i = 0; i < 220; i++) {
      let t0 = performance.now();
      await client.callTool({ name: 'proxmox_get_vm_status', arguments: { vmid: 100 } });
      if (i >= 20) tool.push(performance.now() - t0);
      t0 = performance.now();
      const res = await request(url, {
        headers: { authorization: small.token.header },
        dispatcher,
      });
      await res.body.json();
      if (i >= 20) raw.push(performance.now() - t0);
      t0 = performance.now();
      await client.ping();
      if (i >= 20) ping.push(performance.now() - t0);
    }
    await client.close();
    await dispatcher.close();
    results.push({
      group: 'server',
      name: 'proxmox_get_vm_status over stdio against the raw GET (p50 ratio)',
      value: round(median(tool) / median(raw)),
      unit: 'x',
      target: 1.3,
    });
    results.push({
      group: 'server',
      name: 'MCP ping over stdio against the raw GET (p50 ratio; what any call adds at least)',
      value: round(median(ping) / median(raw)),
      unit: 'x',
    });

    // Listing the large cluster: API calls, bytes of text per guest.
    const big = await stdioClient(envFor(large));
    const before = large.sim.requests.length;
    const listing = await big.client.callTool({
      name: 'proxmox_list_vms',
      arguments: { limit: 1_000 },
    });
    const calls = large.sim.requests
      .slice(before)
      .filter((r) => r.template === '/cluster/resources').length;
    const text = (listing.content as { text: string }[])[0]?.text ?? '';
    const rows = text.split('\n').filter((l) => /^\d+ /.test(l) && !/shown/.test(l)).length;
    results.push({
      group: 'server',
      name: 'API calls per cluster-wide guest listing, large dataset',
      value: calls,
      unit: 'calls',
      target: 1,
    });
    results.push({
      group: 'server',
      name: 'text bytes per guest in proxmox_list_vms',
      value: round(Buffer.byteLength(text) / rows, 1),
      unit: 'B',
      target: 64,
    });
    const listed = (await big.client.listTools()).tools;
    const modelBytes = listed.reduce(
      (s, t) =>
        s + Buffer.byteLength(t.name + (t.description ?? '') + JSON.stringify(t.inputSchema)),
      0,
    );
    results.push({
      group: 'server',
      name: `tools/list a model reads (name, description, input schema), default toolsets (${listed.length} tools)`,
      value: round(modelBytes / 1024, 1),
      unit: 'KiB',
      target: 16,
    });
    results.push({
      group: 'server',
      name: 'whole tools/list answer, default toolsets',
      value: round(Buffer.byteLength(JSON.stringify({ tools: listed })) / 1024, 1),
      unit: 'KiB',
      target: 40,
    });
    const rssLarge = peakRss(big.pid);
    await big.client.close();

    // Start-up as users feel it: spawn to the first tool result on a configured cluster, against
    // spawning a bare node; memory after that call, and after 200 more, against a bare node.
    const firstResult: number[] = [];
    const bare: number[] = [];
    for (let i = 0; i < 7; i++) {
      firstResult.push(await spawnToFirstResult(envFor(small)));
      bare.push(await spawnBareNode());
    }
    results.push({
      group: 'server',
      name: "spawn to the first result of proxmox_get_vm_status against `node -e ''` (median ratio)",
      value: round(median(firstResult) / median(bare)),
      unit: 'x',
      target: 3,
    });
    const session = await stdioClient(envFor(small));
    await session.client.callTool({ name: 'proxmox_get_vm_status', arguments: { vmid: 100 } });
    const rssFirst = peakRss(session.pid);
    for (let i = 0; i < 200; i++)
      await session.client.callTool({
        name: i % 2 ? 'proxmox_get_vm_status' : 'proxmox_list_vms',
        arguments: i % 2 ? { vmid: 100 + (i % 7) } : {},
      });
    const rssLater = peakRss(session.pid);
    await session.client.close();
    const rssBare = await bareNodeRss();
    results.push({
      group: 'server',
      name: 'peak RSS after the first call against a bare node',
      value: round(rssFirst / rssBare),
      unit: 'x',
      target: 1.8,
    });
    results.push({
      group: 'server',
      name: 'peak RSS after 200 more calls against after the first',
      value: round(rssLater / rssFirst),
      unit: 'x',
      target: 1.2,
    });
    results.push({
      group: 'server',
      name: 'peak RSS after listing 2,000 guests',
      value: round(rssLarge / 1024, 0),
      unit: 'MiB',
    });
  } finally {
    await Promise.all([small.close(), large.close()]);
  }
  return results;
}

/** Guests of the demo on online nodes (pve3 is offline: its guests answer errors by design). */
const ONLINE_VMS = [100, 101, 102, 103, 104, 105, 106];

/** 50 concurrent HTTP clients making 100 calls each against the demo. */
export async function benchLoad(): Promise<BenchResult[]> {
  const child = spawn(process.execPath, [cli, '--demo', '--http', '--port', '0'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let text = '';
    child.stderr?.on('data', (c: Buffer) => {
      text += c.toString();
      const m = /(http:\/\/127\.0\.0\.1:\d+\/mcp)/.exec(text);
      if (m?.[1]) resolve(m[1]);
    });
    child.once('exit', () => reject(new Error(text)));
  });
  try {
    const times: number[] = [];
    let errors = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        const client = new Client({ name: 'load', version: '1' });
        await client.connect(new StreamableHTTPClientTransport(new URL(url)));
        for (let i = 0; i < 100; i++) {
          const s = performance.now();
          const r = await client
            .callTool({
              name: i % 2 ? 'proxmox_get_vm_status' : 'proxmox_list_vms',
              arguments: i % 2 ? { vmid: ONLINE_VMS[i % ONLINE_VMS.length] } : { limit: 20 },
            })
            .catch(() => ({ isError: true }));
          times.push(performance.now() - s);
          if (r.isError) errors++;
        }
        await client.close();
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    const rss = peakRss(child.pid ?? 0);
    return [
      {
        group: 'load',
        name: '50 HTTP clients x 100 calls: errors',
        value: errors,
        unit: 'errors',
        target: 0,
      },
      {
        group: 'load',
        name: 'throughput',
        value: round(times.length / seconds, 0),
        unit: 'calls/s',
      },
      { group: 'load', name: 'latency p50', value: round(percentile(times, 50), 1), unit: 'ms' },
      { group: 'load', name: 'latency p99', value: round(percentile(times, 99), 1), unit: 'ms' },
      {
        group: 'load',
        name: 'peak RSS of the server (with its demo simulator)',
        value: round(rss / 1024, 0),
        unit: 'MiB',
      },
    ];
  } finally {
    child.kill('SIGTERM');
  }
}
