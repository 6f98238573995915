/**
 * An OAuth 2.1 resource server: access tokens are JWTs from an external authorization server,
 * checked against its keys (JWKS, fetched and cached by jose), its issuer, this endpoint as their
 * audience (RFC 8707), and their expiry. The endpoint publishes its protected-resource metadata
 * (RFC 9728) so clients find the authorization server. jose is loaded only for this.
 */
import type { AuthInfo } from '@modelcontextprotocol/server';
import { SCOPES } from '../policy/pipeline.js';

export interface OAuthOptions {
  /** The authorization server's issuer URL. */
  issuer: string;
  /** This endpoint's public URL: the tokens' audience. */
  resource: string;
  /** Where its keys are, when its metadata does not say. */
  jwksUrl?: string;
}

/** Where the metadata is, for `resource` (RFC 9728: the path goes after the well-known part). */
export function metadataUrl(resource: string): URL {
  const url = new URL(resource);
  return new URL(`/.well-known/oauth-protected-resource${url.pathname.replace(/\/$/, '')}`, url);
}

export function protectedResourceMetadata(o: OAuthOptions) {
  return {
    resource: o.resource,
    authorization_servers: [o.issuer],
    scopes_supported: [SCOPES.read, SCOPES.write],
    bearer_methods_supported: ['header'],
  };
}

/** The authorization server's key set URL, from its metadata (RFC 8414, then OpenID discovery). */
async function discoverJwks(issuer: string): Promise<string> {
  const base = issuer.replace(/\/$/, '');
  for (const path of [
    '/.well-known/oauth-authorization-server',
    '/.well-known/openid-configuration',
  ]) {
    const res = await fetch(`${base}${path}`).catch(() => undefined);
    if (!res?.ok) continue;
    const meta = (await res.json()) as { jwks_uri?: string };
    if (meta.jwks_uri) return meta.jwks_uri;
  }
  throw new Error(`the authorization server ${issuer} publishes no key set (jwks_uri)`);
}

/** A verifier of bearer tokens: what it answers is who the token speaks for and what it allows. */
export async function oauthVerifier(
  o: OAuthOptions,
): Promise<(token: string) => Promise<AuthInfo>> {
  const { createRemoteJWKSet, jwtVerify } = await import('jose');
  let keys: ReturnType<typeof createRemoteJWKSet> | undefined;
  return async (token) => {
    keys ??= createRemoteJWKSet(new URL(o.jwksUrl ?? (await discoverJwks(o.issuer))));
    const { payload } = await jwtVerify(token, keys, { issuer: o.issuer, audience: o.resource });
    return {
      // The token itself goes no further than this check.
      token: '',
      clientId: String(payload.client_id ?? payload.azp ?? ''),
      scopes: String(payload.scope ?? '')
        .split(' ')
        .filter(Boolean),
      expiresAt: payload.exp,
      extra: { subject: payload.sub, scoped: true },
    };
  };
}
