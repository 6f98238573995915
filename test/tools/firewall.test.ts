/** The firewall toolset (src/tools/firewall.ts) and its lock-out check, against the simulator. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type McpHarness, startHarness } from '../helpers/mcp.js';

const ME = '203.0.113.5';
let h: McpHarness;
const asked: string[] = [];
let answer: 'accept' | 'decline' = 'accept';

beforeAll(async () => {
  h = await startHarness({
    config: { toolsets: ['firewall', 'api'], confirm: 'elicit' },
    cluster: { sourceAddress: ME, scope: { protected: { tags: ['prod'] } } },
    elicit: (message) => {
      asked.push(message);
      return answer === 'accept'
        ? { action: 'accept', content: { confirm: true } }
        : { action: 'decline' };
    },
  });
});
afterAll(() => h.close());

const rules = async (args: Record<string, unknown>) =>
  (await h.call('proxmox_get_firewall', { ...args, section: 'rules' })).structured?.data as {
    pos: number;
    action: string;
    dport?: string;
    enable?: number;
    digest: string;
  }[];

describe('reading firewalls', () => {
  it('reads options, rules and more at each level, and says where a section does not exist', async () => {
    const dc = await h.call('proxmox_get_firewall', { section: 'options' });
    expect(dc.isError, dc.text).toBeFalsy();
    expect(dc.text).toMatch(/^Firewall of the datacenter, options:\n/);
    const node = await h.call('proxmox_get_firewall', { node: 'pve1', section: 'rules' });
    expect(node.text).toMatch(/^Firewall of node pve1, rules:\n/);
    const guest = await h.call('proxmox_get_firewall', { vmid: 104, section: 'options' });
    expect(guest.text).toMatch(/^Firewall of VM 104, options:\n/);
    const refs = await h.call('proxmox_get_firewall', { section: 'refs' });
    expect(refs.isError, refs.text).toBeFalsy();
    const nodeAliases = await h.call('proxmox_get_firewall', { node: 'pve1', section: 'aliases' });
    expect(nodeAliases.isError).toBe(true);
    expect(nodeAliases.text).toBe(
      'A node firewall has no aliases: they exist at the datacenter and guest levels.',
    );
    const log = await h.call('proxmox_get_firewall', { node: 'pve1', section: 'log', limit: 5 });
    expect(log.isError, log.text).toBeFalsy();
    expect(log.text).toMatch(/\(\d+ of \d+ lines\)$/);
  });
});

describe('rules', () => {
  it('adds rules first and enabled, updates, moves and deletes them by position', async () => {
    const add = async (dport: string) =>
      h.call('proxmox_edit_firewall_rule', {
        change: 'add',
        vmid: 104,
        type: 'in',
        action: 'ACCEPT',
        proto: 'tcp',
        dport,
        comment: `port ${dport}`,
      });
    const first = await add('80');
    expect(first.isError, first.text).toBeFalsy();
    expect(first.text).toMatch(/^Rule added in the firewall of VM 104\. Rules now:\npos +type/);
    expect(first.text).toMatch(/\ndigest: [0-9a-f]+$/);
    await add('443');
    let now = await rules({ vmid: 104 });
    expect(now.slice(0, 2).map((r) => [r.pos, r.dport, r.enable])).toEqual([
      [0, '443', 1],
      [1, '80', 1],
    ]);
    // PVE puts the rule before the one at moveto, counted before the move.
    const moved = await h.call('proxmox_edit_firewall_rule', {
      change: 'move',
      vmid: 104,
      pos: 0,
      moveto: 2,
    });
    expect(moved.text).toMatch(/^Rule 0 moved to 1 in the firewall of VM 104/);
    now = await rules({ vmid: 104 });
    expect(now.slice(0, 2).map((r) => r.dport)).toEqual(['80', '443']);
    const updated = await h.call('proxmox_edit_firewall_rule', {
      change: 'update',
      vmid: 104,
      pos: 1,
      dport: '8443',
      digest: now[0]?.digest,
    });
    expect(updated.isError, updated.text).toBeFalsy();
    expect((await rules({ vmid: 104 }))[1]?.dport).toBe('8443');
    // The digest read before the update no longer fits.
    const stale = await h.call('proxmox_edit_firewall_rule', {
      change: 'delete',
      vmid: 104,
      pos: 0,
      digest: now[0]?.digest,
    });
    expect(stale.isError).toBe(true);
    expect(stale.text).toMatch(/digest mismatch/);
    const deleted = await h.call('proxmox_edit_firewall_rule', {
      change: 'delete',
      vmid: 104,
      pos: 0,
    });
    expect(deleted.isError, deleted.text).toBeFalsy();
    expect(asked.at(-1)).toMatch(/Delete \/nodes\/pve2\/qemu\/104\/firewall\/rules\/0/);
    expect((await rules({ vmid: 104 }))[0]?.dport).toBe('8443');
  });

  it('says what is missing before sending anything', async () => {
    const r = await h.call('proxmox_edit_firewall_rule', {
      change: 'update',
      vmid: 104,
      dport: '22',
    });
    expect(r.isError).toBe(true);
    expect(r.text).toBe(
      'To update a rule, give its pos (proxmox_get_firewall with section rules lists them).',
    );
  });

  it('refuses any change to a protected guest, and shows a dry run without changing anything', async () => {
    const before = await rules({ vmid: 100 });
    const r = await h.call('proxmox_edit_firewall_rule', {
      change: 'add',
      vmid: 100,
      type: 'in',
      action: 'DROP',
    });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/VM 100 \(web-01\) is protected/);
    const dry = await h.call('proxmox_edit_firewall_rule', {
      change: 'add',
      vmid: 105,
      type: 'in',
      action: 'ACCEPT',
      dport: '22',
      proto: 'tcp',
      dryRun: true,
    });
    expect(dry.text).toMatch(
      /^Dry run of proxmox_edit_firewall_rule: nothing was changed\.\nIt would call:\n {2}POST \/api2\/json\/nodes\/pve2\/qemu\/105\/firewall\/rules /,
    );
    expect(await rules({ vmid: 100 })).toEqual(before);
  });
});

describe('guest options', () => {
  it('asks before turning IP filtering off, and audits the change', async () => {
    const r = await h.call('proxmox_set_firewall_options', { vmid: 104, ipfilter: false });
    expect(r.isError, r.text).toBeFalsy();
    expect(r.text).toMatch(/^Firewall options of VM 104 now:\n(?:.*\n)*ipfilter: 0/);
    expect(asked.at(-1)).toMatch(
      /Turn off IP filtering \(ipfilter\) of the firewall at \/nodes\/pve2\/qemu\/104\/firewall: VM 104 /,
    );
    expect(h.auditLines.at(-1)).toMatchObject({
      tool: 'proxmox_set_firewall_options',
      decision: 'confirmed',
      outcome: 'ok',
    });
  });
});

describe('aliases, IP sets and security groups', () => {
  it('creates, renames and deletes them, with IP set entries', async () => {
    const call = (args: Record<string, unknown>) => h.call('proxmox_edit_firewall_set', args);
    const alias = await call({
      kind: 'alias',
      change: 'add',
      name: 'branch',
      cidr: '198.51.100.0/24',
    });
    expect(alias.isError, alias.text).toBeFalsy();
    expect(alias.text).toMatch(/^alias branch added in the firewall of the datacenter\. Now:\n/);
    const set = await call({
      kind: 'ipset',
      change: 'add',
      name: 'admins',
      comment: 'admin hosts',
    });
    expect(set.isError, set.text).toBeFalsy();
    const entry = await call({
      kind: 'entry',
      change: 'add',
      name: 'admins',
      cidr: '198.51.100.7',
    });
    expect(entry.isError, entry.text).toBeFalsy();
    expect(entry.text).toMatch(/198\.51\.100\.7/);
    // A network as an entry: its slash travels encoded in the path.
    const net = await call({
      kind: 'entry',
      change: 'add',
      name: 'admins',
      cidr: '198.51.100.64/26',
    });
    expect(net.text).toMatch(/198\.51\.100\.64\/26/);
    const netOff = await call({
      kind: 'entry',
      change: 'update',
      name: 'admins',
      cidr: '198.51.100.64/26',
      nomatch: true,
    });
    expect(netOff.isError, netOff.text).toBeFalsy();
    const netGone = await call({
      kind: 'entry',
      change: 'delete',
      name: 'admins',
      cidr: '198.51.100.64/26',
    });
    expect(netGone.isError, netGone.text).toBeFalsy();
    expect(netGone.text).not.toMatch(/198\.51\.100\.64/);
    const renamed = await call({
      kind: 'ipset',
      change: 'update',
      name: 'admins',
      rename: 'operators',
    });
    expect(renamed.isError, renamed.text).toBeFalsy();
    expect(renamed.text).toMatch(/operators/);
    const again = await call({ kind: 'alias', change: 'add', name: 'branch', cidr: '192.0.2.1' });
    expect(again.isError).toBe(true);
    expect(again.text).toMatch(
      /^Already exists: .*alias 'branch' already exists.*\. Choose another name\.$/,
    );
    const group = await call({ kind: 'group', change: 'add', name: 'mail' });
    expect(group.isError, group.text).toBeFalsy();
    const groupRule = await h.call('proxmox_edit_firewall_rule', {
      change: 'add',
      group: 'mail',
      type: 'in',
      action: 'ACCEPT',
      macro: 'SMTP',
    });
    expect(groupRule.text).toMatch(/^Rule added in the firewall of security group mail/);
    const onGuest = await call({ kind: 'group', change: 'add', name: 'x', vmid: 104 });
    expect(onGuest.text).toBe(
      'Security groups exist only at the datacenter level: leave out vmid.',
    );
    const gone = await call({ kind: 'ipset', change: 'delete', name: 'operators', force: true });
    expect(gone.isError, gone.text).toBeFalsy();
  });
});

describe('lock-out protection', () => {
  it('refuses turning the datacenter firewall on while nothing lets this server in, through any tool', async () => {
    const on = await h.call('proxmox_set_firewall_options', { enable: true, policy_in: 'DROP' });
    expect(on.isError).toBe(true);
    expect(on.text).toMatch(
      /^This change would cut the management path from 203\.0\.113\.5, the address this server connects from: TCP 8006 \(the API and web interface\) to node pve1: /,
    );
    expect(on.text).toMatch(
      /Nothing was changed\. To go ahead anyway, the firewall tools take allowLockout: true/,
    );
    const raw = await h.call('proxmox_api_request', {
      method: 'PUT',
      path: '/cluster/firewall/options',
      params: { enable: 1 },
    });
    expect(raw.isError).toBe(true);
    expect(raw.text).toMatch(/would cut the management path/);
    const options = await h.call('proxmox_get_firewall', { section: 'options' });
    expect(options.structured?.data).not.toMatchObject({ enable: 1 });
  });

  it('lets it on once a rule lets the server in, and then refuses deleting that rule', async () => {
    for (const rule of [{ proto: 'tcp', dport: '8006' }, { macro: 'SSH' }])
      expect(
        (
          await h.call('proxmox_edit_firewall_rule', {
            change: 'add',
            type: 'in',
            action: 'ACCEPT',
            source: ME,
            ...rule,
          })
        ).isError,
      ).toBeFalsy();
    const on = await h.call('proxmox_set_firewall_options', { enable: true });
    expect(on.isError, on.text).toBeFalsy();
    expect(on.text).toMatch(/^Firewall options of the datacenter now:\n(?:.*\n)*enable: 1/);
    expect(asked.at(-1)).toMatch(/Turn on the firewall at \/cluster\/firewall/);
    const list = await rules({});
    const ssh = list.findIndex((r) => (r as { macro?: string }).macro === 'SSH');
    const del = await h.call('proxmox_edit_firewall_rule', { change: 'delete', pos: ssh });
    expect(del.isError).toBe(true);
    expect(del.text).toMatch(/TCP 22 \(SSH\) to node pve\d: /);
  });

  it('takes an override only with a human yes', async () => {
    const list = await rules({});
    const ssh = list.findIndex((r) => (r as { macro?: string }).macro === 'SSH');
    answer = 'decline';
    const declined = await h.call('proxmox_edit_firewall_rule', {
      change: 'delete',
      pos: ssh,
      allowLockout: true,
    });
    expect(declined.isError).toBe(true);
    expect(asked.at(-1)).toMatch(
      /Lock-out check overridden: This change would cut the management path/,
    );
    expect((await rules({})).length).toBe(list.length);
    answer = 'accept';
    const done = await h.call('proxmox_edit_firewall_rule', {
      change: 'delete',
      pos: ssh,
      allowLockout: true,
    });
    expect(done.isError, done.text).toBeFalsy();
    expect((await rules({})).length).toBe(list.length - 1);
  });
});

describe('lock-out protection without confirmations', () => {
  it('refuses the override when no human can be asked', async () => {
    const none = await startHarness({
      config: { toolsets: ['firewall'], confirm: 'none' },
      cluster: { sourceAddress: ME },
    });
    try {
      const r = await none.call('proxmox_set_firewall_options', {
        enable: true,
        allowLockout: true,
      });
      expect(r.isError).toBe(true);
      expect(r.text).toMatch(/confirmations are off \(confirm: none\), so it is refused\.$/);
    } finally {
      await none.close();
    }
  });
});
