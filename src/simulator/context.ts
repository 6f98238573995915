/** What a route handler gets, and how it answers. */

import type { ContractOperation } from '../contract/types.js';
import type { ParamValue } from '../contract/validate.js';
import type { Auth, AuthContext } from './auth.js';
import type { SimClock } from './clock.js';
import type { Cluster } from './state.js';
import type { TaskEngine, TaskSpec } from './tasks.js';

export interface Ctx {
  cluster: Cluster;
  clock: SimClock;
  tasks: TaskEngine;
  access: Auth;
  auth: AuthContext;
  op: ContractOperation;
  params: Record<string, ParamValue>;
  /** Starts a task as the caller and returns its UPID. */
  startTask(spec: Omit<TaskSpec, 'user'>): string;
  /** Counts a change, for tests that prove nothing happened twice. */
  count(event: string): void;
}

/** A list with PVE's `total` attribute beside `data`. */
export class WithTotal {
  constructor(
    readonly data: unknown,
    readonly total: number,
  ) {}
}

export type Handler = (ctx: Ctx) => unknown;
export type Routes = Record<string, Handler>;

/** Typed accessors for validated parameters. */
export const str = (ctx: Ctx, name: string) => {
  const v = ctx.params[name];
  return v === undefined ? undefined : String(v);
};
export const num = (ctx: Ctx, name: string) => {
  const v = ctx.params[name];
  return v === undefined ? undefined : Number(v);
};
export const bool = (ctx: Ctx, name: string) => ctx.params[name] === true;
