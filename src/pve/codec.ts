/**
 * PVE's wire forms: form-encoded parameters (booleans as 0/1, arrays as repeated keys), and
 * answers whose numbers sometimes arrive as strings.
 */
import type { ReturnSpec } from '../contract/types.js';

export type WireValue = string | number | boolean | string[] | undefined | null;

/** Form encoding as PVE reads it. Undefined and null values are left out. */
export function encodeForm(params: Record<string, WireValue>): string {
  const form = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null) continue;
    if (Array.isArray(value)) for (const item of value) form.append(key, item);
    else form.append(key, typeof value === 'boolean' ? (value ? '1' : '0') : String(value));
  }
  return form.toString();
}

const NUMERIC = /^-?\d+(\.\d+)?(e[+-]?\d+)?$/i;

function normalizeObject(
  spec: ReturnSpec,
  value: Record<string, unknown>,
): Record<string, unknown> {
  const props = spec.properties;
  if (!props) return value;
  let out: Record<string, unknown> | undefined;
  for (const [key, prop] of Object.entries(props)) {
    const v = value[key];
    const numeric = prop.type === 'integer' || prop.type === 'number' || prop.type === 'boolean';
    if (numeric && typeof v === 'string' && NUMERIC.test(v)) {
      out ??= { ...value };
      out[key] = Number(v);
    }
  }
  return out ?? value;
}

/** Turns numbers PVE sent as strings into numbers, where the contract says they are numbers. */
export function normalize(spec: ReturnSpec, data: unknown): unknown {
  if (spec.type === 'integer' || spec.type === 'number') {
    return typeof data === 'string' && NUMERIC.test(data) ? Number(data) : data;
  }
  if (spec.type === 'array' && Array.isArray(data) && spec.items?.properties) {
    const items = spec.items;
    return data.map((item) =>
      item && typeof item === 'object'
        ? normalizeObject(items, item as Record<string, unknown>)
        : item,
    );
  }
  if (spec.type === 'object' && data && typeof data === 'object' && !Array.isArray(data)) {
    return normalizeObject(spec, data as Record<string, unknown>);
  }
  return data;
}
