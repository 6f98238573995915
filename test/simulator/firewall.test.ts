/** The firewall API of the simulator, as pve-firewall answers it (src/PVE/API2/Firewall/*.pm). */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTestSim, type TestSim } from '../helpers/sim.js';

const startTime = Date.UTC(2026, 10, 30, 12, 0, 0);
const MODIFIED = 'detected modified configuration - file changed by other user? Try again.\n';

type Rule = Record<string, unknown> & { pos: number; digest: string };
type Line = { n: number; t: string };

let sim: TestSim;
beforeEach(async () => {
  sim = await startTestSim({ startTime });
});
afterEach(() => sim.close());

const rules = (path: string) => sim.data<Rule[]>('GET', path);
/** The rules as `TYPE action` (with the macro), in order. */
const summary = async (path: string) =>
  (await rules(path)).map(
    (r) =>
      `${r.type} ${r.macro ? `${r.macro}(${r.action})` : r.action}${r.dport ? ` ${r.dport}` : ''}`,
  );
const paramErrors = async (method: string, path: string, params: Record<string, unknown>) => {
  const res = await sim.call(method, path, params as Record<string, string>);
  expect(res.status, res.text).toBe(400);
  expect(res.body?.message).toBe('Parameter verification failed.\n');
  return res.body?.errors;
};
const failure = async (method: string, path: string, params: Record<string, unknown> = {}) => {
  const res = await sim.call(method, path, params as Record<string, string>);
  expect(res.status, res.text).toBe(500);
  return res.body?.message;
};

describe('firewall rules', () => {
  it('lists rules with their position, one digest for the list, and the IP version of aliases', async () => {
    const list = await rules('/cluster/firewall/rules');
    expect(list.map((r) => r.pos)).toEqual([0, 1, 2]);
    expect(new Set(list.map((r) => r.digest)).size).toBe(1);
    expect(list[0]).toMatchObject({
      type: 'in',
      action: 'ACCEPT',
      macro: 'SSH',
      source: 'office',
      log: 'info',
      enable: 1,
      ipversion: 4,
      comment: 'Admins from the office',
    });
    // A disabled rule is written with a leading `|`; it reads back as enable 0.
    expect(list[2]).toMatchObject({ macro: 'Ping', enable: 0 });
    expect(await sim.data('GET', '/cluster/firewall/rules/1')).toEqual(list[1]);
    expect(await failure('GET', '/cluster/firewall/rules/9')).toBe('no rule at position 9\n');
  });

  it('puts a new rule on top whatever `pos` says, disabled unless `enable` is given', async () => {
    await sim.data('POST', '/cluster/firewall/rules', {
      type: 'in',
      action: 'DROP',
      proto: 'tcp',
      dport: '23',
      pos: 2,
      comment: 'no telnet',
    });
    await sim.data('POST', '/cluster/firewall/rules', {
      type: 'in',
      action: 'ACCEPT',
      macro: 'http',
      enable: 1,
    });
    const list = await rules('/cluster/firewall/rules');
    expect(list.slice(0, 2)).toMatchObject([
      // The macro's name as PVE spells it.
      { macro: 'HTTP', enable: 1, pos: 0 },
      { action: 'DROP', dport: '23', enable: 0, comment: 'no telnet', pos: 1 },
    ]);
    expect(list).toHaveLength(5);
  });

  it('moves a rule before the one at `moveto`, or last, as Rules.pm update_rule does', async () => {
    const path = '/cluster/firewall/groups/webserver';
    for (const port of ['8443', '8080'])
      await sim.data('POST', path, { type: 'in', action: 'ACCEPT', proto: 'tcp', dport: port });
    expect(await summary(path)).toEqual([
      'in ACCEPT 8080',
      'in ACCEPT 8443',
      'in HTTP(ACCEPT)',
      'in HTTPS(ACCEPT)',
    ]);
    // Down: before the rule that was at 2, so it lands at 1.
    await sim.data('PUT', `${path}/0`, { moveto: 2 });
    expect(await summary(path)).toEqual([
      'in ACCEPT 8443',
      'in ACCEPT 8080',
      'in HTTP(ACCEPT)',
      'in HTTPS(ACCEPT)',
    ]);
    // One further down is no move at all.
    await sim.data('PUT', `${path}/0`, { moveto: 1 });
    expect((await summary(path))[0]).toBe('in ACCEPT 8443');
    // Past the end: last.
    await sim.data('PUT', `${path}/0`, { moveto: 99 });
    expect(await summary(path)).toEqual([
      'in ACCEPT 8080',
      'in HTTP(ACCEPT)',
      'in HTTPS(ACCEPT)',
      'in ACCEPT 8443',
    ]);
    // Up.
    await sim.data('PUT', `${path}/3`, { moveto: 0 });
    expect((await summary(path))[0]).toBe('in ACCEPT 8443');
  });

  it('refuses a change or delete against an old digest with PVE text; create does not look', async () => {
    const path = '/nodes/pve1/firewall/rules';
    const [first] = await rules(path);
    const old = first?.digest as string;
    await sim.data('PUT', `${path}/0`, { comment: 'node exporter', digest: old });
    expect(await failure('PUT', `${path}/0`, { comment: 'again', digest: old })).toBe(MODIFIED);
    expect(await failure('DELETE', `${path}/0`, { digest: old })).toBe(MODIFIED);
    await sim.data('POST', path, { type: 'in', action: 'ACCEPT', macro: 'SSH', digest: old });
    // The digest is checked before the position.
    expect(await failure('DELETE', `${path}/7`, { digest: old })).toBe(MODIFIED);
    expect(await failure('DELETE', `${path}/7`)).toBe('no rule at position 7\n');
    const now = (await rules(path))[0]?.digest;
    await sim.data('DELETE', `${path}/0`, { digest: now });
    expect(await summary(path)).toEqual(['in ACCEPT 9100']);
  });

  it('deletes fields with `delete` or an empty value, never type or action', async () => {
    const path = '/cluster/firewall/rules/0';
    await sim.data('PUT', path, { delete: 'log,comment' });
    expect(await sim.data('GET', path)).not.toHaveProperty('log');
    await sim.data('PUT', path, { comment: 'back' });
    expect(await sim.data('GET', path)).toMatchObject({ comment: 'back' });
    await sim.data('PUT', path, { comment: '-' });
    expect(await sim.data('GET', path)).not.toHaveProperty('comment');
    expect(await paramErrors('PUT', path, { delete: 'type' })).toEqual({
      delete: "unable to delete required property 'type'",
    });
    expect(await paramErrors('PUT', path, { delete: 'bogus' })).toEqual({
      delete: "no such property ('bogus')",
    });
  });

  it('checks rules as verify_rule does, with its messages', async () => {
    const dc = '/cluster/firewall/rules';
    const cases: [string, Record<string, unknown>, Record<string, string>][] = [
      [
        dc,
        { type: 'in', action: 'ACCEPT', macro: 'SSH', proto: 'udp' },
        { proto: "parameter 'proto' already define in macro (value = 'tcp')" },
      ],
      [
        dc,
        { type: 'in', action: 'ACCEPT', macro: 'Telnetish' },
        { macro: "unknown macro 'Telnetish'" },
      ],
      [
        dc,
        { type: 'in', action: 'ACCEPT', dport: '22' },
        { proto: "missing property - 'dport' requires this property" },
      ],
      [
        dc,
        { type: 'in', action: 'ACCEPT', proto: 'gre', dport: '22' },
        { dport: "protocol 'gre' does not support ports" },
      ],
      [
        dc,
        { type: 'in', action: 'ACCEPT', proto: 'tcp', 'icmp-type': 'echo-request' },
        { proto: "missing property - 'icmp-type' requires this property" },
      ],
      [
        dc,
        { type: 'in', action: 'ACCEPT', proto: 'icmp', 'icmp-type': 'neighbor-solicitation' },
        { 'icmp-type': "invalid icmp-type 'neighbor-solicitation' for proto 'icmp'" },
      ],
      [
        dc,
        { type: 'forward', action: 'REJECT' },
        { action: 'cannot define REJECT rules on forward chain' },
      ],
      [dc, { type: 'in', action: 'accept' }, { action: "unknown action 'accept'" }],
      [
        dc,
        { type: 'in', action: 'ACCEPT', proto: 'tcp', dport: '90:80' },
        {
          dport: "invalid format - backwards range '90:80' not allowed, did you mean '80:90'?",
        },
      ],
      [
        dc,
        { type: 'in', action: 'ACCEPT', proto: 'tcp', dport: 'telnetz' },
        { dport: "invalid format - invalid port 'telnetz'" },
      ],
      [
        dc,
        { type: 'in', action: 'ACCEPT', proto: 'bogus' },
        { proto: "invalid format - unknown protocol 'bogus'" },
      ],
      [
        dc,
        { type: 'in', action: 'ACCEPT', source: '10.0.0.5/24' },
        {
          source:
            'invalid format - invalid IP address: Invalid prefix 00001010000000000000000000000101/24',
        },
      ],
      [
        dc,
        { type: 'in', action: 'ACCEPT', source: '10.0.0.1,fe80::1' },
        {
          source:
            "invalid format - detected mixed ipv4/ipv6 addresses in address list '10.0.0.1,fe80::1'",
        },
      ],
      [
        dc,
        { type: 'in', action: 'ACCEPT', proto: 'icmp', source: 'fe80::1' },
        { source: 'detected mixed ipv4/ipv6 addresses in rule' },
      ],
      [
        '/cluster/firewall/groups/webserver',
        { type: 'group', action: 'webserver' },
        { type: "invalid rule type 'group' for rule_env 'group'" },
      ],
      [
        '/cluster/firewall/groups/webserver',
        { type: 'in', action: 'ACCEPT', iface: 'vmbr0' },
        { type: 'parameter -i not allowed for this rule type' },
      ],
      [
        '/nodes/pve1/qemu/100/firewall/rules',
        { type: 'in', action: 'ACCEPT', iface: 'eth0' },
        { iface: "value does not match the regex pattern 'net\\d+'" },
      ],
      [
        '/nodes/pve1/lxc/200/firewall/rules',
        { type: 'forward', action: 'ACCEPT' },
        { type: "invalid rule type 'forward' for rule_env 'ct'" },
      ],
    ];
    for (const [path, params, errors] of cases)
      expect(await paramErrors('POST', path, params), JSON.stringify(params)).toEqual(errors);
    // Rules only reach a security group by name; PVE does not look whether it exists.
    await sim.data('POST', dc, { type: 'group', action: 'nosuchgroup' });
  });

  it('wants aliases and ipsets named in source and dest to exist', async () => {
    const dc = '/cluster/firewall/rules';
    expect(
      await paramErrors('POST', dc, { type: 'in', action: 'ACCEPT', source: '+nope' }),
    ).toEqual({ source: "no such ipset 'nope'" });
    expect(await paramErrors('POST', dc, { type: 'in', action: 'ACCEPT', dest: 'nope' })).toEqual({
      dest: "no such alias 'nope'",
    });
    // Names are lower-cased in the files: an ipset is found by its lower-case name only.
    expect(
      await paramErrors('POST', dc, { type: 'in', action: 'ACCEPT', source: '+Blacklist' }),
    ).toEqual({ source: "no such ipset 'Blacklist'" });
    await sim.data('POST', dc, { type: 'in', action: 'DROP', source: '+blacklist' });
    await sim.data('POST', dc, { type: 'in', action: 'ACCEPT', source: 'Office' });
    // A guest sees its own ipsets and aliases and the datacenter's, with or without a scope.
    const vm = '/nodes/pve1/lxc/200/firewall/rules';
    for (const source of ['+guest/ipfilter-net0', '+dc/blacklist', 'guest/lan', 'dc/office'])
      await sim.data('POST', vm, { type: 'in', action: 'ACCEPT', source });
    // A node has no ipsets of its own.
    expect(
      await paramErrors('POST', '/nodes/pve1/firewall/rules', {
        type: 'in',
        action: 'ACCEPT',
        source: '+ipfilter-net0',
      }),
    ).toEqual({ source: "no such ipset 'ipfilter-net0'" });
  });

  it('keeps node and guest rules apart, each guest with its own file', async () => {
    await sim.data('POST', '/nodes/pve2/firewall/rules', {
      type: 'in',
      action: 'ACCEPT',
      macro: 'Ceph',
      source: '10.0.0.0/24',
      enable: 1,
    });
    expect(await summary('/nodes/pve2/firewall/rules')).toEqual(['in Ceph(ACCEPT)']);
    expect(await summary('/nodes/pve1/firewall/rules')).toEqual(['in ACCEPT 9100']);
    expect(await summary('/nodes/pve1/qemu/101/firewall/rules')).toEqual(['group webserver']);
    expect(await summary('/nodes/pve1/lxc/200/firewall/rules')).toEqual([
      'in DNS(ACCEPT)',
      'in SSH(ACCEPT)',
    ]);
    // PVE reads /etc/pve/firewall/<vmid>.fw whatever the node or the guest.
    expect(await rules('/nodes/pve1/qemu/4242/firewall/rules')).toEqual([]);
    await sim.data('POST', '/nodes/pve1/qemu/103/firewall/rules', {
      type: 'out',
      action: 'DROP',
      proto: 'tcp',
      dport: 'smtp',
    });
    expect(await summary('/nodes/pve1/qemu/103/firewall/rules')).toEqual(['out DROP smtp']);
  });
});

describe('security groups', () => {
  it('creates, renames with every reference, and deletes only empty groups', async () => {
    const dup = await paramErrors('POST', '/cluster/firewall/groups', { group: 'webserver' });
    expect(dup).toEqual({ group: "Security group 'webserver' already exists" });
    await sim.data('POST', '/cluster/firewall/groups', { group: 'Mail', comment: 'Mail relays' });
    // The file keeps the name as given; pve-firewall reads it back lower-cased.
    expect(await sim.data('GET', '/cluster/firewall/groups')).toMatchObject([
      { group: 'mail', comment: 'Mail relays' },
      { group: 'webserver', comment: 'Web servers: HTTP and HTTPS' },
    ]);
    expect(await failure('GET', '/cluster/firewall/groups/Mail')).toBe(
      "no such security group 'Mail'\n",
    );

    await sim.data('POST', '/cluster/firewall/rules', { type: 'group', action: 'webserver' });
    await sim.data('POST', '/cluster/firewall/groups', { group: 'frontend', rename: 'webserver' });
    expect(
      (await sim.data<{ group: string }[]>('GET', '/cluster/firewall/groups')).map((g) => g.group),
    ).toEqual(['frontend', 'mail']);
    expect((await rules('/cluster/firewall/rules'))[0]).toMatchObject({ action: 'frontend' });
    expect((await rules('/nodes/pve1/qemu/100/firewall/rules'))[0]).toMatchObject({
      type: 'group',
      action: 'frontend',
      iface: 'net0',
    });
    expect(await summary('/cluster/firewall/groups/frontend')).toEqual([
      'in HTTP(ACCEPT)',
      'in HTTPS(ACCEPT)',
    ]);
    expect(
      await paramErrors('POST', '/cluster/firewall/groups', { group: 'mail', rename: 'frontend' }),
    ).toEqual({ group: "Security group 'mail' does already exist" });
    expect(
      await paramErrors('POST', '/cluster/firewall/groups', { group: 'x1', rename: 'nothere' }),
    ).toEqual({ group: "Security group 'nothere' does not exist" });

    expect(await failure('DELETE', '/cluster/firewall/groups/frontend')).toBe(
      "Security group 'frontend' is not empty\n",
    );
    // An empty group goes, though rules still name it.
    await sim.data('POST', '/cluster/firewall/rules', { type: 'group', action: 'mail' });
    await sim.data('DELETE', '/cluster/firewall/groups/mail');
    expect(await failure('DELETE', '/cluster/firewall/groups/mail')).toBe(
      "no such security group 'mail'\n",
    );
  });
});

describe('aliases', () => {
  it('creates, reads, renames and deletes, at the datacenter and on guests', async () => {
    await sim.data('POST', '/cluster/firewall/aliases', {
      name: 'Backup',
      cidr: '10.0.0.50/32',
      comment: 'PBS',
    });
    // `/32` is dropped and the IP version added when the file is read.
    expect(await sim.data('GET', '/cluster/firewall/aliases/backup')).toEqual({
      name: 'Backup',
      cidr: '10.0.0.50',
      ipversion: 4,
      comment: 'PBS',
    });
    expect(
      await paramErrors('POST', '/cluster/firewall/aliases', { name: 'backup', cidr: '10.0.0.51' }),
    ).toEqual({ name: "alias 'backup' already exists" });
    expect(await paramErrors('GET', '/cluster/firewall/aliases/nothere', {})).toEqual({
      name: 'no such alias',
    });
    expect(
      await paramErrors('POST', '/cluster/firewall/aliases', { name: 'bad', cidr: '10.0.0.0/33' }),
    ).toEqual({ cidr: 'invalid format - Prefix length 33 is longer than IP address (32)' });

    const list = await sim.data<{ name: string; digest: string }[]>(
      'GET',
      '/cluster/firewall/aliases',
    );
    expect(list.map((a) => a.name)).toEqual(['Backup', 'gateway', 'monitoring', 'office']);
    await sim.data('PUT', '/cluster/firewall/aliases/backup', {
      cidr: '10.0.0.60',
      rename: 'pbs',
      digest: list[0]?.digest,
    });
    expect(
      await failure('PUT', '/cluster/firewall/aliases/pbs', {
        cidr: '10.0.0.61',
        digest: list[0]?.digest,
      }),
    ).toBe(MODIFIED);
    expect(await sim.data('GET', '/cluster/firewall/aliases/pbs')).toEqual({
      name: 'pbs',
      cidr: '10.0.0.60',
      ipversion: 4,
    });
    expect(
      await paramErrors('PUT', '/cluster/firewall/aliases/pbs', {
        cidr: '10.0.0.60',
        rename: 'office',
      }),
    ).toEqual({ name: "alias 'office' already exists" });

    await sim.data('POST', '/nodes/pve1/qemu/100/firewall/aliases', {
      name: 'cdn',
      cidr: '2001:db8::/32',
    });
    expect(await sim.data('GET', '/nodes/pve1/qemu/100/firewall/aliases')).toMatchObject([
      { name: 'cdn', cidr: '2001:db8::/32', ipversion: 6 },
      { name: 'proxy', cidr: '10.0.1.203', ipversion: 4, comment: 'ct-proxy, the reverse proxy' },
    ]);
  });

  it('deletes an alias that rules use; those rules then carry the error and are skipped', async () => {
    await sim.data('DELETE', '/cluster/firewall/aliases/office');
    // Deleting what is not there is no error either.
    await sim.data('DELETE', '/cluster/firewall/aliases/office');
    const [first] = await rules('/cluster/firewall/rules');
    expect(first).toMatchObject({ source: 'office', errors: { source: "no such alias 'office'" } });
    expect(first).not.toHaveProperty('ipversion');
    expect((await rules('/nodes/pve1/lxc/200/firewall/rules'))[1]).toMatchObject({
      errors: { source: "no such alias 'dc/office'" },
    });
  });
});

describe('IP sets', () => {
  it('creates, fills, reads, updates and empties a set as IPSet.pm does', async () => {
    const base = '/cluster/firewall/ipset';
    await sim.data('POST', base, { name: 'admins', comment: 'Admin hosts' });
    expect(await paramErrors('POST', base, { name: 'admins' })).toEqual({
      name: "IPSet 'admins' already exists",
    });
    await sim.data('POST', `${base}/admins`, { cidr: '10.0.0.5/24' });
    await sim.data('POST', `${base}/admins`, { cidr: '10.0.0.9/32', comment: 'laptop' });
    await sim.data('POST', `${base}/admins`, { cidr: 'gateway', nomatch: true });
    // Stored as the parser reads them: host bits cleared, `/32` dropped; listed sorted.
    const entries = await sim.data<Record<string, unknown>[]>('GET', `${base}/admins`);
    expect(entries.map(({ digest, ...e }) => e)).toEqual([
      { cidr: '10.0.0.0/24' },
      { cidr: '10.0.0.9', comment: 'laptop' },
      { cidr: 'gateway', nomatch: 1 },
    ]);
    expect(await paramErrors('POST', `${base}/admins`, { cidr: '10.0.0.0/24' })).toEqual({
      cidr: "address '10.0.0.0/24' already exists",
    });
    expect(await paramErrors('POST', `${base}/admins`, { cidr: '0.0.0.0/0' })).toEqual({
      cidr: 'a zero prefix is not allowed in ipset entries',
    });
    expect(await failure('POST', `${base}/admins`, { cidr: 'nothere' })).toBe(
      "no such alias 'nothere'\n",
    );

    // An entry with a slash in its path: the client encodes it.
    expect(await sim.data('GET', `${base}/admins/10.0.0.0%2F24`)).toMatchObject({
      cidr: '10.0.0.0/24',
    });
    expect(await paramErrors('GET', `${base}/admins/10.0.0.77`, {})).toEqual({
      cidr: 'no such IP/Network',
    });
    const digest = entries[0]?.digest as string;
    await sim.data('PUT', `${base}/admins/10.0.0.9`, { nomatch: 1, digest });
    // Update sets both fields: the comment left out is gone.
    expect(await sim.data('GET', `${base}/admins/10.0.0.9`)).toMatchObject({ nomatch: 1 });
    expect(await sim.data('GET', `${base}/admins/10.0.0.9`)).not.toHaveProperty('comment');
    expect(await failure('DELETE', `${base}/admins/gateway`, { digest })).toBe(MODIFIED);
    await sim.data('DELETE', `${base}/admins/gateway`);

    expect(await failure('DELETE', `${base}/admins`)).toBe("IPSet 'admins' is not empty\n");
    await sim.data('DELETE', `${base}/admins`, { force: 1 });
    expect(await failure('GET', `${base}/admins`)).toBe("no such IPSet 'admins'\n");
  });

  it('renames a set with its comment, or changes the comment alone', async () => {
    const base = '/nodes/pve1/qemu/100/firewall/ipset';
    const [set] = await sim.data<{ name: string; digest: string }[]>('GET', base);
    expect(set).toMatchObject({ name: 'ipfilter-net0', comment: 'Addresses web-01 may send from' });
    expect(await paramErrors('POST', base, { name: 'x1', rename: 'nothere' })).toEqual({
      name: "IPSet 'nothere' does not exist",
    });
    await sim.data('POST', base, { name: 'web-01', rename: 'ipfilter-net0', digest: set?.digest });
    expect(
      await failure('POST', base, { name: 'web', rename: 'web-01', digest: set?.digest }),
    ).toBe(MODIFIED);
    await sim.data('POST', base, { name: 'web-01', rename: 'web-01', comment: 'renamed' });
    expect(await sim.data('GET', base)).toMatchObject([{ name: 'web-01', comment: 'renamed' }]);
    expect(await sim.data('GET', `${base}/web-01`)).toMatchObject([{ cidr: '10.0.1.102' }]);
  });
});

describe('options', () => {
  it('answers only what is set, with a digest, and changes with delete and digest', async () => {
    const dc = await sim.data<Record<string, unknown>>('GET', '/cluster/firewall/options');
    expect(dc).toEqual({ policy_in: 'DROP', digest: expect.stringMatching(/^[0-9a-f]{40}$/) });
    await sim.data('PUT', '/cluster/firewall/options', {
      enable: 1,
      policy_out: 'REJECT',
      delete: 'policy_in',
      digest: dc.digest as string,
    });
    expect(await sim.data('GET', '/cluster/firewall/options')).toMatchObject({
      enable: 1,
      policy_out: 'REJECT',
    });
    expect(await sim.data('GET', '/cluster/firewall/options')).not.toHaveProperty('policy_in');
    expect(
      await failure('PUT', '/cluster/firewall/options', { enable: 0, digest: dc.digest }),
    ).toBe(MODIFIED);
    expect(await paramErrors('PUT', '/cluster/firewall/options', { delete: 'policy' })).toEqual({
      delete: "no such option 'policy'",
    });
  });

  it('holds an `enable` above 1 for a minute only, the anti-lock-out double call', async () => {
    await sim.data('PUT', '/cluster/firewall/options', { enable: 2 });
    expect(await sim.data('GET', '/cluster/firewall/options')).toMatchObject({
      enable: startTime / 1000,
    });
    sim.sim.advance(61_000);
    expect(await sim.data('GET', '/cluster/firewall/options')).toMatchObject({ enable: 0 });
  });

  it('keeps node and guest options, booleans as 1 and 0', async () => {
    await sim.data('PUT', '/nodes/pve1/firewall/options', {
      enable: false,
      nosmurfs: false,
      nf_conntrack_max: 196608,
      delete: 'log_level_in',
    });
    const node = await sim.data<Record<string, unknown>>('GET', '/nodes/pve1/firewall/options');
    expect(node).toEqual({
      enable: 0,
      nosmurfs: 0,
      nf_conntrack_max: 196608,
      digest: expect.any(String),
    });
    expect(
      await paramErrors('PUT', '/nodes/pve1/firewall/options', {
        nf_conntrack_helpers: 'ftp,http',
      }),
    ).toEqual({
      nf_conntrack_helpers:
        'invalid format - unknown helper http at /usr/share/perl5/PVE/Firewall.pm line 1167.',
    });
    await sim.data('PUT', '/nodes/pve1/lxc/200/firewall/options', {
      dhcp: true,
      policy_out: 'DROP',
      log_level_out: 'warning',
    });
    expect(await sim.data('GET', '/nodes/pve1/lxc/200/firewall/options')).toMatchObject({
      enable: 1,
      dhcp: 1,
      policy_out: 'DROP',
      log_level_out: 'warning',
    });
    // A guest without a firewall file has no options: only the digest of nothing.
    expect(await sim.data('GET', '/nodes/pve2/qemu/105/firewall/options')).toEqual({
      digest: 'da39a3ee5e6b4b0d3255bfef95601890afd80709',
    });
  });
});

describe('references and macros', () => {
  it('lists what source and dest may name, the datacenter first', async () => {
    const refs = await sim.data<Record<string, string>[]>(
      'GET',
      '/nodes/pve1/lxc/200/firewall/refs',
    );
    expect(refs.map((r) => `${r.scope} ${r.type} ${r.ref}`)).toEqual([
      'dc ipset +blacklist',
      'dc alias gateway',
      'dc alias monitoring',
      'dc alias office',
      'guest ipset +ipfilter-net0',
      'guest alias lan',
    ]);
    expect(await sim.data('GET', '/cluster/firewall/refs', { type: 'ipset' })).toEqual([
      {
        type: 'ipset',
        name: 'blacklist',
        ref: '+blacklist',
        scope: 'dc',
        comment: 'Dropped before any rule',
      },
    ]);
    const macros = await sim.data<{ macro: string; descr: string }[]>(
      'GET',
      '/cluster/firewall/macros',
    );
    expect(macros).toContainEqual({ macro: 'SSH', descr: 'Secure shell traffic' });
    expect(macros).toContainEqual({
      macro: 'NeighborDiscovery',
      descr: 'IPv6 neighbor solicitation, neighbor and router advertisement',
    });
    expect(macros.length).toBeGreaterThan(80);
  });

  it('answers the directory indexes', async () => {
    expect(await sim.data('GET', '/nodes/pve1/firewall')).toEqual([
      { name: 'rules' },
      { name: 'options' },
      { name: 'log' },
    ]);
    expect(
      (await sim.data<{ name: string }[]>('GET', '/nodes/pve1/qemu/100/firewall')).map(
        (e) => e.name,
      ),
    ).toEqual(['rules', 'aliases', 'ipset', 'refs', 'options']);
  });
});

describe('guests lose or share their firewall file with their life', () => {
  it('copies it to a clone and removes it with the guest', async () => {
    const clone = await sim.task('POST', '/nodes/pve1/qemu/101/clone', { newid: 150 });
    expect(clone.exitstatus).toBe('OK');
    expect(await summary('/nodes/pve1/qemu/150/firewall/rules')).toEqual(['group webserver']);
    expect((await sim.task('DELETE', '/nodes/pve1/qemu/150')).exitstatus).toBe('OK');
    expect(await rules('/nodes/pve1/qemu/150/firewall/rules')).toEqual([]);
  });
});

describe('the firewall log', () => {
  const log = (path: string, params: Record<string, string | number> = {}) =>
    sim.call('GET', path, { limit: 0, ...params });
  const lines = async (path: string, params: Record<string, string | number> = {}) =>
    ((await log(path, params)).body?.data ?? []) as Line[];

  it('holds only the logger start while the datacenter firewall is off', async () => {
    sim.sim.advance(3_600_000);
    expect(await lines('/nodes/pve1/firewall/log')).toEqual([
      { n: 1, t: '0 5 - 30/Nov/2026:00:00:00 +0000 starting pvefw logger' },
    ]);
    const vm = await log('/nodes/pve1/qemu/100/firewall/log');
    expect(vm.body).toEqual({ data: [{ n: 1, t: 'no content' }], total: 1 });
  });

  it('grows with the clock once the firewall is on, in pvefw-logger format', async () => {
    await sim.data('PUT', '/cluster/firewall/options', { enable: 1 });
    sim.sim.advance(30 * 60_000);
    const host = await lines('/nodes/pve1/firewall/log');
    expect(host.length).toBeGreaterThan(10);
    expect(host.map((l) => l.n)).toEqual(host.map((_, i) => i + 1));
    const drops = host.filter((l) => / PVEFW-HOST-IN .* policy DROP: /.test(l.t));
    expect(drops.length).toBeGreaterThan(0);
    expect(drops[0]?.t).toMatch(
      /^0 6 PVEFW-HOST-IN 30\/Nov\/2026:12:\d\d:\d\d \+0000 policy DROP: IN=vmbr0 PHYSIN=eno1 MAC=([0-9a-f]{2}:){13}[0-9a-f]{2} SRC=\S+ DST=10\.0\.0\.11 LEN=\d+ TOS=0x00 PREC=0x00 TTL=\d+ ID=\d+ /,
    );
    // The management set (the local network here) and corosync pass without a word; the
    // noise PVEFW-Drop catches is not logged either.
    expect(host.some((l) => /SRC=10\.0\.0\.\d+ .*PROTO=TCP SPT=\d+ DPT=(22|8006) /.test(l.t))).toBe(
      false,
    );
    expect(host.some((l) => /DPT=(445|5405) /.test(l.t))).toBe(false);

    // VM 100 logs its policy drops (log_level_in: info), with its own vmid and chain.
    const vm = await lines('/nodes/pve1/qemu/100/firewall/log');
    expect(vm.length).toBeGreaterThan(0);
    for (const l of vm)
      expect(l.t).toMatch(
        /^100 6 tap100i0-IN \S+ \+0000 policy DROP: IN=fwbr100i0 OUT=fwbr100i0 PHYSIN=fwln100i0 PHYSOUT=tap100i0 /,
      );
    // Web traffic is accepted by the security group and not logged.
    expect(vm.some((l) => / DPT=(80|443) /.test(l.t))).toBe(false);
    // The host's log holds the guests' lines too.
    expect(host.filter((l) => l.t.startsWith('100 ')).map((l) => l.t)).toEqual(vm.map((l) => l.t));

    sim.sim.advance(30 * 60_000);
    expect((await log('/nodes/pve1/firewall/log')).body?.total).toBeGreaterThan(host.length);
  });

  it('logs a matching rule with its level and action', async () => {
    await sim.data('PUT', '/cluster/firewall/options', { enable: 1 });
    await sim.data('POST', '/nodes/pve1/firewall/rules', {
      type: 'in',
      action: 'REJECT',
      proto: 'tcp',
      dport: '23,25,80,443,3306,3389',
      log: 'warning',
      enable: 1,
    });
    sim.sim.advance(3 * 3_600_000);
    const host = await lines('/nodes/pve1/firewall/log');
    const rejects = host.filter((l) => / REJECT: /.test(l.t));
    expect(rejects.length).toBeGreaterThan(0);
    for (const l of rejects)
      expect(l.t).toMatch(/^0 4 PVEFW-HOST-IN .* DPT=(23|25|80|443|3306|3389) /);
    // Admins from the office: the datacenter's SSH rule logs at info.
    expect(
      host.some((l) =>
        /^0 6 PVEFW-HOST-IN .* ACCEPT: .*SRC=198\.51\.100\.\d+ .* DPT=22 /.test(l.t),
      ),
    ).toBe(true);
  });

  it('pages with start and limit, filters with since and until, and rotates at midnight', async () => {
    await sim.data('PUT', '/cluster/firewall/options', { enable: 1 });
    sim.sim.advance(2 * 3_600_000);
    const all = await log('/nodes/pve1/firewall/log');
    const total = all.body?.total as number;
    const page = await log('/nodes/pve1/firewall/log', { start: 5, limit: 3 });
    expect(page.body?.total).toBe(total);
    expect(page.body?.data).toEqual(((all.body?.data ?? []) as Line[]).slice(5, 8));
    // Without a limit, 50 lines.
    expect((await sim.data<Line[]>('GET', '/nodes/pve1/firewall/log')).length).toBe(
      Math.min(50, total),
    );
    const since = startTime / 1000 + 3_600;
    const later = await lines('/nodes/pve1/firewall/log', { since, until: since + 600 });
    expect(later.length).toBeGreaterThan(0);
    expect(later.every((l) => /30\/Nov\/2026:13:(0\d|10):/.test(l.t))).toBe(true);

    // Past midnight a new file begins; the old lines are read with `since` only.
    sim.sim.advance(12 * 3_600_000);
    const today = await lines('/nodes/pve1/firewall/log');
    expect(today[0]?.t).toBe('0 5 - 01/Dec/2026:00:00:00 +0000 starting pvefw logger');
    const both = await lines('/nodes/pve1/firewall/log', { since: startTime / 1000 });
    expect(both.some((l) => l.t === '0 5 - 01/Dec/2026:00:00:00 +0000 stopping pvefw logger')).toBe(
      true,
    );
    expect(both.length).toBeGreaterThan(today.length);
  });

  it('logs a container once its NIC is firewalled', async () => {
    await sim.data('PUT', '/cluster/firewall/options', { enable: 1 });
    await sim.data('PUT', '/nodes/pve1/lxc/200/firewall/options', { log_level_in: 'info' });
    sim.sim.advance(3_600_000);
    expect(await lines('/nodes/pve1/lxc/200/firewall/log')).toEqual([{ n: 1, t: 'no content' }]);
    const net0 = (await sim.data<Record<string, string>>('GET', '/nodes/pve1/lxc/200/config')).net0;
    await sim.data('PUT', '/nodes/pve1/lxc/200/config', { net0: `${net0},firewall=1` });
    sim.sim.advance(6 * 3_600_000);
    const ct = await lines('/nodes/pve1/lxc/200/firewall/log');
    expect(ct.length).toBeGreaterThan(0);
    for (const l of ct)
      expect(l.t).toMatch(/^200 6 veth200i0-IN .* PHYSOUT=veth200i0 .*DST=10\.0\.0\.53 /);
  });
});
