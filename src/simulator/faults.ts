/**
 * Fault injection: rules that make matching requests slow, fail, lose their connection, or make
 * tasks fail, for tests of retries and error handling. Rules are added in-process or by flags of
 * the standalone command (`--fault kind:key=value,...`).
 */

export type FaultKind =
  /** Adds `ms` of delay before the request is handled. */
  | 'latency'
  /** Answers with `status` (500, 502, 503, 595, 596, ...) instead of handling the request. */
  | 'status'
  /** Destroys the connection: `when: 'before'` the request is handled, or `'after'` it was. */
  | 'reset'
  /** The status of a UPID younger than `ms` answers 400 `no such task`, as right after a fork. */
  | 'upid-status-400'
  /** Every ticket issued so far stops working, as when it expires. */
  | 'ticket-expiry'
  /** Matching tasks (by `taskType`) end with `exitstatus` instead of their effect. */
  | 'task-fail';

export interface FaultRule {
  kind: FaultKind;
  /** HTTP method to match; all when absent. */
  method?: string;
  /**
   * Path below /api2/json to match: exact, a template (`/nodes/{node}/qemu/{vmid}/status/start`),
   * or a glob where `*` is one segment and `**` any number. All paths when absent.
   */
  path?: string;
  /** How many times the rule applies before it is spent; unlimited when absent. */
  times?: number;
  ms?: number;
  status?: number;
  message?: string;
  when?: 'before' | 'after';
  taskType?: string;
  exitstatus?: string;
}

interface ActiveRule extends FaultRule {
  remaining: number;
}

function globToRegExp(glob: string): RegExp {
  const source = glob
    .split('/')
    .map((seg) =>
      seg === '**' ? '.*' : seg.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*'),
    )
    .join('/');
  return new RegExp(`^${source}$`);
}

export class Faults {
  private rules: ActiveRule[] = [];

  add(rule: FaultRule): void {
    this.rules.push({ ...rule, remaining: rule.times ?? Number.POSITIVE_INFINITY });
  }

  clear(): void {
    this.rules = [];
  }

  get active(): readonly FaultRule[] {
    return this.rules.filter((r) => r.remaining > 0);
  }

  /** Takes (and counts) the first live rule of a kind that matches the request. */
  take(
    kind: FaultKind,
    method: string,
    path: string,
    template?: string,
    applies: (rule: FaultRule) => boolean = () => true,
  ): FaultRule | undefined {
    const rule = this.rules.find(
      (r) =>
        r.kind === kind &&
        r.remaining > 0 &&
        applies(r) &&
        (!r.method || r.method.toUpperCase() === method) &&
        (!r.path || r.path === template || globToRegExp(r.path).test(path)),
    );
    if (rule) rule.remaining--;
    return rule;
  }

  /** The exit status a task-fail rule forces on a task of this type, if any. */
  taskFailure(taskType: string): string | undefined {
    const rule = this.rules.find(
      (r) => r.kind === 'task-fail' && r.remaining > 0 && (!r.taskType || r.taskType === taskType),
    );
    if (!rule) return undefined;
    rule.remaining--;
    return rule.exitstatus ?? 'simulated failure';
  }
}

/** Parses a flag value: `status:code=503,path=/cluster/resources,times=2`. */
export function parseFaultFlag(text: string): FaultRule {
  const [kind = '', rest = ''] = text.split(/:(.*)/s);
  const kinds: FaultKind[] = [
    'latency',
    'status',
    'reset',
    'upid-status-400',
    'ticket-expiry',
    'task-fail',
  ];
  if (!kinds.includes(kind as FaultKind)) {
    throw new Error(`unknown fault '${kind}': use one of ${kinds.join(', ')}`);
  }
  const rule: FaultRule = { kind: kind as FaultKind };
  // A free-text option (message, exitstatus) takes the rest of the flag, commas included.
  const parts: string[] = [];
  for (const part of rest.split(',')) {
    const last = parts[parts.length - 1];
    if (last !== undefined && /^(message|exitstatus)=/.test(last))
      parts[parts.length - 1] = `${last},${part}`;
    else if (part) parts.push(part);
  }
  for (const part of parts) {
    const [key = '', value = ''] = part.split(/=(.*)/s);
    switch (key) {
      case 'ms':
      case 'times':
        rule[key] = Number(value);
        break;
      case 'code':
      case 'status':
        rule.status = Number(value);
        break;
      case 'method':
      case 'path':
      case 'message':
      case 'exitstatus':
        rule[key] = value;
        break;
      case 'type':
        rule.taskType = value;
        break;
      case 'when':
        if (value !== 'before' && value !== 'after')
          throw new Error(`when must be before or after`);
        rule.when = value;
        break;
      default:
        throw new Error(`unknown fault option '${key}'`);
    }
    if (
      (key === 'ms' || key === 'times' || key === 'code' || key === 'status') &&
      !Number.isFinite(Number(value))
    ) {
      throw new Error(`fault option ${key} needs a number`);
    }
  }
  return rule;
}
