/**
 * The audit log: one JSON line per change attempted, whatever came of it, written and flushed
 * before the tool answers, so that nothing is lost if the process dies right after.
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

export function redactArgs(args: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(args).map(([k, v]) => [k, SECRET_ARGS.test(k) && v !== undefined ? '***' : v]),
  );
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

  write(record: AuditRecord): void {
    const line = `${JSON.stringify(record)}\n`;
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
