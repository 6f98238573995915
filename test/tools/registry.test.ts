import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOOLSETS } from '../../src/config/schema.js';
import { allTools, SelectionError, selectTools } from '../../src/tools/registry.js';
import { type McpHarness, startHarness } from '../helpers/mcp.js';

const ALL_TOOLS = await allTools();

type ListedTool = {
  name: string;
  title?: string;
  description?: string;
  inputSchema: Record<string, unknown>;
  outputSchema?: Record<string, unknown>;
  annotations?: Record<string, unknown>;
};

/** The 20 tool names of the original design, which configurations rely on. */
const ORIGINAL = [
  'proxmox_test_connection',
  'proxmox_get_version',
  'proxmox_list_nodes',
  'proxmox_get_node_status',
  'proxmox_list_vms',
  'proxmox_get_vm_info',
  'proxmox_get_vm_status',
  'proxmox_create_vm',
  'proxmox_start_vm',
  'proxmox_stop_vm',
  'proxmox_suspend_vm',
  'proxmox_resume_vm',
  'proxmox_delete_vm',
  'proxmox_list_containers',
  'proxmox_start_container',
  'proxmox_stop_container',
  'proxmox_list_storage',
  'proxmox_get_storage_usage',
  'proxmox_create_snapshot',
  'proxmox_list_snapshots',
];

let legacy: McpHarness;
let modern: McpHarness;
let listed: ListedTool[];
beforeAll(async () => {
  // The default configuration, confirmations included.
  legacy = await startHarness({ config: { confirm: 'elicit' } });
  modern = await startHarness({ era: 'modern', config: { confirm: 'elicit' } });
  listed = (await legacy.client.listTools()).tools as ListedTool[];
});
afterAll(async () => {
  await legacy.close();
  await modern.close();
});

describe('the registry', () => {
  it('has unique names of the proxmox_<verb>_<noun> form', () => {
    const names = ALL_TOOLS.map((t) => t.name);
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(name).toMatch(/^proxmox_[a-z]+(_[a-z]+)+$/);
  });

  it('keeps the original 20 tool names, in core', () => {
    const core = selectTools({ toolsets: ['core'] }, ALL_TOOLS).map((t) => t.name);
    for (const name of ORIGINAL) expect(core).toContain(name);
  });

  it('has every changing tool declare what it targets, naming the guest its arguments give', () => {
    const changing = ALL_TOOLS.filter((t) => t.access !== 'read');
    expect(changing.filter((t) => typeof t.targets !== 'function').map((t) => t.name)).toEqual([]);
    for (const t of changing) {
      const shape = t.input.shape as Record<string, unknown>;
      const sample = {
        ...(shape.vmid ? { vmid: 123 } : {}),
        ...(shape.node ? { node: 'n1' } : {}),
        ...(shape.volid
          ? { volid: 'store:backup/vzdump-qemu-124-2026_01_01-00_00_00.vma.zst' }
          : {}),
        ...(shape.upid ? { upid: 'UPID:n2:00000001:00000002:00000003:qmstart:125:root@pam:' } : {}),
        ...(shape.method ? { method: 'POST', path: '/nodes/n3/qemu/126/status/start' } : {}),
      };
      const declared = t.targets?.(sample as never) ?? {};
      if (shape.vmid)
        expect([...(declared.guests ?? []), ...(declared.sources ?? [])], t.name).toContain(123);
      if (shape.node) expect(declared.nodes, t.name).toContain('n1');
      if (shape.volid) expect(declared.volumes, t.name).toContain(sample.volid);
      if (shape.upid) expect(declared.upid, t.name).toBe(sample.upid);
      if (shape.method) expect(declared.request, t.name).toMatchObject({ path: sample.path });
    }
  });

  it('read-only hides exactly the tools that change something', () => {
    const ro = selectTools({ toolsets: ['all'], readOnly: true }, ALL_TOOLS);
    expect(ro.every((t) => t.access === 'read')).toBe(true);
    expect(ro.length).toBe(ALL_TOOLS.filter((t) => t.access === 'read').length);
  });

  it('adds and excludes single tools, and refuses unknown names', () => {
    const picked = selectTools(
      { toolsets: ['core'], excludeTools: ['proxmox_delete_vm'] },
      ALL_TOOLS,
    ).map((t) => t.name);
    expect(picked).not.toContain('proxmox_delete_vm');
    expect(() => selectTools({ toolsets: ['core'], tools: ['proxmox_nope'] }, ALL_TOOLS)).toThrow(
      SelectionError,
    );
    expect(() => selectTools({ toolsets: ['nope' as never] }, ALL_TOOLS)).toThrow(
      /unknown toolset 'nope'/,
    );
    expect(TOOLSETS).toContain('core');
  });
});

describe('tools/list', () => {
  it('answers the same tools in both protocol eras', async () => {
    const names = listed.map((t) => t.name).sort();
    expect(
      ((await modern.client.listTools()).tools as ListedTool[]).map((t) => t.name).sort(),
    ).toEqual(names);
  });

  it('gives every tool a title, annotations and an output schema, and no top-level unions', () => {
    for (const t of listed) {
      expect(t.title, t.name).toBeTruthy();
      // Hints the spec's defaults already give are left out: a client reads them with those
      // defaults (readOnly false, destructive true, idempotent false, openWorld true).
      const a = t.annotations ?? {};
      expect(a.openWorldHint, t.name).toBe(false);
      if (!a.readOnlyHint) expect(typeof a.destructiveHint, t.name).toBe('boolean');
      expect(t.outputSchema?.type, t.name).toBe('object');
      for (const schema of [t.inputSchema, t.outputSchema ?? {}]) {
        expect(schema.type, t.name).toBe('object');
        for (const key of ['anyOf', 'oneOf', 'allOf'])
          expect(schema, `${t.name} ${key}`).not.toHaveProperty(key);
        expect(String(schema.$schema ?? ''), t.name).not.toMatch(/draft-07/);
      }
    }
  });

  it('keeps the default set within 40 tools, 16 KB of what a model reads and 40 KB in all', () => {
    expect(listed.length).toBeLessThanOrEqual(40);
    const bytes = listed.reduce(
      (sum, t) =>
        sum + Buffer.byteLength(t.name + (t.description ?? '') + JSON.stringify(t.inputSchema)),
      0,
    );
    expect(bytes).toBeLessThanOrEqual(16_000);
    expect(Buffer.byteLength(JSON.stringify({ tools: listed }))).toBeLessThanOrEqual(40_000);
  });

  it.each([
    ['api', 3_000, ['proxmox_api_request', 'proxmox_api_search']],
    [
      'firewall',
      5_000,
      [
        'proxmox_edit_firewall_rule',
        'proxmox_edit_firewall_set',
        'proxmox_get_firewall',
        'proxmox_set_firewall_options',
      ],
    ],
  ] as const)(
    'keeps the %s toolset within %d bytes of what a model reads',
    async (set, max, names) => {
      const h = await startHarness({ config: { toolsets: [set] } });
      try {
        const tools = (await h.client.listTools()).tools as ListedTool[];
        expect(tools.map((t) => t.name).sort()).toEqual([...names]);
        const bytes = tools.reduce(
          (sum, t) =>
            sum + Buffer.byteLength(t.name + (t.description ?? '') + JSON.stringify(t.inputSchema)),
          0,
        );
        expect(bytes).toBeLessThanOrEqual(max);
      } finally {
        await h.close();
      }
    },
  );
});

describe('schema snapshots', () => {
  const dir = fileURLToPath(new URL('./schemas/', import.meta.url));
  // Every tool of every toolset is snapshotted; UPDATE_SCHEMAS=1 rewrites them after review.
  it('match the committed snapshot of every tool', async () => {
    const all = await startHarness({ config: { toolsets: ['all'], confirm: 'elicit' } });
    try {
      const tools = (await all.client.listTools()).tools as ListedTool[];
      if (process.env.UPDATE_SCHEMAS) mkdirSync(dir, { recursive: true });
      for (const t of tools) {
        const file = `${dir}${t.name}.json`;
        const text = `${JSON.stringify({ name: t.name, title: t.title, description: t.description, annotations: t.annotations, inputSchema: t.inputSchema, outputSchema: t.outputSchema }, null, 2)}\n`;
        if (process.env.UPDATE_SCHEMAS) writeFileSync(file, text);
        expect(
          existsSync(file),
          `${t.name} has no schema snapshot: run UPDATE_SCHEMAS=1 npx vitest run test/tools/registry.test.ts`,
        ).toBe(true);
        expect(
          readFileSync(file, 'utf8'),
          `${t.name} changed its schema: review, then UPDATE_SCHEMAS=1`,
        ).toBe(text);
      }
    } finally {
      await all.close();
    }
  });
});
