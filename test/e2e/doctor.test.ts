import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { checkCluster } from '../../src/doctor.js';
import { type RunningSimulator, startSimulator } from '../../src/simulator/server.js';
import { withoutPoolAudit } from '../helpers/acl.js';

// The simulator runs in this process: the child must be awaited, not waited for synchronously.
const run = (args: string[], env: Record<string, string>) =>
  promisify(execFile)(process.execPath, [cli, ...args], {
    env,
    encoding: 'utf8',
    timeout: 20_000,
  }).then(
    (r) => ({ status: 0, stdout: r.stdout }),
    (e: { code?: number; stdout?: string }) => ({ status: e.code ?? -1, stdout: e.stdout ?? '' }),
  );
const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
let sim: RunningSimulator;
beforeAll(async () => {
  sim = await startSimulator({ clock: 'manual' });
});
afterAll(() => sim.close());

const cluster = (extra: Record<string, unknown>) =>
  configSchema.parse({ clusters: [{ url: sim.url, ...extra }] }).clusters[0] as Parameters<
    typeof checkCluster
  >[0];
const rootToken = () => `${sim.token.id}=${sim.token.secret}`;

describe('doctor', () => {
  it('passes with a good token and a pinned certificate, and names the version and usable toolsets', async () => {
    const r = await checkCluster(cluster({ apiToken: rootToken(), fingerprint: sim.fingerprint }), [
      'all',
    ]);
    expect(r.ok).toBe(true);
    expect(r.version).toBe('9.1.3');
    expect(r.checks.map((c) => [c.name, c.ok])).toEqual([
      ['reachable', true],
      ['tls', true],
      ['authentication', true],
      ['version', true],
      ['privileges', true],
    ]);
    expect(r.toolsets?.every((t) => t.usable)).toBe(true);
  });

  it('counts a privilege held without propagation (flag 0) as held on its path', async () => {
    const c = sim.sim.cluster;
    const acl = c.acl;
    // PVEVMAdmin on /vms itself, not propagated: /access/permissions answers its privileges as 0.
    c.acl = acl.map((a) =>
      a.path === '/vms' && a.ugid === 'operators' ? { ...a, propagate: false } : a,
    );
    try {
      const secret = c.users.get('ops@pve')?.tokens.get('ci')?.secret;
      const r = await checkCluster(
        cluster({ apiToken: `ops@pve!ci=${secret}`, fingerprint: sim.fingerprint }),
        ['core'],
      );
      expect(r.toolsets?.find((t) => t.toolset === 'core')).toMatchObject({ usable: true });
    } finally {
      c.acl = acl;
    }
  });

  it('says up front when a pool of the scope or protection cannot be read', async () => {
    const c = sim.sim.cluster;
    const acl = c.acl;
    const { secret } = withoutPoolAudit(sim);
    try {
      const r = await checkCluster(
        cluster({
          apiToken: `ops@pve!ci=${secret}`,
          fingerprint: sim.fingerprint,
          scope: { protected: { pools: ['production'] } },
        }),
        ['core'],
      );
      const pools = r.checks.find((c) => c.name === 'pools');
      expect(pools?.ok).toBe(false);
      expect(pools?.detail).toMatch(/cannot read \(production\)/);
      expect(pools?.fix).toBe(
        'grant Pool.Audit on /pool/production (the PVEPoolUser role holds it) to ops@pve!ci',
      );
      const root = await checkCluster(
        cluster({
          apiToken: rootToken(),
          fingerprint: sim.fingerprint,
          scope: { protected: { pools: ['production'] } },
        }),
        ['core'],
      );
      expect(root.checks.find((c) => c.name === 'pools')).toMatchObject({ ok: true });
    } finally {
      c.acl = acl;
    }
  });

  it('prints the fingerprint to pin when the certificate is untrusted', async () => {
    const r = await checkCluster(cluster({ apiToken: rootToken() }), ['core']);
    expect(r.ok).toBe(false);
    const tls = r.checks.find((c) => c.name === 'tls');
    expect(tls?.ok).toBe(false);
    expect(tls?.fix).toBe(
      `pin the certificate: PROXMOX_TLS_FINGERPRINT=${sim.fingerprint} (or fingerprint: ${sim.fingerprint} in the config file)`,
    );
  });

  it('reports a bad token', async () => {
    const r = await checkCluster(
      cluster({
        apiToken: `${sim.token.id}=00000000-0000-0000-0000-000000000000`,
        fingerprint: sim.fingerprint,
      }),
      ['core'],
    );
    expect(r.checks.find((c) => !c.ok)).toMatchObject({ name: 'authentication' });
  });

  it('names the privileges a token lacks, per toolset', async () => {
    const secret = sim.sim.cluster.users.get('alice@pve')?.tokens.get('automation')?.secret;
    const r = await checkCluster(
      cluster({ apiToken: `alice@pve!automation=${secret}`, fingerprint: sim.fingerprint }),
      ['core'],
    );
    expect(r.ok).toBe(false);
    const core = r.toolsets?.find((t) => t.toolset === 'core');
    expect(core?.missing).toContainEqual({ privilege: 'VM.PowerMgmt', path: '/vms' });
    expect(r.checks.find((c) => c.name === 'privileges')?.detail).toMatch(
      /core \(.*VM.PowerMgmt on \/vms/,
    );
  });

  it('runs as a command: human output by default, --json for scripts, non-zero on failure', async () => {
    const env = {
      PATH: process.env.PATH ?? '',
      PROXMOX_URL: sim.url,
      PROXMOX_API_TOKEN: rootToken(),
      PROXMOX_TLS_FINGERPRINT: sim.fingerprint ?? '',
    };
    const human = await run(['doctor'], env);
    expect(human.status).toBe(0);
    expect(human.stdout).toMatch(
      /^Cluster 'default' at https:\/\/127\.0\.0\.1:\d+: OK\n {2}ok {3}reachable/,
    );
    const json = await run(['doctor', '--json'], { ...env, PROXMOX_TLS_FINGERPRINT: '' });
    expect(json.status).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({
      ok: false,
      clusters: [{ cluster: 'default', ok: false }],
    });
  });
});
