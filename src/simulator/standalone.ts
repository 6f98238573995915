/**
 * `proxmox-mcp simulator`: serves a simulated cluster until interrupted, and prints how to reach it.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { buildDataset, type DatasetName, readDatasetFile } from './datasets.js';
import { parseFaultFlag } from './faults.js';
import { startSimulator } from './server.js';

export const SIMULATOR_USAGE = `Usage: proxmox-mcp simulator [options]

Serves a simulated Proxmox VE cluster under /api2/json, over HTTPS with a certificate made at start.

Options:
  --port N             port to listen on (default 8006; 0 picks a free one)
  --host ADDR          address to bind (default 127.0.0.1)
  --http               plain HTTP instead of HTTPS
  --dataset NAME|FILE  small (default), large, or a JSON dataset file (see docs/dataset.md)
  --seed N             seed for the built-in datasets
  --task-scale X       multiply task durations (default 1; 0 ends tasks at once)
  --fault SPEC         inject a fault, repeatable: KIND[:key=value,...], e.g.
                         latency:ms=300
                         status:code=503,path=/cluster/resources,times=2
                         reset:method=POST,when=after,times=1
                         status:code=595,path=/nodes/pve2/**
                         upid-status-400:ms=1000
                         ticket-expiry:times=1
                         task-fail:type=qmstart,exitstatus=start failed: QEMU exited with code 1
                       (message and exitstatus take the rest of the flag)
  --ca-file FILE       write the CA certificate (PEM) to FILE
  --write-dataset FILE write the dataset as JSON to FILE and exit
  -h, --help           show this help
`;

export async function runSimulatorCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string', default: '8006' },
      host: { type: 'string', default: '127.0.0.1' },
      http: { type: 'boolean', default: false },
      dataset: { type: 'string', default: 'small' },
      seed: { type: 'string' },
      'task-scale': { type: 'string', default: '1' },
      fault: { type: 'string', multiple: true, default: [] },
      'ca-file': { type: 'string' },
      'write-dataset': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(SIMULATOR_USAGE);
    return 0;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new Error(`--port must be 0 to 65535, got '${values.port}'`);
  const seed = values.seed === undefined ? undefined : Number(values.seed);
  if (seed !== undefined && !Number.isInteger(seed)) throw new Error(`--seed must be an integer`);
  const taskScale = Number(values['task-scale']);
  if (!Number.isFinite(taskScale) || taskScale < 0)
    throw new Error('--task-scale must be a number >= 0');
  const dataset =
    values.dataset === 'small' || values.dataset === 'large'
      ? buildDataset(values.dataset as DatasetName, seed)
      : readDatasetFile(values.dataset);
  if (values['write-dataset']) {
    writeFileSync(values['write-dataset'], `${JSON.stringify(dataset, null, 2)}\n`);
    process.stderr.write(`wrote ${values['write-dataset']}\n`);
    return 0;
  }
  const faults = values.fault.map(parseFaultFlag);
  const running = await startSimulator({
    dataset,
    port,
    host: values.host,
    http: values.http,
    taskScale,
    faults,
  });
  if (values['ca-file'] && running.ca) writeFileSync(values['ca-file'], running.ca);
  const { sim } = running;
  const guests = sim.cluster.guests.size;
  const nodes = [...sim.cluster.nodes.values()];
  const lines = [
    `Simulated Proxmox VE cluster '${sim.cluster.name}': ${nodes.length} nodes (${
      nodes
        .filter((n) => !n.online)
        .map((n) => `${n.name} offline`)
        .join(', ') || 'all online'
    }), ${guests} guests`,
    `URL:          ${running.url}/api2/json`,
    `API token:    ${running.token.id}`,
    `Secret:       ${running.token.secret}`,
    `Header:       Authorization: ${running.token.header}`,
  ];
  if (running.fingerprint) lines.push(`Fingerprint:  ${running.fingerprint}`);
  if (values['ca-file'] && running.ca) lines.push(`CA file:      ${values['ca-file']}`);
  if (faults.length) lines.push(`Faults:       ${values.fault.join(' | ')}`);
  lines.push(
    '',
    'Try:',
    `  curl ${running.fingerprint ? '-k ' : ''}-H 'Authorization: ${running.token.header}' ${running.url}/api2/json/cluster/resources`,
    '',
    'Press Ctrl+C to stop.',
  );
  process.stdout.write(`${lines.join('\n')}\n`);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void running.close().then(resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  return 0;
}
