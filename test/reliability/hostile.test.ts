import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getOperation } from '../../src/contract/index.js';
import type { HttpMethod } from '../../src/contract/types.js';
import { type McpHarness, startHarness } from '../helpers/mcp.js';

type Schema = {
  type?: string;
  enum?: unknown[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  minimum?: number;
};

const HOSTILE_STRINGS = [
  '../access',
  '..%2Faccess',
  'pve1/../../access',
  '/',
  '',
  ' ',
  'x'.repeat(10_000),
  '\u202e\u200bevil',
  '💥'.repeat(200),
  'UPID:pve1:00000000:00000000:00000000:qmstart:100:root@pam:',
  'UPID:../x:0:0:0:a:b:c:',
  '%00',
  'null',
  '100',
  '-1',
  '1e309',
  "'; DROP TABLE vms;--",
  'local-lvm:../../etc/passwd',
  'pve1\nHost: evil',
  'vm:100',
  'root@pam',
];
const HOSTILE_NUMBERS = [
  -1,
  0,
  1,
  99,
  100,
  101,
  2 ** 31,
  999_999_999,
  1e12,
  Number.MAX_SAFE_INTEGER,
  1.5,
  -0.5,
];

const wrongType = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.array(fc.constantFrom(...HOSTILE_STRINGS), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 2 }),
);
const hostileString = fc.oneof(
  fc.constantFrom(...HOSTILE_STRINGS),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
);
const hostileNumber = fc.oneof(
  fc.constantFrom(...HOSTILE_NUMBERS),
  fc.integer(),
  fc.constantFrom(...HOSTILE_NUMBERS).map(String),
);

/** Values for a property: mostly of its type (hostile ones), sometimes of the wrong type. */
function valueFor(schema: Schema): fc.Arbitrary<unknown> {
  const right: fc.Arbitrary<unknown>[] = [];
  if (schema.enum) right.push(fc.constantFrom(...schema.enum));
  switch (schema.type) {
    case 'integer':
    case 'number':
      right.push(
        hostileNumber,
        fc.integer({ min: 100, max: 110 }),
        fc.constantFrom(9000, 200, 201, 202),
      );
      break;
    case 'boolean':
      right.push(fc.boolean(), fc.constantFrom('true', 'false', 0, 1));
      break;
    case 'array':
      right.push(fc.array(schema.items ? valueFor(schema.items) : hostileString, { maxLength: 4 }));
      break;
    case 'object':
      right.push(
        fc.dictionary(
          fc.constantFrom('node', 'vmid', 'type', 'x'),
          fc.oneof(hostileString, hostileNumber),
          { maxKeys: 3 },
        ),
      );
      break;
    default:
      right.push(
        hostileString,
        fc.constantFrom(
          'pve1',
          'pve2',
          'pve3',
          'local',
          'local-lvm',
          'backup-nfs',
          'before-upgrade',
          'scsi0',
          '+1G',
        ),
      );
  }
  return fc.oneof(
    { weight: 4, arbitrary: fc.oneof(...right) },
    { weight: 1, arbitrary: wrongType },
  );
}

/** A plausible value, so that some calls get past validation and reach the handlers. */
function plausible(schema: Schema): fc.Arbitrary<unknown> {
  if (schema.enum) return fc.constantFrom(...schema.enum);
  switch (schema.type) {
    case 'integer':
    case 'number':
      return fc.constantFrom(
        100,
        101,
        102,
        103,
        104,
        105,
        106,
        107,
        200,
        201,
        202,
        203,
        9000,
        4242,
      );
    case 'boolean':
      return fc.boolean();
    case 'array':
      return fc.array(schema.items ? plausible(schema.items) : fc.constant('x'), {
        minLength: 1,
        maxLength: 3,
      });
    case 'object':
      return fc.constant({});
    default:
      return fc.constantFrom(
        'pve1',
        'pve2',
        'pve3',
        'local',
        'local-lvm',
        'backup-nfs',
        'before-upgrade',
        'snap1',
        'scsi0',
        '+1G',
        'web-01',
      );
  }
}

/** Arguments for a tool: hostile ones, or plausible ones with just the required properties. */
function argsFor(schema: Schema): fc.Arbitrary<Record<string, unknown>> {
  const props = schema.properties ?? {};
  const required = Object.keys(props).filter((k) => schema.required?.includes(k));
  const hostile = Object.fromEntries(Object.entries(props).map(([k, s]) => [k, valueFor(s)]));
  const fine = Object.fromEntries(required.map((k) => [k, plausible(props[k] ?? {})]));
  return fc.oneof(
    { weight: 2, arbitrary: fc.record(fine) },
    { weight: 3, arbitrary: fc.record(hostile, { requiredKeys: required }) },
    { weight: 1, arbitrary: fc.record(hostile, { requiredKeys: [] }) },
  );
}

let h: McpHarness;
beforeAll(async () => {
  // Tasks end at once, so that no wait depends on arbitrary timeouts.
  h = await startHarness({ config: { toolsets: ['all'] }, sim: { taskScale: 0 } });
});
afterAll(() => h.close());

describe('hostile input', () => {
  it('every tool answers a result or a clear validation error, never a crash, and never sends a request outside the contract', async () => {
    const tools = (await h.client.listTools()).tools;
    let calls = 0;
    let answered = 0;
    for (const tool of tools) {
      await fc.assert(
        fc.asyncProperty(argsFor(tool.inputSchema as Schema), async (args) => {
          calls++;
          const result = await h.client.callTool({ name: tool.name, arguments: args });
          const text = (result.content as { type: string; text?: string }[])
            .map((c) => c.text ?? '')
            .join('');
          expect(text.length, `${tool.name} ${JSON.stringify(args).slice(0, 200)}`).toBeGreaterThan(
            0,
          );
          if (!result.isError) answered++;
          // Failures are in words: no stack traces, no raw exceptions.
          else
            expect(text).not.toMatch(/^(TypeError|ReferenceError|internal)|\bat .*\(.*:\d+:\d+\)/);
        }),
        { numRuns: 25, seed: 20_261_124, endOnFailure: true },
      );
    }
    expect(calls).toBeGreaterThan(1_000);
    // Enough of the calls got through validation to exercise the handlers and the API.
    expect(answered).toBeGreaterThan(100);
    expect(h.sim.sim.requests.length).toBeGreaterThan(500);

    // The server still answers, and every request that reached the API was a contract operation.
    expect((await h.client.listTools()).tools.length).toBe(tools.length);
    const outside = h.sim.sim.requests.filter(
      (r) => !r.template || !getOperation(r.method as HttpMethod, r.template),
    );
    expect(outside.map((r) => `${r.method} ${r.path}`)).toEqual([]);
    expect(
      h.sim.sim.requests.some(
        (r) => r.path.includes('/access/') && r.template?.startsWith('/nodes'),
      ),
    ).toBe(false);
  }, 600_000);
});
