import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { data } from '../../src/contract/data.js';
import { rest } from '../../src/contract/data-rest.js';
import {
  buildContract,
  loadSchema,
  renderContract,
  SCHEMA_VERSIONS,
  schemaDir,
} from '../../src/contract/generate.js';
import { contract } from '../../src/contract/index.js';
import { summarize } from '../../src/contract/summary.js';
import type { ContractOperation } from '../../src/contract/types.js';
import { routes } from '../../src/simulator/routes/index.js';
import { checkShape, concretePath, REQUIRED_QUERY } from '../helpers/shape.js';
import { startTestSim, type TestSim } from '../helpers/sim.js';

// The official schema is AGPL test data beside the project; the committed contract stands in
// for it where it is absent.
const haveSchema = existsSync(`${schemaDir()}/pve-9.1.3.json`);
const key = (op: Pick<ContractOperation, 'method' | 'path'>) => `${op.method} ${op.path}`;

describe('the committed contract', () => {
  it.runIf(haveSchema)('is what the generator makes from the official schema', () => {
    const built = buildContract();
    for (const [file, part] of [
      ['data.ts', 'core'],
      ['data-rest.ts', 'rest'],
    ] as const) {
      const committed = readFileSync(
        fileURLToPath(new URL(`../../src/contract/${file}`, import.meta.url)),
        'utf8',
      );
      expect(committed, file).toBe(renderContract(built, part));
    }
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

  it.runIf(haveSchema)('holds every operation of every official schema, with its versions', () => {
    const schemas = SCHEMA_VERSIONS.map((v) => [v, loadSchema(v)] as const);
    const all = new Set(schemas.flatMap(([, s]) => [...s.keys()]));
    expect(contract.operations.map(key).sort()).toEqual([...all].sort());
    for (const op of contract.operations)
      expect(op.versions).toEqual(schemas.filter(([, s]) => s.has(key(op))).map(([v]) => v));
  });

  it('marks operations of one PVE version only', () => {
    const versions = (k: string) => contract.operations.find((op) => key(op) === k)?.versions;
    expect(versions('GET /cluster/ha/rules')).toEqual(['9.1.3', '9.2']);
    expect(versions('GET /nodes/{node}/storage/{storage}/identity')).toEqual(['9.2']);
    expect(versions('GET /nodes/{node}/scan/glusterfs')).toEqual(['8.4.2']);
    expect(versions('GET /cluster/ha/groups')).toEqual(['8.4.2', '9.1.3', '9.2']);
  });

  it('says which operations run as a task, as read from Proxmox code', () => {
    const kind = (k: string) => contract.operations.find((op) => key(op) === k)?.async;
    expect(kind('POST /nodes/{node}/services/{service}/restart')).toBe('upid');
    expect(kind('POST /nodes/{node}/lxc/{vmid}/template')).toBe('task-no-upid');
    expect(kind('POST /nodes/{node}/vzdump')).toBe('upid-or-ok');
    expect(kind('PUT /nodes/{node}/network')).toBe('upid');
    expect(kind('POST /cluster/firewall/rules')).toBe('sync');
    // 93 UPID answers in 9.1.3, and DELETE ceph/fs in 9.2 (ASYNC.md, "Counts").
    const tasks = contract.operations.filter(
      (op) => op.async !== 'sync' && op.async !== 'task-no-upid',
    );
    expect(tasks.length).toBe(94);
  });

  it('carries no description text from the schema, only summaries of its own', () => {
    // Parameter names and values only: no string of the data reads as a sentence.
    const strings = [data, rest].flatMap(
      ({ operations, ...specs }) =>
        JSON.stringify([specs, operations.map((op) => op.filter((_, i) => i !== 2))]).match(
          /"(?:[^"\\]|\\.)*"/g,
        ) as string[],
    );
    expect(strings.filter((s) => /[A-Za-z]+ [a-z]+ [a-z]+/.test(s))).toEqual([]);
    for (const op of contract.operations)
      expect(op.summary).toBe(summarize(op.method, op.path, op.returns.type === 'array'));
  });

  it('has a simulator route only for operations of the contract', () => {
    const keys = new Set(contract.operations.map(key));
    expect(Object.keys(routes).filter((k) => !keys.has(k))).toEqual([]);
  });
});

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
      routes[key(op)] &&
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
