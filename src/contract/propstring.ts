/**
 * PVE property strings, the comma-separated `key=value` lists PVE uses for disks, NICs and other
 * complex options: `virtio=BC:24:11:00:00:01,bridge=vmbr0,firewall=1`,
 * `local-lvm:vm-100-disk-0,size=32G`. One value may appear without its key: the format's default key.
 */

export type PropertyValues = Record<string, string>;

/** Parses a property string; a part without `=` is the value of `defaultKey`. */
export function parsePropertyString(text: string, defaultKey?: string): PropertyValues {
  const out: PropertyValues = {};
  if (text === '') return out;
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq === -1) {
      if (!defaultKey) throw new Error(`value without key '${part}'`);
      if (defaultKey in out) throw new Error(`duplicate key '${defaultKey}'`);
      out[defaultKey] = part;
      continue;
    }
    const key = part.slice(0, eq).trim();
    if (!key) throw new Error(`empty key in '${part}'`);
    if (key in out) throw new Error(`duplicate key '${key}'`);
    out[key] = part.slice(eq + 1);
  }
  return out;
}

/**
 * Formats values as a property string, the default key's value first and bare, as PVE writes it.
 * Booleans become 1/0; undefined values are left out.
 */
export function formatPropertyString(
  values: Record<string, string | number | boolean | undefined>,
  defaultKey?: string,
): string {
  const parts: string[] = [];
  const text = (v: string | number | boolean) =>
    typeof v === 'boolean' ? (v ? '1' : '0') : `${v}`;
  const head = defaultKey === undefined ? undefined : values[defaultKey];
  if (head !== undefined) parts.push(text(head));
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined || key === defaultKey) continue;
    parts.push(`${key}=${text(value)}`);
  }
  return parts.join(',');
}

/** PVE sizes: `32G`, `512M`, `+10G`, plain numbers are bytes. */
export function parseSize(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)([KMGT]?)$/.exec(text);
  if (!m) return undefined;
  const units = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 } as const;
  return Math.round(Number(m[1]) * units[(m[2] ?? '') as keyof typeof units]);
}

/** Formats bytes the way PVE writes disk sizes: the largest unit that divides evenly. */
export function formatSize(bytes: number): string {
  for (const [unit, factor] of [
    ['T', 2 ** 40],
    ['G', 2 ** 30],
    ['M', 2 ** 20],
    ['K', 2 ** 10],
  ] as const) {
    if (bytes >= factor && bytes % factor === 0) return `${bytes / factor}${unit}`;
  }
  return `${bytes}`;
}
