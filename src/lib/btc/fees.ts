/**
 * Fee-rate units and choices. Electrum's `blockchain.estimatefee` answers BTC per kilobyte
 * (Bitcoin Core's estimate, per 1000 virtual bytes) or -1 when it has none; Esplora's
 * `/fee-estimates` answers sat/vB by confirmation target. keepctl speaks sat/vB.
 */

/** BTC/kvB to sat/vB (× 1e8 / 1000); undefined for -1 ("no estimate") or any negative or non-finite value. */
export function satPerVbFromBtcPerKb(btcPerKb: number): number | undefined {
  if (!Number.isFinite(btcPerKb) || btcPerKb < 0) return undefined;
  // Whole sat/kvB first: BTC amounts are decimals that binary floats only approximate.
  return Math.round(btcPerKb * 1e8) / 1000;
}

/**
 * The estimate to use for `target` blocks: the one for the largest target not above it (a rate
 * meant for a faster confirmation is never too low), else — every target given is slower than
 * asked — the fastest one there is. Undefined when there are none.
 */
export function estimateForTarget(estimates: ReadonlyMap<number, number>, target: number): number | undefined {
  let best: number | undefined;
  let fastest: number | undefined;
  for (const t of estimates.keys()) {
    if (t <= target && (best === undefined || t > best)) best = t;
    if (fastest === undefined || t < fastest) fastest = t;
  }
  const pick = best ?? fastest;
  return pick === undefined ? undefined : estimates.get(pick);
}

/** The median (the mean of the middle two for an even count); undefined for none. */
export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}
