import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSim, type TestSim } from '../helpers/sim.js';

let sim: TestSim;
beforeAll(async () => {
  sim = await startTestSim();
});
afterAll(() => sim.close());

describe('envelope and errors', () => {
  it('answers success as {data}', async () => {
    const res = await sim.call('GET', '/version');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      data: { version: '9.1.3', release: '9.1', repoid: expect.any(String), console: 'html5' },
    });
  });

  it('sends integer and boolean config keys as numbers, number-typed ones as strings (check_type)', async () => {
    const res = await sim.call('GET', '/nodes/pve2/qemu/106/config');
    // memory is a property string since PVE 8 (`[current=]<MiB>`), so it is a string too.
    expect(res.body?.data).toMatchObject({ cores: 1, sockets: 1, memory: '1024', cpulimit: '0.5' });
  });

  it('answers an unknown path with 501 and PVE message', async () => {
    const res = await sim.call('GET', '/foo/bar');
    expect(res.status).toBe(501);
    expect(res.reason).toBe("Method 'GET /foo/bar' not implemented");
    expect(res.body).toEqual({ data: null, message: "Method 'GET /foo/bar' not implemented\n" });
  });

  it('answers a known path with an unsupported method with 501', async () => {
    const res = await sim.call('PUT', '/cluster/resources');
    expect(res.status).toBe(501);
    expect(res.body?.message).toBe("Method 'PUT /cluster/resources' not implemented\n");
  });

  it('refuses a body on DELETE', async () => {
    const { fetch } = await import('undici');
    const raw = await fetch(`${sim.url}/api2/json/nodes/pve1/tasks/x`, {
      method: 'DELETE',
      headers: {
        authorization: sim.token.header,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'a=1',
    });
    // pveproxy answers this itself, in plain text (pve-http-server PVE/APIServer/AnyEvent.pm).
    expect(raw.status).toBe(501);
    expect(raw.statusText).toBe("Unexpected content for method 'DELETE'");
    expect(await raw.text()).toBe("Unexpected content for method 'DELETE'");
  });

  it('refuses a body over 512 KiB, and a content type it does not read, in plain text', async () => {
    const { fetch } = await import('undici');
    const post = (body: string, type: string) =>
      fetch(`${sim.url}/api2/json/nodes/pve1/qemu/103/config`, {
        method: 'POST',
        headers: { authorization: sim.token.header, 'content-type': type },
        body,
      });
    const big = await post(
      `description=${'x'.repeat(512 * 1024)}`,
      'application/x-www-form-urlencoded',
    );
    expect(big.status).toBe(501);
    expect(big.statusText).toBe('for data too large');
    expect(await big.text()).toBe('for data too large');
    const text = await post('description=x', 'text/plain');
    expect(text.status).toBe(506);
    expect(await text.text()).toBe("upload 'Content-Type 'text/plain' not implemented");
  });

  it("answers JSON that does not parse with decode_json's error, a plain 500", async () => {
    const { fetch } = await import('undici');
    const res = await fetch(`${sim.url}/api2/json/nodes/pve1/qemu/103/config`, {
      method: 'PUT',
      headers: { authorization: sim.token.header, 'content-type': 'application/json' },
      body: '{oops',
    });
    expect(res.status).toBe(500);
    expect(res.headers.get('content-type')).toBeNull();
    const body = await res.text();
    expect(body).toMatch(/^malformed JSON string, .* at character offset 1 \(before "oops"\) at /);
    expect(res.statusText).toBe(body.trim());
  });

  it('validates parameters against the contract with per-field errors', async () => {
    const res = await sim.call('POST', '/nodes/pve1/qemu/100/status/start', {
      bogus: 'x',
      timeout: 'abc',
    });
    expect(res.status).toBe(400);
    expect(res.reason).toBe('Parameter verification failed.');
    expect(res.body).toEqual({
      data: null,
      message: 'Parameter verification failed.\n',
      errors: {
        bogus:
          'property is not defined in schema and the schema does not allow additional properties',
        timeout: "type check ('integer') failed - got 'abc'",
      },
    });
  });

  it('requires form booleans to be exactly 0 or 1, and accepts JSON true', async () => {
    const form = await sim.call('GET', '/nodes/pve1/qemu', { full: 'true' });
    expect(form.status).toBe(400);
    expect(form.body?.errors).toEqual({ full: "type check ('boolean') failed - got 'true'" });
    const json = await sim.call(
      'PUT',
      '/nodes/pve1/qemu/103/config',
      { onboot: true },
      { json: true },
    );
    expect(json.status).toBe(200);
    expect(await sim.data('GET', '/nodes/pve1/qemu/103/config')).toMatchObject({ onboot: 1 });
  });

  it('reports missing required parameters, enums, ranges and formats', async () => {
    const missing = await sim.call('POST', '/nodes/pve1/qemu/100/clone', {});
    expect(missing.body?.errors).toEqual({ newid: 'property is missing and it is not optional' });
    const badEnum = await sim.call('GET', '/cluster/resources', { type: 'vms' });
    expect(badEnum.body?.errors).toEqual({
      type: "value 'vms' does not have a value in the enumeration 'vm, storage, node, sdn'",
    });
    const range = await sim.call('GET', '/nodes/pve1/qemu/99/status/current');
    expect(range.status).toBe(400);
    expect(range.body?.errors).toEqual({ vmid: 'value must have a minimum value of 100' });
    const node = await sim.call('GET', '/nodes/bad_node!/status');
    expect(node.status).toBe(400);
    expect(node.body?.errors?.node).toBe(
      'invalid format - value does not look like a valid node name',
    );
  });

  it('rejects a path parameter that conflicts with the body', async () => {
    const res = await sim.call('POST', '/nodes/pve1/qemu/100/status/start', { vmid: 101 });
    // A parameter error on the parameter (pve-manager PVE/HTTPServer.pm rest_handler).
    expect(res.status).toBe(400);
    expect(res.body?.message).toBe('Parameter verification failed.\n');
    expect(res.body?.errors).toEqual({
      vmid: 'duplicate parameter (already defined in URI) with conflicting values!',
    });
    const same = await sim.call('POST', '/nodes/pve1/qemu/103/status/start', { vmid: 103 });
    expect(same.status).toBe(200);
    await sim.sim.runTasks();
  });

  it('answers 401 with an empty body without credentials or with a bad token', async () => {
    const none = await sim.call('GET', '/cluster/resources', {}, { auth: 'none' });
    expect(none.status).toBe(401);
    expect(none.text).toBe('');
    expect(none.reason).toBe('No ticket');
    const bad = await sim.call(
      'GET',
      '/cluster/resources',
      {},
      { auth: 'PVEAPIToken=root@pam!simulator=00000000-0000-0000-0000-000000000000' },
    );
    expect(bad.status).toBe(401);
    expect(bad.text).toBe('');
  });

  it('needs no authentication for GET /access/ticket', async () => {
    const res = await sim.call('GET', '/access/ticket', {}, { auth: 'none' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ data: null });
  });

  it('answers 595 for a call proxied to an offline node', async () => {
    const res = await sim.call('GET', '/nodes/pve3/status');
    expect(res.status).toBe(595);
    expect(res.body?.data).toBeNull();
    const lxc = await sim.call('POST', '/nodes/pve3/lxc/203/status/start');
    expect(lxc.status).toBe(595);
  });

  it('answers 500 with the failed hostname lookup for an unknown node name', async () => {
    const res = await sim.call('GET', '/nodes/nosuchnode/qemu');
    expect(res.status).toBe(500);
    expect(res.body?.message).toMatch(
      /^hostname lookup 'nosuchnode' failed - failed to get address info for: nosuchnode: Name or service not known/,
    );
  });

  it('keeps a node name with slashes from changing the path', async () => {
    const res = await sim.call('GET', `/nodes/${encodeURIComponent('../access')}/status`);
    expect(res.status).toBe(400);
    expect(res.body?.errors?.node).toMatch(/valid node name/);
  });
});
