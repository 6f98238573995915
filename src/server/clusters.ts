/** One PVE API client per configured cluster. */
import type { ClusterConfig, Config } from '../config/schema.js';
import { type Logger, PveApi, parseApiToken } from '../pve/index.js';

export function clusterApi(cluster: ClusterConfig, logger?: Logger): PveApi {
  const auth = cluster.apiToken
    ? (() => {
        const { tokenId, secret } = parseApiToken(cluster.apiToken);
        return { tokenId, secret };
      })()
    : cluster.tokenId && cluster.tokenSecret
      ? { tokenId: cluster.tokenId, secret: cluster.tokenSecret }
      : { username: cluster.user ?? '', password: cluster.password ?? '' };
  return new PveApi({
    url: cluster.url,
    auth,
    tls: { caFile: cluster.caFile, fingerprint: cluster.fingerprint, insecure: cluster.insecure },
    maxInFlight: cluster.maxInFlight,
    requestTimeoutMs: cluster.timeoutMs,
    logger,
  });
}

export function clusterApis(config: Config, logger?: Logger): Map<string, PveApi> {
  return new Map(config.clusters.map((c) => [c.name, clusterApi(c, logger)]));
}
