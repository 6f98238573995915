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

// Each tool, arguments that succeed on the small dataset, and the fields later calls take.
const CASES: [string, Record<string, unknown>, string[]][] = [
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
  ['proxmox_bulk_guests', { action: 'start', vmids: [103, 106] }, ['results[].vmid']],
  ['proxmox_migrate_guest', { vmid: 201, target: 'pve2' }, ['upid', 'target']],
  ['proxmox_resize_disk', { vmid: 104, disk: 'scsi0', size: '+1G' }, ['upid', 'disk']],
];

describe('every answer names what the next call takes', () => {
  it.each(CASES)('%s', async (name, args, fields) => {
    const r = await h.call(name, args);
    expect(r.isError, r.text).toBeFalsy();
    for (const field of fields) {
      const values = valuesAt(r.structured, field).filter((v) => v !== undefined && v !== '');
      expect(values.length, `${name}: ${field} has values`).toBeGreaterThan(0);
      for (const v of values) expect(r.text, `${name}: ${field} = ${v}`).toContain(String(v));
    }
  });
});
