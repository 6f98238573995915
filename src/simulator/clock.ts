/**
 * The simulated clock. `real` follows wall time (optionally sped up); `manual` moves only when told,
 * so tests can finish tasks at once or step through them. Times are epoch milliseconds.
 */
export type ClockMode = 'real' | 'manual';

export class SimClock {
  private offset = 0;
  private readonly realStart = Date.now();

  constructor(
    readonly mode: ClockMode = 'real',
    private readonly start = Date.now(),
    /** In `real` mode, simulated milliseconds per real millisecond. */
    private readonly speed = 1,
  ) {}

  now(): number {
    const elapsed = this.mode === 'real' ? (Date.now() - this.realStart) * this.speed : 0;
    return Math.floor(this.start + elapsed + this.offset);
  }

  /** Seconds since the epoch, as PVE reports times. */
  seconds(): number {
    return Math.floor(this.now() / 1000);
  }

  /** Moves simulated time forward (in either mode). */
  advance(ms: number): void {
    if (ms < 0) throw new Error('the clock only moves forward');
    this.offset += ms;
  }
}
