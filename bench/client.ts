/** The client's overhead: connection reuse, and GET latency against a bare undici request. */
import { Agent, request } from 'undici';
import { PveClient } from '../src/pve/index.js';
import { startSimulator } from '../src/simulator/server.js';
import { type BenchResult, percentile, round } from './types.js';

export async function benchClient(): Promise<BenchResult[]> {
  const sim = await startSimulator({ clock: 'manual' });
  let connections = 0;
  const client = new PveClient({
    url: sim.url,
    auth: { tokenId: sim.token.id, secret: sim.token.secret },
    tls: { ca: sim.ca },
    onConnect: () => connections++,
  });
  const plain = new Agent({ connect: { ca: sim.ca } });
  const url = `${sim.url}/api2/json/version`;
  const headers = { authorization: sim.token.header };
  try {
    const n = 1_000;
    for (let i = 0; i < n; i++) await client.call('GET /version', {});
    const perConnection = n / Math.max(1, connections);

    // Interleaved rounds, so that both sides see the same machine state.
    const ours: number[] = [];
    const bare: number[] = [];
    for (let i = 0; i < 600; i++) {
      let t0 = performance.now();
      await client.call('GET /version', {});
      ours.push(performance.now() - t0);
      t0 = performance.now();
      const res = await request(url, { headers, dispatcher: plain });
      JSON.parse(await res.body.text());
      bare.push(performance.now() - t0);
    }
    const ratio = percentile(ours, 50) / percentile(bare, 50);
    return [
      {
        group: 'client',
        name: 'requests per TCP connection, 1,000 sequential GETs',
        value: round(perConnection, 0),
        unit: 'req/conn',
        // undici opens a second connection for the second request; after that, all reuse.
        target: 100,
        higherIsBetter: true,
      },
      {
        group: 'client',
        name: 'GET latency p50 against plain undici (ratio)',
        value: round(ratio),
        unit: 'x',
        target: 1.1,
      },
      {
        group: 'client',
        name: 'GET latency p50, client',
        value: round(percentile(ours, 50), 3),
        unit: 'ms',
      },
    ];
  } finally {
    await client.close();
    await plain.close();
    await sim.close();
  }
}
