/**
 * The client's overhead: connection reuse, and GET latency against a bare request on the same
 * transport (Node's https with a kept-alive agent); undici's, for reference.
 */
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
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
  const https = new HttpsAgent({ keepAlive: true, ca: sim.ca });
  const undici = new Agent({ connect: { ca: sim.ca } });
  const url = `${sim.url}/api2/json/version`;
  const headers = { authorization: sim.token.header };
  const plainHttps = () =>
    new Promise<void>((resolve, reject) => {
      const req = httpsRequest(url, { headers, agent: https }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          JSON.parse(Buffer.concat(chunks).toString('utf8'));
          resolve();
        });
      });
      req.on('error', reject);
      req.end();
    });
  try {
    const n = 1_000;
    for (let i = 0; i < n; i++) await client.call('GET /version', {});
    const perConnection = n / Math.max(1, connections);

    // Interleaved rounds, so that all sides see the same machine state.
    const ours: number[] = [];
    const bare: number[] = [];
    const reference: number[] = [];
    for (let i = 0; i < 600; i++) {
      let t0 = performance.now();
      await client.call('GET /version', {});
      ours.push(performance.now() - t0);
      t0 = performance.now();
      await plainHttps();
      bare.push(performance.now() - t0);
      t0 = performance.now();
      const res = await request(url, { headers, dispatcher: undici });
      JSON.parse(await res.body.text());
      reference.push(performance.now() - t0);
    }
    const p50 = (xs: number[]) => percentile(xs, 50);
    return [
      {
        group: 'client',
        name: 'requests per TCP connection, 1,000 sequential GETs',
        value: round(perConnection, 0),
        unit: 'req/conn',
        target: 100,
        higherIsBetter: true,
      },
      {
        group: 'client',
        name: 'GET latency p50 against a plain node:https request (ratio)',
        value: round(p50(ours) / p50(bare)),
        unit: 'x',
        target: 1.1,
      },
      {
        group: 'client',
        name: 'GET latency p50, client',
        value: round(p50(ours), 3),
        unit: 'ms',
      },
      {
        group: 'client',
        name: 'GET latency p50, plain undici request (for reference)',
        value: round(p50(reference), 3),
        unit: 'ms',
      },
    ];
  } finally {
    await client.close();
    https.destroy();
    await undici.close();
    await sim.close();
  }
}
