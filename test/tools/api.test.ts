/** The API toolset (src/tools/api.ts): search, and any operation under the rails. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contract } from '../../src/contract/index.js';
import { routes } from '../../src/simulator/routes/index.js';
import { type McpHarness, startHarness } from '../helpers/mcp.js';
import { checkShape, concretePath, REQUIRED_QUERY } from '../helpers/shape.js';

let h: McpHarness;
beforeAll(async () => {
  h = await startHarness({ config: { toolsets: ['all'] } });
});
afterAll(() => h.close());

describe('proxmox_api_search', () => {
  it('finds operations by words, with parameters, task kind and privileges', async () => {
    const r = await h.call('proxmox_api_search', { query: 'add firewall rule vm' });
    expect(r.isError).toBeFalsy();
    expect(r.text).toMatch(
      /^POST \/nodes\/\{node\}\/qemu\/\{vmid\}\/firewall\/rules: Create firewall rule of a VM\n {2}needs: VM\.Config\.Network on \/vms\/\{vmid\}\n {2}required: action \(string\), type \(in\|out\|forward\|group\)/m,
    );
    const ops = r.structured?.operations as { path: string; optional: string[] }[];
    expect(ops.length).toBeLessThanOrEqual(5);
    expect(ops.find((o) => o.path.endsWith('/qemu/{vmid}/firewall/rules'))?.optional).toContain(
      'dport',
    );
  });

  it('says which operations run as a task and which versions have them', async () => {
    const r = await h.call('proxmox_api_search', { query: 'restart service', limit: 1 });
    expect(r.text).toMatch(
      /^POST \/nodes\/\{node\}\/services\/\{service\}\/restart: Restart a service \(runs as a task\)/,
    );
    const rules = await h.call('proxmox_api_search', {
      query: 'ha rules',
      method: 'GET',
      limit: 1,
    });
    expect(rules.text).toMatch(/only in PVE 9\.1\.3, 9\.2/);
  });

  it('says so when nothing matches', async () => {
    const r = await h.call('proxmox_api_search', { query: 'xyzzy' });
    expect(r.isError).toBeFalsy();
    expect(r.text).toMatch(/^No operation of the Proxmox VE API matches "xyzzy"/);
  });
});

describe('proxmox_api_request', () => {
  it('refuses what the API does not have, without blaming Proxmox', async () => {
    const r = await h.call('proxmox_api_request', { method: 'GET', path: '/nodes/pve1/nonsense' });
    expect(r.isError).toBe(true);
    expect(r.text).toBe(
      'Not sent: GET /nodes/pve1/nonsense is not an operation of the Proxmox VE API. proxmox_api_search finds operations by words or path.',
    );
    const wrongMethod = await h.call('proxmox_api_request', {
      method: 'DELETE',
      path: '/cluster/resources',
    });
    expect(wrongMethod.text).toMatch(/\/cluster\/resources has only GET/);
    expect(wrongMethod.text).not.toMatch(/Proxmox rejected/);
  });

  it('says which parameter is wrong and why, naming the one meant', async () => {
    // Nothing is sent for the call (the cluster's version may be read once).
    const sent = () => h.sim.sim.requests.filter((q) => !q.path.endsWith('/version')).length;
    const before = sent();
    const typo = await h.call('proxmox_api_request', {
      method: 'GET',
      path: '/cluster/resources',
      params: { typ: 'vm' },
    });
    expect(typo.isError).toBe(true);
    expect(typo.text).toMatch(
      /^Not sent: typ: property is not defined in schema .*; did you mean 'type'\?/,
    );
    const bad = await h.call('proxmox_api_request', {
      method: 'GET',
      path: '/cluster/resources',
      params: { type: 'everything' },
    });
    expect(bad.text).toMatch(/type: value 'everything' does not have a value in the enumeration/);
    expect(sent()).toBe(before);
  });

  it('pages a long list and keeps only the fields asked for', async () => {
    const all = await h.call('proxmox_api_request', { method: 'GET', path: '/cluster/resources' });
    const total = all.structured?.total as number;
    expect(total).toBeGreaterThan(12);
    const page = await h.call('proxmox_api_request', {
      method: 'GET',
      path: '/cluster/resources',
      fields: ['id', 'status'],
      limit: 5,
      offset: 5,
    });
    const data = page.structured?.data as Record<string, unknown>[];
    expect(data).toHaveLength(5);
    for (const row of data) expect(Object.keys(row).sort()).toEqual(['id', 'status']);
    expect(page.text.split('\n')[0]).toBe(
      `GET /cluster/resources: items 6-10 of ${total}; next page: offset=10`,
    );
    // A table of the two fields, one row per item.
    expect(page.text.split('\n')[1]).toMatch(/^id +status$/);
    expect(page.text.split('\n')).toHaveLength(7);
  });

  it('reads an object a key per line, and gives a started task its id', async () => {
    const config = await h.call('proxmox_api_request', {
      method: 'GET',
      path: '/nodes/pve1/qemu/100/config',
    });
    expect(config.text).toMatch(/^GET \/nodes\/pve1\/qemu\/100\/config:\nname: web-01\ncores: 2\n/);
    expect(config.text).toMatch(/^digest: [0-9a-f]{40}$/m);
    const journal = await h.call('proxmox_api_request', {
      method: 'GET',
      path: '/nodes/pve1/journal',
      params: { lastentries: 2 },
    });
    // Lines of text as they are, not quoted.
    expect(journal.text.split('\n')[1]).toMatch(/^s=[0-9a-f]+;i=/);
    expect(journal.text).toMatch(/\n\w{3} \d{2} [\d:]{8} pve1 /);
    const started = await h.call('proxmox_api_request', {
      method: 'POST',
      path: '/nodes/pve1/qemu/101/snapshot',
      params: { snapname: 'api-test' },
    });
    expect(started.isError, started.text).toBeFalsy();
    expect(started.text).toMatch(
      /: started task UPID:pve1:[^ ]+:qmsnapshot:101:[^ ]+; proxmox_wait_task follows it\.$/,
    );
    expect(started.structured?.upid).toMatch(/^UPID:pve1:/);
  });
});

describe('every read the simulator implements, through proxmox_api_request', () => {
  const reads = contract.operations.filter(
    (op) => op.method === 'GET' && routes[`GET ${op.path}`] && !op.path.endsWith('/exec-status'),
  );
  let upid: string;
  beforeAll(async () => {
    const started = await h.call('proxmox_api_request', {
      method: 'POST',
      path: '/nodes/pve1/qemu/100/status/reboot',
    });
    upid = started.structured?.upid as string;
  });

  it.each(reads.map((op) => [op.path, op] as const))('GET %s', async (_path, op) => {
    const r = await h.call('proxmox_api_request', {
      method: 'GET',
      path: concretePath(op, upid),
      params: REQUIRED_QUERY[op.path] ?? {},
      limit: 1000,
    });
    expect(r.isError, r.text).toBeFalsy();
    // The answer as the tool gives it has the fields and types the official schema names.
    expect(
      checkShape(op.returns, r.structured?.data, op.path).filter(
        (p) => !p.includes('nothing checked'),
      ),
    ).toEqual([]);
    expect(r.text.startsWith(`GET ${concretePath(op, upid)}:`)).toBe(true);
  });
});

describe('proxmox_api_request on an older cluster', () => {
  let old: McpHarness;
  beforeAll(async () => {
    old = await startHarness({ config: { toolsets: ['api'] }, sim: { pveVersion: '8.4.2' } });
  });
  afterAll(() => old.close());

  it('refuses an operation its version lacks, naming the versions that have it', async () => {
    const r = await old.call('proxmox_api_request', { method: 'GET', path: '/cluster/ha/rules' });
    expect(r.isError).toBe(true);
    expect(r.text).toBe(
      'Not sent: GET /cluster/ha/rules is not in the API of Proxmox VE 8.4.2, which this cluster runs; it is in the API of Proxmox VE 9.1.3 and 9.2.',
    );
    expect(old.sim.sim.requests.some((q) => q.path.includes('/ha/rules'))).toBe(false);
    const groups = await old.call('proxmox_api_request', {
      method: 'GET',
      path: '/cluster/ha/groups',
    });
    expect(groups.text).not.toMatch(/not in the API/);
  });
});

describe('proxmox_api_request under the rails', () => {
  let r: McpHarness;
  const asked: string[] = [];
  beforeAll(async () => {
    r = await startHarness({
      config: { toolsets: ['api'], confirm: 'elicit' },
      cluster: { scope: { protected: { tags: ['prod'] } } },
      elicit: (message) => {
        asked.push(message);
        return { action: 'decline' };
      },
    });
  });
  afterAll(() => r.close());
  const changesSent = () => r.sim.sim.requests.filter((q) => q.method !== 'GET').length;

  it('refuses a change that reaches a protected guest, wherever the guest is named', async () => {
    const before = changesSent();
    const attempts: [string, string, Record<string, string | number>][] = [
      ['POST', '/nodes/pve1/qemu/100/firewall/rules', { type: 'in', action: 'ACCEPT' }],
      ['PUT', '/nodes/pve1/qemu/%31%30%30/firewall/options', { enable: 0 }],
      ['PUT', '/access/acl', { path: '/vms/101', roles: 'PVEVMAdmin', users: 'alice@pve' }],
      [
        'POST',
        '/cluster/ha/rules',
        { rule: 'pin', type: 'node-affinity', resources: 'vm:102', nodes: 'pve1' },
      ],
      ['DELETE', '/cluster/replication/100-0', {}],
      ['POST', '/nodes/pve1/status', { command: 'reboot' }],
      ['POST', '/nodes/pve1/execute', { commands: '[]' }],
      ['POST', '/cluster/bulk-action/guest/shutdown', {}],
      ['PUT', '/access/acl', { path: '/vms', roles: 'PVEVMAdmin', users: 'alice@pve' }],
      ['DELETE', '/nodes/pve1/disks/lvmthin/data', { 'cleanup-disks': 1 }],
      ['DELETE', '/nodes/pve1/storage/local/prunebackups', {}],
      ['POST', '/nodes/pve1/qemu/100/agent/file-write', { file: '/etc/motd', content: 'x' }],
      ['POST', '/nodes/pve1/vncshell', {}],
    ];
    for (const [method, path, params] of attempts) {
      const res = await r.call('proxmox_api_request', { method, path, params });
      expect(res.isError, `${method} ${path}: ${res.text}`).toBe(true);
      expect(res.text, `${method} ${path}`).toMatch(/protected|cannot be tied to one guest/);
    }
    expect(asked).toEqual([]);
    expect(changesSent()).toBe(before);
  });

  it('asks before any other change, naming method, path, parameters and the guest', async () => {
    const before = changesSent();
    const res = await r.call('proxmox_api_request', {
      method: 'POST',
      path: '/nodes/pve2/qemu/104/firewall/rules',
      params: { type: 'in', action: 'DROP', dport: '22', proto: 'tcp' },
    });
    expect(res.isError).toBe(true);
    expect(asked.at(-1)).toMatch(
      /POST \/nodes\/pve2\/qemu\/104\/firewall\/rules with \{"type":"in","action":"DROP","dport":"22","proto":"tcp"\}, acting on VM 104 \(\S+\) on pve2, now \w+\./,
    );
    expect(changesSent()).toBe(before);
  });
});
