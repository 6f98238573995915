import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSim, type TestSim } from '../helpers/sim.js';

let sim: TestSim;
beforeAll(async () => {
  sim = await startTestSim();
});
afterAll(() => sim.close());

const login = async (username: string, password: string) =>
  await sim.data<{
    ticket: string;
    CSRFPreventionToken: string;
    NeedTFA?: number;
    username: string;
  }>('POST', '/access/ticket', { username, password }, { auth: 'none' });
const token = (user: string, id: string) =>
  `PVEAPIToken=${user}!${id}=${sim.sim.cluster.users.get(user)?.tokens.get(id)?.secret}`;

describe('tickets', () => {
  it('logs in, and the ticket works as the PVEAuthCookie cookie', async () => {
    const t = await login('root@pam', 'simulator');
    expect(t.username).toBe('root@pam');
    expect(t.ticket).toMatch(/^PVE:root@pam:[0-9A-F]{8}::/);
    expect(t.CSRFPreventionToken).toMatch(/^[0-9A-F]{8}:/);
    expect((await sim.call('GET', '/version', {}, { auth: { ticket: t.ticket } })).status).toBe(
      200,
    );
  });

  it('needs the CSRF token on every non-GET request', async () => {
    const t = await login('root@pam', 'simulator');
    const without = await sim.call(
      'PUT',
      '/nodes/pve1/qemu/103/config',
      { description: 'x' },
      { auth: { ticket: t.ticket } },
    );
    expect(without.status).toBe(401);
    expect(without.reason).toBe('Permission denied - invalid csrf token');
    const withCsrf = await sim.call(
      'PUT',
      '/nodes/pve1/qemu/103/config',
      { description: 'x' },
      { auth: { ticket: t.ticket, csrf: t.CSRFPreventionToken } },
    );
    expect(withCsrf.status).toBe(200);
  });

  it('expires after two hours of simulated time, and renews by posting the ticket as password', async () => {
    const t = await login('root@pam', 'simulator');
    sim.sim.advance(119 * 60 * 1000);
    const renewed = await login('root@pam', t.ticket);
    sim.sim.advance(2 * 60 * 1000);
    expect((await sim.call('GET', '/version', {}, { auth: { ticket: t.ticket } })).status).toBe(
      401,
    );
    expect(
      (await sim.call('GET', '/version', {}, { auth: { ticket: renewed.ticket } })).status,
    ).toBe(200);
  });

  it('refuses a wrong password with 401 and an empty body, and a forged ticket', async () => {
    const res = await sim.call(
      'POST',
      '/access/ticket',
      { username: 'root@pam', password: 'wrong' },
      { auth: 'none' },
    );
    expect(res.status).toBe(401);
    expect(res.text).toBe('');
    const t = await login('root@pam', 'simulator');
    const forged = `${t.ticket.slice(0, -4)}AAAA`;
    expect((await sim.call('GET', '/version', {}, { auth: { ticket: forged } })).status).toBe(401);
  });

  it('answers NeedTFA for a two-factor user, with a ticket the API refuses', async () => {
    const t = await login('bob@pve', 'bob-password');
    expect(t.NeedTFA).toBe(1);
    expect((await sim.call('GET', '/version', {}, { auth: { ticket: t.ticket } })).status).toBe(
      401,
    );
  });

  it('POST /access/ticket needs no authentication, but refuses a token header', async () => {
    // The handler is not allowtoken: pve-manager PVE/HTTPServer.pm rest_handler refuses any
    // API token header, naming the request's path, with PVE's newline before the parenthesis.
    for (const auth of [sim.token.header, 'PVEAPIToken=nobody@pve!x=abc']) {
      const res = await sim.call(
        'POST',
        '/access/ticket',
        { username: 'root@pam', password: 'simulator' },
        { auth },
      );
      expect(res.status).toBe(403);
      expect(res.reason).toBe(
        "Permission check failed (URI '/access/ticket' not available with API token, need proper ticket.",
      );
      expect(res.body?.message).toBe(
        "Permission check failed (URI '/access/ticket' not available with API token, need proper ticket.\n)\n",
      );
    }
    const open = await sim.call(
      'POST',
      '/access/ticket',
      { username: 'root@pam', password: 'simulator' },
      { auth: 'none' },
    );
    expect(open.status).toBe(200);
  });
});

describe('privileges', () => {
  it('names path and privilege in a 403', async () => {
    const res = await sim.call(
      'POST',
      '/nodes/pve1/qemu/100/status/stop',
      {},
      { auth: token('alice@pve', 'automation') },
    );
    expect(res.status).toBe(403);
    expect(res.reason).toBe('Permission check failed (/vms/100, VM.PowerMgmt)');
    expect(res.body?.message).toBe('Permission check failed (/vms/100, VM.PowerMgmt)\n');
  });

  it('a privilege-separated token holds the intersection of its ACLs and its user', async () => {
    // alice: PVEVMUser on /pool/development; her token: PVEAuditor on /vms.
    const alice = await login('alice@pve', 'alice-password');
    const asAlice = { ticket: alice.ticket, csrf: alice.CSRFPreventionToken };
    expect(
      (await sim.call('POST', '/nodes/pve2/qemu/105/status/reboot', {}, { auth: asAlice })).status,
    ).toBe(200);
    const tok = token('alice@pve', 'automation');
    expect(
      (await sim.call('POST', '/nodes/pve2/qemu/105/status/reboot', {}, { auth: tok })).status,
    ).toBe(403);
    // Audit: the user sees only the development pool's guests, and the token no more than that.
    const userView = await sim.data<{ vmid?: number }[]>(
      'GET',
      '/cluster/resources',
      { type: 'vm' },
      { auth: { ticket: alice.ticket } },
    );
    const tokenView = await sim.data<{ vmid?: number }[]>(
      'GET',
      '/cluster/resources',
      { type: 'vm' },
      { auth: tok },
    );
    expect(userView.map((r) => r.vmid).sort()).toEqual([104, 105]);
    expect(tokenView.map((r) => r.vmid).sort()).toEqual([104, 105]);
    const perms = await sim.data<Record<string, Record<string, number>>>(
      'GET',
      '/access/permissions',
      { path: '/vms/105' },
      { auth: tok },
    );
    // The user holds them through the guest's pool, which never propagates: flag 0.
    expect(perms['/vms/105']).toEqual({ 'VM.Audit': 0, 'VM.GuestAgent.Audit': 0 });
  });

  it('reports propagate flags: 0 for a privilege held on the path alone', async () => {
    const acl = sim.sim.cluster.acl;
    sim.sim.cluster.acl = [
      ...acl,
      {
        path: '/storage/tank',
        type: 'user',
        ugid: 'auditor@pve',
        roleid: 'PVEDatastoreAdmin',
        propagate: false,
      },
    ];
    try {
      const auditor = await login('auditor@pve', 'auditor-password');
      const perms = await sim.data<Record<string, Record<string, number>>>(
        'GET',
        '/access/permissions',
        {},
        { auth: { ticket: auditor.ticket } },
      );
      expect(perms['/storage/tank']?.['Datastore.Allocate']).toBe(0);
      expect(perms['/']?.['Sys.Audit']).toBe(1);
    } finally {
      sim.sim.cluster.acl = acl;
    }
  });

  it('checks permissions before parameters', async () => {
    const tok = token('alice@pve', 'automation');
    const res = await sim.call(
      'POST',
      '/nodes/pve2/qemu/105/status/stop',
      { timeout: 'not-a-number' },
      { auth: tok },
    );
    expect(res.status).toBe(403);
  });

  it('a token without privilege separation has the rights of its user', async () => {
    const res = await sim.call(
      'POST',
      '/nodes/pve1/qemu/103/status/start',
      {},
      { auth: token('ops@pve', 'ci') },
    );
    expect(res.status).toBe(200);
    sim.sim.runTasks();
  });

  it('filters lists by privilege', async () => {
    const auditor = await login('auditor@pve', 'auditor-password');
    const storages = await sim.data<unknown[]>(
      'GET',
      '/nodes/pve1/storage',
      {},
      { auth: { ticket: auditor.ticket } },
    );
    // All four: tank, restricted to pve2, is listed with enabled 0 (pve-storage storage_info).
    expect(storages.length).toBe(4);
    const alice = await login('alice@pve', 'alice-password');
    expect(
      await sim.data<unknown[]>(
        'GET',
        '/nodes/pve1/storage',
        {},
        { auth: { ticket: alice.ticket } },
      ),
    ).toEqual([]);
    expect(
      (await sim.call('GET', '/cluster/status', {}, { auth: { ticket: alice.ticket } })).status,
    ).toBe(403);
  });

  it('answers an expired or unknown token with 401', async () => {
    expect(
      (await sim.call('GET', '/version', {}, { auth: 'PVEAPIToken=nobody@pve!x=abc' })).status,
    ).toBe(401);
  });
});

describe('access views', () => {
  it('lists users with tokens, and a token', async () => {
    const users = await sim.data<
      { userid: string; tokens?: { tokenid: string; privsep: number }[] }[]
    >('GET', '/access/users', { full: 1 });
    expect(users.map((u) => u.userid)).toEqual([
      'root@pam',
      'alice@pve',
      'ops@pve',
      'auditor@pve',
      'bob@pve',
    ]);
    expect(users.find((u) => u.userid === 'alice@pve')?.tokens).toEqual([
      { tokenid: 'automation', privsep: 1, expire: 0, comment: 'read-only automation' },
    ]);
    expect(await sim.data('GET', '/access/users/ops@pve/token/ci')).toEqual({
      privsep: 0,
      expire: 0,
    });
    expect((await sim.call('GET', '/access/users/nobody@pve')).body?.message).toBe(
      "no such user ('nobody@pve')\n",
    );
  });

  it('lists roles and ACLs', async () => {
    const roles = await sim.data<{ roleid: string; privs: string }[]>('GET', '/access/roles');
    expect(roles.find((r) => r.roleid === 'PVEAuditor')?.privs).toContain('VM.Audit');
    const acl = await sim.data<{ path: string; ugid: string }[]>('GET', '/access/acl');
    expect(acl).toContainEqual({
      path: '/pool/development',
      type: 'user',
      ugid: 'alice@pve',
      roleid: 'PVEVMUser',
      propagate: 1,
    });
  });
});
