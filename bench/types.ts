/** One benchmark figure. Ratios compare two things measured in the same run. */
export interface BenchResult {
  group: string;
  name: string;
  value: number;
  unit: string;
  /** What the figure should stay at or below (or above, with `higherIsBetter`). */
  target?: number;
  higherIsBetter?: boolean;
  note?: string;
}

/** Percentile of a list of numbers (0 to 100). */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? Number.NaN;
}

export const round = (n: number, digits = 2) => Number(n.toFixed(digits));
