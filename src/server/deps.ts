/** What a server needs, built once from the configuration: clients, policies, audit log. */
import { ConfigError } from '../config/raw.js';
import type { ClusterConfig, Config } from '../config/schema.js';
import { AuditLog } from '../policy/audit.js';
import { WireGuard } from '../policy/guard.js';
import type { ServerDeps } from '../policy/pipeline.js';
import { type ClusterPolicy, ConfirmationSeal, clusterPolicy } from '../policy/policy.js';
import { type Logger, PveApi, parseApiToken, stderrLogger } from '../pve/index.js';

/**
 * The cluster's API as tools, resources and prompts get it: every request passes the cluster's
 * guard. The guard reads its facts through the unguarded API underneath.
 */
function clusterApi(
  cluster: ClusterConfig,
  policy: ClusterPolicy,
  logger?: Logger,
): { api: PveApi; guard: WireGuard } {
  const auth = cluster.apiToken
    ? parseApiToken(cluster.apiToken)
    : cluster.tokenId && cluster.tokenSecret
      ? { tokenId: cluster.tokenId, secret: cluster.tokenSecret }
      : { username: cluster.user ?? '', password: cluster.password ?? '' };
  const base = new PveApi(
    {
      url: cluster.url,
      auth,
      tls: { caFile: cluster.caFile, fingerprint: cluster.fingerprint, insecure: cluster.insecure },
      maxInFlight: cluster.maxInFlight,
      requestTimeoutMs: cluster.timeoutMs,
      logger,
    },
    // Guests and nodes out of scope are left out of every listing.
    {
      node: (n) => policy.scope.allowsNode(n),
      guest: (g) => policy.scope.allowsGuest(g),
      pools: policy.scope.pools,
    },
  );
  const guard = new WireGuard(policy, base, undefined, {
    warn: (m) => (logger ?? stderrLogger).warn(m),
    told: new Set(),
  });
  return { api: base.withClient(base.client.guarded(guard)), guard };
}

/** Opens a file the configuration names; a failure is a configuration error naming the setting. */
function opening<T>(setting: string, path: string, open: () => T): T {
  try {
    return open();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (typeof code !== 'string') throw err;
    throw new ConfigError(`${setting}: cannot open '${path}' (${code})`);
  }
}

export function buildDeps(
  config: Config,
  opts: { version: string; logger?: Logger; auditStream?: { write(text: string): unknown } },
): ServerDeps {
  const policies = new Map(config.clusters.map((c) => [c.name, clusterPolicy(config, c)]));
  const built = config.clusters.map(
    (c) =>
      [
        c.name,
        opening(`caFile of cluster '${c.name}' (PROXMOX_CA_FILE)`, c.caFile ?? '', () =>
          clusterApi(c, policies.get(c.name) as ClusterPolicy, opts.logger),
        ),
      ] as const,
  );
  return {
    clusters: new Map(built.map(([name, b]) => [name, b.api])),
    guards: new Map(built.map(([name, b]) => [name, b.guard])),
    policies,
    // Without a file, audit lines go to stderr whatever the log level: they are a record, not chatter.
    audit: opening(
      'auditLog (PROXMOX_AUDIT_LOG or --audit-log)',
      config.auditLog ?? '',
      () => new AuditLog(config.auditLog, opts.auditStream),
    ),
    version: opts.version,
    seal: new ConfirmationSeal(),
  };
}

export async function closeDeps(deps: ServerDeps): Promise<void> {
  deps.audit.close();
  await Promise.all([...deps.clusters.values()].map((c) => c.close()));
}
