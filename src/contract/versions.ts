/**
 * Which official schema describes a running PVE: the newest schema of the same major version not
 * newer than it, else the oldest of that major (a 9.0 cluster is judged by the 9.1.3 schema).
 * Undefined for a major no schema covers.
 */
export function schemaVersionFor(version: string, schemas: readonly string[]): string | undefined {
  const parts = (v: string) => v.split(/[.-]/).map((p) => Number.parseInt(p, 10) || 0);
  const compare = (a: string, b: string) => {
    const [x, y] = [parts(a), parts(b)];
    for (let i = 0; i < Math.max(x.length, y.length); i++) {
      const d = (x[i] ?? 0) - (y[i] ?? 0);
      if (d) return d;
    }
    return 0;
  };
  const major = parts(version)[0];
  const same = schemas.filter((s) => parts(s)[0] === major).sort(compare);
  return same.filter((s) => compare(s, version) <= 0).at(-1) ?? same[0];
}
