/**
 * Texts that stand alone: many clients show a model only the text, so whatever a later call takes
 * as input (ids, names, digests, volume ids, task ids) must be in it, not only in the structured
 * content.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type McpHarness, startHarness } from '../helpers/mcp.js';

let h: McpHarness;
beforeAll(async () => {
  h = await startHarness({ config: { toolsets: ['all'] } });
});
afterAll(() => h.close());

/** Values at a path of the structured content: `items[].vmid` gives every item's vmid. */
function valuesAt(data: unknown, path: string): unknown[] {
  const [head, ...rest] = path.split('.');
  if (head === undefined) return [data];
  const list = head.endsWith('[]');
  const key = list ? head.slice(0, -2) : head;
  const value = (data as Record<string, unknown> | undefined)?.[key];
  const next = list ? ((value as unknown[] | undefined) ?? []) : [value];
  return next.flatMap((v) => (rest.length ? valuesAt(v, rest.join('.')) : [v]));
}

/** What earlier answers gave, for the calls that take it. */
const saved: { upid?: string; volid?: string } = {};
type Args = Record<string, unknown> | (() => Record<string, unknown>);

// Each tool, arguments that succeed on the small dataset (in this order: later cases use what
// earlier ones made), and the fields later calls take.
const CASES: [string, Args, string[]][] = [
  ['proxmox_list_nodes', {}, ['nodes[].node']],
  ['proxmox_list_vms', {}, ['items[].vmid', 'items[].name', 'items[].node', 'items[].pool']],
  ['proxmox_list_containers', {}, ['items[].vmid', 'items[].name']],
  ['proxmox_get_vm_info', { vmid: 100 }, ['vmid', 'node', 'digest']],
  ['proxmox_get_container_info', { vmid: 200 }, ['vmid', 'node', 'digest']],
  ['proxmox_list_snapshots', { vmid: 102 }, ['snapshots[].name']],
  ['proxmox_list_backups', {}, ['backups[].volid']],
  ['proxmox_list_storage', { node: 'pve1' }, ['storages[].storage']],
  ['proxmox_list_tasks', { limit: 5 }, ['tasks[].upid']],
  ['proxmox_list_pools', {}, ['pools[].poolid']],
  ['proxmox_list_users', {}, ['users[].userid']],
  ['proxmox_start_vm', { vmid: 103 }, ['upid']],
  ['proxmox_create_snapshot', { vmid: 104, snapname: 'texts' }, ['upid']],
  ['proxmox_backup_guest', { vmid: 104 }, ['upid', 'volid']],
  ['proxmox_list_storage_content', { node: 'pve1', storage: 'local' }, ['items[].volid']],
  ['proxmox_list_tokens', { userid: 'alice@pve' }, ['tokens[].tokenid']],
  ['proxmox_list_node_networks', { node: 'pve1' }, ['interfaces[].iface']],
  ['proxmox_clone_guest', { vmid: 9000, newid: 150, name: 'texts-clone' }, ['vmid', 'upid']],
  ['proxmox_get_firewall', { section: 'rules' }, ['data[].pos', 'data[].digest']],
  ['proxmox_api_search', { query: 'firewall rules vm' }, ['operations[].path']],
  ['proxmox_get_ha_status', {}, ['resources[].sid']],
  ['proxmox_get_cluster_status', {}, ['nodes[].name']],
  ['proxmox_show_dashboard', {}, ['cluster.name', 'nodes[].name']],
  ['proxmox_bulk_guests', { action: 'start', vmids: [103, 106] }, ['results[].vmid']],
  ['proxmox_migrate_guest', { vmid: 201, target: 'pve2' }, ['upid', 'target']],
  ['proxmox_resize_disk', { vmid: 104, disk: 'scsi0', size: '+1G' }, ['upid', 'disk']],
  ['proxmox_get_vm_status', { vmid: 100 }, ['vmid', 'node', 'status']],
  ['proxmox_get_container_status', { vmid: 200 }, ['vmid', 'node', 'status']],
  ['proxmox_get_node_status', { node: 'pve1' }, ['node', 'pveversion', 'kernel']],
  ['proxmox_get_version', {}, ['version', 'release']],
  ['proxmox_test_connection', {}, ['clusterName', 'version']],
  ['proxmox_get_permissions', {}, ['identity', 'toolsets[].toolset']],
  ['proxmox_get_storage_usage', { storage: 'local' }, ['usage[].storage', 'usage[].node']],
  ['proxmox_get_node_metrics', { node: 'pve1' }, ['target', 'series[].series']],
  ['proxmox_get_guest_metrics', { vmid: 100 }, ['target', 'series[].series']],
  ['proxmox_get_guest_network', { vmid: 100 }, ['interfaces[].name', 'interfaces[].addresses[]']],
  ['proxmox_get_guest_os_info', { vmid: 100 }, ['prettyName', 'kernel']],
  ['proxmox_exec_command', { vmid: 100, command: ['hostname'] }, ['exitcode', 'stdout']],
  ['proxmox_get_task_status', () => ({ upid: saved.upid }), ['node', 'exitstatus']],
  ['proxmox_get_task_log', () => ({ upid: saved.upid }), ['lines[]']],
  ['proxmox_wait_task', () => ({ upid: saved.upid }), ['node']],
  ['proxmox_shutdown_vm', { vmid: 101 }, ['vmid', 'node', 'upid']],
  ['proxmox_reboot_vm', { vmid: 100 }, ['vmid', 'node', 'upid']],
  ['proxmox_reset_vm', { vmid: 100 }, ['vmid', 'node', 'upid']],
  ['proxmox_suspend_vm', { vmid: 105 }, ['vmid', 'node', 'upid']],
  ['proxmox_resume_vm', { vmid: 105 }, ['vmid', 'node', 'upid']],
  ['proxmox_stop_vm', { vmid: 105 }, ['vmid', 'node', 'upid']],
  ['proxmox_start_container', { vmid: 201 }, ['vmid', 'node', 'upid']],
  ['proxmox_shutdown_container', { vmid: 201 }, ['vmid', 'node', 'upid']],
  ['proxmox_reboot_container', { vmid: 200 }, ['vmid', 'node', 'upid']],
  ['proxmox_suspend_container', { vmid: 202 }, ['vmid', 'node', 'upid']],
  ['proxmox_resume_container', { vmid: 202 }, ['vmid', 'node', 'upid']],
  ['proxmox_stop_container', { vmid: 202 }, ['vmid', 'node', 'upid']],
  ['proxmox_create_vm', { name: 'texts-vm', vmid: 160 }, ['vmid', 'name', 'node', 'upid']],
  ['proxmox_convert_to_template', { vmid: 160 }, ['vmid', 'node', 'upid']],
  [
    'proxmox_create_container',
    {
      hostname: 'texts-ct',
      template: 'local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst',
      node: 'pve1',
      vmid: 161,
    },
    ['vmid', 'hostname', 'node', 'upid'],
  ],
  ['proxmox_delete_container', { vmid: 161 }, ['vmid', 'name', 'upid']],
  ['proxmox_delete_vm', { vmid: 150 }, ['vmid', 'name', 'upid']],
  ['proxmox_delete_snapshot', { vmid: 104, snapname: 'texts' }, ['snapname', 'upid']],
  ['proxmox_rollback_snapshot', { vmid: 202, snapname: 'pre-grafana-11' }, ['snapname', 'upid']],
  [
    'proxmox_restore_backup',
    { volid: 'backup-nfs:backup/vzdump-qemu-100-2026_11_20-01_00_03.vma.zst', vmid: 170 },
    ['vmid', 'volid', 'node', 'upid'],
  ],
  ['proxmox_delete_backup', () => ({ volid: saved.volid }), ['volid', 'upid']],
  ['proxmox_update_guest_config', { vmid: 103, cores: 2 }, ['vmid', 'changed[]']],
  ['proxmox_set_firewall_options', { vmid: 100, dhcp: true }, ['level']],
  [
    'proxmox_edit_firewall_rule',
    { change: 'add', vmid: 100, type: 'in', action: 'ACCEPT', proto: 'tcp', dport: '443' },
    ['level', 'rules[].pos', 'rules[].digest'],
  ],
  [
    'proxmox_edit_firewall_set',
    { kind: 'alias', change: 'add', name: 'texts', cidr: '10.9.9.9' },
    ['level', 'items[].name', 'items[].cidr'],
  ],
  ['proxmox_api_request', { method: 'GET', path: '/nodes' }, ['data[].node']],
  [
    'proxmox_evacuate_node',
    { node: 'pve2', withLocalDisks: true },
    ['plan[].vmid', 'plan[].to', 'staying[].vmid', 'tasks[].upid'],
  ],
];

describe('every answer names what the next call takes', () => {
  it.each(CASES)('%s', async (name, args, fields) => {
    const r = await h.call(name, typeof args === 'function' ? args() : args);
    expect(r.isError, r.text).toBeFalsy();
    if (typeof r.structured?.upid === 'string') saved.upid = r.structured.upid;
    if (name === 'proxmox_backup_guest') saved.volid = r.structured?.volid as string;
    for (const field of fields) {
      const values = valuesAt(r.structured, field).filter((v) => v !== undefined && v !== '');
      expect(values.length, `${name}: ${field} has values`).toBeGreaterThan(0);
      for (const v of values)
        expect(r.text, `${name}: ${field} = ${v}`).toContain(String(v).trim());
    }
  });
});

it('covers every tool', async () => {
  const { tools } = await h.client.listTools();
  const covered = new Set([...CASES.map(([name]) => name), 'proxmox_stop_task']);
  expect(tools.map((t) => t.name).filter((n) => !covered.has(n))).toEqual([]);
});

it('proxmox_stop_task', async () => {
  // A task that lasts (simulated) time, so that there is one to stop.
  h.sim.sim.tasks.durationScale = 1;
  const started = await h.call('proxmox_start_vm', { vmid: 105, timeout: 0 });
  h.sim.sim.tasks.durationScale = 0;
  const r = await h.call('proxmox_stop_task', { upid: started.structured?.upid });
  expect(r.isError, r.text).toBeFalsy();
  for (const field of ['node']) expect(r.text).toContain(String(r.structured?.[field]));
});
