/**
 * Parameter validation against the contract, with PVE's own error texts (pve-common JSONSchema.pm),
 * shared by the simulator (which must answer like PVE) and the client (which checks before sending).
 */
import { checkFormat } from './formats.js';
import { parsePropertyString } from './propstring.js';
import type { ContractOperation, ParamSpec } from './types.js';

export type ParamValue = string | number | boolean | string[];
export type RawParams = Record<string, unknown>;

export interface ValidationResult {
  values: Record<string, ParamValue>;
  /** Per-parameter messages; present only when something failed. */
  errors?: Record<string, string>;
}

/** The schema entry for a parameter name, resolving indexed names (`net0` → `net[n]`). */
export function paramSpec(
  params: Record<string, ParamSpec>,
  name: string,
): { spec: ParamSpec; key: string } | undefined {
  const direct = params[name];
  if (direct) return { spec: direct, key: name };
  const m = /^([a-z][a-z_-]*?)(\d+)$/i.exec(name);
  const indexed = m ? params[`${m[1]}[n]`] : undefined;
  return indexed ? { spec: indexed, key: `${m?.[1]}[n]` } : undefined;
}

const INTEGER = /^[+-]?\d+$/;
const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?$/i;
const LOOSE_TRUE = new Set(['1', 'true', 'yes', 'on']);
const LOOSE_FALSE = new Set(['0', 'false', 'no', 'off']);

interface CheckOptions {
  /** Form-encoded booleans must be exactly 0 or 1; JSON may use true/false. */
  strictBoolean: boolean;
}

/** Checks one scalar value; returns [converted value] or an error text. */
function checkValue(
  spec: ParamSpec,
  raw: unknown,
  opts: CheckOptions,
): { value: ParamValue } | { error: string } {
  if (spec.type === 'array') {
    const list = Array.isArray(raw) ? raw : [raw];
    const out: string[] = [];
    for (const item of list) {
      const r = spec.items ? checkValue(spec.items, item, opts) : { value: String(item) };
      if ('error' in r) return r;
      out.push(String(r.value));
    }
    return { value: out };
  }
  if (Array.isArray(raw)) {
    // A repeated key where one value is expected: PVE takes the last one.
    raw = raw[raw.length - 1];
  }
  const text = typeof raw === 'string' ? raw : String(raw);
  let value: ParamValue = text;
  switch (spec.type) {
    case 'boolean': {
      if (typeof raw === 'boolean') value = raw;
      else if (text === '1' || text === '0') value = text === '1';
      else if (!opts.strictBoolean && LOOSE_TRUE.has(text.toLowerCase())) value = true;
      else if (!opts.strictBoolean && LOOSE_FALSE.has(text.toLowerCase())) value = false;
      else return { error: `type check ('boolean') failed - got '${text}'` };
      return { value };
    }
    case 'integer':
      if (typeof raw === 'number' ? !Number.isInteger(raw) : !INTEGER.test(text)) {
        return { error: `type check ('integer') failed - got '${text}'` };
      }
      value = Number(text);
      break;
    case 'number':
      if (typeof raw === 'number' ? !Number.isFinite(raw) : !NUMBER.test(text)) {
        return { error: `type check ('number') failed - got '${text}'` };
      }
      value = Number(text);
      break;
    case 'object':
      return { value: text };
    default:
      break;
  }
  if (typeof value === 'number') {
    if (spec.minimum !== undefined && value < spec.minimum) {
      return { error: `value must have a minimum value of ${spec.minimum}` };
    }
    if (spec.maximum !== undefined && value > spec.maximum) {
      return { error: `value must have a maximum value of ${spec.maximum}` };
    }
  }
  if (spec.type === 'string') {
    if (spec.maxLength !== undefined && text.length > spec.maxLength) {
      return { error: `value may only be ${spec.maxLength} characters long` };
    }
    if (spec.minLength !== undefined && text.length < spec.minLength) {
      return { error: `value must be at least ${spec.minLength} characters long` };
    }
  }
  if (spec.enum && !spec.enum.includes(text)) {
    return {
      error: `value '${text}' does not have a value in the enumeration '${spec.enum.join(', ')}'`,
    };
  }
  if (spec.pattern) {
    const re = new RegExp(`^(?:${spec.pattern})$`, spec.patternIgnoreCase ? 'i' : '');
    if (!re.test(text)) return { error: 'value does not match the regex pattern' };
  }
  if (typeof spec.format === 'string') {
    const err = checkFormat(spec.format, text);
    if (err) return { error: `invalid format - ${err}` };
  } else if (spec.format) {
    const err = checkPropertyString(spec.format, text);
    if (err) return { error: `invalid format - ${err}` };
  }
  return { value };
}

/** Validates a property string against its inline format; returns an error text or undefined. */
export function checkPropertyString(
  format: Record<string, ParamSpec>,
  text: string,
): string | undefined {
  const defaultKey = Object.keys(format).find((k) => format[k]?.default_key);
  let values: Record<string, string>;
  try {
    values = parsePropertyString(text, defaultKey);
  } catch (err) {
    return `format error\n${(err as Error).message}`;
  }
  const problems: string[] = [];
  for (const [key, raw] of Object.entries(values)) {
    const spec = format[key];
    if (!spec) {
      problems.push(
        `${key}: property is not defined in schema and the schema does not allow additional properties`,
      );
      continue;
    }
    const target = spec.alias ? format[spec.alias] : spec;
    if (!target) continue;
    const r = checkValue(target, raw, { strictBoolean: false });
    if ('error' in r) problems.push(`${key}: ${r.error}`);
  }
  for (const [key, spec] of Object.entries(format)) {
    if (spec.optional || spec.alias || key in values) continue;
    // `virtio=<mac>` names the model through an alias key (the NIC formats).
    if (spec.enum?.some((name) => name in values && format[name]?.alias)) continue;
    problems.push(`${key}: property is missing and it is not optional`);
  }
  return problems.length ? `format error\n${problems.join('\n')}` : undefined;
}

/**
 * Validates request parameters against an operation: unknown names, missing required ones, types,
 * enums, patterns, ranges and formats. Values come back converted (numbers, booleans, arrays).
 */
export function validateParams(
  op: ContractOperation,
  params: RawParams,
  opts: CheckOptions = { strictBoolean: true },
): ValidationResult {
  const values: Record<string, ParamValue> = {};
  const errors: Record<string, string> = {};
  for (const [name, raw] of Object.entries(params)) {
    if (raw === undefined) continue;
    const found = paramSpec(op.params, name);
    if (!found) {
      if (!op.additionalProperties) {
        errors[name] =
          'property is not defined in schema and the schema does not allow additional properties';
      }
      continue;
    }
    const r = checkValue(found.spec, raw, opts);
    if ('error' in r) errors[name] = r.error;
    else values[name] = r.value;
  }
  for (const [name, spec] of Object.entries(op.params)) {
    if (spec.optional || name.endsWith('[n]') || name in params) continue;
    errors[name] = 'property is missing and it is not optional';
  }
  return Object.keys(errors).length ? { values, errors } : { values };
}

/** Levenshtein distance: edits between two names. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++)
      row[j] = Math.min(
        (prev[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    prev = row;
  }
  return prev[b.length] as number;
}

/** The parameter of `op` a mistyped name most likely meant; undefined when none is close. */
export function closestParam(op: ContractOperation, name: string): string | undefined {
  const index = /\d+$/.exec(name)?.[0] ?? '0';
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const param of Object.keys(op.params)) {
    const candidate = param.endsWith('[n]') ? `${param.slice(0, -3)}${index}` : param;
    const d = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return bestDistance <= Math.max(1, Math.floor(name.length / 3)) ? best : undefined;
}
