import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildContract,
  loadSchema,
  renderContract,
  schemaDir,
} from '../../src/contract/generate.js';
import { contract } from '../../src/contract/index.js';
import type { ContractOperation, ReturnSpec } from '../../src/contract/types.js';
import { routes } from '../../src/simulator/routes/index.js';
import { startTestSim, type TestSim } from '../helpers/sim.js';

// The official schema is AGPL test data beside the project; the committed contract stands in
// for it where it is absent.
const haveSchema = existsSync(`${schemaDir()}/pve-9.1.3.json`);
const key = (op: Pick<ContractOperation, 'method' | 'path'>) => `${op.method} ${op.path}`;

describe('the committed contract', () => {
  it.runIf(haveSchema)('is what the generator makes from the official schema', () => {
    const committed = readFileSync(
      fileURLToPath(new URL('../../src/contract/data.ts', import.meta.url)),
      'utf8',
    );
    expect(committed).toBe(renderContract(buildContract()));
  });

  it.runIf(haveSchema)('names only operations of the official 9.1.3 and 8.4.2 schemas', () => {
    for (const version of ['9.1.3', '8.4.2']) {
      const schema = loadSchema(version);
      const missing = contract.operations.filter(
        (op) => !schema.has(key(op)) && op.versions.includes(version),
      );
      expect(missing.map(key)).toEqual([]);
    }
  });

  it('marks every operation missing from 9.1.3 or 8.4.2 as version-specific', () => {
    const specific = contract.operations.filter(
      (op) => !(op.versions.includes('9.1.3') && op.versions.includes('8.4.2')),
    );
    // Each such operation lists the versions it exists in; today all we use exist in both.
    for (const op of specific) expect(op.versions.length).toBeGreaterThan(0);
    expect(specific.map(key)).toEqual([]);
  });

  it('is implemented by the simulator, route for route', () => {
    expect(Object.keys(routes).sort()).toEqual(contract.operations.map(key).sort());
  });
});

/** Concrete values for path parameters, chosen from the small dataset. */
function concretePath(op: ContractOperation, upid: string): string {
  const lxc = op.path.includes('/lxc');
  const snapshot = op.path.includes('/snapshot');
  // Guests that have snapshots: VM 102 on pve1, CT 202 on pve2.
  const guest = lxc
    ? snapshot
      ? ['pve2', '202']
      : ['pve1', '200']
    : snapshot
      ? ['pve1', '102']
      : ['pve1', '100'];
  const values: Record<string, string> = {
    node: guest[0] as string,
    vmid: guest[1] as string,
    storage: 'local',
    upid: encodeURIComponent(upid),
    poolid: 'production',
    userid: 'root@pam',
    tokenid: 'simulator',
    sid: 'vm:100',
    snapname: lxc ? 'pre-grafana-11' : 'before-upgrade',
  };
  return op.path.replace(/\{(\w+)\}/g, (_, name: string) => values[name] ?? '');
}

const REQUIRED_QUERY: Record<string, Record<string, string>> = {
  '/nodes/{node}/rrddata': { timeframe: 'hour' },
  '/nodes/{node}/qemu/{vmid}/rrddata': { timeframe: 'hour' },
  '/nodes/{node}/lxc/{vmid}/rrddata': { timeframe: 'hour' },
  '/nodes/{node}/tasks': { source: 'all' },
};

function typeMatches(expected: string, value: unknown): boolean {
  switch (expected) {
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value);
    case 'number':
      return typeof value === 'number';
    // PVE sends booleans as 0/1.
    case 'boolean':
      return value === 0 || value === 1 || typeof value === 'boolean';
    case 'string':
      return typeof value === 'string';
    case 'array':
      return Array.isArray(value);
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
    default:
      return true;
  }
}

function checkShape(spec: ReturnSpec, value: unknown, where: string): string[] {
  const problems: string[] = [];
  if (spec.type === 'array' && spec.items?.properties) {
    if (!Array.isArray(value)) return [`${where}: expected an array`];
    if (!value.length) problems.push(`${where}: empty list, nothing checked`);
    value.forEach((item, i) => {
      problems.push(...checkShape(spec.items as ReturnSpec, item, `${where}[${i}]`));
    });
    return problems;
  }
  if (spec.type === 'object' && spec.properties) {
    const obj = value as Record<string, unknown>;
    for (const [name, prop] of Object.entries(spec.properties)) {
      if (!(name in obj) || obj[name] === undefined) {
        if (!prop.optional) problems.push(`${where}: missing required '${name}'`);
        continue;
      }
      if (!typeMatches(prop.type, obj[name]))
        problems.push(`${where}.${name}: expected ${prop.type}, got ${JSON.stringify(obj[name])}`);
    }
  }
  return problems;
}

describe('simulator answers carry the fields the schema returns', () => {
  let sim: TestSim;
  let upid: string;
  beforeAll(async () => {
    sim = await startTestSim();
    upid = await sim.data<string>('POST', '/nodes/pve1/qemu/100/status/reboot');
    sim.sim.runTasks();
  });
  afterAll(() => sim.close());

  const reads = contract.operations.filter(
    (op) =>
      op.method === 'GET' &&
      (op.returns.items?.properties || op.returns.properties) &&
      !op.path.includes('/agent/exec-status'),
  );
  it.each(reads.map((op) => [op.path, op] as const))('GET %s', async (_path, op) => {
    const res = await sim.call('GET', concretePath(op, upid), REQUIRED_QUERY[op.path] ?? {});
    expect(res.status, res.text).toBe(200);
    expect(
      checkShape(op.returns, res.body?.data, op.path).filter((p) => !p.includes('nothing checked')),
    ).toEqual([]);
  });
});
