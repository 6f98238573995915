/**
 * Authentication strategies: an API token, or a user and password that log in for tickets.
 * Tickets are renewed well before PVE's two-hour expiry, and a 401 triggers one fresh login.
 */
import { PveApiError } from './errors.js';

export interface AuthStrategy {
  /** Headers for a request of this method; may log in first. */
  headers(method: string): Promise<Record<string, string>>;
  /** After a 401: returns true when new credentials were obtained and the request may be repeated once. */
  refresh(): Promise<boolean>;
  /** Secret values to keep out of errors and logs. */
  secrets(): string[];
  /** Who the requests are made as: `user@realm` or `user@realm!tokenid`. */
  readonly identity: string;
}

/** Splits `user@realm!tokenid=secret`. */
export function parseApiToken(full: string): { tokenId: string; secret: string } {
  const bang = full.indexOf('!');
  const eq = full.indexOf('=', bang);
  if (bang < 1 || eq === -1 || eq === full.length - 1) {
    throw new Error('an API token must look like user@realm!tokenid=secret');
  }
  return { tokenId: full.slice(0, eq), secret: full.slice(eq + 1) };
}

export class TokenAuth implements AuthStrategy {
  private readonly header: string;
  get identity(): string {
    return this.tokenId;
  }
  constructor(
    readonly tokenId: string,
    private readonly secret: string,
  ) {
    if (!/^[^!\s]+@[^!\s]+![^=\s]+$/.test(tokenId))
      throw new Error('a token id must look like user@realm!tokenid');
    this.header = `PVEAPIToken=${tokenId}=${secret}`;
  }
  async headers(): Promise<Record<string, string>> {
    return { authorization: this.header };
  }
  async refresh(): Promise<boolean> {
    return false;
  }
  secrets(): string[] {
    return [this.secret, this.header];
  }
}

export interface TicketAnswer {
  username: string;
  ticket: string;
  CSRFPreventionToken: string;
  NeedTFA?: number;
}

/** Renew once a ticket is this old; PVE tickets live two hours. */
const RENEW_AFTER_MS = 60 * 60 * 1000;

export class TicketAuth implements AuthStrategy {
  private ticket?: { value: string; csrf: string; issuedAt: number };
  private pending?: Promise<void>;
  get identity(): string {
    return this.username;
  }

  constructor(
    readonly username: string,
    private readonly password: string,
    /** Posts /access/ticket without authentication. */
    private readonly login: (username: string, password: string) => Promise<TicketAnswer>,
    private readonly now: () => number = Date.now,
  ) {}

  private async obtain(password: string): Promise<void> {
    const answer = await this.login(this.username, password);
    if (answer.NeedTFA) {
      throw new PveApiError({
        status: 401,
        method: 'POST',
        path: '/access/ticket',
        kind: 'auth',
        message: `${this.username} has two-factor authentication enabled, which an unattended client cannot answer: use an API token (user@realm!tokenid=secret) instead`,
      });
    }
    this.ticket = { value: answer.ticket, csrf: answer.CSRFPreventionToken, issuedAt: this.now() };
  }

  /** One login or renewal at a time, shared by concurrent requests. */
  private single(fn: () => Promise<void>): Promise<void> {
    this.pending ??= fn().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  async headers(method: string): Promise<Record<string, string>> {
    if (!this.ticket) await this.single(() => this.obtain(this.password));
    else if (this.now() - this.ticket.issuedAt > RENEW_AFTER_MS) {
      const current = this.ticket.value;
      // Renewal posts the ticket as the password; if that fails, log in again.
      await this.single(() => this.obtain(current).catch(() => this.obtain(this.password)));
    }
    const t = this.ticket as NonNullable<typeof this.ticket>;
    const headers: Record<string, string> = {
      cookie: `PVEAuthCookie=${encodeURIComponent(t.value)}`,
    };
    if (method !== 'GET') headers.csrfpreventiontoken = t.csrf;
    return headers;
  }

  async refresh(): Promise<boolean> {
    this.ticket = undefined;
    await this.single(() => this.obtain(this.password));
    return true;
  }

  secrets(): string[] {
    return [this.password, ...(this.ticket ? [this.ticket.value, this.ticket.csrf] : [])];
  }
}
