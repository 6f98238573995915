/**
 * TLS for one cluster, never for the process: verified against the system CAs by default, a CA
 * file, or a pinned certificate fingerprint (what self-signed PVE installs need). `insecure` skips
 * verification only when set explicitly.
 */
import { readFileSync } from 'node:fs';
import type { TLSSocket } from 'node:tls';
import type { buildConnector } from 'undici';

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

/**
 * A connector for undici that applies the cluster's TLS policy. A pinned fingerprint is checked
 * as soon as the handshake ends, before any request byte is written.
 */
export function tlsConnector(
  build: typeof buildConnector,
  tls: TlsOptions,
  base: { timeout?: number; onConnect?: () => void } = {},
): buildConnector.connector {
  const pin = tls.fingerprint ? normalizeFingerprint(tls.fingerprint) : undefined;
  const ca = tls.ca ?? (tls.caFile ? readFileSync(tls.caFile, 'utf8') : undefined);
  const connect = build({
    timeout: base.timeout,
    // A pin replaces chain verification; a resumed session would hide the certificate.
    rejectUnauthorized: !pin && !tls.insecure,
    maxCachedSessions: pin ? 0 : undefined,
    ...(ca ? { ca } : {}),
  });
  return (opts, callback) => {
    connect(opts, (err, socket) => {
      if (err || !socket) {
        callback(err ?? new Error('connection failed'), null);
        return;
      }
      if (pin && 'getPeerCertificate' in socket) {
        const actual = (socket as TLSSocket).getPeerCertificate().fingerprint256 ?? '';
        if (actual !== pin) {
          socket.destroy();
          callback(new TlsPinError(pin, actual), null);
          return;
        }
      }
      base.onConnect?.();
      callback(null, socket);
    });
  };
}
