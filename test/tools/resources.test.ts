import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type McpHarness, startHarness } from '../helpers/mcp.js';

let h: McpHarness;
let modern: McpHarness;
beforeAll(async () => {
  h = await startHarness();
  modern = await startHarness({ era: 'modern' });
});
afterAll(async () => {
  await h.close();
  await modern.close();
});

const text = (r: { contents: { mimeType?: string; text?: unknown }[] }) =>
  String(r.contents.find((c) => c.mimeType === 'text/plain')?.text ?? '');

describe('resources', () => {
  it('lists the cluster status and the templates', async () => {
    expect((await h.client.listResources()).resources.map((r) => r.uri)).toEqual([
      'proxmox://cluster/status',
    ]);
    expect(
      (await h.client.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate).sort(),
    ).toEqual(['proxmox://guests/{vmid}', 'proxmox://nodes/{node}', 'proxmox://tasks/{upid}/log']);
  });

  it.each([
    ['proxmox://cluster/status', /^Cluster demo\npve1: online \(10\.0\.0\.11\)\npve2: online/],
    ['proxmox://nodes/pve2', /^pve2: pve-manager\/9\.1\.3/],
    ['proxmox://guests/102', /^VM 102 db-01 on pve1: running.*\nVM 102 db-01 on pve1: running/s],
  ])('reads %s', async (uri, expected) => {
    const r = await h.client.readResource({ uri });
    expect(text(r)).toMatch(expected);
    const json = r.contents.find((c) => c.mimeType === 'application/json') as
      | { text?: string }
      | undefined;
    expect(JSON.parse(String(json?.text))).toBeTruthy();
  });

  it('reads a task log, and says what is wrong with a missing guest', async () => {
    const started = await h.call('proxmox_start_vm', { vmid: 103 });
    const upid = String(started.structured?.upid);
    expect(
      text(await h.client.readResource({ uri: `proxmox://tasks/${encodeURIComponent(upid)}/log` })),
    ).toMatch(/TASK OK$/);
    expect(text(await h.client.readResource({ uri: 'proxmox://guests/4242' }))).toMatch(
      /No VM or container with ID 4242/,
    );
  });

  it('completes node names and vmids', async () => {
    const nodes = await h.client.complete({
      ref: { type: 'ref/resource', uri: 'proxmox://nodes/{node}' },
      argument: { name: 'node', value: 'pve' },
    });
    expect(nodes.completion.values).toEqual(['pve1', 'pve2', 'pve3']);
    const ids = await h.client.complete({
      ref: { type: 'ref/resource', uri: 'proxmox://guests/{vmid}' },
      argument: { name: 'vmid', value: '20' },
    });
    expect(ids.completion.values.sort()).toEqual(['200', '201', '202', '203']);
  });

  it('work in the 2026-07-28 era too', async () => {
    expect(text(await modern.client.readResource({ uri: 'proxmox://guests/200' }))).toMatch(
      /^Container 200 ct-dns/,
    );
  });
});

const promptText = (r: { messages: { content: unknown }[] }) =>
  String((r.messages[0]?.content as { text?: string } | undefined)?.text ?? '');

describe('prompts', () => {
  it('lists and renders the four prompts', async () => {
    expect((await h.client.listPrompts()).prompts.map((p) => p.name).sort()).toEqual([
      'capacity_planning',
      'cluster_health_report',
      'provision_vm',
      'triage_guest',
    ]);
    const health = await h.client.getPrompt({ name: 'cluster_health_report' });
    expect(promptText(health)).toMatch(/^Write a health report/);
    const triage = await h.client.getPrompt({ name: 'triage_guest', arguments: { vmid: '106' } });
    expect(promptText(triage)).toMatch(/^Guest 106 on the Proxmox VE cluster is misbehaving/);
    const plan = await h.client.getPrompt({
      name: 'capacity_planning',
      arguments: { cores: '4', memory: '8192', disk: '64' },
    });
    expect(promptText(plan)).toMatch(/4 vCPUs, 8192 MiB/);
    const vm = await modern.client.getPrompt({
      name: 'provision_vm',
      arguments: { name: 'app-01' },
    });
    expect(promptText(vm)).toMatch(/named app-01/);
  });
});
