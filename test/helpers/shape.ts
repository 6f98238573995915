/**
 * Checks of answers against the contract's return shapes, and concrete paths for its operations
 * from the small dataset: shared by the simulator's contract test and the API tool's.
 */
import type { ContractOperation, ReturnSpec } from '../../src/contract/types.js';

/** Concrete values for path parameters, chosen from the small dataset. */
export function concretePath(op: ContractOperation, upid: string): string {
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
    service: 'pveproxy',
    // An HA group, or the firewall's security group.
    group: op.path.startsWith('/cluster/firewall') ? 'webserver' : 'prefer-pve1',
    rule: 'ha-group-prefer-pve1',
    // Firewall: rule 0, an alias and an IP set with one of its entries, at the datacenter or
    // on the guest (VM 100, CT 200).
    pos: '0',
    name: op.path.startsWith('/cluster/firewall')
      ? op.path.includes('/aliases')
        ? 'office'
        : 'blacklist'
      : op.path.includes('/aliases')
        ? lxc
          ? 'lan'
          : 'proxy'
        : 'ipfilter-net0',
    cidr: op.path.startsWith('/cluster/firewall') ? '192.0.2.66' : lxc ? '10.0.0.53' : '10.0.1.102',
    // A backup job, or VM 102's replication job (from pve1).
    id: op.path.startsWith('/cluster/backup') ? 'backup-5f2a9c1e-8d3b' : '102-0',
  };
  return op.path.replace(/\{([^}/]+)\}/g, (_, name: string) => values[name] ?? '');
}

export const REQUIRED_QUERY: Record<string, Record<string, string>> = {
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

export function checkShape(spec: ReturnSpec, value: unknown, where: string): string[] {
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
