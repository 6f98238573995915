/** The firewall lock-out check (src/policy/lockout.ts), on firewall states built by hand. */
import { describe, expect, it } from 'vitest';
import { getOperation } from '../../src/contract/index.js';
import type { HttpMethod } from '../../src/contract/types.js';
import {
  afterRequest,
  type FirewallState,
  type FwRule,
  lockoutOf,
} from '../../src/policy/lockout.js';

const ME = '203.0.113.5';

function state(over: Partial<FirewallState> = {}, nodeRules: FwRule[] = []): FirewallState {
  return {
    options: {},
    rules: [],
    groups: new Map(),
    aliases: new Map(),
    ipsets: new Map(),
    nodes: new Map([
      ['pve1', { options: {}, rules: nodeRules, ip: '10.0.0.11', networks: ['10.0.0.11/24'] }],
    ]),
    ...over,
  };
}

/** What the request would cut, from `before`. */
function cut(
  before: FirewallState,
  method: HttpMethod,
  template: string,
  params: Record<string, unknown>,
  from = ME,
) {
  const op = getOperation(method, template);
  if (!op) throw new Error(`${method} ${template}?`);
  return lockoutOf(before, afterRequest(before, op, params), from);
}

const accept8006: FwRule = {
  type: 'in',
  action: 'ACCEPT',
  source: ME,
  dport: '8006',
  proto: 'tcp',
  enable: 1,
};
const acceptSsh: FwRule = {
  type: 'in',
  action: 'ACCEPT',
  source: `${ME}/32`,
  macro: 'SSH',
  enable: 1,
};

describe('the lock-out check', () => {
  it('refuses turning the datacenter firewall on when nothing lets the server in, naming what and what to add', () => {
    const lost = cut(state(), 'PUT', '/cluster/firewall/options', { enable: 1 });
    expect(lost).toMatch(
      /^This change would cut the management path from 203\.0\.113\.5, the address this server connects from: TCP 8006 \(the API and web interface\) to node pve1: no rule accepts it, 203\.0\.113\.5 is not in the management IP set nor the node's local network 10\.0\.0\.11\/24, and the inbound policy DROP applies; TCP 22 \(SSH\) to node pve1: /,
    );
    expect(lost).toMatch(
      /Add a rule that lets it in first: an enabled datacenter rule "in ACCEPT" with source 203\.0\.113\.5 and dport 8006/,
    );
  });

  it('lets it on when rules, a security group, the management IP set or the local network let the server in', () => {
    expect(
      cut(state({ rules: [accept8006, acceptSsh] }), 'PUT', '/cluster/firewall/options', {
        enable: 1,
      }),
    ).toBeUndefined();
    const groups = new Map([['admin', [{ ...accept8006 }, { ...acceptSsh }]]]);
    expect(
      cut(
        state({ groups, rules: [{ type: 'group', action: 'admin', enable: 1 }] }),
        'PUT',
        '/cluster/firewall/options',
        { enable: 1 },
      ),
    ).toBeUndefined();
    const ipsets = new Map([['management', [{ cidr: '203.0.113.0/24' }]]]);
    expect(
      cut(state({ ipsets }), 'PUT', '/cluster/firewall/options', { enable: 1 }),
    ).toBeUndefined();
    // The local network of the node (PVE adds it to the management IP set).
    expect(
      cut(state(), 'PUT', '/cluster/firewall/options', { enable: 1 }, '10.0.0.50'),
    ).toBeUndefined();
    // Or an alias that names it.
    const aliases = new Map([['local_network', '203.0.113.0/24']]);
    expect(
      cut(state({ aliases }), 'PUT', '/cluster/firewall/options', { enable: 1 }),
    ).toBeUndefined();
    // Loopback always gets in.
    expect(
      cut(state(), 'PUT', '/cluster/firewall/options', { enable: 1 }, '127.0.0.1'),
    ).toBeUndefined();
  });

  it('counts only rules that surely match as letting in, and any that may match as dropping', () => {
    const onIface = { ...accept8006, iface: 'vmbr0' };
    expect(
      cut(state({ rules: [onIface, acceptSsh] }), 'PUT', '/cluster/firewall/options', {
        enable: 1,
      }),
    ).toMatch(/TCP 8006/);
    const nomatch = new Map([
      ['management', [{ cidr: '203.0.113.0/24' }, { cidr: ME, nomatch: 1 }]],
    ]);
    expect(
      cut(state({ ipsets: nomatch }), 'PUT', '/cluster/firewall/options', { enable: 1 }),
    ).toMatch(/TCP 8006/);
    // A new DROP rule goes first, before the one that lets the server in.
    const on = state({ options: { enable: 1 }, rules: [accept8006, acceptSsh] });
    expect(
      cut(on, 'POST', '/cluster/firewall/rules', {
        type: 'in',
        action: 'DROP',
        dport: '8006',
        enable: 1,
      }),
    ).toMatch(/TCP 8006 .*: datacenter rule 0 drops it/);
    // Added disabled (PVE's default), it changes nothing.
    expect(
      cut(on, 'POST', '/cluster/firewall/rules', { type: 'in', action: 'DROP', dport: '8006' }),
    ).toBeUndefined();
  });

  it('refuses deleting, disabling or moving away the rule that lets the server in', () => {
    const on = state({ options: { enable: 1 }, rules: [accept8006, acceptSsh] });
    expect(cut(on, 'DELETE', '/cluster/firewall/rules/{pos}', { pos: 0 })).toMatch(/TCP 8006/);
    expect(cut(on, 'PUT', '/cluster/firewall/rules/{pos}', { pos: 1, enable: 0 })).toMatch(
      /TCP 22/,
    );
    const withDrop = state({
      options: { enable: 1 },
      rules: [accept8006, acceptSsh, { type: 'in', action: 'REJECT', enable: 1 }],
    });
    expect(cut(withDrop, 'PUT', '/cluster/firewall/rules/{pos}', { pos: 0, moveto: 3 })).toMatch(
      /datacenter rule 1 rejects it|datacenter rule 2 rejects it/,
    );
    // An unrelated rule goes freely.
    const more = state({
      options: { enable: 1 },
      rules: [{ type: 'in', action: 'ACCEPT', dport: '80', enable: 1 }, accept8006, acceptSsh],
    });
    expect(cut(more, 'DELETE', '/cluster/firewall/rules/{pos}', { pos: 0 })).toBeUndefined();
  });

  it('follows the management IP set, aliases and node firewalls', () => {
    const ipsets = new Map([['management', [{ cidr: ME }]]]);
    const on = state({ options: { enable: 1 }, ipsets });
    expect(
      cut(on, 'DELETE', '/cluster/firewall/ipset/{name}/{cidr}', { name: 'management', cidr: ME }),
    ).toMatch(/TCP 8006/);
    expect(
      cut(on, 'POST', '/cluster/firewall/ipset', { name: 'old-management', rename: 'management' }),
    ).toMatch(/TCP 8006/);
    // A node with its firewall off lets everything in; turning it on is checked.
    const nodeOff = state({ options: { enable: 1 } });
    (nodeOff.nodes.get('pve1') as { options: Record<string, unknown> }).options.enable = 0;
    expect(
      cut(nodeOff, 'PUT', '/nodes/{node}/firewall/options', { node: 'pve1', enable: 1 }),
    ).toMatch(/to node pve1/);
    // A policy of ACCEPT lets in what no rule takes.
    expect(
      cut(state(), 'PUT', '/cluster/firewall/options', { enable: 1, policy_in: 'ACCEPT' }),
    ).toBeUndefined();
    expect(
      cut(
        state({ options: { enable: 1, policy_in: 'ACCEPT' } }),
        'PUT',
        '/cluster/firewall/options',
        { policy_in: 'DROP' },
      ),
    ).toMatch(/inbound policy DROP/);
  });

  it('knows the blacklist, host addresses written with /32, and the datacenter trial switch', () => {
    const ipsets = new Map([
      ['management', [{ cidr: ME }]],
      ['blacklist', []],
    ]);
    const on = state({ options: { enable: 1 }, ipsets });
    expect(
      cut(on, 'POST', '/cluster/firewall/ipset/{name}', {
        name: 'blacklist',
        cidr: '203.0.113.0/24',
      }),
    ).toMatch(/the IP set "blacklist" drops it before any rule/);
    expect(
      cut(on, 'DELETE', '/cluster/firewall/ipset/{name}/{cidr}', {
        name: 'management',
        cidr: `${ME}/32`,
      }),
    ).toMatch(/TCP 8006/);
    // PVE's other spellings of true turn it on as well.
    expect(cut(state(), 'PUT', '/cluster/firewall/options', { enable: 'yes' })).toMatch(/TCP 8006/);
    // `enable` set to a timestamp is on (for 60 seconds): turning the policy to DROP is checked.
    const trial = state({ options: { enable: 1796072031, policy_in: 'ACCEPT' } });
    expect(cut(trial, 'PUT', '/cluster/firewall/options', { policy_in: 'DROP' })).toMatch(
      /inbound policy DROP/,
    );
  });

  it('does not stand in the way of a cluster it already reads as closed', () => {
    const closed = state({ options: { enable: 1 } });
    expect(
      cut(closed, 'POST', '/cluster/firewall/rules', {
        type: 'in',
        action: 'ACCEPT',
        dport: '80',
        enable: 1,
      }),
    ).toBeUndefined();
  });
});
