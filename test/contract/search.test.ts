import { describe, expect, it } from 'vitest';
import { privileges, searchOperations } from '../../src/contract/search.js';

// What an assistant asks for when no dedicated tool covers it, and the operation it needs.
const QUERIES: [string, string][] = [
  ['firewall rules vm', 'GET /nodes/{node}/qemu/{vmid}/firewall/rules'],
  ['/cluster/sdn', 'GET /cluster/sdn'],
  ['apt', 'GET /nodes/{node}/apt/update'],
  ['cluster log', 'GET /cluster/log'],
  ['list backup jobs', 'GET /cluster/backup'],
  ['ha groups', 'GET /cluster/ha/groups'],
  ['replication jobs', 'GET /cluster/replication'],
  ['restart service', 'POST /nodes/{node}/services/{service}/restart'],
  ['syslog', 'GET /nodes/{node}/syslog'],
  ['journal', 'GET /nodes/{node}/journal'],
  ['disks list', 'GET /nodes/{node}/disks/list'],
  ['add firewall rule container', 'POST /nodes/{node}/lxc/{vmid}/firewall/rules'],
  ['move disk vm storage', 'POST /nodes/{node}/qemu/{vmid}/move_disk'],
  ['create user', 'POST /access/users'],
  ['sdn zones', 'GET /cluster/sdn/zones'],
  ['ceph osd', 'GET /nodes/{node}/ceph/osd'],
  ['network interfaces node', 'GET /nodes/{node}/network'],
  ['DELETE /access/users', 'DELETE /access/users/{userid}'],
  ['node certificates', 'GET /nodes/{node}/certificates/info'],
  ['vm console vnc', 'POST /nodes/{node}/qemu/{vmid}/vncproxy'],
  ['pending package updates', 'GET /nodes/{node}/apt/update'],
  ['node dns settings', 'GET /nodes/{node}/dns'],
  ['firewall ipset', 'GET /cluster/firewall/ipset'],
  ['firewall security groups', 'GET /cluster/firewall/groups'],
  ['upload iso storage', 'POST /nodes/{node}/storage/{storage}/upload'],
  ['/nodes/pve1/qemu/100/firewall/options', 'GET /nodes/{node}/qemu/{vmid}/firewall/options'],
  ['ha rules', 'GET /cluster/ha/rules'],
  ['container firewall options', 'GET /nodes/{node}/lxc/{vmid}/firewall/options'],
];

describe('API search', () => {
  it.each(QUERIES)('finds the operation for "%s" among the first five', (query, wanted) => {
    const found = searchOperations(query, 5).map((op) => `${op.method} ${op.path}`);
    expect(found).toContain(wanted);
  });

  it('narrows to one method', () => {
    const found = searchOperations('firewall rules', 10, 'DELETE');
    expect(found.length).toBeGreaterThan(0);
    for (const op of found) expect(op.method).toBe('DELETE');
  });

  it('finds nothing for words the API does not have', () => {
    expect(searchOperations('xyzzy plugh', 5)).toEqual([]);
  });

  it('says which privileges an operation checks', () => {
    const [rules] = searchOperations('/nodes/pve1/qemu/100/firewall/rules', 1, 'GET');
    expect(rules && privileges(rules)).toBe('VM.Audit on /vms/{vmid}');
  });
});
