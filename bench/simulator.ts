/** The simulator's answer time for the cluster-wide listing on the large dataset. */
import { Agent, request } from 'undici';
import { startSimulator } from '../src/simulator/server.js';
import { type BenchResult, percentile, round } from './types.js';

async function timeGets(url: string, header: string, dispatcher: Agent, n: number) {
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const res = await request(url, { headers: { authorization: header }, dispatcher });
    const body = await res.body.arrayBuffer();
    times.push(performance.now() - t0);
    bytes = body.byteLength;
    if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode}`);
  }
  return { times, bytes };
}

export async function benchSimulator(): Promise<BenchResult[]> {
  const sim = await startSimulator({ dataset: 'large', clock: 'manual' });
  const dispatcher = new Agent({ connect: { ca: sim.ca } });
  try {
    const base = `${sim.url}/api2/json`;
    await timeGets(`${base}/cluster/resources`, sim.token.header, dispatcher, 5);
    const resources = await timeGets(`${base}/cluster/resources`, sim.token.header, dispatcher, 60);
    const version = await timeGets(`${base}/version`, sim.token.header, dispatcher, 60);
    const p50 = percentile(resources.times, 50);
    return [
      {
        group: 'simulator',
        name: '/cluster/resources p50, large dataset (2,000 guests)',
        value: round(p50),
        unit: 'ms',
      },
      {
        group: 'simulator',
        name: '/cluster/resources p99, large dataset',
        value: round(percentile(resources.times, 99)),
        unit: 'ms',
      },
      {
        group: 'simulator',
        name: '/cluster/resources against /version (p50 ratio)',
        value: round(p50 / percentile(version.times, 50), 1),
        unit: 'x',
      },
      {
        group: 'simulator',
        name: '/cluster/resources body, large dataset',
        value: round(resources.bytes / 1024, 0),
        unit: 'KiB',
      },
    ];
  } finally {
    await sim.close();
    await dispatcher.close();
  }
}
