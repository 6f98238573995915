import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PveApi, PveApiError, PveClient, type PveClientOptions } from '../../src/pve/index.js';
import { type RunningSimulator, startSimulator } from '../../src/simulator/server.js';

let sim: RunningSimulator;
const clients: PveClient[] = [];
const dir = mkdtempSync(join(tmpdir(), 'pmcp-client-'));

beforeAll(async () => {
  sim = await startSimulator({ clock: 'manual' });
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await sim.close();
});
afterEach(() => sim.sim.faults.clear());

const token = () => ({ tokenId: sim.token.id, secret: sim.token.secret });
const quiet = { warn: () => undefined };
function client(opts: Partial<PveClientOptions> = {}): PveClient {
  const c = new PveClient({
    url: sim.url,
    auth: token(),
    tls: { ca: sim.ca },
    logger: quiet,
    retry: { read: { baseDelayMs: 1 }, write: { baseDelayMs: 1 } },
    ...opts,
  });
  clients.push(c);
  return c;
}
async function failure(p: Promise<unknown>): Promise<PveApiError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof PveApiError) return err;
    throw err;
  }
  throw new Error('expected the call to fail');
}

describe('TLS', () => {
  it('fails without trust in the certificate', async () => {
    const err = await failure(client({ tls: {} }).call('GET /version', {}));
    expect(err.kind).toBe('tls');
    expect(err.message).toMatch(/not trusted.*fingerprint/);
  });

  it('succeeds with the CA file', async () => {
    const caFile = join(dir, 'ca.pem');
    writeFileSync(caFile, sim.ca ?? '');
    expect((await client({ tls: { caFile } }).call('GET /version', {})).version).toBe('9.1.3');
  });

  it('succeeds with the pinned fingerprint, in lower case too', async () => {
    const fp = sim.fingerprint ?? '';
    expect(
      (await client({ tls: { fingerprint: fp.toLowerCase() } }).call('GET /version', {})).release,
    ).toBe('9.1');
  });

  it('fails with a wrong pin before any request is sent', async () => {
    const before = sim.sim.requests.length;
    const err = await failure(
      client({ tls: { fingerprint: `${'00:'.repeat(31)}00` } }).call(
        'POST /nodes/{node}/qemu/{vmid}/status/start',
        { node: 'pve1', vmid: 103 },
      ),
    );
    expect(err.kind).toBe('tls');
    expect(err.message).toMatch(/does not match the pinned/);
    expect(sim.sim.requests.length).toBe(before);
  });

  it('warns when verification is switched off, and only then', async () => {
    const warnings: string[] = [];
    client({ tls: { insecure: true }, logger: { warn: (m) => warnings.push(m) } });
    client({ tls: { ca: sim.ca }, logger: { warn: (m) => warnings.push(m) } });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/TLS verification is OFF/);
  });
});

describe('authentication', () => {
  it('uses an API token', async () => {
    const nodes = await client().call('GET /nodes', {});
    expect(nodes.map((n) => n.node)).toEqual(['pve1', 'pve2', 'pve3']);
  });

  it('logs in with a password, sends the CSRF token on writes, and renews the ticket', async () => {
    let now = Date.now();
    const c = client({ auth: { username: 'root@pam', password: 'simulator' }, now: () => now });
    await c.call('PUT /nodes/{node}/qemu/{vmid}/config', {
      node: 'pve1',
      vmid: 103,
      description: 'set by ticket',
    });
    const logins = () => sim.sim.requests.filter((r) => r.path.endsWith('/access/ticket')).length;
    const before = logins();
    now += 61 * 60 * 1000;
    sim.sim.advance(61 * 60 * 1000);
    expect(
      (await c.call('GET /nodes/{node}/qemu/{vmid}/config', { node: 'pve1', vmid: 103 }))
        .description,
    ).toBe('set by ticket');
    expect(logins()).toBe(before + 1);
  });

  it('logs in again once after a forced expiry', async () => {
    const c = client({ auth: { username: 'root@pam', password: 'simulator' } });
    await c.call('GET /version', {});
    sim.sim.faults.add({ kind: 'ticket-expiry', times: 1 });
    expect((await c.call('GET /cluster/status', {}))[0]).toMatchObject({
      type: 'cluster',
      name: 'demo',
    });
  });

  it('explains a wrong password, and a two-factor account', async () => {
    const wrong = await failure(
      client({ auth: { username: 'root@pam', password: 'nope' } }).call('GET /version', {}),
    );
    expect(wrong.kind).toBe('auth');
    expect(wrong.message).toMatch(/login as root@pam failed/);
    const tfa = await failure(
      client({ auth: { username: 'bob@pve', password: 'bob-password' } }).call('GET /version', {}),
    );
    expect(tfa.kind).toBe('auth');
    expect(tfa.message).toMatch(/two-factor.*use an API token/);
  });
});

describe('errors', () => {
  const api = () => new PveApi(client());
  it.each([
    ['not_found', () => api().qemu.status('pve1', 999), /does not exist/],
    [
      'already_exists',
      () => client().call('GET /cluster/nextid', { vmid: 100 }),
      /Parameter verification failed/,
    ],
    [
      'permission',
      () =>
        new PveClient({
          url: sim.url,
          auth: { tokenId: 'alice@pve!automation', secret: aliceSecret() },
          tls: { ca: sim.ca },
        }).call('POST /nodes/{node}/qemu/{vmid}/status/start', { node: 'pve2', vmid: 105 }),
      /VM.PowerMgmt/,
    ],
    ['not_running', () => api().qemu.reset('pve1', 103), /VM 103 not running/],
    ['running', () => api().qemu.destroy('pve1', 102), /is running - destroy failed/],
    ['node_offline', () => api().nodes.status('pve3'), /./],
    [
      'bad_request',
      () => client().request('GET', '/nodes/pve1/qemu', { full: 'yes' }),
      /Parameter verification failed/,
    ],
  ])('%s', async (kind, call, message) => {
    const err = await failure(call());
    expect(err.kind).toBe(kind);
    expect(err.message).toMatch(message);
  });

  it('parses the missing privilege and path of a 403', async () => {
    const c = new PveClient({
      url: sim.url,
      auth: { tokenId: 'alice@pve!automation', secret: aliceSecret() },
      tls: { ca: sim.ca },
    });
    clients.push(c);
    const err = await failure(
      c.call('POST /nodes/{node}/qemu/{vmid}/status/start', { node: 'pve2', vmid: 105 }),
    );
    expect(err).toMatchObject({
      status: 403,
      privilege: 'VM.PowerMgmt',
      permissionPath: '/vms/105',
    });
  });

  it('names the lock of a locked guest, and a stale digest is a conflict', async () => {
    const pve = api();
    const task = await pve.qemu.snapshot('pve1', 101, 'locktest');
    const locked = await failure(pve.qemu.updateConfig('pve1', 101, { description: 'x' }));
    expect(locked).toMatchObject({ kind: 'locked', lock: 'snapshot' });
    sim.sim.runTasks();
    expect((await task.wait()).ok).toBe(true);
    const stale = await failure(
      pve.qemu.updateConfig('pve1', 101, { description: 'y', digest: '0'.repeat(40) }),
    );
    expect(stale.kind).toBe('conflict');
  });

  it('falls back to the reason phrase, where older PVE versions alone carry the message', async () => {
    // Before libpve-http-server 5.2 the body was only {"data":null}.
    const old = http.createServer((_req, res) => {
      res.statusCode = 500;
      res.statusMessage = 'VM 100 not running';
      res.end('{"data":null}');
    });
    await new Promise<void>((resolve) => old.listen(0, '127.0.0.1', resolve));
    const { port } = old.address() as AddressInfo;
    const c = client({ url: `http://127.0.0.1:${port}`, tls: {} });
    const err = await failure(c.call('GET /cluster/status', {}));
    old.close();
    expect(err).toMatchObject({ status: 500, message: 'VM 100 not running', kind: 'not_running' });
  });
});

function aliceSecret(): string {
  return sim.sim.cluster.users.get('alice@pve')?.tokens.get('automation')?.secret ?? '';
}

describe('retries', () => {
  it('retries a GET through transient failures', async () => {
    sim.sim.faults.add({ kind: 'status', status: 503, path: '/cluster/resources', times: 2 });
    const rows = await client().call('GET /cluster/resources', { type: 'node' });
    expect(rows).toHaveLength(3);
    expect(
      sim.sim.requests
        .filter((r) => r.path.endsWith('/cluster/resources'))
        .slice(-3)
        .map((r) => r.status),
    ).toEqual([503, 503, 200]);
  });

  it('retries a GET after a connection reset', async () => {
    sim.sim.faults.add({ kind: 'reset', path: '/version', times: 1 });
    expect((await client().call('GET /version', {})).version).toBe('9.1.3');
  });

  it('never re-sends a POST once it may have reached the server', async () => {
    const starts = () => sim.sim.counters.get('qemu.start') ?? 0;
    const before = starts();
    sim.sim.faults.add({
      kind: 'reset',
      method: 'POST',
      path: '/nodes/*/qemu/*/status/start',
      when: 'after',
      times: 1,
    });
    const err = await failure(
      client().call('POST /nodes/{node}/qemu/{vmid}/status/start', { node: 'pve1', vmid: 103 }),
    );
    expect(err.kind).toBe('transient');
    expect(starts()).toBe(before + 1);
    sim.sim.runTasks();
  });

  it('re-sends a write whose connection was refused before anything was sent', async () => {
    const refused = new PveClient({
      url: 'https://127.0.0.1:1',
      auth: token(),
      tls: { ca: sim.ca },
      retry: { write: { baseDelayMs: 1 } },
    });
    clients.push(refused);
    const err = await failure(
      refused.call('POST /nodes/{node}/qemu/{vmid}/status/start', { node: 'pve1', vmid: 103 }),
    );
    expect(err.notSent).toBe(true);
    expect(err.message).toMatch(/ECONNREFUSED/);
  });

  it('does not retry a PVE refusal', async () => {
    const before = sim.sim.requests.length;
    await failure(
      client().call('GET /nodes/{node}/qemu/{vmid}/status/current', { node: 'pve1', vmid: 999 }),
    );
    expect(sim.sim.requests.length).toBe(before + 1);
  });
});

describe('paths', () => {
  it('never lets a hostile node name reach the wire', async () => {
    const before = sim.sim.requests.length;
    const err = await failure(client().call('GET /nodes/{node}/status', { node: '../access' }));
    expect(err.kind).toBe('bad_request');
    expect(err.errors?.node).toMatch(/valid node name/);
    expect(sim.sim.requests.length).toBe(before);
  });

  it('refuses paths outside the contract', async () => {
    const err = await failure(client().request('POST', '/nodes/pve1/execute', {}));
    expect(err.kind).toBe('bad_request');
  });

  it('escapes path values, so a volume id with slashes stays one parameter', async () => {
    const content = await new PveApi(client()).storage.content('pve1', 'backup-nfs', {
      content: 'backup',
    });
    const volid = content.find((v) => v.vmid === 200)?.volid ?? '';
    const task = await new PveApi(client()).storage.deleteVolume('pve1', 'backup-nfs', volid);
    sim.sim.runTasks();
    expect((await task?.wait())?.ok).toBe(true);
    const deletion = sim.sim.requests.find(
      (r) =>
        r.method === 'DELETE' && r.template === '/nodes/{node}/storage/{storage}/content/{volume}',
    );
    expect(deletion?.path).toBe(
      `/api2/json/nodes/pve1/storage/backup-nfs/content/${encodeURIComponent(volid)}`,
    );
    expect(deletion?.status).toBe(200);
  });
});

describe('a canary secret', () => {
  it('appears in no error, log line or thrown message', async () => {
    const canary = 'canary-8f2d1c7e-0b5a-4d3e-9f61-aa55cc77ee99';
    const logs: string[] = [];
    const c = new PveClient({
      url: sim.url,
      auth: { tokenId: 'root@pam!simulator', secret: canary },
      tls: { ca: sim.ca, insecure: false },
      logger: { warn: (m) => logs.push(m) },
    });
    clients.push(c);
    const err = await failure(c.call('GET /version', {}));
    const ticketClient = new PveClient({
      url: sim.url,
      auth: { username: 'root@pam', password: canary },
      tls: { ca: sim.ca },
      logger: { warn: (m) => logs.push(m) },
    });
    clients.push(ticketClient);
    const err2 = await failure(ticketClient.call('GET /version', {}));
    const bad = await failure(
      client().call('PUT /nodes/{node}/qemu/{vmid}/config', {
        node: 'pve1',
        vmid: 103,
        description: canary,
        bogus: canary,
      } as never),
    );
    for (const e of [err, err2, bad]) {
      const text = `${e.message} ${e.toString()} ${JSON.stringify(e.errors ?? {})} ${e.stack ?? ''}`;
      expect(text).not.toContain(canary);
    }
    expect(logs.join('\n')).not.toContain(canary);
    expect(c.redact(`Authorization: PVEAPIToken=root@pam!simulator=${canary}`)).toBe(
      'Authorization: PVEAPIToken=root@pam!simulator=***',
    );
  });
});

describe('a guarded view', () => {
  it('checks every request first, and a total counts no row its filter left out', async () => {
    const seen: string[] = [];
    const view = client().guarded({
      check: async (op) => {
        seen.push(`${op.method} ${op.path}`);
      },
      // Leaves out the tasks of the failed start: a listing the caller may not see all of.
      filter: async (_op, data) =>
        Array.isArray(data)
          ? data.filter((t) => (t as { type?: string }).type !== 'qmstart')
          : data,
    });
    const all = await client().page('GET /nodes/{node}/tasks', { node: 'pve1', limit: 50 });
    const shown = await view.page('GET /nodes/{node}/tasks', { node: 'pve1', limit: 50 });
    const hidden = (all.data as { type?: string }[]).filter((t) => t.type === 'qmstart').length;
    expect(hidden).toBeGreaterThan(0);
    expect(shown.total).toBe((all.total ?? 0) - hidden);
    expect(seen).toEqual(['GET /nodes/{node}/tasks']);
  });
});

describe('a signalled view', () => {
  it("cancels every request of a caller's view when the caller's signal aborts", async () => {
    sim.sim.faults.add({ kind: 'latency', ms: 5_000, path: '/version', times: 1 });
    const base = client();
    const caller = new AbortController();
    const view = base.signalled(caller.signal);
    const pending = view.call('GET /version', {});
    setTimeout(() => caller.abort(new Error('the call was cancelled')), 50);
    // Waited out, the request would answer; cancelled, it rejects with the caller's reason.
    await expect(pending).rejects.toThrow('the call was cancelled');
    // The client itself, and other views, are not cancelled.
    expect((await base.call('GET /version', {})).version).toBeTruthy();
  });
});

describe('a call signal shared by many requests', () => {
  it('holds as many requests as a call makes without a listener warning', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      const view = client().signalled(new AbortController().signal);
      await Promise.all(
        Array.from({ length: 30 }, () => view.call('GET /nodes/{node}/status', { node: 'pve1' })),
      );
      // Node reports warnings on the next tick.
      await new Promise((r) => setImmediate(r));
      expect(warnings).not.toContain('MaxListenersExceededWarning');
    } finally {
      process.off('warning', onWarning);
    }
  });
});
