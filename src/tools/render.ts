/**
 * Compact text for tool results: aligned tables and short summaries, which cost a model far fewer
 * tokens than pretty-printed JSON.
 */

export type Cell = string | number | boolean | undefined | null;

/** Renders rows as an aligned table under a header; empty cells are `-`. */
export function table<T>(rows: T[], columns: [header: string, cell: (row: T) => Cell][]): string {
  const text = (c: Cell) => (c === undefined || c === null || c === '' ? '-' : String(c));
  const cells = rows.map((row) => columns.map(([, get]) => text(get(row))));
  const widths = columns.map(([header], i) =>
    Math.max(header.length, ...cells.map((r) => (r[i] ?? '').length)),
  );
  const line = (values: string[]) =>
    values
      .map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i] ?? 0)))
      .join(' ')
      .trimEnd();
  return [line(columns.map(([h]) => h)), ...cells.map(line)].join('\n');
}

/** Rows as a table of every key they use, in first-seen order, but those left out. */
export function rowsTable(rows: Record<string, unknown>[], omit: string[] = []): string {
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r)))].filter((k) => !omit.includes(k));
  return table(
    rows,
    keys.map((k) => [k, (r) => r[k] as Cell]),
  );
}

const UNITS = ['B', 'K', 'M', 'G', 'T', 'P'];

/** Bytes in the shortest readable form: `512M`, `1.5G`, `32G`. */
export function bytes(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '-';
  let v = n;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  const digits = v >= 10 || Number.isInteger(v) ? 0 : 1;
  return `${v.toFixed(digits)}${UNITS[u]}`;
}

/** A fraction as a percentage: `12%`, `0.5%`. */
export function percent(f: number | undefined): string {
  if (f === undefined || !Number.isFinite(f)) return '-';
  const p = f * 100;
  return `${p >= 10 || p === 0 ? p.toFixed(0) : p.toFixed(1)}%`;
}

/** Seconds as `3d4h`, `2h5m`, `45s`. */
export function duration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return '-';
  const s = Math.floor(seconds);
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3_600);
  const m = Math.floor((s % 3_600) / 60);
  if (d) return `${d}d${h}h`;
  if (h) return `${h}h${m}m`;
  if (m) return `${m}m${s % 60}s`;
  return `${s}s`;
}
