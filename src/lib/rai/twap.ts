/**
 * Pure time-weighted average of a step function. No network, no clocks: plain numbers in,
 * a bigint (or null when no time is covered) out.
 */
export interface PricePoint {
  /** Unix seconds of the block in which the value took effect. */
  timestamp: number;
  price: bigint;
  /** Tie-breakers when two points share a timestamp: the later block / log wins. */
  block?: number;
  logIndex?: number;
}

export function comparePoints(a: PricePoint, b: PricePoint): number {
  return a.timestamp - b.timestamp || (a.block ?? 0) - (b.block ?? 0) || (a.logIndex ?? 0) - (b.logIndex ?? 0);
}

/** Sorted copy; skips the sort when the input is already in order (the usual case) so we stay O(n). */
export function sortPoints<T extends PricePoint>(points: readonly T[]): T[] {
  const out = points.slice();
  for (let i = 1; i < out.length; i++) {
    if (comparePoints(out[i - 1], out[i]) > 0) return out.sort(comparePoints);
  }
  return out;
}

/**
 * TWAP over [start, end]. Each price holds from its timestamp until the next point. The last point
 * at or before `start` is carried into the window; time before the first point is left out (not
 * counted as zero); the sum of price*seconds is floor-divided by the covered seconds.
 * Returns null when no second of the window is covered.
 */
export function computeTwap(points: readonly PricePoint[], start: number, end: number): bigint | null {
  if (!Number.isInteger(start) || !Number.isInteger(end)) throw new RangeError("computeTwap: start and end must be whole seconds");
  if (end < start) throw new RangeError(`computeTwap: window end ${end} is before its start ${start}`);
  const sorted = sortPoints(points);
  let weighted = 0n;
  let covered = 0n;
  let current: PricePoint | undefined; // the point in force at `cursor`
  let cursor = start;
  for (const p of sorted) {
    if (p.timestamp > end) break;
    if (p.timestamp <= start) {
      current = p; // later ones at or before start replace earlier ones: carry-in
      continue;
    }
    if (current) {
      const dt = BigInt(p.timestamp - cursor);
      weighted += current.price * dt;
      covered += dt;
    }
    current = p;
    cursor = p.timestamp;
  }
  if (current) {
    const dt = BigInt(end - cursor);
    weighted += current.price * dt;
    covered += dt;
  }
  if (covered === 0n) return null;
  return floorDiv(weighted, covered);
}

/** Floor division for possibly negative numerators (bigint `/` truncates toward zero). */
function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return (a % b !== 0n) && ((a < 0n) !== (b < 0n)) ? q - 1n : q;
}
