/**
 * Every call, whatever the protocol: admitted (read-only, scope, protection, what PVE would
 * refuse), planned against a recording view, answered as a dry run or refused when the plan
 * fails, confirmed by a human when it changes something, run with only the planned changes,
 * audited, and rendered as cleaned text and structured content. The MCP adapter only translates
 * requests into calls and answers back; resources read through `read`.
 */
import type { Config } from '../config/schema.js';
import type { Interceptor, PveApi } from '../pve/index.js';
import { plannedUpid } from '../pve/index.js';
import type { AnyTool, Progress, ToolContext, ToolImage, ToolResult } from '../tools/define.js';
import { describeError } from '../tools/errors.js';
import { type AuditLog, type Decision, type Outcome, redactArgs } from './audit.js';
import { requestKey, requestPath, type WireGuard } from './guard.js';
import {
  admit,
  type ClusterPolicy,
  type ConfirmationSeal,
  declaredTargets,
  guardGuest,
  impactOf,
  type PlannedCall,
  type Preconditions,
} from './policy.js';
import { PolicyRefusal } from './refusal.js';
import { cleanDeep, cleanText } from './sanitize.js';

/** The OAuth scopes that allow reads and changes (a change needs `write`; `write` reads too). */
export const SCOPES = { read: 'proxmox:read', write: 'proxmox:write' } as const;

/** What calls need, built once from the configuration (see server/deps.ts). */
export interface ServerDeps {
  /** One API client per configured cluster, by name, in configuration order. */
  clusters: Map<string, PveApi>;
  /** The policy of each cluster, by name. */
  policies: Map<string, ClusterPolicy>;
  /** The guard every request of each cluster passes, by name (its clients are guarded by it). */
  guards: Map<string, WireGuard>;
  audit: AuditLog;
  version: string;
  /** Shared by every server instance, so a confirmation survives the retry of a stateless request. */
  seal: ConfirmationSeal;
}

/** The human behind a client that can ask them. */
export interface Human {
  /** Their answer to the question an earlier attempt of this call asked, with its sealed state. */
  answer?: { action?: string; confirm?: unknown; state: unknown };
  /** The protocol's way of asking `impact` ("Proceed?"), carrying `state` back with the answer. */
  ask(impact: string, state: string): unknown;
}

/** One tool call, free of any protocol. */
export interface Call {
  tool: AnyTool;
  /** Validated arguments, without the pipeline's own (`cluster`, `dryRun`, `confirm`). */
  args: Record<string, unknown>;
  /** The cluster chosen; the only one when there is one. */
  cluster?: string;
  dryRun?: boolean;
  /** The model's word that the user agreed, for clients that cannot ask them. */
  confirm?: unknown;
  signal: AbortSignal;
  client?: { name?: string; version?: string };
  /** Who asked, when the transport knows (an HTTP bearer token's label). */
  user?: string;
  /** The session the call came in, when there is one. */
  session?: string;
  /** The OAuth scopes the call's access token grants, when it came with one. */
  scopes?: string[];
  /** Sends a progress note; absent when the client asked for none. */
  progress?: (message: string, of?: Progress) => Promise<void>;
  /** Present when the client can ask its user. */
  human?: Human;
}

export type Answer =
  | {
      text: string;
      structured?: Record<string, unknown>;
      isError?: boolean;
      images?: ToolImage[];
    }
  /** The protocol's question to the human, returned as is: the call comes back with the answer. */
  | { ask: unknown };

interface Plan {
  /** The changing requests the call would send, in order. */
  calls: PlannedCall[];
  /** Why the call would fail, if it would. */
  failure?: string;
  /** The call's answer when it planned no change. */
  result?: ToolResult<unknown>;
}

export class Pipeline {
  /** The configured clusters' names, the default one first. */
  readonly names: string[];

  constructor(
    private readonly config: Config,
    private readonly deps: ServerDeps,
  ) {
    this.names = [...deps.clusters.keys()];
  }

  /** Runs one call through every step; a bug throws, anything the user can act on is answered. */
  async call(c: Call): Promise<Answer> {
    const started = Date.now();
    const { tool, args } = c;
    const clusterName = c.cluster ?? (this.names[0] as string);
    const policy = this.deps.policies.get(clusterName) as ClusterPolicy;
    const guard = this.deps.guards.get(clusterName) as WireGuard;
    const shared = this.deps.clusters.get(clusterName) as PveApi;
    const redact = (s: string) => shared.client.redact(s);
    /** The cluster's API with this call's requests passing `g` (and, for a plan, recorded). */
    const view = (g: WireGuard, record?: Interceptor) => {
      const client = shared.client.guarded(g).signalled(c.signal);
      return shared.withClient(record ? client.intercepted(record) : client);
    };
    let isChange = tool.access !== 'read';
    const audit = (
      decision: Decision,
      outcome: Outcome,
      extra: { reason?: string; upid?: string } = {},
    ) => {
      if (!isChange) return;
      this.deps.audit.write({
        time: new Date().toISOString(),
        cluster: clusterName,
        tool: tool.name,
        args,
        client: c.client ? { name: c.client.name, version: c.client.version } : undefined,
        ...(c.user ? { user: c.user } : {}),
        ...(c.session ? { session: c.session } : {}),
        decision,
        ...(extra.reason ? { reason: redact(extra.reason) } : {}),
        ...(extra.upid ? { upid: extra.upid } : {}),
        outcome,
        durationMs: Date.now() - started,
      });
    };
    const render = (text: string, structured?: Record<string, unknown>, isError?: boolean) =>
      this.render(clusterName, text, structured, isError);
    const answer = (result: ToolResult<unknown>): Answer =>
      result.isError
        ? render(result.text, undefined, true)
        : {
            ...render(result.text, result.data as Record<string, unknown>),
            ...(result.images?.length ? { images: result.images } : {}),
          };

    const session = guard.session();
    let running = false;
    const toolCtx: ToolContext = {
      pve: view(session),
      cluster: clusterName,
      signal: c.signal,
      guard: (guest) => guardGuest(policy, guest),
      async progress(message, of) {
        // A lost progress note must not fail the call.
        await c.progress?.(cleanText(message, redact).slice(0, 500), of).catch(() => undefined);
      },
    };

    try {
      // Whether the call may change anything follows from what it declares (a raw GET does not).
      const declared = await declaredTargets(tool, args);
      isChange = declared.changing;
      if (c.scopes) {
        const need = isChange ? SCOPES.write : SCOPES.read;
        if (!c.scopes.includes(need) && !c.scopes.includes(SCOPES.write))
          throw new PolicyRefusal(
            `This access token does not allow ${isChange ? 'changes' : 'reads'}: it needs the scope ${need} (it has ${c.scopes.join(' ') || 'none'}).`,
            'refused',
          );
      }
      // The plan: the call run against a view that records its changes instead of sending them,
      // each checked on the wire as if sent, with what PVE would refuse checked too. Its session's
      // fresh facts serve the admission as well.
      const lockout = declared.lockout === true;
      const planGuard = guard.session({ planning: true, lockout });
      const checks = await admit(isChange ? planGuard : session, tool, declared);
      if (!isChange) return answer(await tool.run(args, toolCtx));
      const calls: PlannedCall[] = [];
      const plan = await planCall(tool, args, calls, {
        ...toolCtx,
        pve: view(planGuard, (op, params) => record(calls, op, params)),
        progress: async () => undefined,
      });
      if (c.dryRun === true) {
        audit('dry-run', plan.failure ? 'error' : 'not-run', { reason: plan.failure });
        const shown = dryRunAnswer(tool, plan, checks, planGuard.lockouts);
        return render(shown.text, { dryRun: shown.data }, Boolean(plan.failure));
      }
      if (plan.failure) {
        audit('refused', 'not-run', { reason: plan.failure });
        return render(plan.failure, undefined, true);
      }
      // A call that would change nothing has already given its real answer.
      if (!plan.calls.length && plan.result) {
        audit('allowed', plan.result.isError ? 'error' : 'ok');
        return answer(plan.result);
      }
      const facts = await planGuard.facts(true);
      const overridden = planGuard.lockouts.map((l) => `Lock-out check overridden: ${l}`);
      const impact =
        [await impactOf(tool, plan.calls, toolCtx.pve, facts, clusterName), ...overridden]
          .filter(Boolean)
          .join('\n') || undefined;
      // Cutting the management path is for a human to decide, whatever the confirm mode.
      if (overridden.length && this.config.confirm === 'none')
        throw new PolicyRefusal(
          `${overridden.join(' ')} A human must confirm this, and confirmations are off (confirm: none), so it is refused.`,
        );
      let decision: Decision = 'allowed';
      if (impact && this.config.confirm !== 'none') {
        const outcome = this.confirmation(c, impact);
        if (outcome && 'ask' in outcome) return outcome;
        if (outcome) throw outcome;
        decision = 'confirmed';
      }
      // The run may make only the changes the plan held. Once a human took time to answer, it is
      // decided on facts read anew; otherwise on the plan's own, read just before it. Either read
      // then serves the whole run (a long bulk run does not re-read for each guest).
      const run = guard.session({
        planned: new Set(plan.calls.map((call) => requestKey(call.op, call.params))),
        lockout,
      });
      if (decision === 'allowed') run.reuseFacts(planGuard);
      running = true;
      const result = await tool.run(args, { ...toolCtx, pve: view(run) });
      const upid = result.isError ? undefined : (result.data as { upid?: string }).upid;
      const status = result.isError ? undefined : (result.data as { status?: string }).status;
      audit(
        decision,
        result.isError ? 'error' : status === 'running' || status === 'started' ? 'running' : 'ok',
        { upid, reason: result.isError ? result.text : undefined },
      );
      return answer(result);
    } catch (err) {
      if (err instanceof PolicyRefusal) {
        // Refused in the middle of a run, what was sent before may have changed something.
        audit(err.decision, running ? 'error' : 'not-run', {
          reason: err.auditReason ?? err.message,
        });
        return render(err.message, undefined, true);
      }
      const described = describeError(err, clusterName);
      if (!described) throw err;
      audit('allowed', 'error', {
        reason: described.text,
        upid: described.data?.upid as string | undefined,
      });
      return render(described.text, undefined, true);
    }
  }

  /**
   * A read outside any tool (a resource): the first cluster's guarded API, failures in words,
   * output cleaned like a tool's.
   */
  async read<T>(
    fn: (ctx: ToolContext) => Promise<{ text: string; data: T }>,
    /** The cluster to read, when not the default one. */
    clusterName?: string,
  ): Promise<{ text: string; data?: T }> {
    if (clusterName !== undefined && !this.names.includes(clusterName))
      return {
        text: `There is no cluster named '${clusterName}' here (configured: ${this.names.join(', ')}).`,
      };
    const cluster = clusterName ?? (this.names[0] as string);
    const policy = this.deps.policies.get(cluster) as ClusterPolicy;
    const shared = this.deps.clusters.get(cluster) as PveApi;
    const guard = this.deps.guards.get(cluster) as WireGuard;
    const redact = (s: string) => shared.client.redact(s);
    const ctx: ToolContext = {
      pve: shared.withClient(shared.client.guarded(guard.session())),
      cluster,
      signal: new AbortController().signal,
      progress: async () => undefined,
      guard: (guest) => guardGuest(policy, guest),
    };
    try {
      const { text, data } = await fn(ctx);
      return { text: cleanText(text, redact), data: cleanDeep(data, redact) as T };
    } catch (err) {
      // A refusal is the read's error; a failure the user can act on is its text.
      const described = describeError(err, cluster);
      if (!described) throw err;
      return { text: cleanText(described.text, redact) };
    }
  }

  /** A change refused for bad input is an attempt too: it gets its audit line. */
  refuseInvalid(
    tool: AnyTool,
    value: unknown,
    issues: readonly { message: string; path?: readonly unknown[] }[],
  ): void {
    const args = (value && typeof value === 'object' ? value : {}) as Record<string, unknown>;
    const { cluster, dryRun: _d, confirm: _c, ...rest } = args;
    this.deps.audit.write({
      time: new Date().toISOString(),
      cluster:
        typeof cluster === 'string' && this.names.includes(cluster)
          ? cluster
          : (this.names[0] as string),
      tool: tool.name,
      args: rest,
      decision: 'refused',
      reason: `invalid arguments: ${issues
        .map((i) => {
          const path = (i.path ?? []).map((p) =>
            p && typeof p === 'object' ? String((p as { key: unknown }).key) : String(p),
          );
          return `${path.join('.') || '(arguments)'}: ${i.message}`;
        })
        .join('; ')}`,
      outcome: 'not-run',
      durationMs: 0,
    });
  }

  /** Cluster text is data: invisible characters out, long fields cut, secrets masked. */
  private render(
    cluster: string,
    text: string,
    structured?: Record<string, unknown>,
    isError?: boolean,
  ): Answer {
    const redact = (s: string) => (this.deps.clusters.get(cluster) as PveApi).client.redact(s);
    // With several clusters, the text says which one the rows come from.
    const shown = this.names.length > 1 ? `[cluster ${cluster}] ${text}` : text;
    return {
      text: cleanText(shown, redact),
      ...(structured && !isError ? { structured: cleanDeep(structured, redact) } : {}),
      ...(isError ? { isError: true } : {}),
    };
  }

  /**
   * Asks the human when the client can, or falls back to the `confirm` argument when it cannot,
   * unless the mode is strict. Returns nothing when the call may go ahead.
   */
  private confirmation(c: Call, impact: string): PolicyRefusal | { ask: unknown } | undefined {
    const { seal } = this.deps;
    if (c.human) {
      const answer = c.human.answer;
      if (!answer) return { ask: c.human.ask(impact, seal.seal(c.tool.name, c.args, impact)) };
      if (!seal.verify(answer.state, c.tool.name, c.args, impact)) {
        return new PolicyRefusal(
          'The confirmation does not match this call (its arguments or what it would do changed, it was used already, or it expired): nothing was done. Ask again.',
          'declined',
        );
      }
      if (answer.action === 'accept' && answer.confirm === true) return undefined;
      const how = answer.action === 'cancel' ? 'cancelled' : 'declined';
      return new PolicyRefusal(
        `The user ${how} it: nothing was done.\n${impact}`,
        'declined',
        `the user ${how} it`,
      );
    }
    if (this.config.confirm === 'strict') {
      return new PolicyRefusal(
        `Refused: this needs a human's confirmation, and this client cannot ask for one (confirmation mode strict).\n${impact}`,
        'refused',
        'needs a human yes; the client cannot ask (strict)',
      );
    }
    if (c.confirm === true) return undefined;
    return new PolicyRefusal(
      `Needs confirmation. ${impact}\nThis client cannot ask the user directly, so tell the user exactly what will happen and, once they agree, call again with confirm: true.`,
      'refused',
      'needs confirmation: the client cannot ask, and confirm was not given',
    );
  }
}

/** Records a changing request of a plan; reads go through. Tasks get a dry-run UPID. */
function record(
  calls: PlannedCall[],
  op: Parameters<Interceptor>[0],
  params: Parameters<Interceptor>[1],
): ReturnType<Interceptor> {
  if (op.method === 'GET') return undefined;
  calls.push({ op, params, path: requestPath(op, params) });
  const upid = plannedUpid(
    typeof params.node === 'string' ? params.node : 'cluster',
    String(params.vmid ?? ''),
  );
  return { data: op.async === 'upid' || op.async === 'upid-or-ok' ? upid : null };
}

/** Runs a tool against a recording view (see `record`); a refusal on the wire propagates. */
async function planCall(
  tool: AnyTool,
  args: Record<string, unknown>,
  calls: PlannedCall[],
  ctx: ToolContext,
): Promise<Plan> {
  const plan: Plan = { calls };
  try {
    const result = await tool.run(args, ctx);
    if (result.isError) plan.failure = result.text;
    else plan.result = result;
  } catch (err) {
    if (err instanceof PolicyRefusal) {
      plan.failure = err.message;
      return plan;
    }
    const described = describeError(err, ctx.cluster);
    if (!described) throw err;
    plan.failure = described.text;
  }
  return plan;
}

/** A dry run's answer: the calls it would make and the facts checked, or why it would fail. */
function dryRunAnswer(tool: AnyTool, plan: Plan, checks: Preconditions, lockouts: string[]) {
  const calls = plan.calls.map((call) => ({
    method: call.op.method,
    path: `/api2/json${call.path}`,
    params: redactArgs(call.params),
  }));
  const facts = [
    checks.vmid === undefined
      ? undefined
      : checks.exists
        ? `guest ${checks.vmid} exists on ${checks.node}, ${checks.status}`
        : `guest ${checks.vmid} does not exist`,
    checks.inScope ? 'in scope' : 'out of scope',
    checks.protected ? 'protected' : 'not protected',
    checks.vmid === undefined || !checks.exists
      ? undefined
      : checks.locked
        ? `locked (${checks.locked})`
        : 'not locked',
  ].filter(Boolean);
  const text = plan.failure
    ? `Dry run of ${tool.name}: the call would fail, and nothing was changed.\n${plan.failure}`
    : [
        `Dry run of ${tool.name}: nothing was changed.`,
        calls.length
          ? `It would call:\n${calls.map((call) => `  ${call.method} ${call.path} ${JSON.stringify(call.params)}`).join('\n')}`
          : 'It would make no changing call.',
        `Checks: ${facts.join(', ')}.`,
        ...(tool.plans && plan.result ? [`Its plan:\n${plan.result.text}`] : []),
        ...lockouts.map((l) => `Lock-out check overridden, a human must confirm: ${l}`),
      ].join('\n');
  return {
    data: {
      calls,
      checks,
      ...(plan.failure ? { note: plan.failure } : {}),
      ...(lockouts.length ? { lockouts } : {}),
    },
    text,
  };
}
