/**
 * The audit log: one JSON line per change attempted, whatever came of it (bad input included),
 * written and flushed before the tool answers, so that nothing is lost if the process dies right
 * after. The log level never silences it.
 */
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';

export type Decision = 'allowed' | 'confirmed' | 'refused' | 'dry-run' | 'declined';
export type Outcome = 'ok' | 'error' | 'running' | 'not-run';

export interface AuditRecord {
  time: string;
  cluster: string;
  tool: string;
  /** Arguments with secrets masked. */
  args: Record<string, unknown>;
  client?: { name?: string; version?: string };
  /** Who asked: the label of the bearer token the HTTP request carried. */
  user?: string;
  /** The 2025-era HTTP session the call came in. */
  session?: string;
  decision: Decision;
  /** Why a call was refused or declined, or how it failed. */
  reason?: string;
  upid?: string;
  outcome: Outcome;
  durationMs: number;
}

/** Argument names whose values are secrets. */
const SECRET_ARGS =
  /pass(word)?|secret|token|ticket|csrf|cipassword|sshKeys?|ssh-public-keys|input/i;
/** Credentials inside a value: `PVEAPIToken=user@realm!id=secret`, `user@realm!id=secret`. */
const SECRET_TEXT = /(PVEAPIToken=)?([^\s!=@]+@[^\s!=]+![^\s=]+=)[^\s"',;&]+/g;

/** Masks secrets at any depth: values under a secret name, and credentials inside any string. */
export function redactArgs<T>(args: T): T {
  const mask = (value: unknown): unknown => {
    if (typeof value === 'string') return value.replace(SECRET_TEXT, '$1$2***');
    if (Array.isArray(value)) return value.map(mask);
    if (value && typeof value === 'object')
      return Object.fromEntries(
        Object.entries(value).map(([k, v]) => [
          k,
          SECRET_ARGS.test(k) && v !== undefined ? '***' : mask(v),
        ]),
      );
    return value;
  };
  return mask(args) as T;
}

export class AuditLog {
  private fd?: number;

  /** With a path, lines go to that file (appended); without, to stderr. */
  constructor(
    readonly path?: string,
    private readonly stderr: { write(text: string): unknown } = process.stderr,
  ) {
    if (path) this.fd = openSync(path, 'a', 0o600);
  }

  /** Writes one record; its arguments and reason are masked here, whoever wrote them. */
  write(record: AuditRecord): void {
    const masked = { ...record, args: redactArgs(record.args) };
    if (record.reason !== undefined) masked.reason = redactArgs(record.reason);
    const line = `${JSON.stringify(masked)}\n`;
    if (this.fd === undefined) {
      this.stderr.write(`proxmox-mcp: audit: ${line}`);
      return;
    }
    writeSync(this.fd, line);
    fsyncSync(this.fd);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
