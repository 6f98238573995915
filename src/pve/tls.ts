/**
 * TLS for one cluster, never for the process: verified against the system CAs by default, a CA
 * file, or a pinned certificate fingerprint (what self-signed PVE installs need). `insecure` skips
 * verification only when set explicitly.
 */
import type { Agent } from 'node:http';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

export interface TlsOptions {
  /** PEM text of the CA (or certificate) to trust, instead of the system CAs. */
  ca?: string;
  /** A file holding that PEM. */
  caFile?: string;
  /** SHA-256 fingerprint of the server certificate, `AB:CD:...` as `pvenode cert info` prints it. */
  fingerprint?: string;
  insecure?: boolean;
}

export class TlsPinError extends Error {
  constructor(
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`the server's certificate fingerprint ${actual} does not match the pinned ${expected}`);
    this.name = 'TlsPinError';
  }
}

export const normalizeFingerprint = (fp: string) => fp.trim().toUpperCase().replace(/-/g, ':');

export interface AgentOptions {
  tls: TlsOptions;
  connectTimeoutMs: number;
  /** Called for each new connection, once it is usable (after the TLS pin check). */
  onConnect?: () => void;
  /** Connections kept at most, in use and idle. */
  connections: number;
}

/** How long an idle connection is kept for the next request. */
const IDLE_MS = 15_000;

/**
 * Node's own HTTP(S) agent for one cluster, with the matching `request`: kept-alive connections under the cluster's TLS policy.
 * A pinned fingerprint is checked as soon as the handshake ends: no request byte can be written
 * before it, as TLS carries no data until then.
 */
export async function clusterAgent(
  secure: boolean,
  o: AgentOptions,
): Promise<{ agent: Agent; request: typeof import('node:http').request }> {
  const common = {
    keepAlive: true,
    maxSockets: o.connections,
    maxFreeSockets: o.connections,
    timeout: IDLE_MS,
    scheduling: 'lifo' as const,
  };
  const pin = o.tls.fingerprint ? normalizeFingerprint(o.tls.fingerprint) : undefined;
  /** Watches a new connection: its connect timeout, the pin, and `onConnect`. */
  const watch = (socket: Socket, event: 'connect' | 'secureConnect') => {
    const timer = setTimeout(
      () =>
        socket.destroy(
          Object.assign(new Error(`no connection within ${o.connectTimeoutMs} ms`), {
            code: CONNECT_TIMEOUT,
          }),
        ),
      o.connectTimeoutMs,
    );
    socket.once('close', () => clearTimeout(timer));
    socket.once(event, () => {
      clearTimeout(timer);
      if (pin) {
        const actual = (socket as TLSSocket).getPeerCertificate().fingerprint256 ?? '';
        if (actual !== pin) {
          socket.destroy(new TlsPinError(pin, actual));
          return;
        }
      }
      o.onConnect?.();
    });
    return socket;
  };
  if (!secure) {
    const { Agent, request } = await import('node:http');
    const agent = new (class extends Agent {
      override createConnection(...args: Parameters<Agent['createConnection']>) {
        return watch(super.createConnection(...args) as Socket, 'connect');
      }
    })(common);
    return { agent, request };
  }
  const { Agent, request } = await import('node:https');
  const agent = new (class extends Agent {
    override createConnection(...args: Parameters<Agent['createConnection']>) {
      return watch(super.createConnection(...args) as Socket, 'secureConnect');
    }
  })({
    ...common,
    // A pin replaces chain verification; a resumed session would hide the certificate.
    rejectUnauthorized: !pin && !o.tls.insecure,
    maxCachedSessions: pin ? 0 : undefined,
    // Without verification no CA is consulted: an empty list spares loading the system store.
    ...(o.tls.ca ? { ca: o.tls.ca } : pin || o.tls.insecure ? { ca: [] } : {}),
  });
  return { agent, request };
}

/** The error code of a connection that was not made in time (nothing was sent). */
export const CONNECT_TIMEOUT = 'ECONNECT_TIMEOUT';
