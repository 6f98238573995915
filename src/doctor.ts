/**
 * `proxmox-mcp doctor`: checks each configured cluster the way the server will use it:
 * reachability, TLS (printing the fingerprint to pin when the certificate is untrusted),
 * authentication, the PVE version, and which toolsets the credentials' privileges allow.
 */
import { connect } from 'node:tls';
import { parseArgs } from 'node:util';
import { flagsOf, OPTIONS } from './config/flags.js';
import { loadConfig } from './config/load.js';
import type { ClusterConfig } from './config/schema.js';
import { PveApi, PveApiError, parseApiToken } from './pve/index.js';
import { TOOLSET_TABLE, TOOLSETS, type Toolset } from './tools/toolsets.js';

/** The privileges each toolset needs, and on which ACL path. */
interface Check {
  name: string;
  ok: boolean;
  detail: string;
  fix?: string;
}

export interface ClusterReport {
  cluster: string;
  url: string;
  ok: boolean;
  checks: Check[];
  version?: string;
  toolsets?: { toolset: string; usable: boolean; missing: { privilege: string; path: string }[] }[];
}

/** The server certificate's SHA-256 fingerprint, read without trusting it. */
function peerFingerprint(url: string): Promise<string | undefined> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(
      {
        host: u.hostname,
        port: Number(u.port || 443),
        servername: u.hostname,
        rejectUnauthorized: false,
      },
      () => {
        resolve(socket.getPeerCertificate().fingerprint256);
        socket.end();
      },
    );
    socket.setTimeout(5_000, () => socket.destroy());
    socket.once('error', () => resolve(undefined));
    socket.once('close', () => resolve(undefined));
  });
}

function held(perms: Record<string, Record<string, number>>, priv: string, path: string): boolean {
  // Effective privileges of a path, or of the nearest listed parent. Values are propagate flags
  // (pve-access-control PVE/RPCEnvironment.pm): any value means held on that path itself; only 1
  // reaches the paths below.
  for (let p = path; ; p = p.slice(0, p.lastIndexOf('/')) || '/') {
    const listed = perms[p];
    if (listed) return p === path ? priv in listed : listed[priv] === 1;
    if (p === '/') return false;
  }
}

export async function checkCluster(
  cluster: ClusterConfig,
  toolsets: (Toolset | 'all')[],
): Promise<ClusterReport> {
  const report: ClusterReport = { cluster: cluster.name, url: cluster.url, ok: true, checks: [] };
  const fail = (name: string, detail: string, fix?: string) => {
    report.ok = false;
    report.checks.push({ name, ok: false, detail, fix });
    return report;
  };
  const auth = cluster.apiToken
    ? parseApiToken(cluster.apiToken)
    : cluster.tokenId
      ? { tokenId: cluster.tokenId, secret: cluster.tokenSecret ?? '' }
      : { username: cluster.user ?? '', password: cluster.password ?? '' };
  const pve = new PveApi({
    url: cluster.url,
    auth,
    tls: { caFile: cluster.caFile, fingerprint: cluster.fingerprint, insecure: cluster.insecure },
    retry: { read: { attempts: 1 } },
    logger: { warn: () => undefined },
  });
  try {
    let version: { version: string };
    try {
      version = await pve.version();
    } catch (err) {
      if (!(err instanceof PveApiError)) throw err;
      if (err.kind === 'tls') {
        report.checks.push({ name: 'reachable', ok: true, detail: 'the address answers' });
        const fp = await peerFingerprint(cluster.url);
        return fail(
          'tls',
          err.message,
          fp
            ? `pin the certificate: PROXMOX_TLS_FINGERPRINT=${fp} (or fingerprint: ${fp} in the config file)`
            : 'give the CA file (PROXMOX_CA_FILE) or pin the certificate fingerprint (PROXMOX_TLS_FINGERPRINT)',
        );
      }
      if (err.kind === 'auth') {
        report.checks.push(
          { name: 'reachable', ok: true, detail: 'the address answers' },
          { name: 'tls', ok: true, detail: 'certificate trusted' },
        );
        return fail(
          'authentication',
          err.message,
          'check the API token (user@realm!tokenid=secret) or the user and password; a token must exist for that user, and a two-factor account needs a token',
        );
      }
      return fail(
        'reachable',
        err.message,
        `check that ${cluster.url} is the PVE API address (port 8006) and reachable from here`,
      );
    }
    report.checks.push(
      { name: 'reachable', ok: true, detail: 'the address answers' },
      {
        name: 'tls',
        ok: true,
        detail: cluster.insecure ? 'NOT verified (insecure)' : 'certificate trusted',
      },
      { name: 'authentication', ok: true, detail: `as ${pve.client.auth.identity}` },
    );
    report.version = version.version;
    report.checks.push({ name: 'version', ok: true, detail: `Proxmox VE ${version.version}` });
    const perms = (await pve.access.permissions()) as Record<string, Record<string, number>>;
    const wanted = toolsets.includes('all') ? [...TOOLSETS] : (toolsets as Toolset[]);
    report.toolsets = TOOLSETS.map((t) => {
      const missing = (TOOLSET_TABLE[t].privileges as readonly (readonly [string, string])[])
        .filter(([priv, path]) => !held(perms, priv, path))
        .map(([privilege, path]) => ({ privilege, path }));
      return { toolset: t, usable: missing.length === 0, missing };
    });
    const lacking = report.toolsets.filter(
      (t) => wanted.includes(t.toolset as Toolset) && !t.usable,
    );
    if (lacking.length) {
      fail(
        'privileges',
        `the enabled toolsets lack privileges: ${lacking.map((t) => `${t.toolset} (${t.missing.map((m) => `${m.privilege} on ${m.path}`).join(', ')})`).join('; ')}`,
        `grant a role holding them on those paths to ${pve.client.auth.identity}${pve.client.auth.identity.includes('!') ? ' (and to its user, for a token with privilege separation)' : ''}`,
      );
    } else {
      report.checks.push({
        name: 'privileges',
        ok: true,
        detail: `enough for ${wanted.join(', ')}`,
      });
    }
    // Without Pool.Audit, PVE leaves `pool` out of guest rows: scope and protection by pool
    // could not be decided, so the server refuses changes to guests until it is granted.
    const pools = [...new Set([...(cluster.scope.pools ?? []), ...cluster.scope.protected.pools])];
    const blind = pools.filter((p) => !held(perms, 'Pool.Audit', `/pool/${p}`));
    if (blind.length)
      fail(
        'pools',
        `the scope or protection names pools these credentials cannot read (${blind.join(', ')}): their members are not known, so changes to guests are refused`,
        `grant Pool.Audit on ${blind.map((p) => `/pool/${p}`).join(', ')} (the PVEPoolUser role holds it) to ${pve.client.auth.identity}`,
      );
    else if (pools.length)
      report.checks.push({
        name: 'pools',
        ok: true,
        detail: `members readable: ${pools.join(', ')}`,
      });
    return report;
  } finally {
    await pve.close();
  }
}

function render(reports: ClusterReport[]): string {
  const lines: string[] = [];
  for (const r of reports) {
    lines.push(`Cluster '${r.cluster}' at ${r.url}: ${r.ok ? 'OK' : 'PROBLEMS'}`);
    for (const c of r.checks) {
      lines.push(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`);
      if (c.fix) lines.push(`       fix: ${c.fix}`);
    }
    for (const t of r.toolsets ?? []) {
      lines.push(
        `  ${t.usable ? '    ' : 'miss'} toolset ${t.toolset}${t.usable ? '' : `: needs ${t.missing.map((m) => `${m.privilege} on ${m.path}`).join(', ')}`}`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

export async function runDoctor(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: OPTIONS, strict: true });
  const config = loadConfig({ flags: flagsOf(values) });
  const reports = [];
  for (const cluster of config.clusters) reports.push(await checkCluster(cluster, config.toolsets));
  process.stdout.write(
    values.json
      ? `${JSON.stringify({ ok: reports.every((r) => r.ok), clusters: reports }, null, 2)}\n`
      : render(reports),
  );
  return reports.every((r) => r.ok) ? 0 : 1;
}
